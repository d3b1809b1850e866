//! Firmware update: `SimpleUpdate` (the BMC pulls an image from a URL) and HTTP push
//! (`MultipartHttpPushUri` with `UpdateParameters` and `UpdateFile` parts, or the older
//! single-part `HttpPushUri`), each answered by a task to follow with
//! [`Client::wait_task`].
//!
//! ```no_run
//! # async fn demo(client: redfish_client::Client) -> Result<(), redfish_client::Error> {
//! use std::time::Duration;
//! use redfish_client::ActionOutcome;
//! use redfish_client::update::{SimpleUpdate, UpdateImage, PushUpdate};
//!
//! let outcome = client.simple_update(&SimpleUpdate::new("http://10.0.0.1/fw/bmc-2.1.bin")).await?;
//! if let ActionOutcome::Accepted(monitor) = outcome {
//!     let task = client.wait_task(&monitor, Duration::from_secs(1800)).await?;
//!     println!("{:?}", task.task_state);
//! }
//! let image = UpdateImage::from_file("bios-1.9.bin").await?;
//! client.push_update(&image, &PushUpdate::default()).await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};

use crate::client::{ActionOutcome, Client, Secret};
use crate::error::{Error, Result};
use crate::model::{ApplyTime, SoftwareInventory, UpdateService};

/// A `SimpleUpdate` request: the BMC fetches `ImageURI` itself.
///
/// ```
/// use redfish_client::update::SimpleUpdate;
/// let u = SimpleUpdate::new("https://10.0.0.1/fw.bin")
///     .transfer_protocol("HTTPS")
///     .targets(["/redfish/v1/UpdateService/FirmwareInventory/BMC"])
///     .credentials("fw", "s3cret");
/// let body = u.body();
/// assert_eq!(body["ImageURI"], "https://10.0.0.1/fw.bin");
/// assert_eq!(body["Targets"][0], "/redfish/v1/UpdateService/FirmwareInventory/BMC");
/// assert_eq!(body["Password"], "s3cret");
/// assert!(!format!("{u:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimpleUpdate {
    /// `ImageURI`.
    pub image_uri: String,
    /// `TransferProtocol` (e.g. `HTTP`, `HTTPS`, `NFS`); sent only when set, because newer
    /// services read the scheme of the URI.
    pub transfer_protocol: Option<String>,
    /// `Targets`: the components to update (`@odata.id`s); empty lets the service choose.
    pub targets: Vec<String>,
    /// `Username` for the image server.
    pub username: Option<String>,
    /// `Password` for the image server.
    pub password: Option<Secret>,
    /// `@Redfish.OperationApplyTime`.
    pub apply_time: Option<ApplyTime>,
}

impl SimpleUpdate {
    /// Update from `image_uri` (a URL the BMC can reach).
    pub fn new(image_uri: impl Into<String>) -> Self {
        Self {
            image_uri: image_uri.into(),
            transfer_protocol: None,
            targets: Vec::new(),
            username: None,
            password: None,
            apply_time: None,
        }
    }
    /// Set `TransferProtocol`.
    pub fn transfer_protocol(mut self, p: impl Into<String>) -> Self {
        self.transfer_protocol = Some(p.into());
        self
    }
    /// Set `Targets`.
    pub fn targets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, t: I) -> Self {
        self.targets = t.into_iter().map(Into::into).collect();
        self
    }
    /// Credentials of the image server (never shown by `Debug`).
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(user.into());
        self.password = Some(Secret::new(password));
        self
    }
    /// When to apply the update.
    pub fn apply_time(mut self, t: ApplyTime) -> Self {
        self.apply_time = Some(t);
        self
    }
    /// The action's body.
    pub fn body(&self) -> Value {
        let mut b = Map::new();
        b.insert("ImageURI".into(), json!(self.image_uri));
        if let Some(p) = &self.transfer_protocol {
            b.insert("TransferProtocol".into(), json!(p));
        }
        if !self.targets.is_empty() {
            b.insert("Targets".into(), json!(self.targets));
        }
        if let Some(u) = &self.username {
            b.insert("Username".into(), json!(u));
        }
        if let Some(p) = &self.password {
            b.insert("Password".into(), json!(p.expose()));
        }
        if let Some(t) = &self.apply_time {
            b.insert("@Redfish.OperationApplyTime".into(), json!(t));
        }
        Value::Object(b)
    }
}

