//! The EventService: subscriptions (`EventDestination`) that events are pushed to by HTTP POST,
//! with the service's retry settings, `SubmitTestEvent`, and the same events on the SSE stream.
//!
//! Events: a Reset action (`ResourceEvent.1.0.ResourceChanged`), a change of the system's power
//! state whatever caused it (IPMI, a delayed transition: `ResourceEvent.1.0.ResourceChanged`
//! with the new state), a boot's outcome, and a completed task (`TaskEvent.1.0.TaskCompletedOK`).
//! A watcher looks at the node while anyone listens (a subscription or an SSE stream) and stops
//! when nobody does, so idle BMCs of a large fleet cost nothing.
//!
//! Each subscription has its own delivery task and a bounded queue (events beyond it are
//! dropped, as a BMC's are), delivers in order, and after a failed POST retries
//! `DeliveryRetryAttempts` times `DeliveryRetryIntervalSeconds` apart; then the subscription's
//! `DeliveryRetryPolicy` applies: `TerminateAfterRetries` (the default) deletes it,
//! `SuspendRetries` disables it, `RetryForever` keeps trying. Destinations are `http://` or
//! `https://` URLs (the receiver's certificate is not checked, as BMCs do by default) on
//! loopback unless [`super::RedfishConfig::remote_event_destinations`] allows others.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{App, Authed, JsonBody, error, lock, not_found};
use crate::node::PowerState;

/// Subscriptions a service keeps at most.
pub(super) const MAX_SUBSCRIPTIONS: usize = 16;
/// Events queued per subscription at most.
const QUEUE: usize = 64;
/// Longest retry interval accepted (seconds).
const MAX_RETRY_INTERVAL: u64 = 3600;

/// The event types this service can send.
const EVENT_TYPES: [&str; 3] = ["StatusChange", "ResourceUpdated", "Alert"];
/// The message registries its events come from.
const REGISTRIES: [&str; 2] = ["ResourceEvent", "TaskEvent"];
/// The resource types its events are about.
const RESOURCE_TYPES: [&str; 2] = ["ComputerSystem", "Task"];

/// One event before it is addressed to anyone.
#[derive(Debug, Clone)]
pub(super) struct EventRecord {
    pub(super) event_type: &'static str,
    pub(super) message_id: String,
    pub(super) message: String,
    pub(super) message_args: Vec<String>,
    pub(super) origin: String,
    pub(super) resource_type: &'static str,
    pub(super) severity: &'static str,
}

/// The EventService's settings and subscriptions.
#[derive(Debug)]
pub(super) struct EventState {
    pub(super) retry_attempts: u32,
    pub(super) retry_interval: u64,
    pub(super) next_id: u32,
    pub(super) next_event: u64,
    pub(super) subscriptions: BTreeMap<u32, Subscription>,
    /// Whether the node watcher runs.
    pub(super) watching: bool,
}

impl Default for EventState {
    fn default() -> Self {
        // DMTF's EventService defaults are 3 attempts 30 s apart; a simulator answers faster.
        EventState {
            retry_attempts: 3,
            retry_interval: 1,
            next_id: 0,
            next_event: 0,
            subscriptions: BTreeMap::new(),
            watching: false,
        }
    }
}

#[derive(Debug)]
pub(super) struct Subscription {
    destination: String,
    context: Option<String>,
    event_types: Vec<String>,
    registry_prefixes: Vec<String>,
    resource_types: Vec<String>,
    policy: &'static str,
    enabled: bool,
    tx: tokio::sync::mpsc::Sender<Value>,
}

