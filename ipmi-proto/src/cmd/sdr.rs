//! Sensor Data Records and sensor readings.
//!
//! * The SDR repository commands (Storage net function 0x0A): Get SDR Repository Info,
//!   Reserve SDR Repository and Get SDR with partial reads ([`GetSdr::plan`]).
//! * The record formats (IPMI v2.0 section 43): [`Sdr`] with a [`SdrRecord`] for full and
//!   compact sensors, event-only sensors, FRU and management controller device locators.
//! * Reading conversion (section 36.3): [`ConversionFactors::convert`] and the unit names of
//!   table 43-15 ([`unit_name`]).
//! * Get Sensor Reading and Get Sensor Thresholds (Sensor/Event net function 0x04).
//!
//! ```
//! use ipmi_proto::cmd::sdr::{AnalogFormat, ConversionFactors, Linearization};
//! let fan = ConversionFactors {
//!     format: AnalogFormat::Unsigned,
//!     linearization: Linearization::Linear,
//!     m: 50,
//!     b: 0,
//!     b_exp: 0,
//!     r_exp: 0,
//! };
//! assert_eq!(fan.convert(96), Some(4800.0));
//! ```

use bytes::{BufMut, BytesMut};

use super::fru::{EncodedString, StringKind, decode_latin1};
use super::{Request, Response};
use crate::error::{Error, Result};
use crate::message::NetFn;
use crate::wire::{self, array, le_u16, le_u32, take, u8_};

/// The SDR version byte of IPMI v1.5/v2.0 records and repositories (BCD 5.1 with the digits
/// swapped).
pub const SDR_VERSION: u8 = 0x51;

/// `bytes_to_read` value of Get SDR meaning "the entire record".
pub const READ_ENTIRE_RECORD: u8 = 0xff;

/// Record id of the first record (Get SDR).
pub const FIRST_RECORD: u16 = 0x0000;

/// Next record id returned after the last record.
pub const LAST_RECORD: u16 = 0xffff;

/// The longest ID string a type/length byte can describe in an SDR (5-bit length; records
/// hold at most 16 bytes).
pub const MAX_ID_LEN: usize = 31;

// ---------------------------------------------------------------------------------------------
// Repository commands
// ---------------------------------------------------------------------------------------------

/// Get SDR Repository Info (Storage 0x20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetSdrRepositoryInfo;

/// The Get SDR Repository Info response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdrRepositoryInfo {
    /// SDR version (0x51).
    pub version: u8,
    /// Number of records.
    pub record_count: u16,
    /// Free space in bytes (0xFFFF: unspecified).
    pub free_space: u16,
    /// Most recent addition timestamp (seconds since 1970; 0xFFFFFFFF: unspecified).
    pub last_addition: u32,
    /// Most recent erase timestamp.
    pub last_erase: u32,
    /// Operation support: bit 7 overflow, bits 6:5 modal/non-modal update support, bit 3
    /// Delete SDR, bit 2 Partial Add SDR, bit 1 Reserve SDR Repository, bit 0 Get SDR
    /// Repository Allocation Info supported.
    pub operation_support: u8,
}

impl SdrRepositoryInfo {
    /// Whether an SDR could not be written for lack of space.
    pub fn overflow(&self) -> bool {
        self.operation_support & 0x80 != 0
    }

    /// Whether Reserve SDR Repository is supported.
    pub fn supports_reserve(&self) -> bool {
        self.operation_support & 0x02 != 0
    }
}

impl Request for GetSdrRepositoryInfo {
    type Response = SdrRepositoryInfo;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x20;
    fn emit(&self, _out: &mut BytesMut) {}
    fn parse(_data: &[u8]) -> Result<Self> {
        Ok(GetSdrRepositoryInfo)
    }
}

impl Response for SdrRepositoryInfo {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get SDR Repository Info response";
        let (i, version) = wire::ctx(what, u8_(data))?;
        let (i, record_count) = wire::ctx(what, le_u16(i))?;
        let (i, free_space) = wire::ctx(what, le_u16(i))?;
        let (i, last_addition) = wire::ctx(what, le_u32(i))?;
        let (i, last_erase) = wire::ctx(what, le_u32(i))?;
        let (_, operation_support) = wire::ctx(what, u8_(i))?;
        Ok(SdrRepositoryInfo {
            version,
            record_count,
            free_space,
            last_addition,
            last_erase,
            operation_support,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.version);
        out.put_u16_le(self.record_count);
        out.put_u16_le(self.free_space);
        out.put_u32_le(self.last_addition);
        out.put_u32_le(self.last_erase);
        out.put_u8(self.operation_support);
    }
}

/// Reserve SDR Repository (Storage 0x22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReserveSdrRepository;

/// A reservation id for partial SDR reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SdrReservation(pub u16);

impl Request for ReserveSdrRepository {
    type Response = SdrReservation;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x22;
    fn emit(&self, _out: &mut BytesMut) {}
    fn parse(_data: &[u8]) -> Result<Self> {
        Ok(ReserveSdrRepository)
    }
}

impl Response for SdrReservation {
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, id) = wire::ctx("Reserve SDR Repository response", le_u16(data))?;
        Ok(SdrReservation(id))
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.0);
    }
}

/// Get SDR (Storage 0x23): all or part of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetSdr {
    /// Reservation id (needed for partial reads; 0 when reading whole records).
    pub reservation_id: u16,
    /// Record id ([`FIRST_RECORD`] for the first).
    pub record_id: u16,
    /// Offset into the record.
    pub offset: u8,
    /// Bytes to read ([`READ_ENTIRE_RECORD`] for all).
    pub bytes_to_read: u8,
}

impl GetSdr {
    /// Read the 5-byte record header of `record_id`.
    pub fn header(reservation_id: u16, record_id: u16) -> Self {
        GetSdr {
            reservation_id,
            record_id,
            offset: 0,
            bytes_to_read: SdrHeader::LEN as u8,
        }
    }

    /// The partial reads covering the first `total_len` bytes of a record (header included,
    /// see [`SdrHeader::total_len`]) in chunks of at most `max_chunk` bytes (0 is taken as 1).
    /// Reads stop at offset 255, the largest the request can express.
    pub fn plan(reservation_id: u16, record_id: u16, total_len: u16, max_chunk: u8) -> Vec<Self> {
        let chunk = u16::from(max_chunk.max(1));
        let mut v = Vec::new();
        let mut off = 0u16;
        while off < total_len {
            let Ok(offset) = u8::try_from(off) else {
                break;
            };
            let n = chunk.min(total_len - off);
            v.push(GetSdr {
                reservation_id,
                record_id,
                offset,
                bytes_to_read: u8::try_from(n).unwrap_or(u8::MAX),
            });
            off += n;
        }
        v
    }
}

/// The Get SDR response: the next record id and the bytes read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdrData {
    /// Record id of the next record ([`LAST_RECORD`] after the last).
    pub next_record_id: u16,
    /// The record bytes read.
    pub data: Vec<u8>,
}

impl Request for GetSdr {
    type Response = SdrData;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x23;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.reservation_id);
        out.put_u16_le(self.record_id);
        out.put_u8(self.offset);
        out.put_u8(self.bytes_to_read);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get SDR request";
        let (i, reservation_id) = wire::ctx(what, le_u16(data))?;
        let (i, record_id) = wire::ctx(what, le_u16(i))?;
        let (i, offset) = wire::ctx(what, u8_(i))?;
        let (_, bytes_to_read) = wire::ctx(what, u8_(i))?;
        Ok(GetSdr {
            reservation_id,
            record_id,
            offset,
            bytes_to_read,
        })
    }
}

impl Response for SdrData {
    fn parse(data: &[u8]) -> Result<Self> {
        let (rest, next_record_id) = wire::ctx("Get SDR response", le_u16(data))?;
        Ok(SdrData {
            next_record_id,
            data: rest.to_vec(),
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.next_record_id);
        out.put_slice(&self.data);
    }
}

// ---------------------------------------------------------------------------------------------
// Units and conversion
// ---------------------------------------------------------------------------------------------

/// The sensor unit type codes of IPMI v2.0 table 43-15, as ipmitool names them.
const UNIT_NAMES: [&str; 93] = [
    "unspecified",
    "degrees C",
    "degrees F",
    "degrees K",
    "Volts",
    "Amps",
    "Watts",
    "Joules",
    "Coulombs",
    "VA",
    "Nits",
    "lumen",
    "lux",
    "Candela",
    "kPa",
    "PSI",
    "Newton",
    "CFM",
    "RPM",
    "Hz",
    "microsecond",
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "mil",
    "inches",
    "feet",
    "cu in",
    "cu feet",
    "mm",
    "cm",
    "m",
    "cu cm",
    "cu m",
    "liters",
    "fluid ounce",
    "radians",
    "steradians",
    "revolutions",
    "cycles",
    "gravities",
    "ounce",
    "pound",
    "ft-lb",
    "oz-in",
    "gauss",
    "gilberts",
    "henry",
    "millihenry",
    "farad",
    "microfarad",
    "ohms",
    "siemens",
    "mole",
    "becquerel",
    "PPM",
    "reserved",
    "Decibels",
    "DbA",
    "DbC",
    "gray",
    "sievert",
    "color temp deg K",
    "bit",
    "kilobit",
    "megabit",
    "gigabit",
    "byte",
    "kilobyte",
    "megabyte",
    "gigabyte",
    "word",
    "dword",
    "qword",
    "line",
    "hit",
    "miss",
    "retry",
    "reset",
    "overflow",
    "underrun",
    "collision",
    "packets",
    "messages",
    "characters",
    "error",
    "correctable error",
    "uncorrectable error",
    "fatal error",
    "grams",
];

/// The name of a sensor unit type code (IPMI v2.0 table 43-15); unknown codes are
/// "unspecified".
pub fn unit_name(code: u8) -> &'static str {
    UNIT_NAMES
        .get(usize::from(code))
        .copied()
        .unwrap_or("unspecified")
}

