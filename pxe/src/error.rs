//! The crate's one error type.

/// Everything that can go wrong in `pxe`, saying where it failed.
///
/// Wire errors (`Truncated`, `Invalid`) come from parsing a datagram; the protocol cores drop
/// such datagrams (or answer them with the protocol's own error), so they reach only callers
/// who parse by hand.
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
    /// A value given by the caller cannot be used (too long, out of range).
    #[error("{what}: {reason}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A queue is full (such as the lease writer's when the disk cannot keep up); the work
    /// was refused rather than waited for, and the client retries.
    #[error("{what}: busy")]
    Busy {
        /// What is busy.
        what: &'static str,
    },
    /// An I/O error from the socket or file layer. The message never holds a server path.
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

    #[cfg(feature = "tokio")]
    pub(crate) fn io(during: &'static str, e: &std::io::Error) -> Self {
        Error::Io {
            during,
            message: e.kind().to_string(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