impl Subscription {
    fn wants(&self, ev: &EventRecord) -> bool {
        let prefix = ev.message_id.split('.').next().unwrap_or_default();
        self.enabled
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == ev.event_type))
            && (self.registry_prefixes.is_empty()
                || self.registry_prefixes.iter().any(|p| p == prefix))
            && (self.resource_types.is_empty()
                || self.resource_types.iter().any(|t| t == ev.resource_type))
    }

    fn json(&self, id: u32) -> Value {
        let mut v = json!({
            "@odata.id": format!("/redfish/v1/EventService/Subscriptions/{id}"),
            "@odata.type": "#EventDestination.v1_13_0.EventDestination",
            "Id": id.to_string(),
            "Name": format!("Event Subscription {id}"),
            "Destination": self.destination,
            "Context": self.context,
            "Protocol": "Redfish",
            "SubscriptionType": "RedfishEvent",
            "EventFormatType": "Event",
            "RegistryPrefixes": self.registry_prefixes,
            "ResourceTypes": self.resource_types,
            "DeliveryRetryPolicy": self.policy,
            "Status": {"State": if self.enabled { "Enabled" } else { "Disabled" }, "Health": "OK"}
        });
        // Deprecated in the schema: shown only to a client that subscribed with it.
        if !self.event_types.is_empty() {
            v["EventTypes"] = json!(self.event_types);
        }
        v
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC) for a time since 1970.
pub(super) fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Send an event to the SSE streams and to every subscription that wants it.
pub(super) fn emit(app: &App, ev: EventRecord) {
    send(&app.event_state, &app.events, ev, false);
}

/// Send an event to the SSE streams and to the subscriptions (all enabled ones with `all`).
fn send(
    state: &Mutex<EventState>,
    events: &tokio::sync::broadcast::Sender<Value>,
    ev: EventRecord,
    all: bool,
) {
    let mut st = lock(state);
    st.next_event += 1;
    let id = st.next_event;
    let record = json!({
        "EventType": ev.event_type,
        "EventId": id.to_string(),
        "EventTimestamp": rfc3339(SystemTime::now()),
        "MessageId": ev.message_id,
        "Message": ev.message,
        "MessageArgs": ev.message_args,
        "OriginOfCondition": {"@odata.id": ev.origin},
        "Severity": ev.severity,
        "MessageSeverity": ev.severity
    });
    let body = |context: Option<&str>| {
        let mut v = json!({
            "@odata.type": "#Event.v1_7_0.Event",
            "Id": id.to_string(),
            "Name": "Event",
            "Events": [record.clone()]
        });
        if let Some(c) = context {
            v["Context"] = json!(c);
        }
        v
    };
    let _ = events.send(body(None));
    for s in st
        .subscriptions
        .values()
        .filter(|s| s.enabled && (all || s.wants(&ev)))
    {
        // A full queue drops the event, as a BMC's does.
        let _ = s.tx.try_send(body(s.context.as_deref()));
    }
}

/// Start the node watcher unless it runs: it reports power changes and boot outcomes while
/// anyone listens, and ends when nobody does or the service is gone (it holds no strong
/// reference to the service).
pub(super) fn ensure_watcher(app: &App) {
    {
        let mut st = lock(&app.event_state);
        if st.watching {
            return;
        }
        st.watching = true;
    }
    let state = Arc::downgrade(&app.event_state);
    let node = Arc::downgrade(&app.node);
    let events = app.events.clone();
    let system = app.p.system_path();
    tokio::spawn(async move {
        let (mut power, mut boots) = match node.upgrade() {
            Some(n) => {
                let n = lock(&n);
                (n.power(), n.boot_outcomes().len())
            }
            None => return,
        };
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let (Some(state), Some(node)) = (state.upgrade(), node.upgrade()) else {
                return;
            };
            {
                let mut st = lock(&state);
                if st.subscriptions.is_empty() && events.receiver_count() == 0 {
                    st.watching = false;
                    return;
                }
            }
            let (now_power, outcomes) = {
                let mut n = lock(&node);
                n.tick(std::time::Instant::now());
                let all = n.boot_outcomes();
                (n.power(), all[boots.min(all.len())..].to_vec())
            };
            let record = |event_type, message, severity| EventRecord {
                event_type,
                message_id: "ResourceEvent.1.0.ResourceChanged".into(),
                message,
                message_args: vec![],
                origin: system.clone(),
                resource_type: "ComputerSystem",
                severity,
            };
            if now_power != power {
                power = now_power;
                let s = if power == PowerState::On { "On" } else { "Off" };
                let ev = record(
                    "StatusChange",
                    format!("The system's PowerState changed to {s}."),
                    "OK",
                );
                send(&state, &events, ev, false);
            }
            boots += outcomes.len();
            for o in outcomes {
                let (message, severity) = match &o {
                    crate::BootedFrom::Disk { os, .. } => (
                        format!(
                            "The system booted from its disk ({}).",
                            os.as_deref().unwrap_or("unknown operating system")
                        ),
                        "OK",
                    ),
                    crate::BootedFrom::NoBootableDevice { reason } => {
                        (format!("No bootable device: {reason}."), "Critical")
                    }
                    other => (format!("The system booted from {other:?}."), "OK"),
                };
                send(&state, &events, record("Alert", message, severity), false);
            }
        }
    });
}

