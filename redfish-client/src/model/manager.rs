//! Manager (the BMC), Chassis, VirtualMedia.

use serde_json::{Map, Value};

use super::{ActionTarget, Status, resource, string_enum};
use crate::model::ComputerSystem;
use crate::odata::{Collection, Link, OData};

/// `Links` of a Manager.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ManagerLinks {
    /// The systems this manager manages.
    pub manager_for_servers: Vec<Link<ComputerSystem>>,
    /// The chassis it manages.
    pub manager_for_chassis: Vec<Link<Chassis>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ManagerLinks {
        "ManagerForServers" => manager_for_servers,
        "ManagerForChassis" => manager_for_chassis,
});

/// `Actions` of a Manager.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ManagerActions {
    /// `#Manager.Reset`.
    pub reset: Option<ActionTarget>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ManagerActions {
        "#Manager.Reset" => reset,
});

/// `Manager`: a BMC.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Manager {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `ManagerType`, e.g. `BMC`.
    pub manager_type: Option<String>,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `FirmwareVersion`.
    pub firmware_version: Option<String>,
    /// `UUID`.
    pub uuid: Option<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// `VirtualMedia` (Redfish 1.0 location: Dell, HPE, Supermicro).
    pub virtual_media: Option<Link<Collection<VirtualMedia>>>,
    /// `EthernetInterfaces` of the BMC itself.
    pub ethernet_interfaces: Option<Link<Collection<Value>>>,
    /// `Links`.
    pub links: Option<ManagerLinks>,
    /// `Actions`.
    pub actions: Option<ManagerActions>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Manager, odata {
        "Id" => id,
        "Name" => name,
        "ManagerType" => manager_type,
        "Manufacturer" => manufacturer,
        "Model" => model,
        "FirmwareVersion" => firmware_version,
        "UUID" => uuid,
        "Status" => status,
        "VirtualMedia" => virtual_media,
        "EthernetInterfaces" => ethernet_interfaces,
        "Links" => links,
        "Actions" => actions,
        "Oem" => oem,
});

/// `Links` of a Chassis.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ChassisLinks {
    /// Systems in this chassis.
    pub computer_systems: Vec<Link<ComputerSystem>>,
    /// Its managers.
    pub managed_by: Vec<Link<Manager>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ChassisLinks {
        "ComputerSystems" => computer_systems,
        "ManagedBy" => managed_by,
});

/// `Chassis`: the physical enclosure, with power and thermal (legacy `Power`/`Thermal` and the
/// newer `PowerSubsystem`/`ThermalSubsystem`/`EnvironmentMetrics`; [`crate::Client::power_thermal`]
/// reads whichever the service has).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Chassis {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `ChassisType`.
    pub chassis_type: Option<String>,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `SerialNumber`.
    pub serial_number: Option<String>,
    /// `PartNumber`.
    pub part_number: Option<String>,
    /// `PowerState`.
    pub power_state: Option<super::PowerState>,
    /// `IndicatorLED`.
    pub indicator_led: Option<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Power` (legacy).
    pub power: Option<Link<super::Power>>,
    /// `Thermal` (legacy).
    pub thermal: Option<Link<super::Thermal>>,
    /// `PowerSubsystem`.
    pub power_subsystem: Option<Link<super::PowerSubsystem>>,
    /// `ThermalSubsystem`.
    pub thermal_subsystem: Option<Link<super::ThermalSubsystem>>,
    /// `EnvironmentMetrics`.
    pub environment_metrics: Option<Link<super::EnvironmentMetrics>>,
    /// `Sensors` (read them with [`Client::sensors`](crate::Client::sensors)).
    pub sensors: Option<Link<Collection<super::Sensor>>>,
    /// `Links`.
    pub links: Option<ChassisLinks>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Chassis, odata {
        "Id" => id,
        "Name" => name,
        "ChassisType" => chassis_type,
        "Manufacturer" => manufacturer,
        "Model" => model,
        "SerialNumber" => serial_number,
        "PartNumber" => part_number,
        "PowerState" => power_state,
        "IndicatorLED" => indicator_led,
        "Status" => status,
        "Power" => power,
        "Thermal" => thermal,
        "PowerSubsystem" => power_subsystem,
        "ThermalSubsystem" => thermal_subsystem,
        "EnvironmentMetrics" => environment_metrics,
        "Sensors" => sensors,
        "Links" => links,
        "Oem" => oem,
});

string_enum! {
    /// `VirtualMedia.MediaTypes` entries.
    MediaType {
        /// CD.
        Cd = "CD",
        /// DVD.
        Dvd = "DVD",
        /// Floppy.
        Floppy = "Floppy",
        /// USB stick.
        UsbStick = "USBStick",
    }
}

/// `Actions` of a VirtualMedia slot.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VirtualMediaActions {
    /// `#VirtualMedia.InsertMedia`.
    pub insert_media: Option<ActionTarget>,
    /// `#VirtualMedia.EjectMedia`.
    pub eject_media: Option<ActionTarget>,
    /// Everything else (HPE's OEM insert actions, ...).
    pub extra: Map<String, Value>,
}
model_deserialize!(VirtualMediaActions {
        "#VirtualMedia.InsertMedia" => insert_media,
        "#VirtualMedia.EjectMedia" => eject_media,
});

/// `VirtualMedia`: one virtual drive slot of a BMC.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VirtualMedia {
    /// OData annotations.
    pub odata: OData,
    /// `Id`, e.g. `Cd`, `CD1`, `RemovableDisk`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `MediaTypes` this slot takes.
    pub media_types: Vec<MediaType>,
    /// `Image`: the inserted image's URL.
    pub image: Option<String>,
    /// `ImageName`.
    pub image_name: Option<String>,
    /// `Inserted`.
    pub inserted: Option<bool>,
    /// `WriteProtected`.
    pub write_protected: Option<bool>,
    /// `ConnectedVia`.
    pub connected_via: Option<String>,
    /// `TransferProtocolType`.
    pub transfer_protocol_type: Option<String>,
    /// `Actions`.
    pub actions: Option<VirtualMediaActions>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(VirtualMedia, odata {
        "Id" => id,
        "Name" => name,
        "MediaTypes" => media_types,
        "Image" => image,
        "ImageName" => image_name,
        "Inserted" => inserted,
        "WriteProtected" => write_protected,
        "ConnectedVia" => connected_via,
        "TransferProtocolType" => transfer_protocol_type,
        "Actions" => actions,
        "Oem" => oem,
});

impl VirtualMedia {
    /// Whether this slot takes CD/DVD images: by `MediaTypes`, else by its id or name.
    pub fn is_cd(&self) -> bool {
        if !self.media_types.is_empty() {
            return self
                .media_types
                .iter()
                .any(|m| matches!(m, MediaType::Cd | MediaType::Dvd));
        }
        let n = format!(
            "{} {}",
            self.id.as_deref().unwrap_or(""),
            self.name.as_deref().unwrap_or("")
        )
        .to_ascii_lowercase();
        n.contains("cd") || n.contains("dvd")
    }

    /// Whether an image is inserted (`Inserted`, else a non-empty `Image`).
    pub fn has_media(&self) -> bool {
        self.inserted
            .unwrap_or_else(|| self.image.as_deref().is_some_and(|s| !s.is_empty()))
    }
}

resource!(Manager, Chassis, VirtualMedia);
