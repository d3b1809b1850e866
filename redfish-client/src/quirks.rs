//! Vendor quirks, named and in one place.
//!
//! [`Quirks::detect`] classifies the service from the ServiceRoot (`Vendor`, `Product`, `Oem`)
//! and the first Manager (`Manufacturer`, `Model`) and switches on the named [`Quirk`]s of
//! that vendor. The operations in [`crate::Client`] consult them instead of scattering
//! `if vendor == ...` checks. A few quirks are universal and always handled:
//! trailing slashes in `@odata.id` ([`normalize_odata_id`]), `-gzip` ETag suffixes
//! ([`crate::etag::normalize`]), and "not ready yet" errors ([`is_not_ready`]).
//!
//! ```
//! use redfish_client::quirks::{Quirk, Quirks, Vendor};
//! use redfish_client::model::ServiceRoot;
//! let root: ServiceRoot = serde_json::from_str(r#"{"Vendor": "Supermicro"}"#).unwrap();
//! let q = Quirks::detect(&root, None);
//! assert_eq!(q.vendor(), &Vendor::Supermicro);
//! assert!(q.has(Quirk::BootModeOnEveryPatch));
//! ```

use std::fmt;

use crate::model::{Manager, Message, ServiceRoot};

/// The BMC vendor, as far as the service tells.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vendor {
    /// Dell iDRAC.
    Dell,
    /// HPE iLO.
    Hpe,
    /// Supermicro.
    Supermicro,
    /// Lenovo XCC.
    Lenovo,
    /// Huawei iBMC.
    Huawei,
    /// OpenBMC.
    OpenBmc,
    /// AMI MegaRAC.
    Ami,
    /// OpenStack sushy-tools emulator.
    SushyEmulator,
    /// Anything else (the `Vendor` string, or empty).
    Other(String),
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dell => f.write_str("Dell"),
            Self::Hpe => f.write_str("HPE"),
            Self::Supermicro => f.write_str("Supermicro"),
            Self::Lenovo => f.write_str("Lenovo"),
            Self::Huawei => f.write_str("Huawei"),
            Self::OpenBmc => f.write_str("OpenBMC"),
            Self::Ami => f.write_str("AMI"),
            Self::SushyEmulator => f.write_str("sushy-emulator"),
            Self::Other(s) if s.is_empty() => f.write_str("unknown"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

impl Vendor {
    /// Classify a vendor or manufacturer string.
    pub fn from_name(s: &str) -> Option<Self> {
        let l = s.to_ascii_lowercase();
        Some(if l.contains("dell") || l.contains("idrac") {
            Self::Dell
        } else if l == "hpe" || l == "hp" || l.contains("hewlett") || l.contains("ilo") {
            Self::Hpe
        } else if l.contains("supermicro") || l.contains("super micro") {
            Self::Supermicro
        } else if l.contains("lenovo") || l.contains("xclarity") {
            Self::Lenovo
        } else if l.contains("huawei") || l.contains("ibmc") {
            Self::Huawei
        } else if l.contains("openbmc") {
            Self::OpenBmc
        } else if l == "ami" || l.contains("american megatrends") || l.contains("megarac") {
            Self::Ami
        } else if l.contains("sushy") {
            Self::SushyEmulator
        } else {
            return None;
        })
    }
}

/// A named deviation from the Redfish specification that this client works around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Quirk {
    /// Supermicro forgets `BootSourceOverrideMode` unless it is sent with every boot PATCH
    /// (Redfishtool#106): send the current mode when the caller gives none. Older Supermicro
    /// firmware that does not advertise the mode rejects it, so it is still only sent when the
    /// system advertises it (that rule holds for every vendor).
    BootModeOnEveryPatch,
    /// HPE iLO and older iDRAC reject a boot PATCH that includes a read-only
    /// `BootSourceOverrideMode` (iDRAC SYS444/SYS410): leave the mode out when it already has
    /// the wanted value, otherwise change it in a PATCH of its own.
    BootModeReadOnly,
    /// Supermicro boots its virtual CD as `UsbCd`, not `Cd`.
    VirtualCdIsUsbCd,
    /// Supermicro rejects `Inserted` and `WriteProtected` in `InsertMedia`: send only `Image`
    /// (and the transfer protocol, if given).
    InsertMediaImageOnly,
    /// Lenovo and Huawei answer 428/412 to a PATCH without `If-Match`: read the ETag first.
    IfMatchRequired,
    /// Some services write `@odata.id` with a trailing slash; always normalised (see
    /// [`normalize_odata_id`]), listed so that it has a name and a test.
    TrailingSlashInIds,
}

