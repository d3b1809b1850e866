//! ComputerSystem and what hangs off it: boot, BIOS, SecureBoot, NICs, storage.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ActionTarget, Settings, Status, resource, string_enum};
use crate::model::{Chassis, Manager, VirtualMedia};
use crate::odata::{Collection, Link, OData};

string_enum! {
    /// `PowerState`.
    PowerState {
        /// On.
        On = "On",
        /// Off.
        Off = "Off",
        /// Transitioning to on.
        PoweringOn = "PoweringOn",
        /// Transitioning to off.
        PoweringOff = "PoweringOff",
        /// Paused.
        Paused = "Paused",
    }
}

string_enum! {
    /// `ResetType` of `#ComputerSystem.Reset` (and `#Manager.Reset`).
    ResetType {
        /// Turn on.
        On = "On",
        /// Turn off immediately.
        ForceOff = "ForceOff",
        /// Orderly shutdown (ACPI).
        GracefulShutdown = "GracefulShutdown",
        /// Orderly restart.
        GracefulRestart = "GracefulRestart",
        /// Immediate restart.
        ForceRestart = "ForceRestart",
        /// Non-maskable interrupt.
        Nmi = "Nmi",
        /// Turn on immediately.
        ForceOn = "ForceOn",
        /// Press the power button.
        PushPowerButton = "PushPowerButton",
        /// Off, then on.
        PowerCycle = "PowerCycle",
        /// Suspend.
        Suspend = "Suspend",
        /// Pause.
        Pause = "Pause",
        /// Resume.
        Resume = "Resume",
        /// Full power cycle, including auxiliary power.
        FullPowerCycle = "FullPowerCycle",
    }
}

string_enum! {
    /// `Boot.BootSourceOverrideTarget`.
    BootSource {
        /// No override.
        None = "None",
        /// Network (PXE).
        Pxe = "Pxe",
        /// Floppy.
        Floppy = "Floppy",
        /// CD/DVD.
        Cd = "Cd",
        /// USB.
        Usb = "Usb",
        /// Hard disk.
        Hdd = "Hdd",
        /// BIOS/UEFI setup.
        BiosSetup = "BiosSetup",
        /// Utilities.
        Utilities = "Utilities",
        /// Diagnostics.
        Diags = "Diags",
        /// UEFI shell.
        UefiShell = "UefiShell",
        /// The UEFI device path in `UefiTargetBootSourceOverride`.
        UefiTarget = "UefiTarget",
        /// SD card.
        SdCard = "SDCard",
        /// UEFI HTTP boot.
        UefiHttp = "UefiHttp",
        /// Remote drive.
        RemoteDrive = "RemoteDrive",
        /// UEFI `BootNext`.
        UefiBootNext = "UefiBootNext",
        /// Recovery.
        Recovery = "Recovery",
        /// Supermicro's virtual-media CD (quirk [`crate::quirks::Quirk::VirtualCdIsUsbCd`]).
        UsbCd = "UsbCd",
    }
}

string_enum! {
    /// `Boot.BootSourceOverrideEnabled`.
    BootOverrideEnabled {
        /// No override.
        Disabled = "Disabled",
        /// Next boot only.
        Once = "Once",
        /// Every boot.
        Continuous = "Continuous",
    }
}

string_enum! {
    /// `Boot.BootSourceOverrideMode`.
    BootMode {
        /// Legacy BIOS.
        Legacy = "Legacy",
        /// UEFI.
        Uefi = "UEFI",
    }
}

