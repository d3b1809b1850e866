//! UpdateService: firmware inventory and the two ways to install an image.

use serde_json::{Map, Value};

use super::{ActionTarget, Status, resource};
use crate::odata::{Collection, Link, OData};

/// `Actions` of the UpdateService.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UpdateServiceActions {
    /// `#UpdateService.SimpleUpdate`: the BMC pulls the image from a URL.
    pub simple_update: Option<ActionTarget>,
    /// `#UpdateService.StartUpdate`: install what was staged by a push.
    pub start_update: Option<ActionTarget>,
    /// Everything else (`Oem`, other actions).
    pub extra: Map<String, Value>,
}
model_deserialize!(UpdateServiceActions {
        "#UpdateService.SimpleUpdate" => simple_update,
        "#UpdateService.StartUpdate" => start_update,
});

/// `UpdateService` (`/redfish/v1/UpdateService`).
///
/// ```
/// use redfish_client::model::UpdateService;
/// let u: UpdateService = serde_json::from_str(r##"{
///     "@odata.id": "/redfish/v1/UpdateService", "MultipartHttpPushUri": "/upload",
///     "Actions": {"#UpdateService.SimpleUpdate": {"target": "/su",
///         "TransferProtocol@Redfish.AllowableValues": ["HTTP", "HTTPS"]}}}"##).unwrap();
/// assert_eq!(u.multipart_http_push_uri.as_deref(), Some("/upload"));
/// assert_eq!(u.simple_update_target().as_deref(), Some("/su"));
/// assert_eq!(u.transfer_protocols().unwrap(), ["HTTP", "HTTPS"]);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UpdateService {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `ServiceEnabled`.
    pub service_enabled: Option<bool>,
    /// `Status`.
    pub status: Option<Status>,
    /// `HttpPushUri` (deprecated single-part push: the image is the whole body).
    pub http_push_uri: Option<String>,
    /// `MultipartHttpPushUri` (Redfish 2019.2+): `UpdateParameters` + `UpdateFile` parts.
    pub multipart_http_push_uri: Option<String>,
    /// `MaxImageSizeBytes`.
    pub max_image_size_bytes: Option<u64>,
    /// `FirmwareInventory`.
    pub firmware_inventory: Option<Link<Collection<SoftwareInventory>>>,
    /// `SoftwareInventory`.
    pub software_inventory: Option<Link<Collection<SoftwareInventory>>>,
    /// `Actions`.
    pub actions: Option<UpdateServiceActions>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(UpdateService, odata {
        "Id" => id,
        "ServiceEnabled" => service_enabled,
        "Status" => status,
        "HttpPushUri" => http_push_uri,
        "MultipartHttpPushUri" => multipart_http_push_uri,
        "MaxImageSizeBytes" => max_image_size_bytes,
        "FirmwareInventory" => firmware_inventory,
        "SoftwareInventory" => software_inventory,
        "Actions" => actions,
        "Oem" => oem,
});

impl UpdateService {
    /// Where to POST `SimpleUpdate`, if the service offers it.
    pub fn simple_update_target(&self) -> Option<String> {
        self.actions
            .as_ref()?
            .simple_update
            .as_ref()?
            .target
            .clone()
    }

    /// `TransferProtocol@Redfish.AllowableValues` of SimpleUpdate, if advertised.
    pub fn transfer_protocols(&self) -> Option<Vec<String>> {
        self.actions
            .as_ref()?
            .simple_update
            .as_ref()?
            .allowable_values("TransferProtocol")
    }
}

/// `SoftwareInventory`: one firmware or software component and its version.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SoftwareInventory {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Version`.
    pub version: Option<String>,
    /// `Updateable`.
    pub updateable: Option<bool>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(SoftwareInventory, odata {
        "Id" => id,
        "Name" => name,
        "Version" => version,
        "Updateable" => updateable,
        "Status" => status,
        "Oem" => oem,
});

resource!(UpdateService, SoftwareInventory);
