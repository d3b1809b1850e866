//! ServiceRoot, sessions, tasks.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Health, Message, resource, string_enum};
use crate::model::{Chassis, ComputerSystem, Manager};
use crate::odata::{Collection, Link, OData};

/// `Links` of the service root.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ServiceRootLinks {
    /// `Sessions`: where to create a session (iDRAC 7/8 keep it at `/redfish/v1/Sessions`).
    #[serde(default)]
    pub sessions: Option<Link<Collection<Session>>>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ServiceRoot` (`/redfish/v1`), readable without credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ServiceRoot {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `RedfishVersion`.
    #[serde(default)]
    pub redfish_version: Option<String>,
    /// `UUID`.
    #[serde(rename = "UUID", default)]
    pub uuid: Option<String>,
    /// `Vendor` (Redfish 1.5+), e.g. `Dell`, `HPE`, `Supermicro`, `Lenovo`.
    #[serde(default)]
    pub vendor: Option<String>,
    /// `Product`.
    #[serde(default)]
    pub product: Option<String>,
    /// `Systems`.
    #[serde(default)]
    pub systems: Option<Link<Collection<ComputerSystem>>>,
    /// `Managers`.
    #[serde(default)]
    pub managers: Option<Link<Collection<Manager>>>,
    /// `Chassis`.
    #[serde(default)]
    pub chassis: Option<Link<Collection<Chassis>>>,
    /// `SessionService`.
    #[serde(default)]
    pub session_service: Option<Link<SessionService>>,
    /// `TaskService`.
    #[serde(default)]
    pub tasks: Option<Link<TaskService>>,
    /// `UpdateService`.
    #[serde(default)]
    pub update_service: Option<Link<Value>>,
    /// `EventService`.
    #[serde(default)]
    pub event_service: Option<Link<Value>>,
    /// `AccountService`.
    #[serde(default)]
    pub account_service: Option<Link<Value>>,
    /// `ProtocolFeaturesSupported` (e.g. whether `$expand` works).
    #[serde(default)]
    pub protocol_features_supported: Option<Value>,
    /// `Links`.
    #[serde(default)]
    pub links: Option<ServiceRootLinks>,
    /// `Oem`: vendors name themselves here on services older than `Vendor`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServiceRoot {
    /// Whether `ProtocolFeaturesSupported.ExpandQuery.ExpandAll` or `.Links` is advertised.
    pub fn supports_expand(&self) -> bool {
        self.protocol_features_supported
            .as_ref()
            .and_then(|p| p.get("ExpandQuery"))
            .is_some_and(|e| {
                e.get("Links").and_then(Value::as_bool).unwrap_or(false)
                    || e.get("ExpandAll").and_then(Value::as_bool).unwrap_or(false)
            })
    }
}

/// `SessionService`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct SessionService {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `ServiceEnabled`.
    #[serde(default)]
    pub service_enabled: Option<bool>,
    /// `SessionTimeout` in seconds.
    #[serde(default)]
    pub session_timeout: Option<u64>,
    /// `Sessions`.
    #[serde(default)]
    pub sessions: Option<Link<Collection<Session>>>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Session` (the password is never part of the model).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Session {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `UserName`.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `TaskService`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct TaskService {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `ServiceEnabled`.
    #[serde(default)]
    pub service_enabled: Option<bool>,
    /// `Tasks`.
    #[serde(default)]
    pub tasks: Option<Link<Collection<Task>>>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// `TaskState`.
    TaskState {
        /// Created, not started.
        New = "New",
        /// Starting.
        Starting = "Starting",
        /// Running.
        Running = "Running",
        /// Suspended.
        Suspended = "Suspended",
        /// Interrupted.
        Interrupted = "Interrupted",
        /// Pending.
        Pending = "Pending",
        /// Stopping.
        Stopping = "Stopping",
        /// Completed.
        Completed = "Completed",
        /// Killed.
        Killed = "Killed",
        /// Ended with an exception.
        Exception = "Exception",
        /// Running as a service.
        Service = "Service",
        /// Being cancelled.
        Cancelling = "Cancelling",
        /// Cancelled.
        Cancelled = "Cancelled",
    }
}

impl TaskState {
    /// Whether the task has ended (successfully or not).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Killed | Self::Exception | Self::Cancelled
        )
    }
}

/// `Task`: a long-running operation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Task {
    /// OData annotations.
    #[serde(flatten)]
    pub odata: OData,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `TaskState`.
    #[serde(default)]
    pub task_state: Option<TaskState>,
    /// `TaskStatus`.
    #[serde(default)]
    pub task_status: Option<Health>,
    /// `PercentComplete`.
    #[serde(default)]
    pub percent_complete: Option<f64>,
    /// `StartTime`.
    #[serde(default)]
    pub start_time: Option<String>,
    /// `EndTime`.
    #[serde(default)]
    pub end_time: Option<String>,
    /// `TaskMonitor`.
    #[serde(default)]
    pub task_monitor: Option<String>,
    /// `Messages`.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// `Oem`.
    #[serde(default)]
    pub oem: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Task {
    /// Ended without error: `Completed` and a status other than `Critical`.
    pub fn succeeded(&self) -> bool {
        matches!(self.task_state, Some(TaskState::Completed))
            && !matches!(self.task_status, Some(Health::Critical))
    }
}

resource!(ServiceRoot, SessionService, Session, TaskService, Task);
