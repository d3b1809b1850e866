//! ComputerSystem and what hangs off it: boot, BIOS, SecureBoot, NICs, storage.

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
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Boot {
    /// `BootSourceOverrideTarget`.
    pub boot_source_override_target: Option<BootSource>,
    /// `BootSourceOverrideTarget@Redfish.AllowableValues`.
    pub target_allowable_values: Option<Vec<BootSource>>,
    /// `BootSourceOverrideEnabled`.
    pub boot_source_override_enabled: Option<BootOverrideEnabled>,
    /// `BootSourceOverrideEnabled@Redfish.AllowableValues`.
    pub enabled_allowable_values: Option<Vec<BootOverrideEnabled>>,
    /// `BootSourceOverrideMode`.
    pub boot_source_override_mode: Option<BootMode>,
    /// `BootSourceOverrideMode@Redfish.AllowableValues`.
    pub mode_allowable_values: Option<Vec<BootMode>>,
    /// `UefiTargetBootSourceOverride`.
    pub uefi_target_boot_source_override: Option<String>,
    /// `BootOrder`.
    pub boot_order: Option<Vec<String>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Boot {
        "BootSourceOverrideTarget" => boot_source_override_target,
        "BootSourceOverrideTarget@Redfish.AllowableValues" => target_allowable_values,
        "BootSourceOverrideEnabled" => boot_source_override_enabled,
        "BootSourceOverrideEnabled@Redfish.AllowableValues" => enabled_allowable_values,
        "BootSourceOverrideMode" => boot_source_override_mode,
        "BootSourceOverrideMode@Redfish.AllowableValues" => mode_allowable_values,
        "UefiTargetBootSourceOverride" => uefi_target_boot_source_override,
        "BootOrder" => boot_order,
});

impl Boot {
    /// Whether the system advertises `BootSourceOverrideMode` at all.
    pub fn advertises_mode(&self) -> bool {
        self.boot_source_override_mode.is_some() || self.mode_allowable_values.is_some()
    }
}

/// `ProcessorSummary`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProcessorSummary {
    /// Number of processors.
    pub count: Option<u64>,
    /// Logical processors (threads).
    pub logical_processor_count: Option<u64>,
    /// Model.
    pub model: Option<String>,
    /// Status.
    pub status: Option<Status>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ProcessorSummary {
        "Count" => count,
        "LogicalProcessorCount" => logical_processor_count,
        "Model" => model,
        "Status" => status,
});

/// `MemorySummary`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MemorySummary {
    /// `TotalSystemMemoryGiB`.
    pub total_system_memory_gib: Option<f64>,
    /// Status.
    pub status: Option<Status>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(MemorySummary {
        "TotalSystemMemoryGiB" => total_system_memory_gib,
        "Status" => status,
});

/// `Actions` of a ComputerSystem.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SystemActions {
    /// `#ComputerSystem.Reset`.
    pub reset: Option<ActionTarget>,
    /// Everything else, `Oem` actions included.
    pub extra: Map<String, Value>,
}
model_deserialize!(SystemActions {
        "#ComputerSystem.Reset" => reset,
});

/// `Links` of a ComputerSystem.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SystemLinks {
    /// The managers (BMCs) of this system.
    pub managed_by: Vec<Link<Manager>>,
    /// The chassis holding it.
    pub chassis: Vec<Link<Chassis>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(SystemLinks {
        "ManagedBy" => managed_by,
        "Chassis" => chassis,
});

