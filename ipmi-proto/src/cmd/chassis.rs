//! Chassis net function (0x00): power, identify, restore policy and boot options.

use bytes::{BufMut, BytesMut};

use super::{Request, Response};
use crate::error::{Error, Result};
use crate::message::NetFn;
use crate::wire::{self, u8_};

/// Get Chassis Status (Chassis 0x01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetChassisStatus;

/// Power restore policy (what the chassis does when AC power returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PowerRestorePolicy {
    /// Stay off.
    AlwaysOff,
    /// Return to the state before the loss.
    Previous,
    /// Power on.
    AlwaysOn,
    /// Unknown (status) or "no change" (set).
    Unknown,
}

impl PowerRestorePolicy {
    fn from_bits(v: u8) -> Self {
        match v & 3 {
            0 => Self::AlwaysOff,
            1 => Self::Previous,
            2 => Self::AlwaysOn,
            _ => Self::Unknown,
        }
    }
    fn bits(self) -> u8 {
        match self {
            Self::AlwaysOff => 0,
            Self::Previous => 1,
            Self::AlwaysOn => 2,
            Self::Unknown => 3,
        }
    }
}

/// The Get Chassis Status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChassisStatus {
    /// System power is on.
    pub power_on: bool,
    /// Power overload.
    pub overload: bool,
    /// Power interlock active.
    pub interlock: bool,
    /// Main power fault.
    pub power_fault: bool,
    /// Power control fault.
    pub control_fault: bool,
    /// Power restore policy.
    pub restore_policy: PowerRestorePolicy,
    /// Last power event bits (AC failed, overload, interlock, fault, on by command).
    pub last_event: u8,
    /// Misc chassis state bits (intrusion, front panel lockout, drive fault, cooling fault,
    /// identify state in bits 5:4, identify supported in bit 6).
    pub misc: u8,
    /// Front panel button capabilities, when reported.
    pub front_panel: Option<u8>,
}

impl ChassisStatus {
    /// A status with only the power bit set as given.
    pub fn with_power(power_on: bool) -> Self {
        ChassisStatus {
            power_on,
            overload: false,
            interlock: false,
            power_fault: false,
            control_fault: false,
            restore_policy: PowerRestorePolicy::AlwaysOff,
            last_event: 0,
            misc: 0x40,
            front_panel: None,
        }
    }
}

impl Request for GetChassisStatus {
    type Response = ChassisStatus;
    const NETFN: NetFn = NetFn::Chassis;
    const CMD: u8 = 0x01;
    fn emit(&self, _out: &mut BytesMut) {}
    fn parse(_data: &[u8]) -> Result<Self> {
        Ok(GetChassisStatus)
    }
}

impl Response for ChassisStatus {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Chassis Status response";
        let (i, p) = wire::ctx(what, u8_(data))?;
        let (i, last_event) = wire::ctx(what, u8_(i))?;
        let (i, misc) = wire::ctx(what, u8_(i))?;
        let front_panel = i.first().copied();
        Ok(ChassisStatus {
            power_on: p & 0x01 != 0,
            overload: p & 0x02 != 0,
            interlock: p & 0x04 != 0,
            power_fault: p & 0x08 != 0,
            control_fault: p & 0x10 != 0,
            restore_policy: PowerRestorePolicy::from_bits(p >> 5),
            last_event,
            misc,
            front_panel,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        let p = u8::from(self.power_on)
            | u8::from(self.overload) << 1
            | u8::from(self.interlock) << 2
            | u8::from(self.power_fault) << 3
            | u8::from(self.control_fault) << 4
            | self.restore_policy.bits() << 5;
        out.put_u8(p);
        out.put_u8(self.last_event);
        out.put_u8(self.misc);
        if let Some(f) = self.front_panel {
            out.put_u8(f);
        }
    }
}

/// Chassis Control (Chassis 0x02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChassisControl {
    /// 0: power down (hard off).
    PowerDown,
    /// 1: power up.
    PowerUp,
    /// 2: power cycle (off, then on after at least 1 s).
    PowerCycle,
    /// 3: hard reset.
    HardReset,
    /// 4: pulse a diagnostic interrupt (NMI).
    DiagnosticInterrupt,
    /// 5: soft shutdown via ACPI overtemperature emulation.
    SoftShutdown,
}

impl ChassisControl {
    fn to_u8(self) -> u8 {
        match self {
            Self::PowerDown => 0,
            Self::PowerUp => 1,
            Self::PowerCycle => 2,
            Self::HardReset => 3,
            Self::DiagnosticInterrupt => 4,
            Self::SoftShutdown => 5,
        }
    }
}