/// Analog data format (sensor units 1, bits 7:6): how a raw reading is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnalogFormat {
    /// 00b: unsigned.
    Unsigned,
    /// 01b: 1's complement (signed).
    OnesComplement,
    /// 10b: 2's complement (signed).
    TwosComplement,
    /// 11b: the sensor does not return an analog (numeric) reading.
    NoReading,
}

impl AnalogFormat {
    /// Decode the 2-bit field (the low two bits of `v`).
    pub fn from_bits(v: u8) -> Self {
        match v & 3 {
            0 => Self::Unsigned,
            1 => Self::OnesComplement,
            2 => Self::TwosComplement,
            _ => Self::NoReading,
        }
    }

    /// The 2-bit field.
    pub fn bits(self) -> u8 {
        match self {
            Self::Unsigned => 0,
            Self::OnesComplement => 1,
            Self::TwosComplement => 2,
            Self::NoReading => 3,
        }
    }

    /// The raw reading as a number under this format; `None` for [`AnalogFormat::NoReading`].
    pub fn value(self, raw: u8) -> Option<f64> {
        match self {
            Self::Unsigned => Some(f64::from(raw)),
            Self::OnesComplement if raw & 0x80 != 0 => Some(-f64::from(!raw)),
            Self::OnesComplement => Some(f64::from(raw)),
            Self::TwosComplement => Some(f64::from(i8::from_le_bytes([raw]))),
            Self::NoReading => None,
        }
    }
}

/// Rate unit (sensor units 1, bits 5:3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateUnit {
    /// 000b: none.
    None,
    /// 001b: per microsecond.
    PerMicrosecond,
    /// 010b: per millisecond.
    PerMillisecond,
    /// 011b: per second.
    PerSecond,
    /// 100b: per minute.
    PerMinute,
    /// 101b: per hour.
    PerHour,
    /// 110b: per day.
    PerDay,
    /// 111b: reserved.
    Reserved,
}

impl RateUnit {
    /// Decode the 3-bit field (the low three bits of `v`).
    pub fn from_bits(v: u8) -> Self {
        match v & 7 {
            0 => Self::None,
            1 => Self::PerMicrosecond,
            2 => Self::PerMillisecond,
            3 => Self::PerSecond,
            4 => Self::PerMinute,
            5 => Self::PerHour,
            6 => Self::PerDay,
            _ => Self::Reserved,
        }
    }

    /// The 3-bit field.
    pub fn bits(self) -> u8 {
        match self {
            Self::None => 0,
            Self::PerMicrosecond => 1,
            Self::PerMillisecond => 2,
            Self::PerSecond => 3,
            Self::PerMinute => 4,
            Self::PerHour => 5,
            Self::PerDay => 6,
            Self::Reserved => 7,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::PerMicrosecond => " per microsecond",
            Self::PerMillisecond => " per millisecond",
            Self::PerSecond => " per second",
            Self::PerMinute => " per minute",
            Self::PerHour => " per hour",
            Self::PerDay => " per day",
            Self::None | Self::Reserved => "",
        }
    }
}

/// How the modifier unit combines with the base unit (sensor units 1, bits 2:1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModifierUnit {
    /// 00b: no modifier unit.
    None,
    /// 01b: base unit / modifier unit.
    Divide,
    /// 10b: base unit * modifier unit.
    Multiply,
    /// 11b: reserved.
    Reserved,
}

impl ModifierUnit {
    /// Decode the 2-bit field (the low two bits of `v`).
    pub fn from_bits(v: u8) -> Self {
        match v & 3 {
            0 => Self::None,
            1 => Self::Divide,
            2 => Self::Multiply,
            _ => Self::Reserved,
        }
    }

    /// The 2-bit field.
    pub fn bits(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Divide => 1,
            Self::Multiply => 2,
            Self::Reserved => 3,
        }
    }
}

/// The sensor units bytes of full and compact sensor records (units 1, 2 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorUnits {
    /// Analog data format.
    pub format: AnalogFormat,
    /// Rate unit.
    pub rate: RateUnit,
    /// How `modifier_unit` applies.
    pub modifier: ModifierUnit,
    /// The reading is a percentage.
    pub percentage: bool,
    /// Base unit type code ([`unit_name`]).
    pub base: u8,
    /// Modifier unit type code.
    pub modifier_unit: u8,
}

impl SensorUnits {
    /// Decode the three units bytes.
    pub fn from_bytes([u1, base, modifier_unit]: [u8; 3]) -> Self {
        SensorUnits {
            format: AnalogFormat::from_bits(u1 >> 6),
            rate: RateUnit::from_bits(u1 >> 3),
            modifier: ModifierUnit::from_bits(u1 >> 1),
            percentage: u1 & 1 != 0,
            base,
            modifier_unit,
        }
    }

    /// The three units bytes.
    pub fn to_bytes(&self) -> [u8; 3] {
        [
            (self.format.bits() << 6)
                | (self.rate.bits() << 3)
                | (self.modifier.bits() << 1)
                | u8::from(self.percentage),
            self.base,
            self.modifier_unit,
        ]
    }

    /// The units as text, e.g. `degrees C`, `% Watts`, `Amps/second`, `RPM per minute`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if self.percentage {
            s.push_str("% ");
        }
        s.push_str(unit_name(self.base));
        match self.modifier {
            ModifierUnit::Divide => {
                s.push('/');
                s.push_str(unit_name(self.modifier_unit));
            }
            ModifierUnit::Multiply => {
                s.push('*');
                s.push_str(unit_name(self.modifier_unit));
            }
            ModifierUnit::None | ModifierUnit::Reserved => {}
        }
        s.push_str(self.rate.suffix());
        s
    }
}

/// The linearization code of a full sensor record (byte 24, bits 6:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Linearization {
    /// 0: linear.
    Linear,
    /// 1: ln (natural logarithm).
    Ln,
    /// 2: log10.
    Log10,
    /// 3: log2.
    Log2,
    /// 4: e^x.
    E,
    /// 5: 10^x.
    Exp10,
    /// 6: 2^x.
    Exp2,
    /// 7: 1/x.
    Reciprocal,
    /// 8: x².
    Sqr,
    /// 9: x³.
    Cube,
    /// 10: √x.
    Sqrt,
    /// 11: ∛x.
    CubeRoot,
    /// 0x70..=0x7F: non-linear (0x70) or OEM non-linear; the factors come from Get Sensor
    /// Reading Factors.
    NonLinear(u8),
    /// Any other (reserved) value.
    Reserved(u8),
}

impl Linearization {
    /// Decode the 7-bit code (bit 7 is ignored).
    pub fn from_u8(v: u8) -> Self {
        match v & 0x7f {
            0 => Self::Linear,
            1 => Self::Ln,
            2 => Self::Log10,
            3 => Self::Log2,
            4 => Self::E,
            5 => Self::Exp10,
            6 => Self::Exp2,
            7 => Self::Reciprocal,
            8 => Self::Sqr,
            9 => Self::Cube,
            10 => Self::Sqrt,
            11 => Self::CubeRoot,
            v @ 0x70..=0x7f => Self::NonLinear(v),
            v => Self::Reserved(v),
        }
    }

    /// The 7-bit code.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Linear => 0,
            Self::Ln => 1,
            Self::Log10 => 2,
            Self::Log2 => 3,
            Self::E => 4,
            Self::Exp10 => 5,
            Self::Exp2 => 6,
            Self::Reciprocal => 7,
            Self::Sqr => 8,
            Self::Cube => 9,
            Self::Sqrt => 10,
            Self::CubeRoot => 11,
            Self::NonLinear(v) | Self::Reserved(v) => v & 0x7f,
        }
    }

    /// Apply the function to `x`.
    fn apply(self, x: f64) -> Option<f64> {
        Some(match self {
            Self::Linear | Self::NonLinear(_) => x,
            Self::Ln => x.ln(),
            Self::Log10 => x.log10(),
            Self::Log2 => x.log2(),
            Self::E => x.exp(),
            Self::Exp10 => 10f64.powf(x),
            Self::Exp2 => x.exp2(),
            Self::Reciprocal => x.recip(),
            Self::Sqr => x * x,
            Self::Cube => x * x * x,
            Self::Sqrt => x.sqrt(),
            Self::CubeRoot => x.cbrt(),
            Self::Reserved(_) => return None,
        })
    }
}

