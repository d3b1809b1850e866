//! The virtual node: the machine behind a BMC, shared by every BMC face.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use ipmi_proto::bmc::ManagedSystem;
use ipmi_proto::bmc::storage::Storage;
use ipmi_proto::cmd::app::DeviceId;
use ipmi_proto::cmd::chassis::{
    BootDevice, BootFlags, BootMode, BootParameter, BootPersistence, ChassisControl,
    ChassisIdentify, ChassisStatus, PowerRestorePolicy, SupportedRestorePolicies,
};
use ipmi_proto::cmd::{CompletionCode, Privilege};

/// Power state of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PowerState {
    /// Off.
    Off,
    /// On.
    On,
}

/// How a node is set up.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Node name (also its serial number in the FRU).
    pub name: String,
    /// MAC addresses of its NICs.
    pub macs: Vec<[u8; 6]>,
    /// Time a power change takes to show (a real chassis takes seconds).
    pub power_delay: Duration,
    /// Number of CPUs, for inventory.
    pub cpus: u32,
    /// Memory in MiB, for inventory.
    pub memory_mib: u64,
}

impl NodeConfig {
    /// A node named `name` with one NIC whose MAC is derived from `index`
    /// (locally administered `02:00:xx:xx:xx:xx`), instant power changes, 4 CPUs, 8 GiB.
    pub fn numbered(name: impl Into<String>, index: u32) -> Self {
        let b = index.to_be_bytes();
        NodeConfig {
            name: name.into(),
            macs: vec![[0x02, 0x00, b[0], b[1], b[2], b[3]]],
            power_delay: Duration::ZERO,
            cpus: 4,
            memory_mib: 8192,
        }
    }
}

/// A virtual node. Time enters only through [`Node::tick`], so tests drive it in virtual time.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    power: PowerState,
    /// A power change in progress: the state it reaches and when.
    pending: Option<(PowerState, Instant)>,
    now: Instant,
    boot: BootFlags,
    boot_params: BTreeMap<u8, BootParameter>,
    restore_policy: PowerRestorePolicy,
    /// Boots the node went through, with the device it booted from.
    boots: Vec<(BootDevice, BootMode)>,
    /// Chassis controls received, in order.
    controls: Vec<ChassisControl>,
    /// Sensors, SEL and FRU, served to the IPMI face.
    pub storage: Storage,
    serial_in: Vec<u8>,
    serial_out: VecDeque<u8>,
    /// BIOS attributes (for the Redfish face).
    pub bios: BTreeMap<String, String>,
    /// Secure boot enabled.
    pub secure_boot: bool,
    /// Where a PXE boot is announced (the fleet's network-boot task), when set.
    pub(crate) boot_events: Option<tokio::sync::mpsc::UnboundedSender<[u8; 6]>>,
    /// Network boots so far: what each got, or why it failed.
    pub(crate) netboots: Vec<Result<crate::NetbootOutcome, String>>,
}

impl Node {
    /// A powered-off node with no boot override.
    pub fn new(config: NodeConfig, now: Instant) -> Self {
        let mut boot_params = BTreeMap::new();
        boot_params.insert(0, BootParameter::SetInProgress(0));
        let mut bios = BTreeMap::new();
        bios.insert("BootMode".to_string(), "Uefi".to_string());
        Node {
            config,
            power: PowerState::Off,
            pending: None,
            now,
            boot: BootFlags {
                valid: false,
                ..BootFlags::new(
                    BootDevice::NoOverride,
                    BootPersistence::NextBoot,
                    BootMode::Efi,
                )
            },
            boot_params,
            restore_policy: PowerRestorePolicy::AlwaysOff,
            boots: Vec::new(),
            controls: Vec::new(),
            storage: Storage::example(),
            serial_in: Vec::new(),
            serial_out: VecDeque::new(),
            bios,
            secure_boot: false,
            boot_events: None,
            netboots: Vec::new(),
        }
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Advance the node's clock: power changes whose delay has passed take effect.
    pub fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if let Some((target, at)) = self.pending {
            if self.now >= at {
                self.pending = None;
                self.set_power(target);
            }
        }
    }

    /// Current power state.
    pub fn power(&self) -> PowerState {
        self.power
    }

    /// The boots so far, each with the device and mode it used.
    pub fn boots(&self) -> &[(BootDevice, BootMode)] {
        &self.boots
    }

    /// Network boots so far: what each got (address, boot file, iPXE script), or why it failed.
    pub fn netboots(&self) -> &[Result<crate::NetbootOutcome, String>] {
        &self.netboots
    }

    /// Chassis controls received, in order.
    pub fn controls(&self) -> &[ChassisControl] {
        &self.controls
    }

    /// The current boot override.
    pub fn boot_override(&self) -> BootFlags {
        self.boot
    }

    /// Everything typed on the serial console.
    pub fn serial_input(&self) -> &[u8] {
        &self.serial_in
    }

    /// Write to the node's serial port (what its OS prints).
    pub fn serial_write(&mut self, data: &[u8]) {
        self.serial_out.extend(data);
    }

    fn set_power(&mut self, target: PowerState) {
        if self.power == PowerState::Off && target == PowerState::On {
            self.boot_now();
        }
        self.power = target;
    }