pub(super) async fn event_service(State(app): State<App>, _: Authed) -> Response {
    let st = lock(&app.event_state);
    axum::Json(json!({
        "@odata.id": "/redfish/v1/EventService",
        "@odata.type": "#EventService.v1_10_0.EventService",
        "Id": "EventService",
        "Name": "Event Service",
        "ServiceEnabled": true,
        "Status": {"State": "Enabled", "Health": "OK"},
        "DeliveryRetryAttempts": st.retry_attempts,
        "DeliveryRetryIntervalSeconds": st.retry_interval,
        "EventTypesForSubscription": EVENT_TYPES,
        "RegistryPrefixes": REGISTRIES,
        "ResourceTypes": RESOURCE_TYPES,
        "ServerSentEventUri": "/redfish/v1/EventService/SSE",
        "Subscriptions": {"@odata.id": "/redfish/v1/EventService/Subscriptions"},
        "Actions": {
            "#EventService.SubmitTestEvent": {
                "target": "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent"
            }
        }
    }))
    .into_response()
}

pub(super) async fn patch_event_service(
    State(app): State<App>,
    _: Authed,
    JsonBody(v): JsonBody,
) -> Response {
    let attempts = v.get("DeliveryRetryAttempts");
    let interval = v.get("DeliveryRetryIntervalSeconds");
    if attempts.is_none() && interval.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.PropertyNotWritable",
            "Only DeliveryRetryAttempts and DeliveryRetryIntervalSeconds can be changed.",
        );
    }
    let attempts = match attempts.map(|a| a.as_u64().filter(|a| *a <= 100)) {
        Some(None) => return bad_value("DeliveryRetryAttempts"),
        Some(Some(a)) => Some(a as u32),
        None => None,
    };
    let interval = match interval.map(|i| i.as_u64().filter(|i| *i <= MAX_RETRY_INTERVAL)) {
        Some(None) => return bad_value("DeliveryRetryIntervalSeconds"),
        other => other.flatten(),
    };
    let mut st = lock(&app.event_state);
    if let Some(a) = attempts {
        st.retry_attempts = a;
    }
    if let Some(i) = interval {
        st.retry_interval = i;
    }
    StatusCode::NO_CONTENT.into_response()
}

fn bad_value(property: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "Base.1.8.PropertyValueNotInList",
        &format!("The value for the property {property} is not acceptable."),
    )
}

/// The subscriptions, paged like the service's other collections (`$top`, `$skip`,
/// `$expand`, server-driven pages with `Members@odata.nextLink`).
pub(super) async fn subscriptions(
    State(app): State<App>,
    _: Authed,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let members: Vec<(String, Value)> = lock(&app.event_state)
        .subscriptions
        .iter()
        .map(|(id, s)| {
            (
                format!("/redfish/v1/EventService/Subscriptions/{id}"),
                s.json(*id),
            )
        })
        .collect();
    axum::Json(super::paged(
        "/redfish/v1/EventService/Subscriptions",
        "#EventDestinationCollection.EventDestinationCollection",
        "Event Subscriptions Collection",
        members,
        &super::query(raw.as_deref()),
    ))
    .into_response()
}

pub(super) async fn subscription(
    State(app): State<App>,
    _: Authed,
    Path(id): Path<u32>,
) -> Response {
    match lock(&app.event_state).subscriptions.get(&id) {
        Some(s) => axum::Json(s.json(id)).into_response(),
        None => not_found(),
    }
}

/// A subscription's `Context`: a string of at most 256 bytes, or null (none); `Err` names
/// the property.
fn parse_context(v: &Value) -> Result<Option<String>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.len() <= 256 => Ok(Some(s.clone())),
        _ => Err("Context"),
    }
}

/// A subscription's `DeliveryRetryPolicy`; `Err` names the property.
fn parse_policy(v: &Value) -> Result<&'static str, &'static str> {
    match v.as_str() {
        Some("TerminateAfterRetries") => Ok("TerminateAfterRetries"),
        Some("SuspendRetries") => Ok("SuspendRetries"),
        Some("RetryForever") => Ok("RetryForever"),
        _ => Err("DeliveryRetryPolicy"),
    }
}

