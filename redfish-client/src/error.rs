//! The crate's one error type, saying where a request failed.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::model::Message;

/// The result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a Redfish service.
///
/// The variant says where it failed: [`Error::Build`] (nothing was sent),
/// [`Error::Transport`] / [`Error::Timeout`] (the request may or may not have reached the BMC),
/// [`Error::Status`] (an HTTP error status), [`Error::ServiceMessage`] (a 2xx that carries an
/// error in `@Message.ExtendedInfo`), and the rest. [`Error::is_retryable`] says whether trying
/// again can help; [`Error::messages`] gives the service's parsed messages with their
/// `MessageId`. Credentials never appear in an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be built (bad URL, bad option, unserialisable body); nothing was sent.
    #[error("building the request: {what}: {reason}")]
    Build {
        /// What was being built.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The connection failed (refused, reset, TLS, DNS, redirect policy).
    #[error("{method} {path}: transport error: {}", root_cause(source))]
    Transport {
        /// HTTP method.
        method: Method,
        /// Request path.
        path: String,
        /// Whether the failure came before the request was sent (a connect error), so even a
        /// non-idempotent request can be retried.
        not_sent: bool,
        /// The underlying error (its chain names the cause, e.g. an invalid certificate).
        #[source]
        source: reqwest::Error,
    },
    /// The request did not complete in time; it may have reached the BMC.
    #[error("{method} {path}: timed out")]
    Timeout {
        /// HTTP method.
        method: Method,
        /// Request path.
        path: String,
    },
    /// The service answered with an HTTP error status.
    #[error("{method} {path}: HTTP {status}{}", summary(&detail.messages, detail.message.as_deref()))]
    Status {
        /// HTTP method.
        method: Method,
        /// Request path.
        path: String,
        /// HTTP status code.
        status: u16,
        /// `Retry-After`, if sent.
        retry_after: Option<Duration>,
        /// What the body said.
        detail: Box<StatusDetail>,
    },
    /// The service answered 2xx but reported an error in `@Message.ExtendedInfo`
    /// (HPE and Dell do this for partly refused PATCHes).
    #[error(
        "{method} {path}: HTTP {status} with an error from the service{}",
        summary(messages, None)
    )]
    ServiceMessage {
        /// HTTP method.
        method: Method,
        /// Request path.
        path: String,
        /// HTTP status code (2xx).
        status: u16,
        /// The messages, errors first.
        messages: Vec<Message>,
    },
    /// The response body was larger than the configured cap (a hostile or broken service).
    #[error("{method} {path}: response body larger than {limit} bytes")]
    BodyTooLarge {
        /// HTTP method.
        method: Method,
        /// Request path.
        path: String,
        /// The cap.
        limit: usize,
    },
    /// The response was not the JSON expected.
    #[error("{path}: cannot decode {what}: {source}")]
    Decode {
        /// Request path.
        path: String,
        /// What was expected.
        what: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The service does not offer what was asked (a ResetType outside its allowable values,
    /// no virtual media slot, no BIOS resource, ...). Nothing was sent.
    #[error("{what}: {reason}")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// Why it cannot be done, with what the service does offer.
        reason: String,
    },
    /// Logging in failed (session creation refused, or no token in the answer).
    #[error("login to {url} failed: {reason}")]
    Login {
        /// The session collection URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A server-sent event stream broke one of its byte caps.
    #[error("{path}: {source}")]
    EventStream {
        /// Stream path.
        path: String,
        /// Which cap.
        #[source]
        source: crate::sse::SseError,
    },
    /// A task ended without success.
    #[error("task {path} ended {state}{}", summary(messages, None))]
    TaskFailed {
        /// Task or task monitor path.
        path: String,
        /// Its final `TaskState`.
        state: String,
        /// The task's messages.
        messages: Vec<Message>,
    },
    /// A wait (task, power state) exceeded its deadline.
    #[error("{what}: still not done after {after:?}")]
    WaitTimeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        after: Duration,
    },
}

/// The body of an HTTP error answer, parsed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StatusDetail {
    /// `error.code`, if the body had one.
    pub code: Option<String>,
    /// `error.message`, if the body had one.
    pub message: Option<String>,
    /// `error.@Message.ExtendedInfo` (or a top-level one), errors first.
    pub messages: Vec<Message>,
    /// The first bytes of a body that was not a Redfish error object.
    pub body: Option<String>,
}

fn summary(messages: &[Message], fallback: Option<&str>) -> String {
    let first = messages
        .iter()
        .find(|m| m.is_error())
        .or_else(|| messages.first());
    let id = first.and_then(|m| m.message_id.as_deref());
    let text = first.and_then(|m| m.message.as_deref()).or(fallback);
    match (id, text) {
        (Some(i), Some(t)) => format!(": {i}: {t}"),
        (Some(i), None) => format!(": {i}"),
        (None, Some(t)) => format!(": {t}"),
        (None, None) => String::new(),
    }
}

/// The innermost cause's text (reqwest repeats the URL at every level).
fn root_cause(e: &reqwest::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    if text.contains("CaUsedAsEndEntity") {
        // Common with BMCs' self-signed certificates (basicConstraints CA:TRUE).
        return format!(
            "{text} (the server's certificate is a CA certificate, which TLS verification refuses \
             as a server certificate: trust the CA that issued it, or accept invalid certificates)"
        );
    }
    text
}

