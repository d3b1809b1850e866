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
use ipmi_proto::cmd::sel::{SelEntry, SystemEvent};
use ipmi_proto::cmd::{CompletionCode, Privilege};

/// Sensor numbers of the firmware's SEL events.
const SENSOR_FW_PROGRESS: u8 = 0x50;
const SENSOR_BOOT_ERROR: u8 = 0x51;
const SENSOR_OS_BOOT: u8 = 0x52;

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
    /// The node's disk: a raw image file that booting from disk inspects (see
    /// [`crate::disk`]); `None` is a node without a disk.
    pub disk: Option<std::path::PathBuf>,
}

/// What a boot of the node ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootedFrom {
    /// The firmware started a loader from the disk; `os` is the operating system found on it
    /// (os-release `PRETTY_NAME`), when one was.
    Disk {
        /// What was started (`\EFI\BOOT\BOOTX64.EFI on partition 1`, `MBR boot code`).
        loader: String,
        /// The operating system on the disk.
        os: Option<String>,
    },
    /// A network boot was handed to the fleet's network-boot task (see [`Node::netboots`]).
    Network,
    /// The virtual CD: the image inserted in the virtual media slot.
    VirtualMedia {
        /// Its URL.
        image: String,
    },
    /// Another boot device the node does not model further (BIOS setup, floppy...).
    Device(BootDevice),
    /// Nothing to boot: the firmware stopped, as real firmware does after its boot order.
    NoBootableDevice {
        /// Why (no disk, no partition table, no EFI System Partition...).
        reason: String,
    },
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
            disk: None,
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
    /// The image URL in the virtual CD slot (inserted through a BMC face), if any.
    pub virtual_media: Option<String>,
    /// Where a PXE boot is announced (the fleet's network-boot task), when set.
    pub(crate) boot_events: Option<tokio::sync::mpsc::UnboundedSender<[u8; 6]>>,
    /// Network boots so far: what each got, or why it failed.
    pub(crate) netboots: Vec<Result<crate::NetbootOutcome, String>>,
    /// What each boot ended in.
    outcomes: Vec<BootedFrom>,
    /// What the firmware found on the disk at the last disk boot.
    disk_report: Option<crate::disk::DiskReport>,
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
            virtual_media: None,
            boot_events: None,
            netboots: Vec::new(),
            outcomes: Vec::new(),
            disk_report: None,
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

    /// What each boot so far ended in (one per entry of [`Node::boots`]).
    pub fn boot_outcomes(&self) -> &[BootedFrom] {
        &self.outcomes
    }

    /// What the last boot ended in. A node without a disk finds nothing to boot:
    ///
    /// ```
    /// use std::time::Instant;
    /// use bmc_sim::{BootedFrom, Node, NodeConfig};
    /// use ipmi_proto::bmc::ManagedSystem;
    /// use ipmi_proto::cmd::chassis::ChassisControl;
    /// let mut node = Node::new(NodeConfig::numbered("n1", 1), Instant::now());
    /// assert_eq!(node.booted_from(), None);
    /// node.chassis_control(ChassisControl::PowerUp).unwrap();
    /// assert!(matches!(node.booted_from(), Some(BootedFrom::NoBootableDevice { .. })));
    /// ```
    pub fn booted_from(&self) -> Option<&BootedFrom> {
        self.outcomes.last()
    }

    /// What the firmware found on the disk at the last disk boot.
    pub fn disk_report(&self) -> Option<&crate::disk::DiskReport> {
        self.disk_report.as_ref()
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
        let name = self.config.name.clone();
        let outcome = match device {
            BootDevice::Pxe => {
                if let (Some(tx), Some(mac)) = (&self.boot_events, self.config.macs.first()) {
                    let _ = tx.send(*mac);
                }
                self.serial_out
                    .extend(format!("\r\n{name}: booting from PXE ({mode:?})\r\n").as_bytes());
                BootedFrom::Network
            }
            BootDevice::Disk | BootDevice::DiskSafeMode => self.boot_disk(mode),
            BootDevice::Cdrom | BootDevice::RemoteCdrom => {
                self.serial_out
                    .extend(format!("\r\n{name}: booting from CD ({mode:?})\r\n").as_bytes());
                match self.virtual_media.clone() {
                    Some(image) => BootedFrom::VirtualMedia { image },
                    None => {
                        self.sel_event(0x1E, SENSOR_BOOT_ERROR, [0x00, 0xFF, 0xFF]);
                        self.serial_out
                            .extend(b"No bootable device (no media).\r\n");
                        BootedFrom::NoBootableDevice {
                            reason: "no media in the virtual CD".into(),
                        }
                    }
                }
            }
            other => {
                self.serial_out.extend(
                    format!("\r\n{name}: booting from {other:?} ({mode:?})\r\n").as_bytes(),
                );
                BootedFrom::Device(other)
            }
        };
        self.outcomes.push(outcome);
    }

    /// Firmware booting from the disk: inspect it, log the result in the SEL and on the
    /// serial console as firmware and OS would.
    fn boot_disk(&mut self, mode: BootMode) -> BootedFrom {
        let name = self.config.name.clone();
        self.serial_out
            .extend(format!("\r\n{name}: booting from Hard Disk ({mode:?})\r\n").as_bytes());
        let report = match &self.config.disk {
            None => Err("the node has no disk".to_string()),
            Some(path) => crate::disk::Disk::open(path)
                .map(|d| crate::disk::inspect(&d, mode == BootMode::Efi))
                .map_err(|e| format!("cannot read the disk {}: {e}", path.display())),
        };
        let outcome = match &report {
            Ok(r) => match &r.loader {
                Ok(loader) => BootedFrom::Disk {
                    loader: loader.clone(),
                    os: r.os.clone(),
                },
                Err(why) => BootedFrom::NoBootableDevice {
                    reason: why.clone(),
                },
            },
            Err(why) => BootedFrom::NoBootableDevice {
                reason: why.clone(),
            },
        };
        self.disk_report = report.ok();
        match &outcome {
            BootedFrom::Disk { os, .. } => {
                // System Firmware Progress: starting the OS boot process; then OS Boot: C:
                // boot completed.
                self.sel_event(0x0F, SENSOR_FW_PROGRESS, [0xC2, 0x13, 0xFF]);
                self.sel_event(0x1F, SENSOR_OS_BOOT, [0x01, 0xFF, 0xFF]);
                let os = os.as_deref().unwrap_or("an unknown operating system");
                self.serial_out
                    .extend(format!("Welcome to {os}!\r\n{name} login: ").as_bytes());
            }
            BootedFrom::NoBootableDevice { reason } => {
                // Boot Error: no bootable media.
                self.sel_event(0x1E, SENSOR_BOOT_ERROR, [0x00, 0xFF, 0xFF]);
                self.serial_out
                    .extend(format!("No bootable device ({reason}).\r\n").as_bytes());
            }
            _ => {}
        }
        outcome
    }

    /// Log a sensor-specific system event (event/reading type 0x6F) in the SEL.
    fn sel_event(&mut self, sensor_type: u8, sensor_number: u8, event_data: [u8; 3]) {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        // A full SEL drops the event, as a BMC's does.
        let _ = self.storage.sel.add(SelEntry::System(SystemEvent {
            timestamp,
            // Generated by the system firmware (software id 0x01).
            generator_id: 0x0001,
            evm_rev: 0x04,
            sensor_type,
            sensor_number,
            deassertion: false,
            event_type: 0x6F,
            event_data,
        }));
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
        assert!(String::from_utf8_lossy(&n.sol_read(1000)).contains("booting from PXE"));
    }
}
