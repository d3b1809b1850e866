//! OData plumbing every Redfish resource shares: [`ODataId`], the [`OData`] annotations,
//! typed links ([`Link`]) and collections ([`Collection`]) with `Members@odata.nextLink`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::Result;

/// The `@odata.id` of a resource: its path on the service, e.g. `/redfish/v1/Systems/1`.
///
/// Normalised when built: surrounding whitespace and trailing slashes are removed (some BMCs
/// write `/redfish/v1/Systems/1/`, quirk [`crate::quirks::Quirk::TrailingSlashInIds`]), so ids
/// compare equal however the service spelled them.
///
/// ```
/// use redfish_client::ODataId;
/// let id = ODataId::new("/redfish/v1/Systems/1/");
/// assert_eq!(id.as_str(), "/redfish/v1/Systems/1");
/// assert_eq!(id.last_segment(), "1");
/// assert_eq!(id.join("Bios").as_str(), "/redfish/v1/Systems/1/Bios");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ODataId(String);

impl ODataId {
    /// Build an id from a path, normalising it.
    pub fn new(path: impl AsRef<str>) -> Self {
        Self(crate::quirks::normalize_odata_id(path.as_ref()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last path segment (the resource's `Id` on most services).
    pub fn last_segment(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// A child path: `self/segment`.
    pub fn join(&self, segment: &str) -> Self {
        Self::new(format!("{}/{}", self.0, segment.trim_start_matches('/')))
    }
}

impl fmt::Debug for ODataId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ODataId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ODataId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ODataId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for ODataId {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl Serialize for ODataId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ODataId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

/// The OData annotations of a resource (`@odata.id`, `@odata.type`, `@odata.etag`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct OData {
    /// `@odata.id`: where the resource lives.
    #[serde(rename = "@odata.id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ODataId>,
    /// `@odata.type`, e.g. `#ComputerSystem.v1_13_0.ComputerSystem`.
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    /// `@odata.etag`: the resource's version, usable for `If-Match`.
    #[serde(
        rename = "@odata.etag",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub etag: Option<String>,
}

/// A Redfish resource type: it carries its [`OData`] annotations.
pub trait Resource: DeserializeOwned + Send + Sync + 'static {
    /// The `@odata.type` name, e.g. `ComputerSystem`.
    const TYPE: &'static str;
    /// The resource's OData annotations.
    fn odata(&self) -> &OData;
    /// `@odata.id`, if the service sent it.
    fn odata_id(&self) -> Option<&ODataId> {
        self.odata().id.as_ref()
    }
}

/// A typed navigation link: an `{"@odata.id": ...}` reference, or the object itself when the
/// service expanded it (`$expand`, or inline members). Compares by id.
///
/// ```
/// use redfish_client::{Link, model::ComputerSystem};
/// let link: Link<ComputerSystem> =
///     serde_json::from_str(r#"{"@odata.id": "/redfish/v1/Systems/1"}"#).unwrap();
/// assert_eq!(link.id().as_str(), "/redfish/v1/Systems/1");
/// assert!(link.expanded().is_none());
/// ```
pub struct Link<T> {
    id: ODataId,
    expanded: Option<Arc<T>>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Link<T> {
    /// A reference to `id`.
    pub fn new(id: impl Into<ODataId>) -> Self {
        Self {
            id: id.into(),
            expanded: None,
            _type: PhantomData,
        }
    }

    /// The target's `@odata.id`.
    pub fn id(&self) -> &ODataId {
        &self.id
    }

    /// The target, if the service sent it inline.
    pub fn expanded(&self) -> Option<&T> {
        self.expanded.as_deref()
    }

    /// The same link, typed as another resource (e.g. a raw [`serde_json::Value`]).
    pub fn cast<U>(&self) -> Link<U> {
        Link::new(self.id.clone())
    }
}

impl<T: DeserializeOwned + Clone> Link<T> {
    /// The target: the inline copy if expanded, otherwise one GET.
    pub async fn get(&self, client: &Client) -> Result<T> {
        match &self.expanded {
            Some(t) => Ok((**t).clone()),
            None => client.get(self.id.as_str()).await,
        }
    }
}

impl<T> Clone for Link<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            expanded: self.expanded.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Link<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("id", &self.id)
            .field("expanded", &self.expanded.is_some())
            .finish()
    }
}

impl<T> PartialEq for Link<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T> Eq for Link<T> {}

impl<T> Serialize for Link<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("@odata.id", &self.id)?;
        m.end()
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Link<T> {
    /// One pass: a plain reference (the common case) builds no map; the object is only kept
    /// and typed when it has more than OData annotations (an expansion).
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for V<T> {
            type Value = Link<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a link: an object with @odata.id")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Link<T>, A::Error> {
                let mut id: Option<String> = None;
                let mut annotations: Vec<(String, Value)> = Vec::new();
                let mut object: Option<Map<String, Value>> = None;
                while let Some(key) = map.next_key::<crate::model::Key<'de>>()? {
                    let key = key.into_owned();
                    if let Some(obj) = object.as_mut() {
                        let v: Value = map.next_value()?;
                        if key == "@odata.id" {
                            id = v.as_str().map(str::to_owned);
                        }
                        obj.insert(key, v);
                    } else if key == "@odata.id" {
                        let v: Value = map.next_value()?;
                        id = v.as_str().map(str::to_owned);
                        annotations.push((key, v));
                    } else if key.starts_with("@odata.") {
                        annotations.push((key, map.next_value()?));
                    } else {
                        let mut obj: Map<String, Value> = annotations.drain(..).collect();
                        obj.insert(key, map.next_value()?);
                        object = Some(obj);
                    }
                }
                let id = match id {
                    Some(s) => ODataId::new(s),
                    None => return Err(serde::de::Error::missing_field("@odata.id")),
                };
                // An expansion we cannot type (a vendor's oddity) still leaves a usable
                // reference.
                let expanded = object
                    .and_then(|o| T::deserialize(Value::Object(o)).ok())
                    .map(Arc::new);
                Ok(Link {
                    id,
                    expanded,
                    _type: PhantomData,
                })
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// A resource collection (`Members`, `Members@odata.count`, `Members@odata.nextLink`).
///
/// [`Client::list`] follows `Members@odata.nextLink` across pages.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
#[non_exhaustive]
pub struct Collection<T> {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Name`.
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    /// This page's members.
    #[serde(rename = "Members", default)]
    pub members: Vec<Link<T>>,
    /// The total member count the service reports.
    #[serde(rename = "Members@odata.count", default)]
    pub count: Option<u64>,
    /// The next page, if any.
    #[serde(rename = "Members@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// Every other property, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<T: DeserializeOwned + Send + Sync + 'static> Resource for Collection<T> {
    const TYPE: &'static str = "Collection";
    fn odata(&self) -> &OData {
        &self.odata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Deserialize)]
    struct Thing {
        #[serde(rename = "Name")]
        name: String,
    }

    #[test]
    fn link_reference_and_expanded() {
        let r: Link<Thing> = serde_json::from_str(r#"{"@odata.id":"/a/b/"}"#).unwrap();
        assert_eq!(r.id().as_str(), "/a/b");
        assert!(r.expanded().is_none());
        let e: Link<Thing> =
            serde_json::from_str(r#"{"@odata.id":"/a/b","Name":"x","Other":1}"#).unwrap();
        assert_eq!(e.expanded().unwrap().name, "x");
        assert_eq!(r, e);
        let bad: Link<Thing> = serde_json::from_str(r#"{"@odata.id":"/a","Name":5}"#).unwrap();
        assert!(bad.expanded().is_none());
        assert!(serde_json::from_str::<Link<Thing>>(r#"{"Name":"x"}"#).is_err());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"@odata.id":"/a/b"}"#
        );
    }

    #[test]
    fn collection_with_next_link_and_extras() {
        let c: Collection<Thing> = serde_json::from_str(
            r#"{"@odata.id":"/c","Name":"C","Members":[{"@odata.id":"/c/1"}],
                "Members@odata.count":2,"Members@odata.nextLink":"/c?$skip=1","Oem":{"X":1}}"#,
        )
        .unwrap();
        assert_eq!(c.members.len(), 1);
        assert_eq!(c.count, Some(2));
        assert_eq!(c.next_link.as_deref(), Some("/c?$skip=1"));
        assert!(c.extra.contains_key("Oem"));
        assert_eq!(c.odata.id.unwrap().as_str(), "/c");
    }
}