impl Error {
    /// Whether trying again (after a pause) can help: connection failures, timeouts,
    /// 408/429/5xx except 501, and the "not ready yet" service messages
    /// (iDRAC `SYS518`, iLO `InvalidOperationForSystemState`, see [`crate::quirks`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } => true,
            Self::Status { status, detail, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
                    || crate::quirks::is_not_ready(&detail.messages)
            }
            Self::ServiceMessage { messages, .. } => crate::quirks::is_not_ready(messages),
            _ => false,
        }
    }

    /// The HTTP status, if the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::ServiceMessage { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service's messages (`@Message.ExtendedInfo`, task messages), errors first.
    pub fn messages(&self) -> &[Message] {
        match self {
            Self::Status { detail, .. } => &detail.messages,
            Self::ServiceMessage { messages, .. } | Self::TaskFailed { messages, .. } => messages,
            _ => &[],
        }
    }

    /// The `MessageId` of the first error message, if any.
    pub fn message_id(&self) -> Option<&str> {
        let m = self.messages();
        m.iter()
            .find(|m| m.is_error())
            .or_else(|| m.first())?
            .message_id
            .as_deref()
    }

    /// Whether the request certainly did not reach the service.
    pub fn not_sent(&self) -> bool {
        matches!(self, Self::Build { .. } | Self::Unsupported { .. })
            || matches!(self, Self::Transport { not_sent: true, .. })
    }

    pub(crate) fn build(what: &'static str, reason: impl ToString) -> Self {
        Self::Build {
            what,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn unsupported(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Unsupported {
            what,
            reason: reason.into(),
        }
    }
}

/// The parts of a Redfish error body: `{"error": {"code", "message", "@Message.ExtendedInfo"}}`,
/// or a top-level `@Message.ExtendedInfo`.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) messages: Vec<Message>,
    /// Whether the body was an `error` object.
    pub(crate) is_error_object: bool,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(rename = "@Message.ExtendedInfo", default)]
    extended: Option<Value>,
}

/// Messages from an `@Message.ExtendedInfo` value; entries that are not messages are skipped.
fn parse_messages(v: Option<&Value>) -> Vec<Message> {
    let mut out: Vec<Message> = match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|m| Message::deserialize(m).ok())
            .collect(),
        Some(m @ Value::Object(_)) => Message::deserialize(m).ok().into_iter().collect(),
        _ => Vec::new(),
    };
    // Errors first, so the summary and message_id() name the one that matters.
    out.sort_by_key(|m| !m.is_error());
    out
}

impl ErrorBody {
    pub(crate) fn parse(body: &[u8]) -> Self {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        if let Some(err) = v.get("error") {
            let obj = ErrorObject::deserialize(err).unwrap_or(ErrorObject {
                code: None,
                message: None,
                extended: None,
            });
            return Self {
                code: obj.code,
                message: obj.message,
                messages: parse_messages(obj.extended.as_ref()),
                is_error_object: true,
            };
        }
        Self {
            messages: parse_messages(v.get("@Message.ExtendedInfo")),
            ..Self::default()
        }
    }

    /// A 2xx body that still reports failure: an `error` object, or an error-severity message.
    pub(crate) fn reports_error(&self) -> bool {
        self.is_error_object || self.messages.iter().any(Message::is_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_object_and_orders_errors_first() {
        let b = ErrorBody::parse(
            br#"{"error":{"code":"Base.1.0.GeneralError","message":"see info",
            "@Message.ExtendedInfo":[{"MessageId":"Base.1.0.Success","Severity":"OK"},
            {"MessageId":"Base.1.8.PropertyValueNotInList","Message":"bad","Severity":"Critical"}]}}"#,
        );
        assert!(b.is_error_object);
        assert_eq!(b.code.as_deref(), Some("Base.1.0.GeneralError"));
        assert_eq!(b.messages[0].message_key(), "PropertyValueNotInList");
        let e = Error::Status {
            method: Method::PATCH,
            path: "/x".into(),
            status: 400,
            retry_after: None,
            detail: Box::new(StatusDetail {
                code: b.code,
                message: b.message,
                messages: b.messages,
                body: None,
            }),
        };
        assert_eq!(e.message_id(), Some("Base.1.8.PropertyValueNotInList"));
        assert!(
            e.to_string()
                .contains("HTTP 400: Base.1.8.PropertyValueNotInList: bad")
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn detects_error_inside_2xx() {
        let ok = ErrorBody::parse(
            br#"{"@Message.ExtendedInfo":[{"MessageId":"Base.1.0.Success","Severity":"OK"}]}"#,
        );
        assert!(!ok.reports_error());
        let bad = ErrorBody::parse(
            br#"{"@Message.ExtendedInfo":[{"MessageId":"IDRAC.2.1.SYS444","MessageSeverity":"Critical"}]}"#,
        );
        assert!(bad.reports_error());
        assert!(!ErrorBody::parse(b"not json").reports_error());
    }

    #[test]
    fn not_ready_is_retryable() {
        let b = ErrorBody::parse(
            br#"{"error":{"@Message.ExtendedInfo":[{"MessageId":"iLO.2.14.InvalidOperationForSystemState","Severity":"Critical"}]}}"#,
        );
        let e = Error::Status {
            method: Method::POST,
            path: "/x".into(),
            status: 400,
            retry_after: None,
            detail: Box::new(StatusDetail {
                messages: b.messages,
                ..StatusDetail::default()
            }),
        };
        assert!(e.is_retryable());
    }
}