/// `v * 10^exp`, dividing for negative exponents so that e.g. 1200 * 10^-2 is exactly 12.
fn scale10(v: f64, exp: i8) -> f64 {
    let p = 10f64.powi(i32::from(exp.unsigned_abs()));
    if exp < 0 { v / p } else { v * p }
}

/// The conversion factors of a sensor: `y = L[(M*x + B * 10^Bexp) * 10^Rexp]`
/// (IPMI v2.0 section 36.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConversionFactors {
    /// Signedness of the raw reading.
    pub format: AnalogFormat,
    /// The function `L`.
    pub linearization: Linearization,
    /// M (10-bit signed).
    pub m: i16,
    /// B (10-bit signed).
    pub b: i16,
    /// B exponent (4-bit signed).
    pub b_exp: i8,
    /// Result exponent R (4-bit signed).
    pub r_exp: i8,
}

impl ConversionFactors {
    /// Convert a raw reading; `None` when the sensor has no analog reading, the linearization
    /// is reserved, or the result is not finite (1/0, ln of a negative number...).
    ///
    /// Non-linear sensors (0x70..=0x7F) are converted with these factors as if linear; the
    /// right factors for a given reading come from Get Sensor Reading Factors.
    pub fn convert(&self, raw: u8) -> Option<f64> {
        let x = self.format.value(raw)?;
        let linear = scale10(
            f64::from(self.m) * x + scale10(f64::from(self.b), self.b_exp),
            self.r_exp,
        );
        let y = self.linearization.apply(linear)?;
        y.is_finite().then_some(y)
    }
}

fn sign_extend(v: u16, bits: u32) -> i16 {
    let shift = 16 - bits;
    ((v << shift) as i16) >> shift
}

fn sign_extend4(v: u8) -> i8 {
    ((v << 4) as i8) >> 4
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// The 5-byte header every SDR starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SdrHeader {
    /// Record id.
    pub record_id: u16,
    /// SDR version ([`SDR_VERSION`]).
    pub version: u8,
    /// Record type.
    pub record_type: u8,
    /// Number of record bytes after the header.
    pub length: u8,
}

impl SdrHeader {
    /// Header length in bytes.
    pub const LEN: usize = 5;

    /// Parse the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        Ok(Self::parse_rest(data)?.1)
    }

    fn parse_rest(data: &[u8]) -> Result<(&[u8], Self)> {
        let what = "SDR header";
        let (i, record_id) = wire::ctx(what, le_u16(data))?;
        let (i, version) = wire::ctx(what, u8_(i))?;
        let (i, record_type) = wire::ctx(what, u8_(i))?;
        let (i, length) = wire::ctx(what, u8_(i))?;
        Ok((
            i,
            SdrHeader {
                record_id,
                version,
                record_type,
                length,
            },
        ))
    }

    /// The header bytes.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.record_id);
        out.put_u8(self.version);
        out.put_u8(self.record_type);
        out.put_u8(self.length);
    }

    /// The whole record's length, header included.
    pub fn total_len(&self) -> u16 {
        Self::LEN as u16 + u16::from(self.length)
    }
}

/// Where a sensor lives: its owner, channel, LUN and number (SDR bytes 6..8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorKey {
    /// Owner id: bits 7:1 the IPMB slave address or system software id, bit 0 set for a
    /// software id.
    pub owner_id: u8,
    /// Channel number of the owner (4 bits).
    pub channel: u8,
    /// Owner LUN (2 bits).
    pub lun: u8,
    /// Sensor number.
    pub number: u8,
}

impl SensorKey {
    fn parse<'a>(what: &'static str, i: &'a [u8]) -> Result<(&'a [u8], Self)> {
        let (i, [owner_id, lun, number]) = wire::ctx(what, array::<3>(i))?;
        Ok((
            i,
            SensorKey {
                owner_id,
                channel: lun >> 4,
                lun: lun & 3,
                number,
            },
        ))
    }

    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.owner_id);
        out.put_u8(((self.channel & 0x0f) << 4) | (self.lun & 3));
        out.put_u8(self.number);
    }
}

/// Threshold values in the order of the full sensor record (bytes 37..42).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Thresholds {
    /// Upper non-recoverable.
    pub unr: u8,
    /// Upper critical.
    pub uc: u8,
    /// Upper non-critical.
    pub unc: u8,
    /// Lower non-recoverable.
    pub lnr: u8,
    /// Lower critical.
    pub lc: u8,
    /// Lower non-critical.
    pub lnc: u8,
}

impl Thresholds {
    /// The raw value of one threshold.
    pub fn get(&self, t: Threshold) -> u8 {
        match t {
            Threshold::LowerNonCritical => self.lnc,
            Threshold::LowerCritical => self.lc,
            Threshold::LowerNonRecoverable => self.lnr,
            Threshold::UpperNonCritical => self.unc,
            Threshold::UpperCritical => self.uc,
            Threshold::UpperNonRecoverable => self.unr,
        }
    }
}

/// One of the six thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Threshold {
    /// Lower non-critical (mask bit 0).
    LowerNonCritical,
    /// Lower critical (mask bit 1).
    LowerCritical,
    /// Lower non-recoverable (mask bit 2).
    LowerNonRecoverable,
    /// Upper non-critical (mask bit 3).
    UpperNonCritical,
    /// Upper critical (mask bit 4).
    UpperCritical,
    /// Upper non-recoverable (mask bit 5).
    UpperNonRecoverable,
}

impl Threshold {
    /// All six, in mask bit order.
    pub const ALL: [Threshold; 6] = [
        Self::LowerNonCritical,
        Self::LowerCritical,
        Self::LowerNonRecoverable,
        Self::UpperNonCritical,
        Self::UpperCritical,
        Self::UpperNonRecoverable,
    ];

    /// The bit of this threshold in readable/settable masks and in the threshold comparison
    /// status of Get Sensor Reading.
    pub fn mask_bit(self) -> u8 {
        match self {
            Self::LowerNonCritical => 0x01,
            Self::LowerCritical => 0x02,
            Self::LowerNonRecoverable => 0x04,
            Self::UpperNonCritical => 0x08,
            Self::UpperCritical => 0x10,
            Self::UpperNonRecoverable => 0x20,
        }
    }
}

fn parse_id_string(what: &'static str, i: &[u8]) -> Result<EncodedString> {
    let (i, tl) = wire::ctx(what, u8_(i))?;
    // Lenient: an ID string that runs past the record keeps the bytes that are there.
    Ok(EncodedString {
        kind: StringKind::from_bits(tl >> 6),
        data: i.iter().take(usize::from(tl & 0x1f)).copied().collect(),
    })
}

fn emit_id_string(s: &EncodedString, out: &mut BytesMut) {
    let n = s.data.len().min(MAX_ID_LEN);
    out.put_u8((s.kind.bits() << 6) | n as u8);
    out.put_slice(&s.data[..n]);
}

/// An SDR ID string as text: 8-bit and Unicode (as ipmitool does) strings are read as Latin-1
/// up to the first NUL; BCD plus and 6-bit ASCII are decoded.
pub fn id_string_text(s: &EncodedString) -> String {
    match s.kind {
        StringKind::Binary | StringKind::Latin1 => {
            let end: Vec<u8> = s.data.iter().copied().take_while(|b| *b != 0).collect();
            decode_latin1(&end)
        }
        _ => s.decode(),
    }
}

/// Full Sensor Record (type 0x01).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FullSensor {
    /// Owner, channel, LUN and sensor number.
    pub key: SensorKey,
    /// Entity id.
    pub entity_id: u8,
    /// Entity instance (bit 7 set: logical container entity).
    pub entity_instance: u8,
    /// Sensor initialization bits.
    pub initialization: u8,
    /// Sensor capabilities bits.
    pub capabilities: u8,
    /// Sensor type (table 42-3: 0x01 temperature, 0x02 voltage, 0x04 fan...).
    pub sensor_type: u8,
    /// Event/reading type code (0x01 threshold, 0x6F sensor-specific...).
    pub event_reading_type: u8,
    /// Assertion event mask / lower threshold reading mask.
    pub assertion_mask: u16,
    /// Deassertion event mask / upper threshold reading mask.
    pub deassertion_mask: u16,
    /// Discrete reading mask / settable and readable threshold masks.
    pub reading_mask: u16,
    /// Units.
    pub units: SensorUnits,
    /// Linearization.
    pub linearization: Linearization,
    /// M (10-bit signed).
    pub m: i16,
    /// Tolerance (6 bits, in +/- half raw counts).
    pub tolerance: u8,
    /// B (10-bit signed).
    pub b: i16,
    /// Accuracy (10 bits, in 1/100 percent units before `accuracy_exp`).
    pub accuracy: u16,
    /// Accuracy exponent (2 bits).
    pub accuracy_exp: u8,
    /// Sensor direction (2 bits: 0 unspecified, 1 input, 2 output).
    pub direction: u8,
    /// Result exponent R (4-bit signed).
    pub r_exp: i8,
    /// B exponent (4-bit signed).
    pub b_exp: i8,
    /// Analog characteristic flags (bit 0 nominal reading, bit 1 normal max, bit 2 normal min
    /// specified).
    pub analog_flags: u8,
    /// Nominal reading (raw).
    pub nominal_reading: u8,
    /// Normal maximum (raw).
    pub normal_max: u8,
    /// Normal minimum (raw).
    pub normal_min: u8,
    /// Sensor maximum reading (raw).
    pub sensor_max: u8,
    /// Sensor minimum reading (raw).
    pub sensor_min: u8,
    /// Thresholds (raw).
    pub thresholds: Thresholds,
    /// Positive-going threshold hysteresis (raw).
    pub positive_hysteresis: u8,
    /// Negative-going threshold hysteresis (raw).
    pub negative_hysteresis: u8,
    /// OEM byte.
    pub oem: u8,
    /// ID string (at most 16 bytes in a record).
    pub id: EncodedString,
}