/// The parameters of an HTTP push (the `UpdateParameters` part).
///
/// ```
/// use redfish_client::update::PushUpdate;
/// use redfish_client::model::ApplyTime;
/// let p = PushUpdate::default().targets(["/redfish/v1/Managers/1"]).apply_time(ApplyTime::OnReset);
/// assert_eq!(p.parameters()["@Redfish.OperationApplyTime"], "OnReset");
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PushUpdate {
    /// `Targets`.
    pub targets: Vec<String>,
    /// `@Redfish.OperationApplyTime`.
    pub apply_time: Option<ApplyTime>,
    /// `Oem` (vendor options such as Dell's `ImportOptions`), sent as given.
    pub oem: Option<Value>,
}

impl PushUpdate {
    /// Set `Targets`.
    pub fn targets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, t: I) -> Self {
        self.targets = t.into_iter().map(Into::into).collect();
        self
    }
    /// When to apply the update.
    pub fn apply_time(mut self, t: ApplyTime) -> Self {
        self.apply_time = Some(t);
        self
    }
    /// Vendor options.
    pub fn oem(mut self, oem: Value) -> Self {
        self.oem = Some(oem);
        self
    }
    /// The `UpdateParameters` JSON.
    pub fn parameters(&self) -> Value {
        let mut b = Map::new();
        b.insert("Targets".into(), json!(self.targets));
        if let Some(t) = &self.apply_time {
            b.insert("@Redfish.OperationApplyTime".into(), json!(t));
        }
        if let Some(o) = &self.oem {
            b.insert("Oem".into(), o.clone());
        }
        Value::Object(b)
    }
}

/// An image to push: bytes in memory or a file streamed from disk.
#[derive(Debug, Clone)]
pub struct UpdateImage {
    file_name: String,
    source: ImageSource,
    len: u64,
}

#[derive(Debug, Clone)]
enum ImageSource {
    Bytes(bytes::Bytes),
    File(PathBuf),
}

impl UpdateImage {
    /// An image held in memory, sent with `file_name`.
    ///
    /// ```
    /// use redfish_client::update::UpdateImage;
    /// let img = UpdateImage::from_bytes("bmc-2.1.bin", vec![0u8; 1024]);
    /// assert_eq!(img.len(), 1024);
    /// ```
    pub fn from_bytes(file_name: impl Into<String>, data: impl Into<bytes::Bytes>) -> Self {
        let data = data.into();
        Self {
            file_name: file_name.into(),
            len: data.len() as u64,
            source: ImageSource::Bytes(data),
        }
    }

    /// A file, streamed (never read whole into memory); sent under its file name.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| Error::build("update image", format!("{}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(Error::build(
                "update image",
                format!("{} is not a file", path.display()),
            ));
        }
        Ok(Self {
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image.bin".into()),
            len: meta.len(),
            source: ImageSource::File(path),
        })
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the image is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file name sent.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    async fn body(&self) -> Result<reqwest::Body> {
        Ok(match &self.source {
            ImageSource::Bytes(b) => reqwest::Body::from(b.clone()),
            ImageSource::File(p) => {
                let f = tokio::fs::File::open(p)
                    .await
                    .map_err(|e| Error::build("update image", format!("{}: {e}", p.display())))?;
                reqwest::Body::from(f)
            }
        })
    }
}

impl Client {
    /// The UpdateService.
    pub async fn update_service(&self) -> Result<UpdateService> {
        let root = self.service_root().await?;
        let link = root.update_service.ok_or_else(|| {
            Error::unsupported("UpdateService", "the service root has no UpdateService")
        })?;
        self.get(link.id().as_str()).await
    }