/// The quirks in effect for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirks {
    vendor: Vendor,
    set: Vec<Quirk>,
}

impl Default for Quirks {
    fn default() -> Self {
        Self::none()
    }
}

impl Quirks {
    /// No vendor-specific quirks (the universal ones still apply).
    pub fn none() -> Self {
        Self {
            vendor: Vendor::Other(String::new()),
            set: vec![Quirk::TrailingSlashInIds],
        }
    }

    /// The quirks of a vendor.
    pub fn for_vendor(vendor: Vendor) -> Self {
        let mut q = Self::none();
        let add: &[Quirk] = match vendor {
            Vendor::Supermicro => &[
                Quirk::BootModeOnEveryPatch,
                Quirk::VirtualCdIsUsbCd,
                Quirk::InsertMediaImageOnly,
            ],
            Vendor::Hpe | Vendor::Dell => &[Quirk::BootModeReadOnly],
            Vendor::Lenovo | Vendor::Huawei => &[Quirk::IfMatchRequired],
            _ => &[],
        };
        q.set.extend_from_slice(add);
        q.vendor = vendor;
        q
    }

    /// Classify the service from its root and (if read) its first manager.
    pub fn detect(root: &ServiceRoot, manager: Option<&Manager>) -> Self {
        let from_root = root
            .vendor
            .as_deref()
            .and_then(Vendor::from_name)
            .or_else(|| {
                // Pre-1.5 services name themselves by their Oem key (e.g. "Hpe", "Dell").
                let oem = root.oem.as_ref()?.as_object()?;
                oem.keys().find_map(|k| Vendor::from_name(k))
            });
        let vendor = from_root
            .or_else(|| root.product.as_deref().and_then(Vendor::from_name))
            .or_else(|| {
                let m = manager?;
                m.manufacturer
                    .as_deref()
                    .and_then(Vendor::from_name)
                    .or_else(|| m.model.as_deref().and_then(Vendor::from_name))
                    .or_else(|| {
                        m.oem
                            .as_ref()?
                            .as_object()?
                            .keys()
                            .find_map(|k| Vendor::from_name(k))
                    })
            })
            .unwrap_or_else(|| Vendor::Other(root.vendor.clone().unwrap_or_default()));
        Self::for_vendor(vendor)
    }

    /// The detected vendor.
    pub fn vendor(&self) -> &Vendor {
        &self.vendor
    }

    /// Whether a quirk is in effect.
    pub fn has(&self, q: Quirk) -> bool {
        self.set.contains(&q)
    }

    /// Every quirk in effect.
    pub fn all(&self) -> &[Quirk] {
        &self.set
    }

    /// Switch a quirk on (for a service the detection misses).
    pub fn with(mut self, q: Quirk) -> Self {
        if !self.has(q) {
            self.set.push(q);
        }
        self
    }

    /// Switch a quirk off.
    pub fn without(mut self, q: Quirk) -> Self {
        self.set.retain(|x| *x != q);
        self
    }
}

/// Normalise an `@odata.id`: trim whitespace, drop trailing slashes (keeping a lone `/`) and a
/// `#fragment` (fragment ids point inside a resource; the resource is what is fetched).
///
/// ```
/// use redfish_client::quirks::normalize_odata_id;
/// assert_eq!(normalize_odata_id("/redfish/v1/Systems/1/"), "/redfish/v1/Systems/1");
/// assert_eq!(normalize_odata_id("/redfish/v1/"), "/redfish/v1");
/// assert_eq!(normalize_odata_id("/"), "/");
/// ```
pub fn normalize_odata_id(s: &str) -> String {
    let s = s.trim();
    let s = s.split('#').next().unwrap_or(s);
    let t = s.trim_end_matches('/');
    if t.is_empty() && s.starts_with('/') {
        "/".to_owned()
    } else {
        t.to_owned()
    }
}