impl FullSensor {
    /// The factors [`FullSensor::convert`] uses.
    pub fn factors(&self) -> ConversionFactors {
        ConversionFactors {
            format: self.units.format,
            linearization: self.linearization,
            m: self.m,
            b: self.b,
            b_exp: self.b_exp,
            r_exp: self.r_exp,
        }
    }

    /// Convert a raw reading (or threshold) to a value in [`FullSensor::units`].
    pub fn convert(&self, raw: u8) -> Option<f64> {
        self.factors().convert(raw)
    }

    fn parse(body: &[u8]) -> Result<Self> {
        let what = "full sensor record";
        let (i, key) = SensorKey::parse(what, body)?;
        let (i, [entity_id, entity_instance, initialization, capabilities]) =
            wire::ctx(what, array::<4>(i))?;
        let (i, [sensor_type, event_reading_type]) = wire::ctx(what, array::<2>(i))?;
        let (i, assertion_mask) = wire::ctx(what, le_u16(i))?;
        let (i, deassertion_mask) = wire::ctx(what, le_u16(i))?;
        let (i, reading_mask) = wire::ctx(what, le_u16(i))?;
        let (i, units) = wire::ctx(what, array::<3>(i))?;
        let (i, linearization) = wire::ctx(what, u8_(i))?;
        let (i, [m_ls, m_tol, b_ls, b_acc, acc_dir, exps]) = wire::ctx(what, array::<6>(i))?;
        let (i, analog_flags) = wire::ctx(what, u8_(i))?;
        let (
            i,
            [
                nominal_reading,
                normal_max,
                normal_min,
                sensor_max,
                sensor_min,
            ],
        ) = wire::ctx(what, array::<5>(i))?;
        let (i, [unr, uc, unc, lnr, lc, lnc]) = wire::ctx(what, array::<6>(i))?;
        let (i, [positive_hysteresis, negative_hysteresis]) = wire::ctx(what, array::<2>(i))?;
        let (i, _reserved) = wire::ctx(what, array::<2>(i))?;
        let (i, oem) = wire::ctx(what, u8_(i))?;
        let id = parse_id_string(what, i)?;
        Ok(FullSensor {
            key,
            entity_id,
            entity_instance,
            initialization,
            capabilities,
            sensor_type,
            event_reading_type,
            assertion_mask,
            deassertion_mask,
            reading_mask,
            units: SensorUnits::from_bytes(units),
            linearization: Linearization::from_u8(linearization),
            m: sign_extend(u16::from(m_ls) | (u16::from(m_tol >> 6) << 8), 10),
            tolerance: m_tol & 0x3f,
            b: sign_extend(u16::from(b_ls) | (u16::from(b_acc >> 6) << 8), 10),
            accuracy: u16::from(b_acc & 0x3f) | (u16::from(acc_dir >> 4) << 6),
            accuracy_exp: (acc_dir >> 2) & 3,
            direction: acc_dir & 3,
            r_exp: sign_extend4(exps >> 4),
            b_exp: sign_extend4(exps & 0x0f),
            analog_flags,
            nominal_reading,
            normal_max,
            normal_min,
            sensor_max,
            sensor_min,
            thresholds: Thresholds {
                unr,
                uc,
                unc,
                lnr,
                lc,
                lnc,
            },
            positive_hysteresis,
            negative_hysteresis,
            oem,
            id,
        })
    }

    fn emit(&self, out: &mut BytesMut) {
        self.key.emit(out);
        out.put_slice(&[
            self.entity_id,
            self.entity_instance,
            self.initialization,
            self.capabilities,
            self.sensor_type,
            self.event_reading_type,
        ]);
        out.put_u16_le(self.assertion_mask);
        out.put_u16_le(self.deassertion_mask);
        out.put_u16_le(self.reading_mask);
        out.put_slice(&self.units.to_bytes());
        out.put_u8(self.linearization.to_u8());
        let m = (self.m as u16) & 0x3ff;
        let b = (self.b as u16) & 0x3ff;
        out.put_u8((m & 0xff) as u8);
        out.put_u8((((m >> 8) as u8) << 6) | (self.tolerance & 0x3f));
        out.put_u8((b & 0xff) as u8);
        out.put_u8((((b >> 8) as u8) << 6) | ((self.accuracy & 0x3f) as u8));
        out.put_u8(
            ((((self.accuracy >> 6) & 0x0f) as u8) << 4)
                | ((self.accuracy_exp & 3) << 2)
                | (self.direction & 3),
        );
        out.put_u8(((self.r_exp as u8) << 4) | ((self.b_exp as u8) & 0x0f));
        out.put_slice(&[
            self.analog_flags,
            self.nominal_reading,
            self.normal_max,
            self.normal_min,
            self.sensor_max,
            self.sensor_min,
            self.thresholds.unr,
            self.thresholds.uc,
            self.thresholds.unc,
            self.thresholds.lnr,
            self.thresholds.lc,
            self.thresholds.lnc,
            self.positive_hysteresis,
            self.negative_hysteresis,
            0,
            0,
            self.oem,
        ]);
        emit_id_string(&self.id, out);
    }
}

/// Compact Sensor Record (type 0x02).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompactSensor {
    /// Owner, channel, LUN and sensor number.
    pub key: SensorKey,
    /// Entity id.
    pub entity_id: u8,
    /// Entity instance (bit 7 set: logical container entity).
    pub entity_instance: u8,
    /// Sensor initialization bits.
    pub initialization: u8,
    /// Sensor capabilities bits.
    pub capabilities: u8,
    /// Sensor type.
    pub sensor_type: u8,
    /// Event/reading type code.
    pub event_reading_type: u8,
    /// Assertion event mask / lower threshold reading mask.
    pub assertion_mask: u16,
    /// Deassertion event mask / upper threshold reading mask.
    pub deassertion_mask: u16,
    /// Discrete reading mask / settable and readable threshold masks.
    pub reading_mask: u16,
    /// Units.
    pub units: SensorUnits,
    /// Sensor record sharing bytes (direction, ID string instance modifier, share count,
    /// entity instance sharing), as stored.
    pub sharing: [u8; 2],
    /// Positive-going threshold hysteresis.
    pub positive_hysteresis: u8,
    /// Negative-going threshold hysteresis.
    pub negative_hysteresis: u8,
    /// OEM byte.
    pub oem: u8,
    /// ID string.
    pub id: EncodedString,
}

impl CompactSensor {
    /// How many sensors share this record (1 for an unshared record).
    pub fn share_count(&self) -> u8 {
        (self.sharing[0] & 0x0f).max(1)
    }

    fn parse(body: &[u8]) -> Result<Self> {
        let what = "compact sensor record";
        let (i, key) = SensorKey::parse(what, body)?;
        let (i, [entity_id, entity_instance, initialization, capabilities]) =
            wire::ctx(what, array::<4>(i))?;
        let (i, [sensor_type, event_reading_type]) = wire::ctx(what, array::<2>(i))?;
        let (i, assertion_mask) = wire::ctx(what, le_u16(i))?;
        let (i, deassertion_mask) = wire::ctx(what, le_u16(i))?;
        let (i, reading_mask) = wire::ctx(what, le_u16(i))?;
        let (i, units) = wire::ctx(what, array::<3>(i))?;
        let (i, sharing) = wire::ctx(what, array::<2>(i))?;
        let (i, [positive_hysteresis, negative_hysteresis]) = wire::ctx(what, array::<2>(i))?;
        let (i, _reserved) = wire::ctx(what, array::<3>(i))?;
        let (i, oem) = wire::ctx(what, u8_(i))?;
        let id = parse_id_string(what, i)?;
        Ok(CompactSensor {
            key,
            entity_id,
            entity_instance,
            initialization,
            capabilities,
            sensor_type,
            event_reading_type,
            assertion_mask,
            deassertion_mask,
            reading_mask,
            units: SensorUnits::from_bytes(units),
            sharing,
            positive_hysteresis,
            negative_hysteresis,
            oem,
            id,
        })
    }

    fn emit(&self, out: &mut BytesMut) {
        self.key.emit(out);
        out.put_slice(&[
            self.entity_id,
            self.entity_instance,
            self.initialization,
            self.capabilities,
            self.sensor_type,
            self.event_reading_type,
        ]);
        out.put_u16_le(self.assertion_mask);
        out.put_u16_le(self.deassertion_mask);
        out.put_u16_le(self.reading_mask);
        out.put_slice(&self.units.to_bytes());
        out.put_slice(&self.sharing);
        out.put_slice(&[
            self.positive_hysteresis,
            self.negative_hysteresis,
            0,
            0,
            0,
            self.oem,
        ]);
        emit_id_string(&self.id, out);
    }
}