impl Request for ChassisControl {
    type Response = ();
    const NETFN: NetFn = NetFn::Chassis;
    const CMD: u8 = 0x02;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.to_u8());
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Chassis Control request";
        let (_, v) = wire::ctx(what, u8_(data))?;
        Ok(match v & 0x0f {
            0 => Self::PowerDown,
            1 => Self::PowerUp,
            2 => Self::PowerCycle,
            3 => Self::HardReset,
            4 => Self::DiagnosticInterrupt,
            5 => Self::SoftShutdown,
            _ => return Err(Error::invalid(what, "unknown chassis control")),
        })
    }
}

/// Chassis Identify (Chassis 0x04).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChassisIdentify {
    /// Seconds to blink (0 turns it off); `None` uses the BMC's default (15 s).
    pub interval: Option<u8>,
    /// Blink until told otherwise.
    pub force_on: bool,
}

impl Request for ChassisIdentify {
    type Response = ();
    const NETFN: NetFn = NetFn::Chassis;
    const CMD: u8 = 0x04;
    fn emit(&self, out: &mut BytesMut) {
        if self.interval.is_some() || self.force_on {
            out.put_u8(self.interval.unwrap_or(15));
            if self.force_on {
                out.put_u8(1);
            }
        }
    }
    fn parse(data: &[u8]) -> Result<Self> {
        Ok(ChassisIdentify {
            interval: data.first().copied(),
            force_on: data.get(1).is_some_and(|b| b & 1 != 0),
        })
    }
}

/// Set Power Restore Policy (Chassis 0x06).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetPowerRestorePolicy(pub PowerRestorePolicy);

/// Which policies the BMC supports (bit 0 always off, bit 1 previous, bit 2 always on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedRestorePolicies(pub u8);

impl Request for SetPowerRestorePolicy {
    type Response = SupportedRestorePolicies;
    const NETFN: NetFn = NetFn::Chassis;
    const CMD: u8 = 0x06;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.0.bits());
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, v) = wire::ctx("Set Power Restore Policy request", u8_(data))?;
        Ok(SetPowerRestorePolicy(PowerRestorePolicy::from_bits(v)))
    }
}

impl Response for SupportedRestorePolicies {
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, v) = wire::ctx("Set Power Restore Policy response", u8_(data))?;
        Ok(SupportedRestorePolicies(v))
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.0);
    }
}

/// The boot device selector of boot flags (parameter 5, data 2 bits 5:2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BootDevice {
    /// 0: no override.
    NoOverride,
    /// 1: force PXE.
    Pxe,
    /// 2: force boot from the default hard drive.
    Disk,
    /// 3: default hard drive, safe mode.
    DiskSafeMode,
    /// 4: diagnostic partition.
    Diagnostic,
    /// 5: CD/DVD.
    Cdrom,
    /// 6: BIOS setup.
    BiosSetup,
    /// 7: remote floppy/primary removable media.
    RemoteFloppy,
    /// 8: remote CD/DVD (primary remote media).
    RemoteCdrom,
    /// 9: primary remote media.
    RemoteMedia,
    /// 11: remote hard drive.
    RemoteDisk,
    /// 15: floppy/primary removable media.
    Floppy,
    /// Another selector value.
    Other(u8),
}

impl BootDevice {
    /// The 4-bit selector.
    pub fn selector(self) -> u8 {
        match self {
            Self::NoOverride => 0,
            Self::Pxe => 1,
            Self::Disk => 2,
            Self::DiskSafeMode => 3,
            Self::Diagnostic => 4,
            Self::Cdrom => 5,
            Self::BiosSetup => 6,
            Self::RemoteFloppy => 7,
            Self::RemoteCdrom => 8,
            Self::RemoteMedia => 9,
            Self::RemoteDisk => 11,
            Self::Floppy => 15,
            Self::Other(v) => v & 0x0f,
        }
    }

    /// Decode a 4-bit selector.
    pub fn from_selector(v: u8) -> Self {
        match v & 0x0f {
            0 => Self::NoOverride,
            1 => Self::Pxe,
            2 => Self::Disk,
            3 => Self::DiskSafeMode,
            4 => Self::Diagnostic,
            5 => Self::Cdrom,
            6 => Self::BiosSetup,
            7 => Self::RemoteFloppy,
            8 => Self::RemoteCdrom,
            9 => Self::RemoteMedia,
            11 => Self::RemoteDisk,
            15 => Self::Floppy,
            other => Self::Other(other),
        }
    }
}

/// Whether a boot override applies to the next boot only or to all future boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootPersistence {
    /// Next boot only (the BMC clears it after one boot or 60 s).
    NextBoot,
    /// All future boots.
    Persistent,
}

