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

/// A map key, borrowed from the input when it has no escapes.
pub(crate) struct Key<'de>(std::borrow::Cow<'de, str>);

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
    pub(crate) fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a property name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A number as BMCs send it: a JSON number, a numeric string, or `None` for anything else
/// (`null`, `"N/A"`).
pub(crate) struct Lenient(pub(crate) Option<f64>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Lenient(match Value::deserialize(d)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }))
    }
}

/// `Deserialize` for a model struct (which derives `Default`): each listed wire name goes
/// straight into its field, `@odata.id`/`@odata.type`/`@odata.etag` into `odata` (with
/// `, odata`), and every other property into `extra`, in one pass.
///
/// This replaces `#[serde(flatten)]`, which makes serde buffer every property of a resource
/// (and again for each nested object that also keeps its unknown properties) before typing
/// it: that buffering was about a third of the client's CPU per GET of a ComputerSystem.
/// A missing property keeps its default; `null` is `None` for an `Option`.
macro_rules! model_deserialize {
    ($name:ident $(, $odata:ident)? { $($($wire:literal)|+ => $field:ident $(as $lenient:ident)?,)* }) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        let mut s = $name::default();
                        while let Some(key) = map.next_key::<$crate::model::Key<'de>>()? {
                            match key.as_str() {
                                $($($wire)|+ => {
                                    model_deserialize!(@set s, map, $field $(, $lenient)?);
                                })*
                                $(
                                "@odata.id" => s.$odata.id = map.next_value()?,
                                "@odata.type" => s.$odata.odata_type = map.next_value()?,
                                "@odata.etag" => s.$odata.etag = map.next_value()?,
                                )?
                                _ => {
                                    let v: serde_json::Value = map.next_value()?;
                                    s.extra.insert(key.into_owned(), v);
                                }
                            }
                        }
                        Ok(s)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
    (@set $s:ident, $map:ident, $field:ident) => {
        $s.$field = $map.next_value()?
    };
    (@set $s:ident, $map:ident, $field:ident, lenient) => {
        $s.$field = $map.next_value::<$crate::model::Lenient>()?.0
    };
}

mod events;
mod manager;
mod power;
mod service;
mod system;
mod update;

pub use events::*;
pub use manager::*;
pub use power::*;
pub use service::*;
pub use system::*;
pub use update::*;

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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
model_deserialize!(Status {
        "State" => state,
        "Health" => health,
        "HealthRollup" => health_rollup,
});

/// A Redfish message, as found in `@Message.ExtendedInfo`, `error`, tasks and settings.
///
/// ```
/// use redfish_client::model::Message;
/// let m: Message = serde_json::from_str(r#"{"MessageId": "iDRAC.2.8.SYS518",
///     "Message": "Unable to complete the request", "Severity": "Critical"}"#).unwrap();
/// assert!(m.is_error());
/// assert_eq!(m.message_key(), "SYS518");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
model_deserialize!(Message {
        "MessageId" => message_id,
        "Message" => message,
        "MessageArgs" => message_args,
        "MessageSeverity" => message_severity,
        "Severity" => severity,
        "Resolution" => resolution,
        "RelatedProperties" => related_properties,
});

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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
model_deserialize!(ActionTarget {
        "target" => target,
        "@Redfish.ActionInfo" => action_info,
});

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
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Settings {
    /// `SettingsObject`: the pending-settings resource to PATCH.
    pub settings_object: Option<Link<Value>>,
    /// `ETag`s of the settings object when last applied.
    pub etag: Option<String>,
    /// `Messages` from the last application.
    pub messages: Vec<Message>,
    /// `Time` of the last application.
    pub time: Option<String>,
    /// `SupportedApplyTimes`, e.g. `Immediate`, `OnReset`.
    pub supported_apply_times: Vec<String>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Settings {
        "SettingsObject" => settings_object,
        "ETag" => etag,
        "Messages" => messages,
        "Time" => time,
        "SupportedApplyTimes" => supported_apply_times,
});

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
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RawResource {
    /// OData annotations.
    pub odata: OData,
    /// Everything else, verbatim.
    pub extra: Map<String, Value>,
}
model_deserialize!(RawResource, odata {});
resource!(RawResource);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensors_decode_leniently_and_keep_the_rest() {
        let s: Sensor = serde_json::from_str(
            r#"{"@odata.id": "/redfish/v1/Chassis/1/Sensors/PSU1Vin", "Id": "PSU1Vin",
                "Reading": "N/A", "ReadingUnits": "V", "ReadingRangeMax": 264,
                "Thresholds": {"LowerCritical": {"Reading": "90.5", "Activation": "Decreasing"},
                               "UpperCautionUser": {"Reading": 250}}}"#,
        )
        .unwrap();
        assert_eq!(s.reading, None, "a non-numeric reading is no reading");
        assert_eq!(s.reading_units.as_deref(), Some("V"));
        assert_eq!(s.extra["ReadingRangeMax"], 264);
        let t = s.thresholds.unwrap();
        let lc = t.lower_critical.unwrap();
        assert_eq!(lc.reading, Some(90.5));
        assert_eq!(lc.activation.as_deref(), Some("Decreasing"));
        assert_eq!(t.extra["UpperCautionUser"]["Reading"], 250);
    }

    #[test]
    fn one_pass_decoding_keeps_everything() {
        let s: ComputerSystem = serde_json::from_str(
            r#"{"@odata.id": "/redfish/v1/Systems/1/", "@odata.context": "/c", "@odata.etag": "W/\"1\"",
                "Id": "1", "Na\u006de": "escaped key", "PowerState": null,
                "Boot": {"BootSourceOverrideTarget": "Pxe", "Vendor": 1},
                "Status": {"Health": "OK", "HealthRollUp": "OK"},
                "Oem": {"X": 1}, "Weird": [1]}"#,
        )
        .unwrap();
        assert_eq!(
            s.odata.id.as_ref().unwrap().as_str(),
            "/redfish/v1/Systems/1"
        );
        assert_eq!(s.odata.etag.as_deref(), Some("W/\"1\""));
        assert_eq!(s.extra["@odata.context"], "/c");
        assert_eq!(s.extra["Weird"][0], 1);
        assert_eq!(s.name.as_deref(), Some("escaped key"));
        assert_eq!(s.power_state, None);
        assert_eq!(s.boot.as_ref().unwrap().extra["Vendor"], 1);
        assert_eq!(s.status.as_ref().unwrap().extra["HealthRollUp"], "OK");
        assert_eq!(s.oem.as_ref().unwrap()["X"], 1);
        // The same from an already parsed value (expanded links do this).
        let v: Value = serde_json::from_str(r#"{"Id": "2", "Other": true}"#).unwrap();
        let s = ComputerSystem::deserialize(&v).unwrap();
        assert_eq!(s.id.as_deref(), Some("2"));
        assert_eq!(s.extra["Other"], true);
        // Wrong types are errors, not defaults.
        for bad in [
            r#"{"Id": 5}"#,
            r#"{"Boot": "Pxe"}"#,
            "[]",
            "7",
            r#"{"Boot": {"BootOrder": {}}}"#,
        ] {
            assert!(
                serde_json::from_str::<ComputerSystem>(bad).is_err(),
                "{bad}"
            );
        }
    }

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