/// Event-Only Record (type 0x03).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventOnlySensor {
    /// Owner, channel, LUN and sensor number.
    pub key: SensorKey,
    /// Entity id.
    pub entity_id: u8,
    /// Entity instance.
    pub entity_instance: u8,
    /// Sensor type.
    pub sensor_type: u8,
    /// Event/reading type code.
    pub event_reading_type: u8,
    /// Sensor record sharing bytes, as stored.
    pub sharing: [u8; 2],
    /// OEM byte.
    pub oem: u8,
    /// ID string.
    pub id: EncodedString,
}

impl EventOnlySensor {
    fn parse(body: &[u8]) -> Result<Self> {
        let what = "event-only sensor record";
        let (i, key) = SensorKey::parse(what, body)?;
        let (i, [entity_id, entity_instance, sensor_type, event_reading_type]) =
            wire::ctx(what, array::<4>(i))?;
        let (i, sharing) = wire::ctx(what, array::<2>(i))?;
        let (i, [_reserved, oem]) = wire::ctx(what, array::<2>(i))?;
        let id = parse_id_string(what, i)?;
        Ok(EventOnlySensor {
            key,
            entity_id,
            entity_instance,
            sensor_type,
            event_reading_type,
            sharing,
            oem,
            id,
        })
    }

    fn emit(&self, out: &mut BytesMut) {
        self.key.emit(out);
        out.put_slice(&[
            self.entity_id,
            self.entity_instance,
            self.sensor_type,
            self.event_reading_type,
        ]);
        out.put_slice(&self.sharing);
        out.put_slice(&[0, self.oem]);
        emit_id_string(&self.id, out);
    }
}

/// FRU Device Locator Record (type 0x11).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FruDeviceLocator {
    /// Slave address of the controller giving access to the FRU (8-bit form, bit 0 clear).
    pub access_address: u8,
    /// FRU device id (logical devices) or slave address (non-intelligent devices).
    pub fru_device_id: u8,
    /// The device is a logical FRU device (accessed with Read FRU Data).
    pub logical: bool,
    /// LUN for accessing the FRU (2 bits).
    pub access_lun: u8,
    /// Private bus id (3 bits).
    pub private_bus: u8,
    /// Channel number (4 bits).
    pub channel: u8,
    /// Device type (table 43-12).
    pub device_type: u8,
    /// Device type modifier.
    pub device_type_modifier: u8,
    /// FRU entity id.
    pub entity_id: u8,
    /// FRU entity instance.
    pub entity_instance: u8,
    /// OEM byte.
    pub oem: u8,
    /// Device id string.
    pub id: EncodedString,
}

impl FruDeviceLocator {
    fn parse(body: &[u8]) -> Result<Self> {
        let what = "FRU device locator record";
        let (i, [access_address, fru_device_id, access, channel, _reserved]) =
            wire::ctx(what, array::<5>(body))?;
        let (
            i,
            [
                device_type,
                device_type_modifier,
                entity_id,
                entity_instance,
                oem,
            ],
        ) = wire::ctx(what, array::<5>(i))?;
        let id = parse_id_string(what, i)?;
        Ok(FruDeviceLocator {
            access_address: access_address & 0xfe,
            fru_device_id,
            logical: access & 0x80 != 0,
            access_lun: (access >> 3) & 3,
            private_bus: access & 7,
            channel: channel >> 4,
            device_type,
            device_type_modifier,
            entity_id,
            entity_instance,
            oem,
            id,
        })
    }

    fn emit(&self, out: &mut BytesMut) {
        out.put_slice(&[
            self.access_address & 0xfe,
            self.fru_device_id,
            (u8::from(self.logical) << 7) | ((self.access_lun & 3) << 3) | (self.private_bus & 7),
            (self.channel & 0x0f) << 4,
            0,
            self.device_type,
            self.device_type_modifier,
            self.entity_id,
            self.entity_instance,
            self.oem,
        ]);
        emit_id_string(&self.id, out);
    }
}

/// Management Controller Device Locator Record (type 0x12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct McDeviceLocator {
    /// Slave address (8-bit form, bit 0 clear).
    pub slave_address: u8,
    /// Channel number (4 bits).
    pub channel: u8,
    /// Power state notification and global initialization bits.
    pub power_state: u8,
    /// Device capabilities bits (chassis, bridge, IPMB event generator/receiver, FRU
    /// inventory, SEL, SDR repository, sensor device).
    pub capabilities: u8,
    /// Entity id.
    pub entity_id: u8,
    /// Entity instance.
    pub entity_instance: u8,
    /// OEM byte.
    pub oem: u8,
    /// Device id string.
    pub id: EncodedString,
}

impl McDeviceLocator {
    fn parse(body: &[u8]) -> Result<Self> {
        let what = "management controller device locator record";
        let (i, [slave_address, channel, power_state, capabilities]) =
            wire::ctx(what, array::<4>(body))?;
        let (i, _reserved) = wire::ctx(what, array::<3>(i))?;
        let (i, [entity_id, entity_instance, oem]) = wire::ctx(what, array::<3>(i))?;
        let id = parse_id_string(what, i)?;
        Ok(McDeviceLocator {
            slave_address: slave_address & 0xfe,
            channel: channel & 0x0f,
            power_state,
            capabilities,
            entity_id,
            entity_instance,
            oem,
            id,
        })
    }

    fn emit(&self, out: &mut BytesMut) {
        out.put_slice(&[
            self.slave_address & 0xfe,
            self.channel & 0x0f,
            self.power_state,
            self.capabilities,
            0,
            0,
            0,
            self.entity_id,
            self.entity_instance,
            self.oem,
        ]);
        emit_id_string(&self.id, out);
    }
}

/// The body of an SDR, by record type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SdrRecord {
    /// 0x01: full sensor record.
    FullSensor(FullSensor),
    /// 0x02: compact sensor record.
    CompactSensor(CompactSensor),
    /// 0x03: event-only record.
    EventOnly(EventOnlySensor),
    /// 0x11: FRU device locator record.
    FruDeviceLocator(FruDeviceLocator),
    /// 0x12: management controller device locator record.
    McDeviceLocator(McDeviceLocator),
    /// Any other record type, with the bytes after the header (at most 255 are emitted).
    Other {
        /// Record type.
        record_type: u8,
        /// Record bytes after the header.
        data: Vec<u8>,
    },
}

impl SdrRecord {
    /// The record type byte.
    pub fn record_type(&self) -> u8 {
        match self {
            Self::FullSensor(_) => 0x01,
            Self::CompactSensor(_) => 0x02,
            Self::EventOnly(_) => 0x03,
            Self::FruDeviceLocator(_) => 0x11,
            Self::McDeviceLocator(_) => 0x12,
            Self::Other { record_type, .. } => *record_type,
        }
    }

    /// Parse the bytes after the header of a record of type `record_type`.
    pub fn parse_body(record_type: u8, body: &[u8]) -> Result<Self> {
        Ok(match record_type {
            0x01 => Self::FullSensor(FullSensor::parse(body)?),
            0x02 => Self::CompactSensor(CompactSensor::parse(body)?),
            0x03 => Self::EventOnly(EventOnlySensor::parse(body)?),
            0x11 => Self::FruDeviceLocator(FruDeviceLocator::parse(body)?),
            0x12 => Self::McDeviceLocator(McDeviceLocator::parse(body)?),
            t => Self::Other {
                record_type: t,
                data: body.to_vec(),
            },
        })
    }

    /// Append the bytes after the header.
    pub fn emit_body(&self, out: &mut BytesMut) {
        match self {
            Self::FullSensor(r) => r.emit(out),
            Self::CompactSensor(r) => r.emit(out),
            Self::EventOnly(r) => r.emit(out),
            Self::FruDeviceLocator(r) => r.emit(out),
            Self::McDeviceLocator(r) => r.emit(out),
            Self::Other { data, .. } => out.put_slice(data),
        }
    }

    /// The ID string, for the record types that have one.
    pub fn id_string(&self) -> Option<&EncodedString> {
        match self {
            Self::FullSensor(r) => Some(&r.id),
            Self::CompactSensor(r) => Some(&r.id),
            Self::EventOnly(r) => Some(&r.id),
            Self::FruDeviceLocator(r) => Some(&r.id),
            Self::McDeviceLocator(r) => Some(&r.id),
            Self::Other { .. } => None,
        }
    }

    /// The ID string as text ([`id_string_text`]).
    pub fn name(&self) -> Option<String> {
        self.id_string().map(id_string_text)
    }

    /// The sensor's owner and number, for sensor records.
    pub fn sensor_key(&self) -> Option<SensorKey> {
        match self {
            Self::FullSensor(r) => Some(r.key),
            Self::CompactSensor(r) => Some(r.key),
            Self::EventOnly(r) => Some(r.key),
            _ => None,
        }
    }
}