    /// Every component of `UpdateService/FirmwareInventory` with its version.
    pub async fn firmware_inventory(&self) -> Result<Vec<SoftwareInventory>> {
        let us = self.update_service().await?;
        let link = us.firmware_inventory.ok_or_else(|| {
            Error::unsupported(
                "FirmwareInventory",
                "the UpdateService has no FirmwareInventory",
            )
        })?;
        self.members(link.id().as_str()).await
    }

    /// Start a `SimpleUpdate`. Its `TransferProtocol` is checked against the advertised
    /// `TransferProtocol@Redfish.AllowableValues` first (nothing is sent if it is not
    /// allowed). Usually answered with a task ([`ActionOutcome::Accepted`]).
    pub async fn simple_update(&self, req: &SimpleUpdate) -> Result<ActionOutcome> {
        let us = self.update_service().await?;
        let target = us.simple_update_target().ok_or_else(|| {
            Error::unsupported(
                "SimpleUpdate",
                "the UpdateService offers no SimpleUpdate action",
            )
        })?;
        if let (Some(p), Some(allowed)) = (&req.transfer_protocol, us.transfer_protocols()) {
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(p)) {
                return Err(Error::unsupported(
                    "SimpleUpdate TransferProtocol",
                    format!(
                        "{p} is not allowed here; the service allows: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        self.post(&target, &req.body()).await
    }

    /// Push an image: a `multipart/form-data` POST to `MultipartHttpPushUri` with an
    /// `UpdateParameters` JSON part and an `UpdateFile` part, or, on services that only have
    /// the older `HttpPushUri`, the image as the whole body (`params` are then not sent).
    /// A 401 logs in again once; nothing else is retried (the body may be large and the
    /// update may have started). Usually answered with a task ([`ActionOutcome::Accepted`]).
    pub async fn push_update(
        &self,
        image: &UpdateImage,
        params: &PushUpdate,
    ) -> Result<ActionOutcome> {
        let us = self.update_service().await?;
        if let Some(max) = us.max_image_size_bytes {
            if image.len() > max {
                return Err(Error::unsupported(
                    "update image",
                    format!(
                        "{} bytes is more than the service's MaxImageSizeBytes {max}",
                        image.len()
                    ),
                ));
            }
        }
        let (path, multipart) = match (&us.multipart_http_push_uri, &us.http_push_uri) {
            (Some(p), _) => (p.clone(), true),
            (None, Some(p)) => (p.clone(), false),
            (None, None) => {
                return Err(Error::unsupported(
                    "HTTP push update",
                    "the UpdateService has neither MultipartHttpPushUri nor HttpPushUri",
                ));
            }
        };
        let parameters = serde_json::to_vec(&params.parameters())
            .map_err(|e| Error::build("UpdateParameters", e))?;
        let method = Method::POST;
        let mut relogged = false;
        loop {
            let permit = self.permit().await?;
            let (req, generation) = self
                .build_request(&method, &path, "application/json", true)
                .await?;
            let body = image.body().await?;
            let req = if multipart {
                let params_part = reqwest::multipart::Part::bytes(parameters.clone())
                    .mime_str("application/json")
                    .map_err(|e| Error::build("UpdateParameters", e))?;
                let file_part = reqwest::multipart::Part::stream_with_length(body, image.len())
                    .file_name(image.file_name.clone())
                    .mime_str("application/octet-stream")
                    .map_err(|e| Error::build("UpdateFile", e))?;
                let form = reqwest::multipart::Form::new()
                    .part("UpdateParameters", params_part)
                    .part("UpdateFile", file_part);
                req.multipart(form)
            } else {
                req.header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                )
                .header(reqwest::header::CONTENT_LENGTH, image.len())
                .body(body)
            };
            tracing::debug!(
                path,
                bytes = image.len(),
                multipart,
                "pushing an update image"
            );
            let resp = req
                .send()
                .await
                .map_err(|e| Client::transport_error(&method, &path, e))?;
            let resp = self.read_response(&method, &path, resp).await?;
            if resp.status == StatusCode::UNAUTHORIZED && self.uses_sessions() && !relogged {
                relogged = true;
                drop(permit);
                self.relogin(generation).await?;
                continue;
            }
            let resp = self.check(&method, &path, resp)?;
            return Ok(ActionOutcome::of(&resp));
        }
    }
}
