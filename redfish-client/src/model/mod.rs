//! The typed Redfish model: hand-written serde structs for the resources a provisioning tool
//! needs. Every resource keeps the properties this crate does not model in `extra` and the
//! vendor's `Oem` object in `oem`, so nothing the service sent is dropped; enums keep unknown
//! values in an `Other(String)` variant. Properties are optional because real BMCs omit
//! most of them.
//!
//! ```
//! use redfish_client::model::{ComputerSystem, PowerState};
//! let s: ComputerSystem = serde_json::from_str(r#"{
//!     "@odata.id": "/redfish/v1/Systems/1", "Id": "1", "PowerState": "On",
//!     "Oem": {"Contoso": {"Rack": 7}}, "AssetTag": "web1"
//! }"#).unwrap();
//! assert_eq!(s.power_state, Some(PowerState::On));
//! assert!(s.oem.is_some());
//! assert_eq!(s.extra["AssetTag"], "web1");
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::odata::{Link, OData};

mod manager;
mod service;
mod system;

pub use manager::*;
pub use service::*;
pub use system::*;

/// A string enum with an `Other(String)` fallback for values this crate does not know.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)+
            /// A value this crate does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every value this crate knows.
            pub const KNOWN: &'static [$name] = &[$($name::$var),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$var => $s,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            /// Exact wire spelling; anything else becomes `Other`.
            fn from(s: &str) -> Self {
                match s {
                    $($s => Self::$var,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            /// Case-insensitive; an unknown value becomes `Other` unchanged.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s.eq_ignore_ascii_case($s) { return Ok(Self::$var); })+
                Ok(Self::Other(s.to_owned()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from(s.as_str()))
            }
        }
    };
}
pub(crate) use string_enum;

/// Implements [`crate::odata::Resource`] for a struct with an `odata: OData` field.
macro_rules! resource {
    ($($t:ident),+ $(,)?) => {
        $(impl crate::odata::Resource for $t {
            const TYPE: &'static str = stringify!($t);
            fn odata(&self) -> &crate::odata::OData {
                &self.odata
            }
        })+
    };
}
pub(crate) use resource;

string_enum! {
    /// `Status.Health`, also a message or task severity.
    Health {
        /// Normal.
        Ok = "OK",
        /// A condition needs attention.
        Warning = "Warning",
        /// A critical condition: for a message, an error.
        Critical = "Critical",
    }
}

string_enum! {
    /// `Status.State`.
    State {
        /// Enabled.
        Enabled = "Enabled",
        /// Disabled.
        Disabled = "Disabled",
        /// Standby, offline.
        StandbyOffline = "StandbyOffline",
        /// Standby, spare.
        StandbySpare = "StandbySpare",
        /// In test.
        InTest = "InTest",
        /// Starting.
        Starting = "Starting",
        /// Absent.
        Absent = "Absent",
        /// Unavailable, offline.
        UnavailableOffline = "UnavailableOffline",
        /// Deferring.
        Deferring = "Deferring",
        /// Quiesced.
        Quiesced = "Quiesced",
        /// Updating.
        Updating = "Updating",
    }
}

/// `Status`: state and health of a resource.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Status {
    /// `State`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// `Health`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// `HealthRollup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_rollup: Option<Health>,
    /// Everything else (e.g. `Conditions`, or sushy's misspelt `HealthRollUp`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Redfish message, as found in `@Message.ExtendedInfo`, `error`, tasks and settings.
///
/// ```
/// use redfish_client::model::Message;
/// let m: Message = serde_json::from_str(r#"{"MessageId": "iDRAC.2.8.SYS518",
///     "Message": "Unable to complete the request", "Severity": "Critical"}"#).unwrap();
/// assert!(m.is_error());
/// assert_eq!(m.message_key(), "SYS518");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Message {
    /// `MessageId`, e.g. `Base.1.8.PropertyValueNotInList`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The human-readable text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `MessageArgs` (strings by the schema; some BMCs send numbers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_args: Vec<Value>,
    /// `MessageSeverity` (current schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_severity: Option<Health>,
    /// `Severity` (deprecated, still common).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Health>,
    /// `Resolution`: what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// `RelatedProperties`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_properties: Vec<String>,
    /// Everything else (`@odata.type`, `Oem`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// The severity: `MessageSeverity`, else `Severity`.
    pub fn severity(&self) -> Option<&Health> {
        self.message_severity.as_ref().or(self.severity.as_ref())
    }

    /// Whether the message reports an error (severity `Critical`).
    pub fn is_error(&self) -> bool {
        matches!(self.severity(), Some(Health::Critical))
    }

    /// The last part of the `MessageId` (`PropertyValueNotInList`, `SYS518`), or "".
    pub fn message_key(&self) -> &str {
        self.message_id
            .as_deref()
            .and_then(|id| id.rsplit('.').next())
            .unwrap_or("")
    }
}

/// An action's `target` (and its `@Redfish.ActionInfo`), e.g. `#Bios.ResetBios`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ActionTarget {
    /// Where to POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `@Redfish.ActionInfo`: the parameters' description.
    #[serde(
        rename = "@Redfish.ActionInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub action_info: Option<String>,
    /// Everything else, including `PARAM@Redfish.AllowableValues`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ActionTarget {
    /// `PARAM@Redfish.AllowableValues`, if advertised.
    pub fn allowable_values(&self, param: &str) -> Option<Vec<String>> {
        let v = self
            .extra
            .get(&format!("{param}@Redfish.AllowableValues"))?;
        Some(
            v.as_array()?
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        )
    }
}

/// `@Redfish.Settings`: where to write pending changes of a resource (BIOS, Boot, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Settings {
    /// `SettingsObject`: the pending-settings resource to PATCH.
    #[serde(default)]
    pub settings_object: Option<Link<Value>>,
    /// `ETag`s of the settings object when last applied.
    #[serde(rename = "ETag", default)]
    pub etag: Option<String>,
    /// `Messages` from the last application.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// `Time` of the last application.
    #[serde(default)]
    pub time: Option<String>,
    /// `SupportedApplyTimes`, e.g. `Immediate`, `OnReset`.
    #[serde(default)]
    pub supported_apply_times: Vec<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// `@Redfish.SettingsApplyTime.ApplyTime`: when staged settings take effect.
    ApplyTime {
        /// Now.
        Immediate = "Immediate",
        /// At the next reset.
        OnReset = "OnReset",
        /// In the next maintenance window.
        AtMaintenanceWindowStart = "AtMaintenanceWindowStart",
        /// In a maintenance window, at the next reset.
        InMaintenanceWindowOnReset = "InMaintenanceWindowOnReset",
    }
}

/// The common part every resource shares, used by [`RawResource`].
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct RawResource {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// Everything else, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
resource!(RawResource);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_keep_unknown_values() {
        assert_eq!(Health::from("OK"), Health::Ok);
        assert_eq!("ok".parse::<Health>().unwrap(), Health::Ok);
        let h: Health = serde_json::from_str(r#""Bogus""#).unwrap();
        assert_eq!(h, Health::Other("Bogus".into()));
        assert_eq!(serde_json::to_string(&h).unwrap(), r#""Bogus""#);
    }

    #[test]
    fn action_allowable_values() {
        let a: ActionTarget = serde_json::from_str(
            r#"{"target":"/x","ResetType@Redfish.AllowableValues":["On","ForceOff"]}"#,
        )
        .unwrap();
        assert_eq!(a.allowable_values("ResetType").unwrap(), ["On", "ForceOff"]);
        assert!(a.allowable_values("Other").is_none());
    }
}
