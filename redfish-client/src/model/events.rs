//! EventService, its subscriptions (`EventDestination`) and the `Event` records it sends
//! (pushed to a subscriber, or streamed as server-sent events; see [`crate::sse`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ActionTarget, Health, Status, resource};
use crate::odata::{Collection, Link, OData};

/// `Actions` of the EventService.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EventServiceActions {
    /// `#EventService.SubmitTestEvent`.
    pub submit_test_event: Option<ActionTarget>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(EventServiceActions {
        "#EventService.SubmitTestEvent" => submit_test_event,
});

/// `EventService` (`/redfish/v1/EventService`).
///
/// ```
/// use redfish_client::model::EventService;
/// let e: EventService = serde_json::from_str(r#"{"ServiceEnabled": true,
///     "ServerSentEventUri": "/redfish/v1/EventService/SSE",
///     "Subscriptions": {"@odata.id": "/redfish/v1/EventService/Subscriptions"}}"#).unwrap();
/// assert_eq!(e.server_sent_event_uri.as_deref(), Some("/redfish/v1/EventService/SSE"));
/// assert!(e.subscriptions.is_some());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EventService {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `ServiceEnabled`.
    pub service_enabled: Option<bool>,
    /// `Status`.
    pub status: Option<Status>,
    /// `DeliveryRetryAttempts`.
    pub delivery_retry_attempts: Option<u32>,
    /// `DeliveryRetryIntervalSeconds`.
    pub delivery_retry_interval_seconds: Option<u32>,
    /// `EventTypesForSubscription` (deprecated in newer schemas, still common).
    pub event_types_for_subscription: Vec<String>,
    /// `RegistryPrefixes` one can filter on.
    pub registry_prefixes: Vec<String>,
    /// `ResourceTypes` one can filter on.
    pub resource_types: Vec<String>,
    /// `ServerSentEventUri`: the SSE stream, if offered.
    pub server_sent_event_uri: Option<String>,
    /// `Subscriptions`.
    pub subscriptions: Option<Link<Collection<EventDestination>>>,
    /// `Actions`.
    pub actions: Option<EventServiceActions>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else (e.g. `SSEFilterPropertiesSupported`).
    pub extra: Map<String, Value>,
}
model_deserialize!(EventService, odata {
        "Id" => id,
        "ServiceEnabled" => service_enabled,
        "Status" => status,
        "DeliveryRetryAttempts" => delivery_retry_attempts,
        "DeliveryRetryIntervalSeconds" => delivery_retry_interval_seconds,
        "EventTypesForSubscription" => event_types_for_subscription,
        "RegistryPrefixes" => registry_prefixes,
        "ResourceTypes" => resource_types,
        "ServerSentEventUri" => server_sent_event_uri,
        "Subscriptions" => subscriptions,
        "Actions" => actions,
        "Oem" => oem,
});

/// `EventDestination`: one subscription. Its `HttpHeaders` are write-only by the standard;
/// should a service echo them, they stay in `extra` but `Debug` shows only their count.
///
/// ```
/// use redfish_client::model::EventDestination;
/// let d: EventDestination = serde_json::from_str(r#"{"Destination": "https://c/e",
///     "HttpHeaders": [{"Authorization": "Basic c2VjcmV0"}]}"#).unwrap();
/// assert!(!format!("{d:?}").contains("c2VjcmV0"));
/// assert_eq!(d.extra["HttpHeaders"][0]["Authorization"], "Basic c2VjcmV0");
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct EventDestination {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Destination`: where the service POSTs events.
    pub destination: Option<String>,
    /// `Context`: an opaque string echoed in every event.
    pub context: Option<String>,
    /// `Protocol` (`Redfish`, `SNMPv2c`, ...).
    pub protocol: Option<String>,
    /// `SubscriptionType` (`RedfishEvent`, `SSE`, ...).
    pub subscription_type: Option<String>,
    /// `EventTypes`.
    pub event_types: Vec<String>,
    /// `RegistryPrefixes`.
    pub registry_prefixes: Vec<String>,
    /// `ResourceTypes`.
    pub resource_types: Vec<String>,
    /// `Status`.
    pub status: Option<Status>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(EventDestination, odata {
        "Id" => id,
        "Destination" => destination,
        "Context" => context,
        "Protocol" => protocol,
        "SubscriptionType" => subscription_type,
        "EventTypes" => event_types,
        "RegistryPrefixes" => registry_prefixes,
        "ResourceTypes" => resource_types,
        "Status" => status,
        "Oem" => oem,
});

impl std::fmt::Debug for EventDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra: Map<String, Value> = self
            .extra
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("HttpHeaders", Value::Array(a)) => {
                    (k.clone(), Value::String(format!("[{} redacted]", a.len())))
                }
                ("HttpHeaders", Value::Null) => (k.clone(), Value::Null),
                ("HttpHeaders", _) => (k.clone(), Value::String("redacted".into())),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        f.debug_struct("EventDestination")
            .field("odata", &self.odata)
            .field("id", &self.id)
            .field("destination", &self.destination)
            .field("context", &self.context)
            .field("protocol", &self.protocol)
            .field("subscription_type", &self.subscription_type)
            .field("event_types", &self.event_types)
            .field("registry_prefixes", &self.registry_prefixes)
            .field("resource_types", &self.resource_types)
            .field("status", &self.status)
            .field("oem", &self.oem)
            .field("extra", &extra)
            .finish()
    }
}

/// The body of a new subscription (`POST` to the Subscriptions collection).
///
/// `HttpHeaders` (e.g. an `Authorization` the service should send with each event) are
/// kept out of `Debug`.
///
/// ```
/// use redfish_client::model::NewSubscription;
/// let s = NewSubscription::new("https://collector.example/events")
///     .context("rack-7")
///     .registry_prefixes(["TaskEvent"])
///     .http_header("Authorization", "Bearer s3cret");
/// assert!(!format!("{s:?}").contains("s3cret"));
/// let v = serde_json::to_value(&s).unwrap();
/// assert_eq!(v["Destination"], "https://collector.example/events");
/// assert_eq!(v["Protocol"], "Redfish");
/// assert_eq!(v["HttpHeaders"][0]["Authorization"], "Bearer s3cret");
/// ```
#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct NewSubscription {
    /// `Destination`.
    pub destination: String,
    /// `Protocol` (default `Redfish`).
    pub protocol: String,
    /// `Context`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// `EventTypes` (older services require it; newer ones prefer `RegistryPrefixes`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    /// `RegistryPrefixes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registry_prefixes: Vec<String>,
    /// `ResourceTypes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
    /// `SubscriptionType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_type: Option<String>,
    /// `HttpHeaders`, one object per header.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    http_headers: Vec<Map<String, Value>>,
    /// Anything else to send (e.g. `Oem`, `DeliveryRetryPolicy`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for NewSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSubscription")
            .field("destination", &self.destination)
            .field("protocol", &self.protocol)
            .field("context", &self.context)
            .field("event_types", &self.event_types)
            .field("registry_prefixes", &self.registry_prefixes)
            .field("resource_types", &self.resource_types)
            .field("subscription_type", &self.subscription_type)
            .field(
                "http_headers",
                &format_args!("[{} redacted]", self.http_headers.len()),
            )
            .finish_non_exhaustive()
    }
}

