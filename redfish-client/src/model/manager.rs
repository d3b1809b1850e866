//! Manager (the BMC), Chassis, VirtualMedia.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ActionTarget, Status, resource, string_enum};
use crate::model::ComputerSystem;
use crate::odata::{Collection, Link, OData};

/// `Links` of a Manager.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ManagerLinks {
    /// The systems this manager manages.
    #[serde(default)]
    pub manager_for_servers: Vec<Link<ComputerSystem>>,
    /// The chassis it manages.
    #[serde(default)]
    pub manager_for_chassis: Vec<Link<Chassis>>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Actions` of a Manager.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ManagerActions {
    /// `#Manager.Reset`.
    #[serde(rename = "#Manager.Reset", default)]
    pub reset: Option<ActionTarget>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Manager`: a BMC.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Manager {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `ManagerType`, e.g. `BMC`.
    #[serde(default)]
    pub manager_type: Option<String>,
    /// `Manufacturer`.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// `Model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `FirmwareVersion`.
    #[serde(default)]
    pub firmware_version: Option<String>,
    /// `UUID`.
    #[serde(rename = "UUID", default)]
    pub uuid: Option<String>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `VirtualMedia` (Redfish 1.0 location: Dell, HPE, Supermicro).
    #[serde(default)]
    pub virtual_media: Option<Link<Collection<VirtualMedia>>>,
    /// `EthernetInterfaces` of the BMC itself.
    #[serde(default)]
    pub ethernet_interfaces: Option<Link<Collection<Value>>>,
    /// `Links`.
    #[serde(default)]
    pub links: Option<ManagerLinks>,
    /// `Actions`.
    #[serde(default)]
    pub actions: Option<ManagerActions>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Links` of a Chassis.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ChassisLinks {
    /// Systems in this chassis.
    #[serde(default)]
    pub computer_systems: Vec<Link<ComputerSystem>>,
    /// Its managers.
    #[serde(default)]
    pub managed_by: Vec<Link<Manager>>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Chassis`: the physical enclosure, with power and thermal (legacy `Power`/`Thermal` and the
/// newer `PowerSubsystem`/`ThermalSubsystem`/`Sensors`, as raw links for now).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Chassis {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `ChassisType`.
    #[serde(default)]
    pub chassis_type: Option<String>,
    /// `Manufacturer`.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// `Model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `SerialNumber`.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// `PartNumber`.
    #[serde(default)]
    pub part_number: Option<String>,
    /// `PowerState`.
    #[serde(default)]
    pub power_state: Option<super::PowerState>,
    /// `IndicatorLED`.
    #[serde(rename = "IndicatorLED", default)]
    pub indicator_led: Option<String>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `Power` (legacy).
    #[serde(default)]
    pub power: Option<Link<Value>>,
    /// `Thermal` (legacy).
    #[serde(default)]
    pub thermal: Option<Link<Value>>,
    /// `PowerSubsystem`.
    #[serde(default)]
    pub power_subsystem: Option<Link<Value>>,
    /// `ThermalSubsystem`.
    #[serde(default)]
    pub thermal_subsystem: Option<Link<Value>>,
    /// `Sensors`.
    #[serde(default)]
    pub sensors: Option<Link<Collection<Value>>>,
    /// `Links`.
    #[serde(default)]
    pub links: Option<ChassisLinks>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

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
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct VirtualMediaActions {
    /// `#VirtualMedia.InsertMedia`.
    #[serde(rename = "#VirtualMedia.InsertMedia", default)]
    pub insert_media: Option<ActionTarget>,
    /// `#VirtualMedia.EjectMedia`.
    #[serde(rename = "#VirtualMedia.EjectMedia", default)]
    pub eject_media: Option<ActionTarget>,
    /// Everything else (HPE's OEM insert actions, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `VirtualMedia`: one virtual drive slot of a BMC.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct VirtualMedia {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`, e.g. `Cd`, `CD1`, `RemovableDisk`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `MediaTypes` this slot takes.
    #[serde(default)]
    pub media_types: Vec<MediaType>,
    /// `Image`: the inserted image's URL.
    #[serde(default)]
    pub image: Option<String>,
    /// `ImageName`.
    #[serde(default)]
    pub image_name: Option<String>,
    /// `Inserted`.
    #[serde(default)]
    pub inserted: Option<bool>,
    /// `WriteProtected`.
    #[serde(default)]
    pub write_protected: Option<bool>,
    /// `ConnectedVia`.
    #[serde(default)]
    pub connected_via: Option<String>,
    /// `TransferProtocolType`.
    #[serde(default)]
    pub transfer_protocol_type: Option<String>,
    /// `Actions`.
    #[serde(default)]
    pub actions: Option<VirtualMediaActions>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

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