/// A whole Sensor Data Record: header fields and the typed body. The header's record type and
/// length are derived from the body when emitting.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sdr {
    /// Record id.
    pub record_id: u16,
    /// SDR version (0x51; other values are accepted and kept).
    pub version: u8,
    /// The record body.
    pub record: SdrRecord,
}

impl Sdr {
    /// Parse a record (header and `length` body bytes; bytes after it are ignored).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let (rest, header) = SdrHeader::parse_rest(data)?;
        let (_, body) = wire::ctx("SDR record", take(usize::from(header.length))(rest))?;
        Ok(Sdr {
            record_id: header.record_id,
            version: header.version,
            record: SdrRecord::parse_body(header.record_type, body)?,
        })
    }

    /// Append the record: header, then body (a body longer than 255 bytes is cut).
    pub fn emit(&self, out: &mut BytesMut) {
        let mut body = BytesMut::new();
        self.record.emit_body(&mut body);
        let n = body.len().min(255);
        SdrHeader {
            record_id: self.record_id,
            version: self.version,
            record_type: self.record.record_type(),
            length: n as u8,
        }
        .emit(out);
        out.put_slice(&body[..n]);
    }
}

/// Parse every record of a concatenation of SDRs (as from a repository dump); stops at the
/// first record that does not parse and returns the records before it with the error.
pub fn parse_sdrs(mut data: &[u8]) -> (Vec<Sdr>, Option<Error>) {
    let mut v = Vec::new();
    while !data.is_empty() {
        let header = match SdrHeader::parse(data) {
            Ok(h) => h,
            Err(e) => return (v, Some(e)),
        };
        match Sdr::parse(data) {
            Ok(s) => v.push(s),
            Err(e) => return (v, Some(e)),
        }
        data = data
            .get(usize::from(header.total_len())..)
            .unwrap_or_default();
    }
    (v, None)
}

// ---------------------------------------------------------------------------------------------
// Sensor/Event commands
// ---------------------------------------------------------------------------------------------

/// Get Sensor Reading (Sensor/Event 0x2D). The sensor's LUN goes in the message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetSensorReading {
    /// Sensor number.
    pub sensor_number: u8,
}

/// The Get Sensor Reading response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorReading {
    /// Raw reading (meaningless for discrete sensors).
    pub reading: u8,
    /// Event messages from this sensor are enabled (bit 7 of byte 2).
    pub event_messages_enabled: bool,
    /// Sensor scanning is enabled (bit 6).
    pub scanning_enabled: bool,
    /// The reading or state is unavailable (bit 5), e.g. while the sensor initializes.
    pub reading_unavailable: bool,
    /// Byte 3 when sent: threshold comparison status (bits 5:0, see
    /// [`SensorReading::threshold_crossed`]) or discrete states 7..0.
    pub states: Option<u8>,
    /// Byte 4 when sent: discrete states 14..8 (bit 7 reserved). Emitted only after `states`.
    pub states_high: Option<u8>,
}

impl SensorReading {
    /// For threshold sensors: whether the reading is at or beyond threshold `t`.
    pub fn threshold_crossed(&self, t: Threshold) -> bool {
        self.states.is_some_and(|s| s & t.mask_bit() != 0)
    }

    /// For discrete sensors: the asserted states (bit n = state n, states 0..14).
    pub fn discrete_states(&self) -> u16 {
        u16::from(self.states.unwrap_or(0)) | (u16::from(self.states_high.unwrap_or(0) & 0x7f) << 8)
    }
}

impl Request for GetSensorReading {
    type Response = SensorReading;
    const NETFN: NetFn = NetFn::SensorEvent;
    const CMD: u8 = 0x2d;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.sensor_number);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, sensor_number) = wire::ctx("Get Sensor Reading request", u8_(data))?;
        Ok(GetSensorReading { sensor_number })
    }
}

impl Response for SensorReading {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Sensor Reading response";
        let (i, reading) = wire::ctx(what, u8_(data))?;
        let (i, flags) = wire::ctx(what, u8_(i))?;
        Ok(SensorReading {
            reading,
            event_messages_enabled: flags & 0x80 != 0,
            scanning_enabled: flags & 0x40 != 0,
            reading_unavailable: flags & 0x20 != 0,
            states: i.first().copied(),
            states_high: i.get(1).copied(),
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.reading);
        out.put_u8(
            (u8::from(self.event_messages_enabled) << 7)
                | (u8::from(self.scanning_enabled) << 6)
                | (u8::from(self.reading_unavailable) << 5),
        );
        match (self.states, self.states_high) {
            (s, Some(h)) => {
                out.put_u8(s.unwrap_or(0));
                out.put_u8(h);
            }
            (Some(s), None) => out.put_u8(s),
            (None, None) => {}
        }
    }
}

/// Get Sensor Thresholds (Sensor/Event 0x27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetSensorThresholds {
    /// Sensor number.
    pub sensor_number: u8,
}

/// The Get Sensor Thresholds response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorThresholds {
    /// Which thresholds are readable ([`Threshold::mask_bit`]).
    pub readable: u8,
    /// The raw threshold values (unreadable ones are whatever the BMC sent).
    pub thresholds: Thresholds,
}

impl SensorThresholds {
    /// The raw value of `t`, if readable.
    pub fn value(&self, t: Threshold) -> Option<u8> {
        (self.readable & t.mask_bit() != 0).then(|| self.thresholds.get(t))
    }
}

impl Request for GetSensorThresholds {
    type Response = SensorThresholds;
    const NETFN: NetFn = NetFn::SensorEvent;
    const CMD: u8 = 0x27;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.sensor_number);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, sensor_number) = wire::ctx("Get Sensor Thresholds request", u8_(data))?;
        Ok(GetSensorThresholds { sensor_number })
    }
}