/// `ComputerSystem`: a server as the host sees it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ComputerSystem {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `SerialNumber`.
    pub serial_number: Option<String>,
    /// `SKU`.
    pub sku: Option<String>,
    /// `UUID`.
    pub uuid: Option<String>,
    /// `HostName`.
    pub host_name: Option<String>,
    /// `BiosVersion`.
    pub bios_version: Option<String>,
    /// `PowerState`.
    pub power_state: Option<PowerState>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Boot`.
    pub boot: Option<Boot>,
    /// `ProcessorSummary`.
    pub processor_summary: Option<ProcessorSummary>,
    /// `MemorySummary`.
    pub memory_summary: Option<MemorySummary>,
    /// `Bios`.
    pub bios: Option<Link<Bios>>,
    /// `SecureBoot`.
    pub secure_boot: Option<Link<SecureBoot>>,
    /// `Storage`.
    pub storage: Option<Link<Collection<Storage>>>,
    /// `SimpleStorage` (older services).
    pub simple_storage: Option<Link<Collection<Value>>>,
    /// `EthernetInterfaces`.
    pub ethernet_interfaces: Option<Link<Collection<EthernetInterface>>>,
    /// `Processors`.
    pub processors: Option<Link<Collection<Value>>>,
    /// `Memory`.
    pub memory: Option<Link<Collection<Value>>>,
    /// `VirtualMedia` (newer services keep it under the system).
    pub virtual_media: Option<Link<Collection<VirtualMedia>>>,
    /// `Actions`.
    pub actions: Option<SystemActions>,
    /// `Links`.
    pub links: Option<SystemLinks>,
    /// `@Redfish.Settings`: where pending changes go, on services that stage them.
    pub settings: Option<Settings>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ComputerSystem, odata {
        "Id" => id,
        "Name" => name,
        "Manufacturer" => manufacturer,
        "Model" => model,
        "SerialNumber" => serial_number,
        "SKU" => sku,
        "UUID" => uuid,
        "HostName" => host_name,
        "BiosVersion" => bios_version,
        "PowerState" => power_state,
        "Status" => status,
        "Boot" => boot,
        "ProcessorSummary" => processor_summary,
        "MemorySummary" => memory_summary,
        "Bios" => bios,
        "SecureBoot" => secure_boot,
        "Storage" => storage,
        "SimpleStorage" => simple_storage,
        "EthernetInterfaces" => ethernet_interfaces,
        "Processors" => processors,
        "Memory" => memory,
        "VirtualMedia" => virtual_media,
        "Actions" => actions,
        "Links" => links,
        "@Redfish.Settings" => settings,
        "Oem" => oem,
});

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
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EthernetInterface {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `MACAddress`.
    pub mac_address: Option<String>,
    /// `PermanentMACAddress`.
    pub permanent_mac_address: Option<String>,
    /// `SpeedMbps`.
    pub speed_mbps: Option<f64>,
    /// `LinkStatus`.
    pub link_status: Option<String>,
    /// `InterfaceEnabled`.
    pub interface_enabled: Option<bool>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else (`IPv4Addresses`, ...).
    pub extra: Map<String, Value>,
}
model_deserialize!(EthernetInterface, odata {
        "Id" => id,
        "Name" => name,
        "MACAddress" => mac_address,
        "PermanentMACAddress" => permanent_mac_address,
        "SpeedMbps" => speed_mbps,
        "LinkStatus" => link_status,
        "InterfaceEnabled" => interface_enabled,
        "Status" => status,
        "Oem" => oem,
});

/// `Storage`: a storage subsystem with its drives and volumes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Storage {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Drives`.
    pub drives: Vec<Link<Drive>>,
    /// `Volumes`.
    pub volumes: Option<Link<Collection<Volume>>>,
    /// `StorageControllers` (inline, deprecated but common).
    pub storage_controllers: Vec<Value>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Storage, odata {
        "Id" => id,
        "Name" => name,
        "Drives" => drives,
        "Volumes" => volumes,
        "StorageControllers" => storage_controllers,
        "Status" => status,
        "Oem" => oem,
});

/// `Drive`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Drive {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `CapacityBytes`.
    pub capacity_bytes: Option<u64>,
    /// `Protocol` (SAS, SATA, NVMe, ...).
    pub protocol: Option<String>,
    /// `MediaType` (HDD, SSD).
    pub media_type: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `SerialNumber`.
    pub serial_number: Option<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Drive, odata {
        "Id" => id,
        "Name" => name,
        "CapacityBytes" => capacity_bytes,
        "Protocol" => protocol,
        "MediaType" => media_type,
        "Model" => model,
        "SerialNumber" => serial_number,
        "Status" => status,
        "Oem" => oem,
});

/// `Volume`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Volume {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `CapacityBytes`.
    pub capacity_bytes: Option<u64>,
    /// `RAIDType`.
    pub raid_type: Option<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Volume, odata {
        "Id" => id,
        "Name" => name,
        "CapacityBytes" => capacity_bytes,
        "RAIDType" => raid_type,
        "Status" => status,
});

/// `Actions` of a Bios resource.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BiosActions {
    /// `#Bios.ResetBios`.
    pub reset_bios: Option<ActionTarget>,
    /// `#Bios.ChangePassword`.
    pub change_password: Option<ActionTarget>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(BiosActions {
        "#Bios.ResetBios" => reset_bios,
        "#Bios.ChangePassword" => change_password,
});

/// `Bios`: current BIOS attributes; its `@Redfish.Settings` names where to stage changes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Bios {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `AttributeRegistry`.
    pub attribute_registry: Option<String>,
    /// `Attributes`, name to value.
    pub attributes: Map<String, Value>,
    /// `@Redfish.Settings`.
    pub settings: Option<Settings>,
    /// `Actions`.
    pub actions: Option<BiosActions>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Bios, odata {
        "Id" => id,
        "Name" => name,
        "AttributeRegistry" => attribute_registry,
        "Attributes" => attributes,
        "@Redfish.Settings" => settings,
        "Actions" => actions,
        "Oem" => oem,
});

/// `SecureBoot`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SecureBoot {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `SecureBootEnable`: whether it is enabled (takes effect at the next boot).
    pub secure_boot_enable: Option<bool>,
    /// `SecureBootCurrentBoot`: `Enabled` or `Disabled` for the current boot.
    pub secure_boot_current_boot: Option<String>,
    /// `SecureBootMode`, e.g. `UserMode`, `SetupMode`.
    pub secure_boot_mode: Option<String>,
    /// `@Redfish.Settings`.
    pub settings: Option<Settings>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else (`Actions`, `SecureBootDatabases`, ...).
    pub extra: Map<String, Value>,
}
model_deserialize!(SecureBoot, odata {
        "Id" => id,
        "SecureBootEnable" => secure_boot_enable,
        "SecureBootCurrentBoot" => secure_boot_current_boot,
        "SecureBootMode" => secure_boot_mode,
        "@Redfish.Settings" => settings,
        "Oem" => oem,
});

resource!(
    ComputerSystem,
    EthernetInterface,
    Storage,
    Drive,
    Volume,
    Bios,
    SecureBoot
);
