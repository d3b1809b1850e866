//! IPMI commands, one type per request and one per response, grouped by net function as the
//! specification does (`app`, `chassis`, ...).
//!
//! Every request implements [`Request`] and names its [`Response`]; both have a `parse`/`emit`
//! pair over the message data (the response's data starts after the completion code), so the
//! same types serve the client ([`crate::session`]) and the BMC side ([`crate::bmc`]).
//!
//! ```
//! use ipmi_proto::cmd::{Request, Response, chassis::{GetChassisStatus, ChassisStatus}};
//! let mut data = bytes::BytesMut::new();
//! GetChassisStatus.emit(&mut data);
//! assert!(data.is_empty());
//! let status = ChassisStatus::parse(&[0x01, 0x00, 0x40]).unwrap();
//! assert!(status.power_on);
//! ```

use bytes::BytesMut;

use crate::error::Result;
use crate::message::NetFn;

pub mod app;
pub mod chassis;
pub mod fru;
pub mod lan;
pub mod sdr;
pub mod sel;
pub mod sol;

/// An IPMI request: its net function, command number and data codec.
pub trait Request: Sized {
    /// The response this request gets.
    type Response: Response;
    /// Net function of the request.
    const NETFN: NetFn;
    /// Command number.
    const CMD: u8;
    /// Append the request data to `out`.
    fn emit(&self, out: &mut BytesMut);
    /// Parse request data (the BMC side).
    fn parse(data: &[u8]) -> Result<Self>;
}

/// A successful response's data (after the completion code).
pub trait Response: Sized {
    /// Parse response data.
    fn parse(data: &[u8]) -> Result<Self>;
    /// Append the response data to `out` (the BMC side).
    fn emit(&self, out: &mut BytesMut);
}

/// Responses with no data.
impl Response for () {
    fn parse(_data: &[u8]) -> Result<Self> {
        Ok(())
    }
    fn emit(&self, _out: &mut BytesMut) {}
}

/// A command the caller builds by hand: net function, command and data bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Net function (request value).
    pub netfn: u8,
    /// Command number.
    pub cmd: u8,
    /// Request data.
    pub data: Vec<u8>,
}

impl RawRequest {
    /// Encode a typed request as raw bytes.
    pub fn from_request<R: Request>(r: &R) -> Self {
        let mut data = BytesMut::new();
        r.emit(&mut data);
        RawRequest {
            netfn: R::NETFN.request_value(),
            cmd: R::CMD,
            data: data.to_vec(),
        }
    }
}

/// Privilege levels (IPMI v2.0 section 6.8), as requested in Open Session and RAKP 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Privilege {
    /// 1: Callback.
    Callback,
    /// 2: User.
    User,
    /// 3: Operator.
    Operator,
    /// 4: Administrator.
    Administrator,
    /// 5: OEM proprietary.
    Oem,
}

impl Privilege {
    /// The 4-bit wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Callback => 1,
            Self::User => 2,
            Self::Operator => 3,
            Self::Administrator => 4,
            Self::Oem => 5,
        }
    }

    /// Decode a 4-bit value; 0 ("highest available") and reserved values give `None`.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v & 0x0f {
            1 => Some(Self::Callback),
            2 => Some(Self::User),
            3 => Some(Self::Operator),
            4 => Some(Self::Administrator),
            5 => Some(Self::Oem),
            _ => None,
        }
    }
}

impl std::str::FromStr for Privilege {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "CALLBACK" => Ok(Self::Callback),
            "USER" => Ok(Self::User),
            "OPERATOR" => Ok(Self::Operator),
            "ADMINISTRATOR" | "ADMIN" => Ok(Self::Administrator),
            "OEM" => Ok(Self::Oem),
            _ => Err(crate::Error::InvalidArgument {
                what: "privilege level",
                reason: "expected CALLBACK, USER, OPERATOR, ADMINISTRATOR or OEM",
            }),
        }
    }
}