/// Firmware boot type of an override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootMode {
    /// PC-compatible (legacy BIOS) boot.
    Legacy,
    /// Extensible Firmware Interface boot.
    Efi,
}

/// Boot flags (boot option parameter 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootFlags {
    /// The flags are valid (the override is armed).
    pub valid: bool,
    /// Next boot or persistent.
    pub persistence: BootPersistence,
    /// Legacy or EFI.
    pub mode: BootMode,
    /// Boot device.
    pub device: BootDevice,
    /// The remaining bits of data 2 (CMOS clear, keyboard lock, screen blank, reset lock).
    pub data2_other: u8,
    /// Data 3..5 (console redirection, BIOS verbosity, device instance), kept as given.
    pub data3_5: [u8; 3],
}

impl BootFlags {
    /// An armed override for `device`.
    pub fn new(device: BootDevice, persistence: BootPersistence, mode: BootMode) -> Self {
        BootFlags {
            valid: true,
            persistence,
            mode,
            device,
            data2_other: 0,
            data3_5: [0; 3],
        }
    }

    fn emit(&self, out: &mut BytesMut) {
        let mut d1 = 0;
        if self.valid {
            d1 |= 0x80;
        }
        if self.persistence == BootPersistence::Persistent {
            d1 |= 0x40;
        }
        if self.mode == BootMode::Efi {
            d1 |= 0x20;
        }
        out.put_u8(d1);
        out.put_u8((self.device.selector() << 2) | (self.data2_other & 0xc3));
        out.put_slice(&self.data3_5);
    }

    fn parse(data: &[u8]) -> Result<Self> {
        let what = "boot flags (parameter 5)";
        let (i, d1) = wire::ctx(what, u8_(data))?;
        // BMCs that keep only part of the flags send fewer than 5 bytes; missing bytes are 0.
        let d2 = i.first().copied().unwrap_or(0);
        let mut data3_5 = [0u8; 3];
        for (k, b) in i.iter().skip(1).take(3).enumerate() {
            data3_5[k] = *b;
        }
        Ok(BootFlags {
            valid: d1 & 0x80 != 0,
            persistence: if d1 & 0x40 != 0 {
                BootPersistence::Persistent
            } else {
                BootPersistence::NextBoot
            },
            mode: if d1 & 0x20 != 0 {
                BootMode::Efi
            } else {
                BootMode::Legacy
            },
            device: BootDevice::from_selector(d2 >> 2),
            data2_other: d2 & 0xc3,
            data3_5,
        })
    }
}

/// A system boot options parameter (IPMI v2.0 table 28-14), by selector.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootParameter {
    /// 0: set in progress (0 set complete, 1 set in progress, 2 commit write).
    SetInProgress(u8),
    /// 3: boot flag valid bit clearing (bits say which events do *not* clear the valid bit).
    ValidBitClearing(u8),
    /// 4: boot info acknowledge (write mask, data).
    BootInfoAck {
        /// Which bits of `data` to write.
        mask: u8,
        /// Acknowledge bits.
        data: u8,
    },
    /// 5: boot flags.
    BootFlags(BootFlags),
    /// Any other parameter with its raw data.
    Other {
        /// Parameter selector (7 bits).
        selector: u8,
        /// Parameter data.
        data: Vec<u8>,
    },
}

impl BootParameter {
    /// The parameter selector.
    pub fn selector(&self) -> u8 {
        match self {
            Self::SetInProgress(_) => 0,
            Self::ValidBitClearing(_) => 3,
            Self::BootInfoAck { .. } => 4,
            Self::BootFlags(_) => 5,
            Self::Other { selector, .. } => selector & 0x7f,
        }
    }

    fn emit_data(&self, out: &mut BytesMut) {
        match self {
            Self::SetInProgress(v) => out.put_u8(*v & 3),
            Self::ValidBitClearing(v) => out.put_u8(*v),
            Self::BootInfoAck { mask, data } => {
                out.put_u8(*mask);
                out.put_u8(*data);
            }
            Self::BootFlags(f) => f.emit(out),
            Self::Other { data, .. } => out.put_slice(data),
        }
    }

    fn parse_data(selector: u8, data: &[u8]) -> Result<Self> {
        let what = "boot option parameter";
        Ok(match selector & 0x7f {
            0 => Self::SetInProgress(wire::ctx(what, u8_(data))?.1 & 3),
            3 => Self::ValidBitClearing(wire::ctx(what, u8_(data))?.1),
            4 => {
                let (i, mask) = wire::ctx(what, u8_(data))?;
                let (_, d) = wire::ctx(what, u8_(i))?;
                Self::BootInfoAck { mask, data: d }
            }
            5 => Self::BootFlags(BootFlags::parse(data)?),
            s => Self::Other {
                selector: s,
                data: data.to_vec(),
            },
        })
    }
}