/// `Boot`: the boot override of a system and the values it allows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Boot {
    /// `BootSourceOverrideTarget`.
    #[serde(default)]
    pub boot_source_override_target: Option<BootSource>,
    /// `BootSourceOverrideTarget@Redfish.AllowableValues`.
    #[serde(rename = "BootSourceOverrideTarget@Redfish.AllowableValues", default)]
    pub target_allowable_values: Option<Vec<BootSource>>,
    /// `BootSourceOverrideEnabled`.
    #[serde(default)]
    pub boot_source_override_enabled: Option<BootOverrideEnabled>,
    /// `BootSourceOverrideEnabled@Redfish.AllowableValues`.
    #[serde(rename = "BootSourceOverrideEnabled@Redfish.AllowableValues", default)]
    pub enabled_allowable_values: Option<Vec<BootOverrideEnabled>>,
    /// `BootSourceOverrideMode`.
    #[serde(default)]
    pub boot_source_override_mode: Option<BootMode>,
    /// `BootSourceOverrideMode@Redfish.AllowableValues`.
    #[serde(rename = "BootSourceOverrideMode@Redfish.AllowableValues", default)]
    pub mode_allowable_values: Option<Vec<BootMode>>,
    /// `UefiTargetBootSourceOverride`.
    #[serde(default)]
    pub uefi_target_boot_source_override: Option<String>,
    /// `BootOrder`.
    #[serde(default)]
    pub boot_order: Option<Vec<String>>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Boot {
    /// Whether the system advertises `BootSourceOverrideMode` at all.
    pub fn advertises_mode(&self) -> bool {
        self.boot_source_override_mode.is_some() || self.mode_allowable_values.is_some()
    }
}

