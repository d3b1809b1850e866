//! The managed system behind a BMC: what the responder asks when a command arrives.

use std::collections::HashMap;

use super::storage::{STORAGE_DEVICE_SUPPORT, Storage};
use crate::cmd::app::DeviceId;
use crate::cmd::chassis::{
    BootFlags, BootParameter, ChassisControl, ChassisIdentify, ChassisStatus, PowerRestorePolicy,
    SupportedRestorePolicies,
};
use crate::cmd::{CompletionCode, Privilege};

/// The system a BMC manages. The [`super::Responder`] handles sessions, privileges and the
/// wire; this trait supplies the state. Methods return a completion code on refusal.
pub trait ManagedSystem {
    /// Get Device ID.
    fn device_id(&mut self) -> DeviceId;
    /// Get Chassis Status.
    fn chassis_status(&mut self) -> ChassisStatus;
    /// Chassis Control.
    fn chassis_control(&mut self, control: ChassisControl) -> Result<(), CompletionCode>;
    /// Chassis Identify.
    fn identify(&mut self, _identify: ChassisIdentify) -> Result<(), CompletionCode> {
        Ok(())
    }
    /// Set Power Restore Policy; returns the supported policies.
    fn set_power_restore_policy(
        &mut self,
        _policy: PowerRestorePolicy,
    ) -> Result<SupportedRestorePolicies, CompletionCode> {
        Err(CompletionCode::InvalidCommand)
    }
    /// Get System Boot Options: the parameter and whether it is marked invalid.
    fn boot_option(&mut self, selector: u8) -> Result<(BootParameter, bool), CompletionCode>;
    /// Set System Boot Options.
    fn set_boot_option(
        &mut self,
        parameter: BootParameter,
        mark_invalid: bool,
    ) -> Result<(), CompletionCode>;
    /// Serial over LAN: characters from the remote console, for the system's serial port.
    fn sol_write(&mut self, _data: &[u8]) {}
    /// Serial over LAN: up to `max` characters the system wrote to its serial port since the
    /// last call.
    fn sol_read(&mut self, _max: usize) -> Vec<u8> {
        Vec::new()
    }
    /// Any other command (SDR, SEL, FRU, OEM...), at the session's current privilege.
    fn handle(
        &mut self,
        _privilege: Privilege,
        _netfn: u8,
        _cmd: u8,
        _data: &[u8],
    ) -> Result<Vec<u8>, CompletionCode> {
        Err(CompletionCode::InvalidCommand)
    }
}

/// An in-memory managed system: power, boot options and restore policy, with a log of the
/// chassis controls received, and an SDR repository, sensors, a SEL and FRU inventory
/// ([`Storage`]) served to SDR, sensor, SEL and FRU commands. Enough for tests and examples;
/// `bmc-sim` builds richer nodes.
///
/// [`SimpleSystem::default`] is a small machine powered off, with the sensors, events and FRU
/// data of [`Storage::example`].
#[derive(Debug, Clone)]
pub struct SimpleSystem {
    /// Power state.
    pub power_on: bool,
    /// Power restore policy.
    pub restore_policy: PowerRestorePolicy,
    /// Boot option parameters by selector.
    pub boot_options: HashMap<u8, BootParameter>,
    /// Device identity.
    pub device: DeviceId,
    /// Every chassis control received, in order.
    pub controls: Vec<ChassisControl>,
    /// SDR repository, sensor readings, SEL and FRU inventory.
    pub storage: Storage,
    /// Everything the SOL console sent to the serial port.
    pub serial_in: Vec<u8>,
    /// What the system writes to its serial port, waiting to go to the SOL console.
    pub serial_out: std::collections::VecDeque<u8>,
    /// Echo serial input back as output, as a terminal in cooked mode does (default on).
    pub serial_echo: bool,
}

impl Default for SimpleSystem {
    fn default() -> Self {
        let mut boot_options = HashMap::new();
        boot_options.insert(0, BootParameter::SetInProgress(0));
        boot_options.insert(
            5,
            BootParameter::BootFlags(BootFlags {
                valid: false,
                ..BootFlags::new(
                    crate::cmd::chassis::BootDevice::NoOverride,
                    crate::cmd::chassis::BootPersistence::NextBoot,
                    crate::cmd::chassis::BootMode::Legacy,
                )
            }),
        );
        SimpleSystem {
            power_on: false,
            restore_policy: PowerRestorePolicy::AlwaysOff,
            boot_options,
            device: DeviceId {
                device_id: 0x20,
                device_revision: 1,
                provides_sdrs: false,
                available: true,
                firmware_major: 1,
                firmware_minor: 0x00,
                ipmi_version: 0x02,
                // Chassis device (bit 7), FRU inventory, SEL, SDR repository and sensor
                // device. `provides_sdrs` stays false: that bit announces *device* SDRs (Get
                // Device SDR), which this BMC does not serve; its SDRs are in the repository.
                additional_support: 0x80 | STORAGE_DEVICE_SUPPORT,
                manufacturer_id: 0,
                product_id: 0,
                aux_firmware: None,
            },
            controls: Vec::new(),
            storage: Storage::example(),
            serial_in: Vec::new(),
            serial_out: std::collections::VecDeque::new(),
            serial_echo: true,
        }
    }
}

impl SimpleSystem {
    /// The current boot flags (parameter 5).
    pub fn boot_flags(&self) -> Option<BootFlags> {
        match self.boot_options.get(&5) {
            Some(BootParameter::BootFlags(f)) => Some(*f),
            _ => None,
        }
    }
}

impl ManagedSystem for SimpleSystem {
    fn device_id(&mut self) -> DeviceId {
        self.device.clone()
    }

    fn chassis_status(&mut self) -> ChassisStatus {
        ChassisStatus {
            restore_policy: self.restore_policy,
            ..ChassisStatus::with_power(self.power_on)
        }
    }

    fn chassis_control(&mut self, control: ChassisControl) -> Result<(), CompletionCode> {
        self.controls.push(control);
        match control {
            ChassisControl::PowerDown | ChassisControl::SoftShutdown => self.power_on = false,
            ChassisControl::PowerUp | ChassisControl::PowerCycle | ChassisControl::HardReset => {
                self.power_on = true
            }
            ChassisControl::DiagnosticInterrupt => {}
        }
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
        self.boot_options
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
        if let (BootParameter::SetInProgress(1), Some(BootParameter::SetInProgress(1))) =
            (&parameter, self.boot_options.get(&0))
        {
            // 0x81: set already in progress.
            return Err(CompletionCode::Oem(0x81));
        }
        self.boot_options.insert(parameter.selector(), parameter);
        Ok(())
    }

    fn sol_write(&mut self, data: &[u8]) {
        self.serial_in.extend_from_slice(data);
        if self.serial_echo {
            self.serial_out.extend(data);
        }
    }

    fn sol_read(&mut self, max: usize) -> Vec<u8> {
        let n = self.serial_out.len().min(max);
        self.serial_out.drain(..n).collect()
    }

    /// The SDR, sensor, SEL and FRU commands of [`Storage::handle`]; anything else is 0xC1
    /// (invalid command), Get Device SDR Info among them.
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