/// Set System Boot Options (Chassis 0x08).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSystemBootOptions {
    /// Mark the parameter invalid/locked (bit 7 of the selector byte).
    pub mark_invalid: bool,
    /// The parameter and its data.
    pub parameter: BootParameter,
}

impl Request for SetSystemBootOptions {
    type Response = ();
    const NETFN: NetFn = NetFn::Chassis;
    const CMD: u8 = 0x08;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.parameter.selector() | if self.mark_invalid { 0x80 } else { 0 });
        self.parameter.emit_data(out);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (i, sel) = wire::ctx("Set System Boot Options request", u8_(data))?;
        Ok(SetSystemBootOptions {
            mark_invalid: sel & 0x80 != 0,
            parameter: BootParameter::parse_data(sel, i)?,
        })
    }
}

/// Get System Boot Options (Chassis 0x09).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetSystemBootOptions {
    /// Parameter selector.
    pub selector: u8,
    /// Set selector.
    pub set: u8,
    /// Block selector.
    pub block: u8,
}

impl GetSystemBootOptions {
    /// Ask for parameter `selector` (set and block 0).
    pub fn parameter(selector: u8) -> Self {
        GetSystemBootOptions {
            selector,
            set: 0,
            block: 0,
        }
    }
}

/// The Get System Boot Options response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemBootOptions {
    /// Parameter version (1).
    pub version: u8,
    /// Bit 7 of the selector byte: the parameter is marked invalid/locked.
    pub invalid: bool,
    /// The parameter.
    pub parameter: BootParameter,
}

impl Request for GetSystemBootOptions {
    type Response = SystemBootOptions;
    const NETFN: NetFn = NetFn::Chassis;
    const CMD: u8 = 0x09;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.selector & 0x7f);
        out.put_u8(self.set);
        out.put_u8(self.block);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get System Boot Options request";
        let (i, selector) = wire::ctx(what, u8_(data))?;
        let set = i.first().copied().unwrap_or(0);
        let block = i.get(1).copied().unwrap_or(0);
        Ok(GetSystemBootOptions {
            selector: selector & 0x7f,
            set,
            block,
        })
    }
}

impl Response for SystemBootOptions {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get System Boot Options response";
        let (i, version) = wire::ctx(what, u8_(data))?;
        let (i, sel) = wire::ctx(what, u8_(i))?;
        Ok(SystemBootOptions {
            version: version & 0x0f,
            invalid: sel & 0x80 != 0,
            parameter: BootParameter::parse_data(sel, i)?,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.version);
        out.put_u8(self.parameter.selector() | if self.invalid { 0x80 } else { 0 });
        self.parameter.emit_data(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_flags_pxe_efi_persistent_bytes() {
        // ipmitool `chassis bootdev pxe options=efiboot,persistent`: e0 04 00 00 00
        let req = SetSystemBootOptions {
            mark_invalid: false,
            parameter: BootParameter::BootFlags(BootFlags::new(
                BootDevice::Pxe,
                BootPersistence::Persistent,
                BootMode::Efi,
            )),
        };
        let mut b = BytesMut::new();
        req.emit(&mut b);
        assert_eq!(&b[..], &[0x05, 0xe0, 0x04, 0, 0, 0]);
        assert_eq!(SetSystemBootOptions::parse(&b).unwrap(), req);
    }

    #[test]
    fn boot_options_response_round_trip() {
        let r = SystemBootOptions {
            version: 1,
            invalid: false,
            parameter: BootParameter::BootFlags(BootFlags::new(
                BootDevice::Disk,
                BootPersistence::NextBoot,
                BootMode::Legacy,
            )),
        };
        let mut b = BytesMut::new();
        r.emit(&mut b);
        assert_eq!(SystemBootOptions::parse(&b).unwrap(), r);
        // ipmi_sim answers with a short parameter 5: data1 = 0 only.
        let short = SystemBootOptions::parse(&[0x01, 0x05, 0x00]).unwrap();
        assert!(matches!(short.parameter, BootParameter::BootFlags(f) if !f.valid));
    }

    #[test]
    fn chassis_status_round_trip() {
        let mut s = ChassisStatus::with_power(true);
        s.restore_policy = PowerRestorePolicy::Previous;
        s.front_panel = Some(0);
        let mut b = BytesMut::new();
        s.emit(&mut b);
        assert_eq!(ChassisStatus::parse(&b).unwrap(), s);
    }
}
