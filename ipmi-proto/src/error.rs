//! The crate's one error type.

use crate::cmd::CompletionCode;
use crate::rakp::RakpStatus;

/// Everything that can go wrong in `ipmi-proto`, saying where it failed.
///
/// Wire errors (`Truncated`, `Invalid`, `Checksum`) come from parsing a datagram; the session
/// core drops such datagrams and counts them, so they only reach callers who parse by hand.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A field ran past the end of the datagram.
    #[error("{what}: truncated")]
    Truncated {
        /// The structure or field being parsed.
        what: &'static str,
    },
    /// A field holds a value the protocol does not allow.
    #[error("{what}: invalid ({reason})")]
    Invalid {
        /// The structure or field being parsed.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A checksum or message authentication code did not match.
    #[error("{what}: checksum or authentication code mismatch")]
    Checksum {
        /// Which checksum or code.
        what: &'static str,
    },
    /// A value given by the caller cannot be sent (too long, out of range).
    #[error("{what}: {reason}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The BMC answered a command with a non-zero completion code.
    #[error("command netfn {netfn:#04x} cmd {cmd:#04x} failed: {code}")]
    Completion {
        /// Network function of the request.
        netfn: u8,
        /// Command number.
        cmd: u8,
        /// The completion code with its meaning.
        code: CompletionCode,
    },
    /// The BMC refused the login: wrong password, unknown user, or a privilege it will not grant.
    #[error("authentication failed: {reason}")]
    Authentication {
        /// What the BMC (or our check of its answer) said.
        reason: String,
    },
    /// The BMC refused a session set-up step with an RMCP+ status code.
    #[error("session set-up refused at {stage}: {status}")]
    SessionRefused {
        /// Which message carried the refusal.
        stage: &'static str,
        /// The RMCP+ status code.
        status: RakpStatus,
    },
    /// No cipher suite both sides support (or the one asked for is not offered).
    #[error(
        "no usable cipher suite ({}): the BMC offers {offered:?}, this client allows {supported:?}",
        match .requested { Some(id) => format!("suite {id} was asked for"), None => "automatic choice".to_string() }
    )]
    UnsupportedCipherSuite {
        /// The suite asked for (`None` for automatic selection).
        requested: Option<u8>,
        /// Suites the BMC listed (empty when it did not answer Get Channel Cipher Suites).
        offered: Vec<u8>,
        /// Suites this client allows under its configuration.
        supported: Vec<u8>,
    },
    /// The BMC does not speak IPMI v2.0 / RMCP+.
    #[error("the BMC does not support IPMI v2.0 (RMCP+)")]
    NoIpmi20,
    /// No answer within the retries and the deadline.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What we were waiting for.
        what: &'static str,
    },
    /// The session is closed (by the caller, or after a fatal error).
    #[error("session closed")]
    SessionClosed,
    /// An I/O error from the socket layer (async client and server only).
    #[error("I/O error during {during}: {message}")]
    Io {
        /// What was being done.
        during: &'static str,
        /// The OS error text.
        message: String,
    },
}

impl Error {
    pub(crate) fn truncated(what: &'static str) -> Self {
        Error::Truncated { what }
    }

    pub(crate) fn invalid(what: &'static str, reason: &'static str) -> Self {
        Error::Invalid { what, reason }
    }

    /// Whether trying again later (a new session, a later call) may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Io { .. } | Error::SessionClosed => true,
            Error::Completion { code, .. } => code.is_transient(),
            Error::SessionRefused { status, .. } => status.is_transient(),
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