macro_rules! completion_codes {
    ($( $(#[$m:meta])* $name:ident = $val:literal, $text:literal; )*) => {
        /// A completion code (IPMI v2.0 table 5-2), with its meaning from [`CompletionCode::meaning`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum CompletionCode {
            $( $(#[$m])* #[doc = $text] $name, )*
            /// 0x01..=0x7E: a command-specific code.
            CommandSpecific(u8),
            /// 0x80..=0xBE: a device-specific (OEM) code.
            Oem(u8),
            /// A reserved value.
            Reserved(u8),
        }

        impl CompletionCode {
            /// Decode a completion code.
            pub fn from_u8(v: u8) -> Self {
                match v {
                    $( $val => Self::$name, )*
                    0x01..=0x7e => Self::CommandSpecific(v),
                    0x80..=0xbe => Self::Oem(v),
                    _ => Self::Reserved(v),
                }
            }

            /// The wire value.
            pub fn to_u8(self) -> u8 {
                match self {
                    $( Self::$name => $val, )*
                    Self::CommandSpecific(v) | Self::Oem(v) | Self::Reserved(v) => v,
                }
            }

            /// The specification's wording for this code.
            pub fn meaning(self) -> &'static str {
                match self {
                    $( Self::$name => $text, )*
                    Self::CommandSpecific(_) => "Command-specific completion code",
                    Self::Oem(_) => "Device-specific (OEM) completion code",
                    Self::Reserved(_) => "Reserved completion code",
                }
            }
        }
    };
}

completion_codes! {
    Ok = 0x00, "Command Completed Normally";
    NodeBusy = 0xc0, "Node Busy";
    InvalidCommand = 0xc1, "Invalid Command";
    InvalidCommandForLun = 0xc2, "Invalid Command on LUN";
    Timeout = 0xc3, "Timeout while processing command";
    OutOfSpace = 0xc4, "Out of space";
    ReservationCancelled = 0xc5, "Reservation cancelled or invalid";
    RequestTruncated = 0xc6, "Request data truncated";
    RequestLengthInvalid = 0xc7, "Request data length invalid";
    RequestTooLong = 0xc8, "Request data field length limit exceeded";
    ParameterOutOfRange = 0xc9, "Parameter out of range";
    CannotReturnBytes = 0xca, "Cannot return number of requested data bytes";
    NotPresent = 0xcb, "Requested sensor, data, or record not found";
    InvalidDataField = 0xcc, "Invalid data field in request";
    IllegalForSensor = 0xcd, "Command illegal for specified sensor or record type";
    CannotRespond = 0xce, "Command response could not be provided";
    DuplicateRequest = 0xcf, "Cannot execute duplicated request";
    SdrUpdateMode = 0xd0, "SDR Repository in update mode";
    FirmwareUpdateMode = 0xd1, "Device firmware in update mode";
    InitInProgress = 0xd2, "BMC initialization in progress";
    DestinationUnavailable = 0xd3, "Destination unavailable";
    InsufficientPrivilege = 0xd4, "Insufficient privilege level";
    NotSupportedInState = 0xd5, "Command not supported in present state";
    SubfunctionDisabled = 0xd6, "Cannot execute command, command disabled";
    Unspecified = 0xff, "Unspecified error";
}

impl CompletionCode {
    /// Whether the same command may succeed if sent again later.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::NodeBusy
                | Self::Timeout
                | Self::OutOfSpace
                | Self::SdrUpdateMode
                | Self::FirmwareUpdateMode
                | Self::InitInProgress
                | Self::ReservationCancelled
        )
    }
}

impl std::fmt::Display for CompletionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:02x})", self.meaning(), self.to_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_codes_round_trip() {
        for v in 0..=255u8 {
            let c = CompletionCode::from_u8(v);
            assert_eq!(c.to_u8(), v);
            assert!(!c.meaning().is_empty());
        }
        assert_eq!(
            CompletionCode::from_u8(0xd4).to_string(),
            "Insufficient privilege level (0xd4)"
        );
    }
}