impl NewSubscription {
    /// Events POSTed to `destination` (an `https://` URL the BMC can reach), Redfish protocol.
    pub fn new(destination: impl Into<String>) -> Self {
        Self {
            destination: destination.into(),
            protocol: "Redfish".into(),
            context: None,
            event_types: Vec::new(),
            registry_prefixes: Vec::new(),
            resource_types: Vec::new(),
            subscription_type: Some("RedfishEvent".into()),
            http_headers: Vec::new(),
            extra: Map::new(),
        }
    }
    /// `Context`, echoed in every event.
    pub fn context(mut self, c: impl Into<String>) -> Self {
        self.context = Some(c.into());
        self
    }
    /// `EventTypes` (e.g. `Alert`, `StatusChange`).
    pub fn event_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, t: I) -> Self {
        self.event_types = t.into_iter().map(Into::into).collect();
        self
    }
    /// `RegistryPrefixes` (e.g. `TaskEvent`, `ResourceEvent`).
    pub fn registry_prefixes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, p: I) -> Self {
        self.registry_prefixes = p.into_iter().map(Into::into).collect();
        self
    }
    /// `ResourceTypes` (e.g. `ComputerSystem`).
    pub fn resource_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, r: I) -> Self {
        self.resource_types = r.into_iter().map(Into::into).collect();
        self
    }
    /// A header the service sends with each event (never shown by `Debug`).
    pub fn http_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut m = Map::new();
        m.insert(name.into(), Value::String(value.into()));
        self.http_headers.push(m);
        self
    }
}

/// One record of an `Event`'s `Events` array.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventRecord {
    /// `EventType` (deprecated, still sent).
    pub event_type: Option<String>,
    /// `EventId`.
    pub event_id: Option<String>,
    /// `EventTimestamp`.
    pub event_timestamp: Option<String>,
    /// `MessageId`, e.g. `TaskEvent.1.0.TaskCompletedOK`.
    pub message_id: Option<String>,
    /// `Message`.
    pub message: Option<String>,
    /// `MessageArgs`.
    pub message_args: Vec<Value>,
    /// `MessageSeverity`.
    pub message_severity: Option<Health>,
    /// `Severity` (deprecated).
    pub severity: Option<Health>,
    /// `OriginOfCondition`: the resource the event is about.
    pub origin_of_condition: Option<Link<Value>>,
    /// `Context`.
    pub context: Option<String>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(EventRecord {
        "EventType" => event_type,
        "EventId" => event_id,
        "EventTimestamp" => event_timestamp,
        "MessageId" => message_id,
        "Message" => message,
        "MessageArgs" => message_args,
        "MessageSeverity" => message_severity,
        "Severity" => severity,
        "OriginOfCondition" => origin_of_condition,
        "Context" => context,
        "Oem" => oem,
});

/// An `Event` payload: one or more records. The JSON as received stays in `raw`.
///
/// ```
/// use redfish_client::model::Event;
/// let e = Event::from_json(br#"{"Id": "9", "Events": [{"MessageId": "TaskEvent.1.0.TaskCompletedOK",
///     "OriginOfCondition": {"@odata.id": "/redfish/v1/TaskService/Tasks/1"}, "Oem": {"X": 1}}]}"#).unwrap();
/// assert_eq!(e.events[0].message_id.as_deref(), Some("TaskEvent.1.0.TaskCompletedOK"));
/// assert_eq!(e.raw["Events"][0]["Oem"]["X"], 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Context` of the subscription.
    pub context: Option<String>,
    /// `Events`.
    pub events: Vec<EventRecord>,
    /// The whole payload, as received (for `Oem` and everything the model does not name).
    pub raw: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventWire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    events: Vec<EventRecord>,
}

impl Event {
    /// Parse a payload, keeping the JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: Value = serde_json::from_slice(bytes)?;
        Self::from_value(raw)
    }

    /// Type an already parsed payload, keeping it in `raw`.
    pub fn from_value(raw: Value) -> Result<Self, serde_json::Error> {
        let w = EventWire::deserialize(&raw)?;
        Ok(Self {
            id: w.id,
            name: w.name,
            context: w.context,
            events: w.events,
            raw,
        })
    }
}

resource!(EventService, EventDestination);