/// Whether messages say "the system is not ready for this yet, try again shortly":
/// iDRAC `SYS518` (e.g. a reset right after another) and iLO `InvalidOperationForSystemState`
/// (sushy retries both).
///
/// ```
/// use redfish_client::{quirks::is_not_ready, model::Message};
/// let m: Message = serde_json::from_str(r#"{"MessageId": "IDRAC.2.8.SYS518"}"#).unwrap();
/// assert!(is_not_ready(&[m]));
/// ```
pub fn is_not_ready(messages: &[Message]) -> bool {
    messages.iter().any(|m| {
        let key = m.message_key();
        key.eq_ignore_ascii_case("SYS518") || key == "InvalidOperationForSystemState"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(json: &str) -> ServiceRoot {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn supermicro_boot_mode_usbcd_and_minimal_insert() {
        let q = Quirks::detect(&root(r#"{"Vendor":"Supermicro"}"#), None);
        assert_eq!(q.vendor(), &Vendor::Supermicro);
        assert!(q.has(Quirk::BootModeOnEveryPatch));
        assert!(q.has(Quirk::VirtualCdIsUsbCd));
        assert!(q.has(Quirk::InsertMediaImageOnly));
        assert!(!q.has(Quirk::BootModeReadOnly));
    }

    #[test]
    fn hpe_from_oem_key_and_dell_from_manager() {
        let q = Quirks::detect(&root(r#"{"Oem":{"Hpe":{"Manager":[]}}}"#), None);
        assert_eq!(q.vendor(), &Vendor::Hpe);
        assert!(q.has(Quirk::BootModeReadOnly));
        let m: Manager =
            serde_json::from_str(r#"{"Model":"14G Monolithic","Oem":{"Dell":{}}}"#).unwrap();
        let q = Quirks::detect(&root("{}"), Some(&m));
        assert_eq!(q.vendor(), &Vendor::Dell);
        assert!(q.has(Quirk::BootModeReadOnly));
    }

    #[test]
    fn lenovo_requires_if_match() {
        let q = Quirks::detect(&root(r#"{"Vendor":"Lenovo"}"#), None);
        assert!(q.has(Quirk::IfMatchRequired));
        assert!(!Quirks::none().has(Quirk::IfMatchRequired));
    }

    #[test]
    fn unknown_vendor_has_only_universal_quirks() {
        let q = Quirks::detect(&root(r#"{"Vendor":"Contoso"}"#), None);
        assert_eq!(q.vendor(), &Vendor::Other("Contoso".into()));
        assert_eq!(q.all(), &[Quirk::TrailingSlashInIds]);
        let q = q
            .with(Quirk::IfMatchRequired)
            .without(Quirk::TrailingSlashInIds);
        assert_eq!(q.all(), &[Quirk::IfMatchRequired]);
    }

    #[test]
    fn trailing_slash_ids() {
        assert_eq!(
            normalize_odata_id(" /redfish/v1/Managers/1// "),
            "/redfish/v1/Managers/1"
        );
        assert_eq!(
            normalize_odata_id("/redfish/v1/Chassis/1#/Power"),
            "/redfish/v1/Chassis/1"
        );
        let id = crate::ODataId::new("/redfish/v1/Systems/1/");
        assert_eq!(id, crate::ODataId::new("/redfish/v1/Systems/1"));
    }

    #[test]
    fn not_ready_messages() {
        let m = |id: &str| Message {
            message_id: Some(id.into()),
            ..Message::default()
        };
        assert!(is_not_ready(&[m("IDRAC.2.8.SYS518")]));
        assert!(is_not_ready(&[m(
            "iLO.2.14.InvalidOperationForSystemState"
        )]));
        assert!(!is_not_ready(&[m("Base.1.8.PropertyValueNotInList")]));
    }
}
