//! Session options and their builder.

use std::time::Duration;

use crate::cmd::Privilege;
use crate::crypto::{CipherSuite, Secret};
use crate::error::{Error, Result};

/// How the cipher suite is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuiteChoice {
    /// Ask the BMC (Get Channel Cipher Suites) and take the strongest suite both sides support;
    /// if the BMC does not answer, try 17, then 3.
    Auto,
    /// Use exactly this suite; if the BMC refuses it, the error lists what it offers.
    Fixed(u8),
}

/// How the BMC looks the user up in RAKP 1 (the role byte's bit 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Name-only lookup (bit set): the BMC finds the user by name; the default of ipmitool.
    NameOnly,
    /// Name and privilege lookup (bit clear).
    NameAndPrivilege,
}

/// Options of one client session. Build with [`SessionConfig::builder`].
///
/// `Debug` never shows the password or K_g.
#[derive(Clone)]
pub struct SessionConfig {
    pub(crate) username: Vec<u8>,
    pub(crate) password: Secret,
    pub(crate) kg: Option<Secret>,
    pub(crate) privilege: Privilege,
    pub(crate) suite: SuiteChoice,
    pub(crate) lookup: Lookup,
    pub(crate) allow_insecure: bool,
    pub(crate) retransmit_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) request_deadline: Duration,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) reestablish: bool,
    pub(crate) pacing: Duration,
    pub(crate) channel: u8,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &"<redacted>")
            .field("kg", &self.kg.as_ref().map(|_| "<redacted>"))
            .field("privilege", &self.privilege)
            .field("suite", &self.suite)
            .field("lookup", &self.lookup)
            .field("allow_insecure", &self.allow_insecure)
            .field("retransmit_timeout", &self.retransmit_timeout)
            .field("retries", &self.retries)
            .field("request_deadline", &self.request_deadline)
            .field("keepalive", &self.keepalive)
            .field("reestablish", &self.reestablish)
            .field("pacing", &self.pacing)
            .finish()
    }
}

impl SessionConfig {
    /// Start a builder for `username` / `password` with the defaults: automatic suite choice
    /// (never suite 0), ADMINISTRATOR privilege, name-only lookup, 1 s retransmission timeout,
    /// 4 retries, a 20 s deadline per request, re-establishment on a lost session, no keepalive.
    ///
    /// ```
    /// use ipmi_proto::session::{SessionConfig, SuiteChoice};
    /// let cfg = SessionConfig::builder("admin", "password")
    ///     .cipher_suite(SuiteChoice::Fixed(17))
    ///     .build()
    ///     .unwrap();
    /// assert!(!format!("{cfg:?}").contains("password\""));
    /// // Over-long credentials are refused, not truncated.
    /// assert!(SessionConfig::builder("admin", "x".repeat(21)).build().is_err());
    /// ```
    pub fn builder(
        username: impl Into<Vec<u8>>,
        password: impl Into<Vec<u8>>,
    ) -> SessionConfigBuilder {
        SessionConfigBuilder {
            cfg: SessionConfig {
                username: username.into(),
                password: Secret::new(password),
                kg: None,
                privilege: Privilege::Administrator,
                suite: SuiteChoice::Auto,
                lookup: Lookup::NameOnly,
                allow_insecure: false,
                retransmit_timeout: Duration::from_secs(1),
                retries: 4,
                request_deadline: Duration::from_secs(20),
                keepalive: None,
                reestablish: true,
                pacing: Duration::ZERO,
                channel: 0x0e,
            },
        }
    }

    /// The user name.
    pub fn username(&self) -> &[u8] {
        &self.username
    }

    /// The requested privilege level.
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// Suites this configuration may use, strongest first.
    pub fn allowed_suites(&self) -> Vec<u8> {
        match self.suite {
            SuiteChoice::Fixed(id) => vec![id],
            SuiteChoice::Auto => CipherSuite::ALL
                .iter()
                .filter(|s| self.allow_insecure || !s.is_insecure())
                .map(|s| s.id)
                .collect(),
        }
    }
}