    /// The node starts: it boots from the override if one is armed, else from disk.
    fn boot_now(&mut self) {
        let (device, mode) = if self.boot.valid && self.boot.device != BootDevice::NoOverride {
            (self.boot.device, self.boot.mode)
        } else {
            (BootDevice::Disk, self.boot.mode)
        };
        if self.boot.persistence == BootPersistence::NextBoot {
            self.boot.valid = false;
        }
        self.boots.push((device, mode));
        if device == BootDevice::Pxe {
            if let (Some(tx), Some(mac)) = (&self.boot_events, self.config.macs.first()) {
                let _ = tx.send(*mac);
            }
        }
        self.serial_out.extend(
            format!(
                "\r\n{} booting from {device:?} ({mode:?})\r\n",
                self.config.name
            )
            .as_bytes(),
        );
    }

    fn request_power(&mut self, target: PowerState) {
        if self.config.power_delay.is_zero() {
            self.pending = None;
            self.set_power(target);
        } else {
            self.pending = Some((target, self.now + self.config.power_delay));
        }
    }
}

impl ManagedSystem for Node {
    fn device_id(&mut self) -> DeviceId {
        DeviceId {
            device_id: 0x20,
            device_revision: 1,
            provides_sdrs: false,
            available: true,
            firmware_major: 1,
            firmware_minor: 0x00,
            ipmi_version: 0x02,
            additional_support: 0x8f,
            manufacturer_id: 0,
            product_id: 0x5349,
            aux_firmware: None,
        }
    }

    fn chassis_status(&mut self) -> ChassisStatus {
        ChassisStatus {
            restore_policy: self.restore_policy,
            ..ChassisStatus::with_power(self.power == PowerState::On)
        }
    }

    fn chassis_control(&mut self, control: ChassisControl) -> Result<(), CompletionCode> {
        self.controls.push(control);
        match control {
            ChassisControl::PowerUp => self.request_power(PowerState::On),
            ChassisControl::PowerDown | ChassisControl::SoftShutdown => {
                self.request_power(PowerState::Off)
            }
            ChassisControl::PowerCycle | ChassisControl::HardReset => {
                // Off and on again: the node reboots (from the override, if armed).
                if self.power == PowerState::On {
                    self.power = PowerState::Off;
                }
                self.request_power(PowerState::On);
            }
            ChassisControl::DiagnosticInterrupt => {}
            // A control this node does not model.
            _ => return Err(CompletionCode::InvalidDataField),
        }
        Ok(())
    }

    fn identify(&mut self, _identify: ChassisIdentify) -> Result<(), CompletionCode> {
        Ok(())
    }

    fn set_power_restore_policy(
        &mut self,
        policy: PowerRestorePolicy,
    ) -> Result<SupportedRestorePolicies, CompletionCode> {
        if policy != PowerRestorePolicy::Unknown {
            self.restore_policy = policy;
        }
        Ok(SupportedRestorePolicies(0x07))
    }

    fn boot_option(&mut self, selector: u8) -> Result<(BootParameter, bool), CompletionCode> {
        if selector == 5 {
            return Ok((BootParameter::BootFlags(self.boot), false));
        }
        self.boot_params
            .get(&selector)
            .cloned()
            .map(|p| (p, false))
            // 0x80: parameter not supported.
            .ok_or(CompletionCode::Oem(0x80))
    }

    fn set_boot_option(
        &mut self,
        parameter: BootParameter,
        _mark_invalid: bool,
    ) -> Result<(), CompletionCode> {
        match parameter {
            BootParameter::BootFlags(f) => self.boot = f,
            other => {
                self.boot_params.insert(other.selector(), other);
            }
        }
        Ok(())
    }

    fn sol_write(&mut self, data: &[u8]) {
        self.serial_in.extend_from_slice(data);
        // A login prompt's line discipline: echo what is typed.
        self.serial_out.extend(data);
    }

    fn sol_read(&mut self, max: usize) -> Vec<u8> {
        let n = self.serial_out.len().min(max);
        self.serial_out.drain(..n).collect()
    }

    fn handle(
        &mut self,
        privilege: Privilege,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<Vec<u8>, CompletionCode> {
        self.storage
            .handle(privilege, netfn, cmd, data)
            .unwrap_or(Err(CompletionCode::InvalidCommand))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_delay_and_boot_override() {
        let t0 = Instant::now();
        let mut cfg = NodeConfig::numbered("n1", 1);
        cfg.power_delay = Duration::from_secs(2);
        let mut n = Node::new(cfg, t0);
        n.set_boot_option(
            BootParameter::BootFlags(BootFlags::new(
                BootDevice::Pxe,
                BootPersistence::NextBoot,
                BootMode::Efi,
            )),
            false,
        )
        .unwrap();
        n.chassis_control(ChassisControl::PowerUp).unwrap();
        assert_eq!(
            n.power(),
            PowerState::Off,
            "not yet: the transition takes 2 s"
        );
        n.tick(t0 + Duration::from_secs(1));
        assert_eq!(n.power(), PowerState::Off);
        n.tick(t0 + Duration::from_secs(2));
        assert_eq!(n.power(), PowerState::On);
        assert_eq!(n.boots(), &[(BootDevice::Pxe, BootMode::Efi)]);
        // Next-boot overrides are used once.
        assert!(!n.boot_override().valid);
        n.chassis_control(ChassisControl::PowerCycle).unwrap();
        n.tick(t0 + Duration::from_secs(5));
        assert_eq!(n.boots()[1].0, BootDevice::Disk);
        assert!(String::from_utf8_lossy(&n.sol_read(1000)).contains("booting from Pxe"));
    }
}