/// PATCH of a subscription: `Context`, `DeliveryRetryPolicy`, and `Status/State` (`Enabled`
/// resumes a subscription suspended after failed deliveries, `Disabled` suspends it), all or
/// nothing; any other property is refused (read-only or unknown), the subscription unchanged.
pub(super) async fn patch_subscription(
    State(app): State<App>,
    _: Authed,
    Path(id): Path<u32>,
    JsonBody(v): JsonBody,
) -> Response {
    let Some(fields) = v.as_object() else {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.MalformedJSON",
            "The request body must be a JSON object.",
        );
    };
    let (mut context, mut policy, mut enabled) = (None, None, None);
    for (key, value) in fields {
        match key.as_str() {
            "Context" => match parse_context(value) {
                Ok(c) => context = Some(c),
                Err(p) => return bad_value(p),
            },
            "DeliveryRetryPolicy" => match parse_policy(value) {
                Ok(p) => policy = Some(p),
                Err(p) => return bad_value(p),
            },
            "Status" => {
                let state = value.as_object().and_then(|o| {
                    (o.len() == 1).then(|| o.get("State").and_then(Value::as_str))?
                });
                enabled = Some(match state {
                    Some("Enabled") => true,
                    Some("Disabled") => false,
                    _ => return bad_value("Status/State"),
                });
            }
            "Destination" | "Protocol" | "SubscriptionType" | "EventFormatType"
            | "RegistryPrefixes" | "ResourceTypes" | "EventTypes" | "Id" | "Name" => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyNotWritable",
                    &format!(
                        "The property {key} is a read only property and cannot be assigned a value."
                    ),
                );
            }
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyUnknown",
                    &format!(
                        "The property {key} is not in the list of valid properties for the resource."
                    ),
                );
            }
        }
    }
    let mut st = lock(&app.event_state);
    let Some(s) = st.subscriptions.get_mut(&id) else {
        return not_found();
    };
    if let Some(c) = context {
        s.context = c;
    }
    if let Some(p) = policy {
        s.policy = p;
    }
    if let Some(e) = enabled {
        s.enabled = e;
    }
    axum::Json(s.json(id)).into_response()
}

pub(super) async fn delete_subscription(
    State(app): State<App>,
    _: Authed,
    Path(id): Path<u32>,
) -> Response {
    match lock(&app.event_state).subscriptions.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(),
    }
}

/// A list of strings from `v[key]`, each one of `allowed`; `Err` names the property.
fn string_list(
    v: &Value,
    key: &'static str,
    allowed: &[&str],
) -> Result<Vec<String>, &'static str> {
    let Some(x) = v.get(key) else {
        return Ok(Vec::new());
    };
    let list = x.as_array().ok_or(key)?;
    if list.len() > 16 {
        return Err(key);
    }
    list.iter()
        .map(|e| match e.as_str() {
            Some(s) if allowed.contains(&s) => Ok(s.to_string()),
            _ => Err(key),
        })
        .collect()
}

pub(super) async fn create_subscription(
    State(app): State<App>,
    _: Authed,
    JsonBody(v): JsonBody,
) -> Response {
    let Some(dest) = v.get("Destination").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.PropertyMissing",
            "The property Destination is a required property and must be included in the request.",
        );
    };
    match super::split_url(dest) {
        Some((_, _, addr, _)) if dest.len() <= 1024 => {
            let loopback = addr
                .rsplit_once(':')
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
                .is_some_and(|h| {
                    h == "localhost"
                        || h.parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| ip.is_loopback())
                });
            if !loopback && !app.cfg.remote_event_destinations {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyValueFormatError",
                    "This service delivers events to loopback destinations only.",
                );
            }
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "Base.1.8.PropertyValueFormatError",
                "The value for the property Destination must be an http:// or https:// URL.",
            );
        }
    }
    if let Some(p) = v.get("Protocol").and_then(Value::as_str) {
        if p != "Redfish" {
            return bad_value("Protocol");
        }
    }
    let context = match v.get("Context").map(parse_context) {
        None => None,
        Some(Ok(c)) => c,
        Some(Err(p)) => return bad_value(p),
    };
    let (event_types, registry_prefixes, resource_types) = match (
        string_list(&v, "EventTypes", &EVENT_TYPES),
        string_list(&v, "RegistryPrefixes", &REGISTRIES),
        string_list(&v, "ResourceTypes", &RESOURCE_TYPES),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(key), _, _) | (_, Err(key), _) | (_, _, Err(key)) => return bad_value(key),
    };
    let policy = match v.get("DeliveryRetryPolicy").map(parse_policy) {
        None => "TerminateAfterRetries",
        Some(Ok(p)) => p,
        Some(Err(p)) => return bad_value(p),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
    let id = {
        let mut st = lock(&app.event_state);
        if st.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Base.1.8.CreateLimitReachedForResource",
                "The create operation failed because the resource has reached the limit of possible resources.",
            );
        }
        st.next_id += 1;
        let id = st.next_id;
        st.subscriptions.insert(
            id,
            Subscription {
                destination: dest.to_string(),
                context,
                event_types,
                registry_prefixes,
                resource_types,
                policy,
                enabled: true,
                tx,
            },
        );
        id
    };
    tokio::spawn(deliver(
        Arc::downgrade(&app.event_state),
        id,
        dest.to_string(),
        rx,
    ));
    ensure_watcher(&app);
    let body = lock(&app.event_state)
        .subscriptions
        .get(&id)
        .map(|s| s.json(id))
        .unwrap_or_default();
    let mut r = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(l) = HeaderValue::from_str(&format!("/redfish/v1/EventService/Subscriptions/{id}")) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

