//! ServiceRoot, sessions, tasks.

use serde_json::{Map, Value};

use super::{Health, Message, resource, string_enum};
use crate::model::{Chassis, ComputerSystem, Manager};
use crate::odata::{Collection, Link, OData};

/// `Links` of the service root.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServiceRootLinks {
    /// `Sessions`: where to create a session (iDRAC 7/8 keep it at `/redfish/v1/Sessions`).
    pub sessions: Option<Link<Collection<Session>>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ServiceRootLinks {
        "Sessions" => sessions,
});

/// `ServiceRoot` (`/redfish/v1`), readable without credentials.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServiceRoot {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `RedfishVersion`.
    pub redfish_version: Option<String>,
    /// `UUID`.
    pub uuid: Option<String>,
    /// `Vendor` (Redfish 1.5+), e.g. `Dell`, `HPE`, `Supermicro`, `Lenovo`.
    pub vendor: Option<String>,
    /// `Product`.
    pub product: Option<String>,
    /// `Systems`.
    pub systems: Option<Link<Collection<ComputerSystem>>>,
    /// `Managers`.
    pub managers: Option<Link<Collection<Manager>>>,
    /// `Chassis`.
    pub chassis: Option<Link<Collection<Chassis>>>,
    /// `SessionService`.
    pub session_service: Option<Link<SessionService>>,
    /// `TaskService`.
    pub tasks: Option<Link<TaskService>>,
    /// `UpdateService`.
    pub update_service: Option<Link<super::UpdateService>>,
    /// `EventService`.
    pub event_service: Option<Link<super::EventService>>,
    /// `AccountService`.
    pub account_service: Option<Link<Value>>,
    /// `ProtocolFeaturesSupported` (e.g. whether `$expand` works).
    pub protocol_features_supported: Option<Value>,
    /// `Links`.
    pub links: Option<ServiceRootLinks>,
    /// `Oem`: vendors name themselves here on services older than `Vendor`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(ServiceRoot, odata {
        "Id" => id,
        "Name" => name,
        "RedfishVersion" => redfish_version,
        "UUID" => uuid,
        "Vendor" => vendor,
        "Product" => product,
        "Systems" => systems,
        "Managers" => managers,
        "Chassis" => chassis,
        "SessionService" => session_service,
        "Tasks" => tasks,
        "UpdateService" => update_service,
        "EventService" => event_service,
        "AccountService" => account_service,
        "ProtocolFeaturesSupported" => protocol_features_supported,
        "Links" => links,
        "Oem" => oem,
});

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
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SessionService {
    /// OData annotations.
    pub odata: OData,
    /// `ServiceEnabled`.
    pub service_enabled: Option<bool>,
    /// `SessionTimeout` in seconds.
    pub session_timeout: Option<u64>,
    /// `Sessions`.
    pub sessions: Option<Link<Collection<Session>>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(SessionService, odata {
        "ServiceEnabled" => service_enabled,
        "SessionTimeout" => session_timeout,
        "Sessions" => sessions,
});

/// `Session` (the password is never part of the model).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Session {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `UserName`.
    pub user_name: Option<String>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Session, odata {
        "Id" => id,
        "UserName" => user_name,
});

/// `TaskService`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TaskService {
    /// OData annotations.
    pub odata: OData,
    /// `ServiceEnabled`.
    pub service_enabled: Option<bool>,
    /// `Tasks`.
    pub tasks: Option<Link<Collection<Task>>>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(TaskService, odata {
        "ServiceEnabled" => service_enabled,
        "Tasks" => tasks,
});

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
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Task {
    /// OData annotations.
    pub odata: OData,
    /// `Id`.
    pub id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `TaskState`.
    pub task_state: Option<TaskState>,
    /// `TaskStatus`.
    pub task_status: Option<Health>,
    /// `PercentComplete`.
    pub percent_complete: Option<f64>,
    /// `StartTime`.
    pub start_time: Option<String>,
    /// `EndTime`.
    pub end_time: Option<String>,
    /// `TaskMonitor`.
    pub task_monitor: Option<String>,
    /// `Messages`.
    pub messages: Vec<Message>,
    /// `Oem`.
    pub oem: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}
model_deserialize!(Task, odata {
        "Id" => id,
        "Name" => name,
        "TaskState" => task_state,
        "TaskStatus" => task_status,
        "PercentComplete" => percent_complete,
        "StartTime" => start_time,
        "EndTime" => end_time,
        "TaskMonitor" => task_monitor,
        "Messages" => messages,
        "Oem" => oem,
});

impl Task {
    /// Ended without error: `Completed` and a status other than `Critical`.
    pub fn succeeded(&self) -> bool {
        matches!(self.task_state, Some(TaskState::Completed))
            && !matches!(self.task_status, Some(Health::Critical))
    }
}

resource!(ServiceRoot, SessionService, Session, TaskService, Task);