/// `ProcessorSummary`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ProcessorSummary {
    /// Number of processors.
    #[serde(default)]
    pub count: Option<u64>,
    /// Logical processors (threads).
    #[serde(default)]
    pub logical_processor_count: Option<u64>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<Status>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `MemorySummary`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct MemorySummary {
    /// `TotalSystemMemoryGiB`.
    #[serde(rename = "TotalSystemMemoryGiB", default)]
    pub total_system_memory_gib: Option<f64>,
    /// Status.
    #[serde(default)]
    pub status: Option<Status>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Actions` of a ComputerSystem.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct SystemActions {
    /// `#ComputerSystem.Reset`.
    #[serde(rename = "#ComputerSystem.Reset", default)]
    pub reset: Option<ActionTarget>,
    /// Everything else, `Oem` actions included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Links` of a ComputerSystem.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct SystemLinks {
    /// The managers (BMCs) of this system.
    #[serde(default)]
    pub managed_by: Vec<Link<Manager>>,
    /// The chassis holding it.
    #[serde(default)]
    pub chassis: Vec<Link<Chassis>>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ComputerSystem`: a server as the host sees it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ComputerSystem {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `Manufacturer`.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// `Model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `SerialNumber`.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// `SKU`.
    #[serde(rename = "SKU", default)]
    pub sku: Option<String>,
    /// `UUID`.
    #[serde(rename = "UUID", default)]
    pub uuid: Option<String>,
    /// `HostName`.
    #[serde(default)]
    pub host_name: Option<String>,
    /// `BiosVersion`.
    #[serde(default)]
    pub bios_version: Option<String>,
    /// `PowerState`.
    #[serde(default)]
    pub power_state: Option<PowerState>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `Boot`.
    #[serde(default)]
    pub boot: Option<Boot>,
    /// `ProcessorSummary`.
    #[serde(default)]
    pub processor_summary: Option<ProcessorSummary>,
    /// `MemorySummary`.
    #[serde(default)]
    pub memory_summary: Option<MemorySummary>,
    /// `Bios`.
    #[serde(default)]
    pub bios: Option<Link<Bios>>,
    /// `SecureBoot`.
    #[serde(default)]
    pub secure_boot: Option<Link<SecureBoot>>,
    /// `Storage`.
    #[serde(default)]
    pub storage: Option<Link<Collection<Storage>>>,
    /// `SimpleStorage` (older services).
    #[serde(default)]
    pub simple_storage: Option<Link<Collection<Value>>>,
    /// `EthernetInterfaces`.
    #[serde(default)]
    pub ethernet_interfaces: Option<Link<Collection<EthernetInterface>>>,
    /// `Processors`.
    #[serde(default)]
    pub processors: Option<Link<Collection<Value>>>,
    /// `Memory`.
    #[serde(default)]
    pub memory: Option<Link<Collection<Value>>>,
    /// `VirtualMedia` (newer services keep it under the system).
    #[serde(default)]
    pub virtual_media: Option<Link<Collection<VirtualMedia>>>,
    /// `Actions`.
    #[serde(default)]
    pub actions: Option<SystemActions>,
    /// `Links`.
    #[serde(default)]
    pub links: Option<SystemLinks>,
    /// `@Redfish.Settings`: where pending changes go, on services that stage them.
    #[serde(rename = "@Redfish.Settings", default)]
    pub settings: Option<Settings>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ComputerSystem {
    /// `ResetType@Redfish.AllowableValues` of `#ComputerSystem.Reset`, if advertised.
    pub fn allowed_reset_types(&self) -> Option<Vec<ResetType>> {
        let reset = self.actions.as_ref()?.reset.as_ref()?;
        Some(
            reset
                .allowable_values("ResetType")?
                .iter()
                .map(|s| ResetType::from(s.as_str()))
                .collect(),
        )
    }
}

/// `EthernetInterface`: a NIC port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct EthernetInterface {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `MACAddress`.
    #[serde(rename = "MACAddress", default)]
    pub mac_address: Option<String>,
    /// `PermanentMACAddress`.
    #[serde(rename = "PermanentMACAddress", default)]
    pub permanent_mac_address: Option<String>,
    /// `SpeedMbps`.
    #[serde(default)]
    pub speed_mbps: Option<f64>,
    /// `LinkStatus`.
    #[serde(default)]
    pub link_status: Option<String>,
    /// `InterfaceEnabled`.
    #[serde(default)]
    pub interface_enabled: Option<bool>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else (`IPv4Addresses`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Storage`: a storage subsystem with its drives and volumes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Storage {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `Drives`.
    #[serde(default)]
    pub drives: Vec<Link<Drive>>,
    /// `Volumes`.
    #[serde(default)]
    pub volumes: Option<Link<Collection<Volume>>>,
    /// `StorageControllers` (inline, deprecated but common).
    #[serde(default)]
    pub storage_controllers: Vec<Value>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Drive`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Drive {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `CapacityBytes`.
    #[serde(default)]
    pub capacity_bytes: Option<u64>,
    /// `Protocol` (SAS, SATA, NVMe, ...).
    #[serde(default)]
    pub protocol: Option<String>,
    /// `MediaType` (HDD, SSD).
    #[serde(default)]
    pub media_type: Option<String>,
    /// `Model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `SerialNumber`.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Volume`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Volume {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `CapacityBytes`.
    #[serde(default)]
    pub capacity_bytes: Option<u64>,
    /// `RAIDType`.
    #[serde(rename = "RAIDType", default)]
    pub raid_type: Option<String>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Actions` of a Bios resource.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct BiosActions {
    /// `#Bios.ResetBios`.
    #[serde(rename = "#Bios.ResetBios", default)]
    pub reset_bios: Option<ActionTarget>,
    /// `#Bios.ChangePassword`.
    #[serde(rename = "#Bios.ChangePassword", default)]
    pub change_password: Option<ActionTarget>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Bios`: current BIOS attributes; its `@Redfish.Settings` names where to stage changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Bios {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `AttributeRegistry`.
    #[serde(default)]
    pub attribute_registry: Option<String>,
    /// `Attributes`, name to value.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// `@Redfish.Settings`.
    #[serde(rename = "@Redfish.Settings", default)]
    pub settings: Option<Settings>,
    /// `Actions`.
    #[serde(default)]
    pub actions: Option<BiosActions>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `SecureBoot`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct SecureBoot {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `SecureBootEnable`: whether it is enabled (takes effect at the next boot).
    #[serde(default)]
    pub secure_boot_enable: Option<bool>,
    /// `SecureBootCurrentBoot`: `Enabled` or `Disabled` for the current boot.
    #[serde(default)]
    pub secure_boot_current_boot: Option<String>,
    /// `SecureBootMode`, e.g. `UserMode`, `SetupMode`.
    #[serde(default)]
    pub secure_boot_mode: Option<String>,
    /// `@Redfish.Settings`.
    #[serde(rename = "@Redfish.Settings", default)]
    pub settings: Option<Settings>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else (`Actions`, `SecureBootDatabases`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

resource!(
    ComputerSystem,
    EthernetInterface,
    Storage,
    Drive,
    Volume,
    Bios,
    SecureBoot
);