/// Deliver one subscription's events in order, with the service's retry settings. Ends when
/// the subscription or the service is gone.
async fn deliver(
    state: std::sync::Weak<Mutex<EventState>>,
    id: u32,
    destination: String,
    mut rx: tokio::sync::mpsc::Receiver<Value>,
) {
    let span = tracing::debug_span!("bmc_sim_event_delivery", subscription = id, %destination);
    let _ = &span;
    while let Some(event) = rx.recv().await {
        let body = event.to_string();
        let mut failures = 0u32;
        loop {
            match super::post_json(&destination, &body).await {
                Ok(()) => break,
                Err(why) => {
                    tracing::debug!(parent: &span, error = %why, "event delivery failed");
                    let Some(state) = state.upgrade() else {
                        return;
                    };
                    let (attempts, interval, policy) = {
                        let st = lock(&state);
                        let Some(s) = st.subscriptions.get(&id) else {
                            return;
                        };
                        (st.retry_attempts, st.retry_interval, s.policy)
                    };
                    if failures >= attempts && policy != "RetryForever" {
                        let mut st = lock(&state);
                        if policy == "SuspendRetries" {
                            if let Some(s) = st.subscriptions.get_mut(&id) {
                                s.enabled = false;
                            }
                        } else {
                            st.subscriptions.remove(&id);
                        }
                        return;
                    }
                    failures += 1;
                    tokio::time::sleep(Duration::from_secs(interval)).await;
                }
            }
        }
    }
}

pub(super) async fn submit_test_event(
    State(app): State<App>,
    _: Authed,
    body: axum::body::Bytes,
) -> Response {
    // The body is optional; what it names is used.
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        match super::parse_json(&body) {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
    let text = |k: &str, default: &str| -> String {
        v.get(k)
            .and_then(Value::as_str)
            .map_or(default, |s| s)
            .chars()
            .take(512)
            .collect()
    };
    let event_type = match v.get("EventType").and_then(Value::as_str) {
        None => "Alert",
        Some(t) => match EVENT_TYPES.iter().find(|e| **e == t) {
            Some(e) => e,
            None => return bad_value("EventType"),
        },
    };
    let record = EventRecord {
        event_type,
        message_id: text("MessageId", "ResourceEvent.1.0.ResourceChanged"),
        message: text("Message", "Test event."),
        message_args: v
            .get("MessageArgs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .take(16)
                    .filter_map(|s| s.as_str().map(|s| s.chars().take(256).collect()))
                    .collect()
            })
            .unwrap_or_default(),
        origin: text("OriginOfCondition", "/redfish/v1/EventService"),
        resource_type: "ComputerSystem",
        severity: match v.get("Severity").and_then(Value::as_str) {
            Some("Warning") => "Warning",
            Some("Critical") => "Critical",
            _ => "OK",
        },
    };
    // A test event goes to every enabled subscription, whatever its filters.
    send(&app.event_state, &app.events, record, true);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "2024-02-29T12:34:56Z"
        );
    }
}