impl Response for SensorThresholds {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Sensor Thresholds response";
        let (_, [readable, lnc, lc, lnr, unc, uc, unr]) = wire::ctx(what, array::<7>(data))?;
        Ok(SensorThresholds {
            readable: readable & 0x3f,
            thresholds: Thresholds {
                unr,
                uc,
                unc,
                lnr,
                lc,
                lnc,
            },
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        let t = &self.thresholds;
        out.put_slice(&[self.readable & 0x3f, t.lnc, t.lc, t.lnr, t.unc, t.uc, t.unr]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rt<T: Response + PartialEq + std::fmt::Debug>(v: &T) {
        let mut b = BytesMut::new();
        v.emit(&mut b);
        assert_eq!(&T::parse(&b).expect("parse"), v);
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// A full sensor record for a fan: M = 50, RPM, thresholds, "FAN1".
    const FAN_SDR: [u8; 52] = [
        0x01, 0x00, 0x51, 0x01, 0x2f, // header: id 1, v0x51, full, 47 bytes
        0x20, 0x00, 0x30, // owner 0x20, channel 0 LUN 0, sensor 0x30
        0x1d, 0x01, 0x7f, 0x68, 0x04, 0x01, // entity fan 1, init, caps, type fan, threshold
        0x95, 0x7a, 0x95, 0x7a, 0x3f, 0x3f, // masks
        0x00, 0x12, 0x00, // unsigned, RPM
        0x00, // linear
        0x32, 0x00, 0x00, 0x00, 0x00, 0x00, // M=50, B=0, exponents 0
        0x07, 0x40, 0x80, 0x10, 0xff, 0x00, // flags, nominal, normal max/min, sensor max/min
        0xff, 0xfe, 0xfd, 0x01, 0x02, 0x03, // unr uc unc lnr lc lnc
        0x02, 0x02, 0x00, 0x00, 0x00, // hysteresis, reserved, OEM
        0xc4, b'F', b'A', b'N', b'1', // ID string
    ];

    #[test]
    fn full_sensor_known_answer() {
        let sdr = Sdr::parse(&FAN_SDR).expect("parse");
        assert_eq!(sdr.record_id, 1);
        assert_eq!(sdr.version, SDR_VERSION);
        let SdrRecord::FullSensor(f) = &sdr.record else {
            panic!("not a full sensor: {sdr:?}");
        };
        assert_eq!(f.key.owner_id, 0x20);
        assert_eq!(f.key.number, 0x30);
        assert_eq!(f.entity_id, 0x1d);
        assert_eq!(f.sensor_type, 0x04);
        assert_eq!(f.units.base, 18);
        assert_eq!(f.units.describe(), "RPM");
        assert_eq!(f.units.format, AnalogFormat::Unsigned);
        assert_eq!(f.m, 50);
        assert_eq!(f.b, 0);
        assert_eq!(f.thresholds.unr, 0xff);
        assert_eq!(f.thresholds.lnc, 0x03);
        assert_eq!(f.positive_hysteresis, 2);
        assert_eq!(sdr.record.name().as_deref(), Some("FAN1"));
        assert!(close(f.convert(96), 4800.0));
        assert!(close(f.convert(f.thresholds.lc), 100.0));
        let mut b = BytesMut::new();
        sdr.emit(&mut b);
        assert_eq!(&b[..], &FAN_SDR[..]);
        // Truncated body.
        assert!(matches!(
            Sdr::parse(&FAN_SDR[..30]),
            Err(Error::Truncated { what: "SDR record" })
        ));
        // A length that leaves out mandatory fields.
        let mut short = FAN_SDR[..20].to_vec();
        short[4] = 15;
        assert!(matches!(
            Sdr::parse(&short),
            Err(Error::Truncated {
                what: "full sensor record"
            })
        ));
    }

    #[test]
    fn conversion_known_values() {
        let mut f = ConversionFactors {
            format: AnalogFormat::Unsigned,
            linearization: Linearization::Linear,
            m: 50,
            b: 0,
            b_exp: 0,
            r_exp: 0,
        };
        assert_eq!(f.convert(96), Some(4800.0));
        f.m = 6;
        f.r_exp = -2;
        assert_eq!(f.convert(200), Some(12.0));
        // Temperature with an offset: M=1, B=-50 (B exp 0) -> raw 80 = 30 degrees.
        f = ConversionFactors {
            m: 1,
            b: -50,
            r_exp: 0,
            ..f
        };
        assert_eq!(f.convert(80), Some(30.0));
        // B with an exponent: B=5, Bexp=1, M=2, Rexp=-1: (2*10 + 50) / 10 = 7.
        f = ConversionFactors {
            m: 2,
            b: 5,
            b_exp: 1,
            r_exp: -1,
            ..f
        };
        assert!(close(f.convert(10), 7.0));
        // Signed formats.
        f = ConversionFactors {
            m: 1,
            b: 0,
            b_exp: 0,
            r_exp: 0,
            format: AnalogFormat::TwosComplement,
            ..f
        };
        assert_eq!(f.convert(0xf6), Some(-10.0));
        f.format = AnalogFormat::OnesComplement;
        assert_eq!(f.convert(0xf5), Some(-10.0));
        assert_eq!(f.convert(0x0a), Some(10.0));
        f.format = AnalogFormat::NoReading;
        assert_eq!(f.convert(1), None);
        // Linearizations.
        f.format = AnalogFormat::Unsigned;
        let cases = [
            (Linearization::Sqr, 3, 9.0),
            (Linearization::Cube, 3, 27.0),
            (Linearization::Sqrt, 16, 4.0),
            (Linearization::CubeRoot, 27, 3.0),
            (Linearization::Log10, 100, 2.0),
            (Linearization::Log2, 8, 3.0),
            (Linearization::Ln, 1, 0.0),
            (Linearization::E, 0, 1.0),
            (Linearization::Exp10, 2, 100.0),
            (Linearization::Exp2, 5, 32.0),
            (Linearization::Reciprocal, 4, 0.25),
        ];
        for (l, raw, want) in cases {
            f.linearization = l;
            assert!(
                close(f.convert(raw), want),
                "{l:?}({raw}) = {:?}",
                f.convert(raw)
            );
        }
        f.linearization = Linearization::Reciprocal;
        assert_eq!(f.convert(0), None);
        f.linearization = Linearization::Ln;
        assert_eq!(f.convert(0), None);
        f.linearization = Linearization::from_u8(0x20);
        assert_eq!(f.convert(1), None);
    }

    #[test]
    fn ten_bit_and_four_bit_fields() {
        // M = -1 (0x3FF), tolerance 5, B = -512 (0x200), accuracy 0x3AB, acc exp 2, direction
        // 1, R exp -2 (0xE), B exp 7.
        let mut rec = FAN_SDR;
        rec[24] = 0xff;
        rec[25] = 0xc5;
        rec[26] = 0x00;
        rec[27] = 0x80 | 0x2b;
        rec[28] = 0xe0 | 0x08 | 0x01;
        rec[29] = 0xe7;
        let sdr = Sdr::parse(&rec).expect("parse");
        let SdrRecord::FullSensor(f) = &sdr.record else {
            panic!("not a full sensor");
        };
        assert_eq!(f.m, -1);
        assert_eq!(f.tolerance, 5);
        assert_eq!(f.b, -512);
        assert_eq!(f.accuracy, 0x3ab);
        assert_eq!(f.accuracy_exp, 2);
        assert_eq!(f.direction, 1);
        assert_eq!(f.r_exp, -2);
        assert_eq!(f.b_exp, 7);
        let mut b = BytesMut::new();
        sdr.emit(&mut b);
        assert_eq!(&b[..], &rec[..]);
    }

    #[test]
    fn compact_event_only_and_locators_round_trip() {
        let id = EncodedString::latin1("CPU Temp");
        let records = [
            SdrRecord::CompactSensor(CompactSensor {
                key: SensorKey {
                    owner_id: 0x20,
                    channel: 0,
                    lun: 1,
                    number: 7,
                },
                entity_id: 3,
                entity_instance: 1,
                initialization: 0x67,
                capabilities: 0x40,
                sensor_type: 0x07,
                event_reading_type: 0x6f,
                assertion_mask: 0x0401,
                deassertion_mask: 0,
                reading_mask: 0x0401,
                units: SensorUnits::from_bytes([0xc0, 0, 0]),
                sharing: [0x02, 0x81],
                positive_hysteresis: 0,
                negative_hysteresis: 0,
                oem: 0,
                id: id.clone(),
            }),
            SdrRecord::EventOnly(EventOnlySensor {
                key: SensorKey {
                    owner_id: 0x20,
                    channel: 1,
                    lun: 0,
                    number: 0x80,
                },
                entity_id: 7,
                entity_instance: 0x60,
                sensor_type: 0x12,
                event_reading_type: 0x6f,
                sharing: [0, 0],
                oem: 9,
                id: id.clone(),
            }),
            SdrRecord::FruDeviceLocator(FruDeviceLocator {
                access_address: 0x20,
                fru_device_id: 0,
                logical: true,
                access_lun: 0,
                private_bus: 0,
                channel: 0,
                device_type: 0x10,
                device_type_modifier: 0,
                entity_id: 7,
                entity_instance: 1,
                oem: 0,
                id: EncodedString::latin1("Builtin FRU"),
            }),
            SdrRecord::McDeviceLocator(McDeviceLocator {
                slave_address: 0x20,
                channel: 0,
                power_state: 0,
                capabilities: 0xbf,
                entity_id: 0x2e,
                entity_instance: 1,
                oem: 0,
                id: EncodedString::latin1("BMC"),
            }),
            SdrRecord::Other {
                record_type: 0xc0,
                data: vec![0x57, 0x01, 0x00, 0xaa],
            },
        ];
        for (n, record) in records.into_iter().enumerate() {
            let sdr = Sdr {
                record_id: n as u16,
                version: SDR_VERSION,
                record,
            };
            let mut b = BytesMut::new();
            sdr.emit(&mut b);
            assert_eq!(Sdr::parse(&b).expect("parse"), sdr);
        }
        // The MC locator's exact bytes.
        let mut b = BytesMut::new();
        Sdr {
            record_id: 2,
            version: SDR_VERSION,
            record: SdrRecord::McDeviceLocator(McDeviceLocator {
                slave_address: 0x20,
                channel: 0,
                power_state: 0,
                capabilities: 0xbf,
                entity_id: 0x2e,
                entity_instance: 1,
                oem: 0,
                id: EncodedString::latin1("BMC"),
            }),
        }
        .emit(&mut b);
        assert_eq!(
            &b[..],
            &[
                0x02, 0x00, 0x51, 0x12, 0x0e, 0x20, 0x00, 0x00, 0xbf, 0, 0, 0, 0x2e, 0x01, 0x00,
                0xc3, b'B', b'M', b'C'
            ]
        );
    }

    #[test]
    fn id_strings() {
        // NUL-padded 8-bit string.
        let s = EncodedString::latin1("CPU\0\0");
        assert_eq!(id_string_text(&s), "CPU");
        // 6-bit packed.
        let s = EncodedString {
            kind: StringKind::Packed6Bit,
            data: vec![0x29, 0xdc, 0xa6],
        };
        assert_eq!(id_string_text(&s), "IPMI");
        // A type/length byte claiming more than the record holds keeps what is there.
        let mut rec = FAN_SDR.to_vec();
        rec[47] = 0xcf;
        let sdr = Sdr::parse(&rec).expect("parse");
        assert_eq!(sdr.record.name().as_deref(), Some("FAN1"));
    }

    #[test]
    fn units() {
        assert_eq!(unit_name(1), "degrees C");
        assert_eq!(unit_name(4), "Volts");
        assert_eq!(unit_name(5), "Amps");
        assert_eq!(unit_name(6), "Watts");
        assert_eq!(unit_name(18), "RPM");
        assert_eq!(unit_name(92), "grams");
        assert_eq!(unit_name(93), "unspecified");
        assert_eq!(unit_name(255), "unspecified");
        let u = SensorUnits {
            format: AnalogFormat::TwosComplement,
            rate: RateUnit::PerSecond,
            modifier: ModifierUnit::Divide,
            percentage: true,
            base: 5,
            modifier_unit: 22,
        };
        assert_eq!(u.describe(), "% Amps/second per second");
        assert_eq!(SensorUnits::from_bytes(u.to_bytes()), u);
        assert_eq!(u.to_bytes()[0], 0x80 | 0x18 | 0x02 | 0x01);
    }

    #[test]
    fn repository_commands() {
        let mut b = BytesMut::new();
        GetSdr {
            reservation_id: 0x1234,
            record_id: 0x0005,
            offset: 5,
            bytes_to_read: 16,
        }
        .emit(&mut b);
        assert_eq!(&b[..], &[0x34, 0x12, 0x05, 0x00, 0x05, 0x10]);
        let info = SdrRepositoryInfo::parse(&[
            0x51, 0x2a, 0x00, 0x00, 0x10, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xff, 0x02,
        ])
        .expect("parse");
        assert_eq!(info.record_count, 42);
        assert_eq!(info.free_space, 0x1000);
        assert_eq!(info.last_addition, 0x0403_0201);
        assert!(info.supports_reserve() && !info.overflow());
        rt(&info);
        assert!(SdrRepositoryInfo::parse(&[0x51, 0x2a]).is_err());
        assert_eq!(
            SdrReservation::parse(&[0x01, 0x80]).expect("parse"),
            SdrReservation(0x8001)
        );
        let d = SdrData::parse(&[0x02, 0x00, 0x01, 0x00, 0x51]).expect("parse");
        assert_eq!(d.next_record_id, 2);
        assert_eq!(d.data, vec![0x01, 0x00, 0x51]);
        rt(&d);

        let plan = GetSdr::plan(7, 3, 52, 16);
        let v: Vec<(u8, u8)> = plan.iter().map(|r| (r.offset, r.bytes_to_read)).collect();
        assert_eq!(v, vec![(0, 16), (16, 16), (32, 16), (48, 4)]);
        assert!(
            plan.iter()
                .all(|r| r.reservation_id == 7 && r.record_id == 3)
        );
        assert_eq!(GetSdr::header(7, 3).bytes_to_read, 5);
    }

    #[test]
    fn partial_reads_reassemble() {
        let header = SdrHeader::parse(&FAN_SDR).expect("header");
        assert_eq!(header.total_len(), 52);
        let mut got = Vec::new();
        for r in GetSdr::plan(1, 1, header.total_len(), 10) {
            let start = usize::from(r.offset);
            got.extend_from_slice(&FAN_SDR[start..start + usize::from(r.bytes_to_read)]);
        }
        assert_eq!(got, FAN_SDR.to_vec());
        let mut two = FAN_SDR.to_vec();
        two.extend_from_slice(&FAN_SDR);
        two.extend_from_slice(&[0x01]);
        let (records, err) = parse_sdrs(&two);
        assert_eq!(records.len(), 2);
        assert!(matches!(err, Some(Error::Truncated { .. })));
    }

    #[test]
    fn sensor_reading_and_thresholds() {
        // Threshold sensor: reading 0x60, events and scanning on, at or below LNC and LC.
        let r = SensorReading::parse(&[0x60, 0xc0, 0x03]).expect("parse");
        assert_eq!(r.reading, 0x60);
        assert!(r.event_messages_enabled && r.scanning_enabled && !r.reading_unavailable);
        assert!(r.threshold_crossed(Threshold::LowerNonCritical));
        assert!(r.threshold_crossed(Threshold::LowerCritical));
        assert!(!r.threshold_crossed(Threshold::UpperCritical));
        rt(&r);
        // Unavailable, no state bytes (some BMCs send only two bytes).
        let r = SensorReading::parse(&[0x00, 0x20]).expect("parse");
        assert!(r.reading_unavailable && !r.event_messages_enabled);
        assert_eq!(r.states, None);
        rt(&r);
        // Discrete sensor with both state bytes.
        let r = SensorReading::parse(&[0x00, 0xc0, 0x01, 0x81]).expect("parse");
        assert_eq!(r.discrete_states(), 0x0101);
        rt(&r);
        assert!(SensorReading::parse(&[0x00]).is_err());
        let mut b = BytesMut::new();
        GetSensorReading {
            sensor_number: 0x30,
        }
        .emit(&mut b);
        assert_eq!(&b[..], &[0x30]);

        let t = SensorThresholds::parse(&[0x1b, 1, 2, 3, 4, 5, 6]).expect("parse");
        assert_eq!(t.value(Threshold::LowerNonCritical), Some(1));
        assert_eq!(t.value(Threshold::LowerCritical), Some(2));
        assert_eq!(t.value(Threshold::LowerNonRecoverable), None);
        assert_eq!(t.value(Threshold::UpperNonCritical), Some(4));
        assert_eq!(t.value(Threshold::UpperCritical), Some(5));
        assert_eq!(t.value(Threshold::UpperNonRecoverable), None);
        rt(&t);
        assert!(SensorThresholds::parse(&[0x3f, 1, 2, 3]).is_err());
    }

    fn encoded_id() -> impl Strategy<Value = EncodedString> {
        (0u8..4, proptest::collection::vec(any::<u8>(), 0..=16)).prop_map(|(k, data)| {
            EncodedString {
                kind: StringKind::from_bits(k),
                data,
            }
        })
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Sdr::parse(&data);
            let _ = parse_sdrs(&data);
            let _ = SdrHeader::parse(&data);
            let _ = SdrRepositoryInfo::parse(&data);
            let _ = SdrReservation::parse(&data);
            let _ = SdrData::parse(&data);
            let _ = GetSdr::parse(&data);
            let _ = GetSdrRepositoryInfo::parse(&data);
            let _ = ReserveSdrRepository::parse(&data);
            let _ = SensorReading::parse(&data);
            let _ = SensorThresholds::parse(&data);
            let _ = GetSensorReading::parse(&data);
            let _ = GetSensorThresholds::parse(&data);
            for t in [0x01, 0x02, 0x03, 0x11, 0x12, 0x08] {
                let _ = SdrRecord::parse_body(t, &data);
            }
        }

        #[test]
        fn typed_records_round_trip(
            t in prop::sample::select(vec![0x01u8, 0x02, 0x03, 0x11, 0x12, 0x08, 0xc0]),
            record_id in any::<u16>(),
            version in any::<u8>(),
            body in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            // Whatever parses re-emits to something that parses to the same value.
            if let Ok(record) = SdrRecord::parse_body(t, &body) {
                let sdr = Sdr { record_id, version, record };
                let mut b = BytesMut::new();
                sdr.emit(&mut b);
                prop_assert_eq!(Sdr::parse(&b).expect("re-parse"), sdr);
            }
        }

        #[test]
        fn full_sensor_fields_round_trip(
            m in -512i16..512, b in -512i16..512, r_exp in -8i8..8, b_exp in -8i8..8,
            tolerance in 0u8..64, accuracy in 0u16..1024, accuracy_exp in 0u8..4,
            direction in 0u8..4, lin in 0u8..0x80, units in any::<[u8; 3]>(),
            id in encoded_id(), raw in any::<u8>(),
        ) {
            let Ok(Sdr { record: SdrRecord::FullSensor(mut f), .. }) = Sdr::parse(&FAN_SDR) else {
                panic!("FAN_SDR parses");
            };
            f.m = m;
            f.b = b;
            f.r_exp = r_exp;
            f.b_exp = b_exp;
            f.tolerance = tolerance;
            f.accuracy = accuracy;
            f.accuracy_exp = accuracy_exp;
            f.direction = direction;
            f.linearization = Linearization::from_u8(lin);
            f.units = SensorUnits::from_bytes(units);
            f.id = id;
            let sdr = Sdr { record_id: 9, version: SDR_VERSION, record: SdrRecord::FullSensor(f.clone()) };
            let mut bytes = BytesMut::new();
            sdr.emit(&mut bytes);
            prop_assert_eq!(Sdr::parse(&bytes).expect("parse"), sdr);
            // Conversion never panics and gives finite values only.
            if let Some(v) = f.convert(raw) {
                prop_assert!(v.is_finite());
            }
        }

        #[test]
        fn responses_round_trip(
            a in any::<u8>(), flags in any::<[bool; 3]>(), states in any::<Option<u8>>(),
            high in any::<Option<u8>>(), th in any::<[u8; 6]>(), readable in 0u8..64,
            id in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..64),
            info in any::<(u8, u16, u16, u32, u32, u8)>(), req in any::<(u16, u16, u8, u8)>(),
        ) {
            rt(&SensorReading {
                reading: a,
                event_messages_enabled: flags[0],
                scanning_enabled: flags[1],
                reading_unavailable: flags[2],
                states: if high.is_some() { Some(states.unwrap_or(0)) } else { states },
                states_high: high,
            });
            rt(&SensorThresholds {
                readable,
                thresholds: Thresholds { unr: th[0], uc: th[1], unc: th[2], lnr: th[3], lc: th[4], lnc: th[5] },
            });
            rt(&SdrReservation(id));
            rt(&SdrData { next_record_id: id, data });
            rt(&SdrRepositoryInfo {
                version: info.0, record_count: info.1, free_space: info.2,
                last_addition: info.3, last_erase: info.4, operation_support: info.5,
            });
            let g = GetSdr { reservation_id: req.0, record_id: req.1, offset: req.2, bytes_to_read: req.3 };
            let mut b = BytesMut::new();
            g.emit(&mut b);
            prop_assert_eq!(GetSdr::parse(&b).expect("parse"), g);
        }
    }
}