/// Builder of [`SessionConfig`].
#[derive(Debug, Clone)]
pub struct SessionConfigBuilder {
    cfg: SessionConfig,
}

impl SessionConfigBuilder {
    /// The BMC key K_g (two-key login), at most 20 bytes.
    pub fn kg(mut self, kg: impl Into<Vec<u8>>) -> Self {
        self.cfg.kg = Some(Secret::new(kg));
        self
    }
    /// Privilege level to request (default ADMINISTRATOR).
    pub fn privilege(mut self, p: Privilege) -> Self {
        self.cfg.privilege = p;
        self
    }
    /// Cipher suite choice (default [`SuiteChoice::Auto`]).
    pub fn cipher_suite(mut self, s: SuiteChoice) -> Self {
        self.cfg.suite = s;
        self
    }
    /// User lookup mode (default name-only).
    pub fn lookup(mut self, l: Lookup) -> Self {
        self.cfg.lookup = l;
        self
    }
    /// Allow cipher suite 0 (no authentication, integrity or encryption). Off by default: a BMC
    /// that accepts suite 0 lets anyone in with any password.
    pub fn allow_insecure(mut self, yes: bool) -> Self {
        self.cfg.allow_insecure = yes;
        self
    }
    /// Time to wait for an answer before retransmitting (default 1 s).
    pub fn retransmit_timeout(mut self, t: Duration) -> Self {
        self.cfg.retransmit_timeout = t;
        self
    }
    /// Retransmissions per message before giving up (default 4).
    pub fn retries(mut self, n: u32) -> Self {
        self.cfg.retries = n;
        self
    }
    /// Overall deadline of one request, session set-up included (default 20 s).
    pub fn request_deadline(mut self, t: Duration) -> Self {
        self.cfg.request_deadline = t;
        self
    }
    /// Send a Get Device ID when the session has been idle this long (default: never).
    pub fn keepalive(mut self, every: Option<Duration>) -> Self {
        self.cfg.keepalive = every;
        self
    }
    /// Re-open the session once when a command times out on an established session
    /// (the BMC may have dropped it). Default on.
    pub fn reestablish(mut self, yes: bool) -> Self {
        self.cfg.reestablish = yes;
        self
    }
    /// Minimum interval between two new requests to this BMC (default none). Retransmissions are
    /// not paced.
    pub fn pacing(mut self, min_interval: Duration) -> Self {
        self.cfg.pacing = min_interval;
        self
    }
    /// Validate and build.
    pub fn build(self) -> Result<SessionConfig> {
        let c = &self.cfg;
        if c.username.len() > 16 {
            return Err(Error::InvalidArgument {
                what: "user name",
                reason: "longer than the 16 bytes IPMI allows",
            });
        }
        if c.password.len() > 20 {
            return Err(Error::InvalidArgument {
                what: "password",
                reason: "longer than the 20 bytes IPMI v2.0 allows",
            });
        }
        if c.kg.as_ref().is_some_and(|k| k.len() > 20) {
            return Err(Error::InvalidArgument {
                what: "K_g",
                reason: "longer than 20 bytes",
            });
        }
        if let SuiteChoice::Fixed(id) = c.suite {
            match CipherSuite::by_id(id) {
                None => {
                    return Err(Error::UnsupportedCipherSuite {
                        requested: Some(id),
                        offered: Vec::new(),
                        supported: CipherSuite::ALL.iter().map(|s| s.id).collect(),
                    });
                }
                Some(s) if s.is_insecure() && !c.allow_insecure => {
                    return Err(Error::InvalidArgument {
                        what: "cipher suite 0",
                        reason: "insecure (no authentication); enable allow_insecure to use it",
                    });
                }
                Some(_) => {}
            }
        }
        if c.retransmit_timeout.is_zero() {
            return Err(Error::InvalidArgument {
                what: "retransmit timeout",
                reason: "must be positive",
            });
        }
        Ok(self.cfg)
    }
}
