//! FRU inventory (Storage net function 0x0A; IPMI v2.0 section 34 and the Platform Management
//! FRU Information Storage Definition v1.0).
//!
//! [`GetFruInventoryAreaInfo`] and [`ReadFruData`] fetch the raw inventory bytes;
//! [`FruReadPlan`] splits an area into reads the BMC accepts (shrinking the chunk when the BMC
//! answers 0xC8 or 0xCA); [`FruInventory::parse`] decodes the common header and the chassis,
//! board and product info areas. The type/length string codec ([`EncodedString`]) is shared
//! with the SDR ID strings ([`super::sdr`]).
//!
//! ```
//! use ipmi_proto::cmd::fru::{ChassisInfo, EncodedString, FruInventory};
//! let chassis = ChassisInfo {
//!     chassis_type: 0x17,
//!     part_number: EncodedString::latin1("AB"),
//!     serial_number: EncodedString::default(),
//!     custom: vec![],
//! };
//! let inv = FruInventory { chassis: Some(chassis.clone()), ..FruInventory::default() };
//! let bytes = inv.to_bytes().unwrap();
//! assert_eq!(FruInventory::parse(&bytes).unwrap().chassis, Some(chassis));
//! ```

use bytes::{BufMut, BytesMut};

use super::{CompletionCode, Request, Response};
use crate::error::{Error, Result};
use crate::message::NetFn;
use crate::wire::{self, array, le_u16, le_u24, take, u8_};

/// Seconds from the Unix epoch to the FRU epoch (1996-01-01 00:00 UTC), the zero of the board
/// area's manufacturing date.
pub const FRU_EPOCH_UNIX: u64 = 820_454_400;

/// The type/length byte that ends the field list of a FRU info area.
pub const END_OF_FIELDS: u8 = 0xc1;

/// The largest field a FRU type/length byte can describe (6-bit length).
pub const MAX_FRU_FIELD_LEN: usize = 63;

// ---------------------------------------------------------------------------------------------
// Type/length strings
// ---------------------------------------------------------------------------------------------

/// The type code of a type/length byte (bits 7:6), shared by FRU fields and SDR ID strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StringKind {
    /// 00b: binary or unspecified (FRU fields); Unicode (SDR ID strings).
    Binary,
    /// 01b: BCD plus (digits, space, dash, period).
    BcdPlus,
    /// 10b: 6-bit packed ASCII.
    Packed6Bit,
    /// 11b: 8-bit ASCII + Latin-1 (for English; FRU fields in other languages use Unicode).
    Latin1,
}

impl StringKind {
    /// Decode the 2-bit type code (the low two bits of `v`).
    pub fn from_bits(v: u8) -> Self {
        match v & 3 {
            0 => Self::Binary,
            1 => Self::BcdPlus,
            2 => Self::Packed6Bit,
            _ => Self::Latin1,
        }
    }

    /// The 2-bit type code.
    pub fn bits(self) -> u8 {
        match self {
            Self::Binary => 0,
            Self::BcdPlus => 1,
            Self::Packed6Bit => 2,
            Self::Latin1 => 3,
        }
    }
}

/// A string as stored behind a type/length byte: its encoding and its encoded bytes, kept as
/// they are so that parsing and emitting round-trips exactly. [`EncodedString::decode`] gives
/// the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncodedString {
    /// The encoding (type code).
    pub kind: StringKind,
    /// The encoded bytes.
    pub data: Vec<u8>,
}

impl Default for EncodedString {
    /// An empty 8-bit ASCII field (type/length byte 0xC0).
    fn default() -> Self {
        EncodedString {
            kind: StringKind::Latin1,
            data: Vec::new(),
        }
    }
}

impl EncodedString {
    /// An 8-bit ASCII + Latin-1 string; characters above U+00FF become `?`.
    pub fn latin1(s: &str) -> Self {
        EncodedString {
            kind: StringKind::Latin1,
            data: s
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
        }
    }

    /// Binary (or, in an SDR, unspecified) data.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        EncodedString {
            kind: StringKind::Binary,
            data: data.into(),
        }
    }

    /// Encode `s` as BCD plus (`0-9`, space, `-`, `.`), two characters a byte, high nibble
    /// first; an odd-length string is padded with a space. `None` if `s` has other characters.
    pub fn bcd_plus(s: &str) -> Option<Self> {
        let mut nibbles = Vec::with_capacity(s.len() + 1);
        for c in s.chars() {
            nibbles.push(match c {
                '0'..='9' => u8::try_from(u32::from(c) - u32::from('0')).ok()?,
                ' ' => 0x0a,
                '-' => 0x0b,
                '.' => 0x0c,
                _ => return None,
            });
        }
        if nibbles.len() % 2 == 1 {
            nibbles.push(0x0a);
        }
        let data = nibbles
            .chunks_exact(2)
            .map(|p| match p {
                [hi, lo] => (hi << 4) | lo,
                _ => 0,
            })
            .collect();
        Some(EncodedString {
            kind: StringKind::BcdPlus,
            data,
        })
    }

    /// Encode `s` as 6-bit packed ASCII (characters 0x20..=0x5F; lower-case letters are
    /// upper-cased). `None` if `s` has other characters. Decoding may give one trailing space
    /// of padding back.
    pub fn packed_6bit(s: &str) -> Option<Self> {
        let mut data = Vec::with_capacity(s.len() * 3 / 4 + 1);
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        for c in s.chars() {
            let v = u32::from(c.to_ascii_uppercase());
            if !(0x20..=0x5f).contains(&v) {
                return None;
            }
            acc |= (v - 0x20) << bits;
            bits += 6;
            while bits >= 8 {
                data.push((acc & 0xff) as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
        if bits > 0 {
            data.push((acc & 0xff) as u8);
        }
        Some(EncodedString {
            kind: StringKind::Packed6Bit,
            data,
        })
    }

    /// Whether there are no encoded bytes.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The text: BCD plus, 6-bit ASCII and Latin-1 are decoded; binary data is shown as
    /// lower-case hex.
    pub fn decode(&self) -> String {
        match self.kind {
            StringKind::Binary => self.data.iter().map(|b| format!("{b:02x}")).collect(),
            StringKind::BcdPlus => decode_bcd_plus(&self.data),
            StringKind::Packed6Bit => decode_6bit_ascii(&self.data),
            StringKind::Latin1 => decode_latin1(&self.data),
        }
    }

    /// Parse one FRU field; `None` for the end-of-fields marker (0xC1).
    fn parse_fru<'a>(what: &'static str, i: &'a [u8]) -> Result<(&'a [u8], Option<Self>)> {
        let (i, tl) = wire::ctx(what, u8_(i))?;
        if tl == END_OF_FIELDS {
            return Ok((i, None));
        }
        let (i, data) = wire::ctx(what, take(usize::from(tl & 0x3f))(i))?;
        Ok((
            i,
            Some(EncodedString {
                kind: StringKind::from_bits(tl >> 6),
                data: data.to_vec(),
            }),
        ))
    }

    /// Append the FRU type/length byte and the data.
    fn emit_fru(&self, out: &mut Vec<u8>) -> Result<()> {
        let what = "FRU field";
        let len = u8::try_from(self.data.len())
            .ok()
            .filter(|l| usize::from(*l) <= MAX_FRU_FIELD_LEN)
            .ok_or(Error::InvalidArgument {
                what,
                reason: "longer than 63 bytes",
            })?;
        let tl = (self.kind.bits() << 6) | len;
        if tl == END_OF_FIELDS {
            return Err(Error::InvalidArgument {
                what,
                reason: "a one-byte 8-bit ASCII field would read as the end marker (0xC1)",
            });
        }
        out.push(tl);
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

fn bcd_char(n: u8) -> char {
    match n & 0x0f {
        d @ 0..=9 => char::from(b'0' + d),
        0x0a => ' ',
        0x0b => '-',
        0x0c => '.',
        // Reserved in the specification; these are ipmitool's choices.
        0x0d => ':',
        0x0e => ',',
        _ => '_',
    }
}

/// Decode BCD plus, high nibble first (0-9, 0xA space, 0xB `-`, 0xC `.`; the reserved
/// 0xD..0xF show as `:`, `,`, `_` as ipmitool prints them).
pub fn decode_bcd_plus(data: &[u8]) -> String {
    data.iter()
        .flat_map(|b| [bcd_char(b >> 4), bcd_char(*b)])
        .collect()
}

/// Decode 6-bit packed ASCII: the bytes form a little-endian bit stream of 6-bit codes, each
/// 0x20 below its ASCII character (`IPMI` is `29 DC A6`).
pub fn decode_6bit_ascii(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 4 / 3 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in data {
        acc |= u32::from(*b) << bits;
        bits += 8;
        while bits >= 6 {
            s.push(char::from(((acc & 0x3f) as u8) + 0x20));
            acc >>= 6;
            bits -= 6;
        }
    }
    s
}

/// Decode 8-bit ASCII + Latin-1 (every byte is the code point of the same value).
pub fn decode_latin1(data: &[u8]) -> String {
    data.iter().map(|b| char::from(*b)).collect()
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// Get FRU Inventory Area Info (Storage 0x10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetFruInventoryAreaInfo {
    /// FRU device id (0 is the BMC's own FRU).
    pub fru_id: u8,
}

/// The Get FRU Inventory Area Info response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FruInventoryAreaInfo {
    /// Inventory area size in bytes.
    pub size: u16,
    /// The device is accessed by words (offsets and counts in Read FRU Data are then in
    /// 16-bit words) rather than bytes.
    pub word_access: bool,
}

impl Request for GetFruInventoryAreaInfo {
    type Response = FruInventoryAreaInfo;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x10;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.fru_id);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, fru_id) = wire::ctx("Get FRU Inventory Area Info request", u8_(data))?;
        Ok(GetFruInventoryAreaInfo { fru_id })
    }
}

impl Response for FruInventoryAreaInfo {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get FRU Inventory Area Info response";
        let (i, size) = wire::ctx(what, le_u16(data))?;
        let (_, access) = wire::ctx(what, u8_(i))?;
        Ok(FruInventoryAreaInfo {
            size,
            word_access: access & 1 != 0,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.size);
        out.put_u8(u8::from(self.word_access));
    }
}

/// Read FRU Data (Storage 0x11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadFruData {
    /// FRU device id.
    pub fru_id: u8,
    /// Offset into the inventory area.
    pub offset: u16,
    /// Number of bytes to read.
    pub count: u8,
}

/// The Read FRU Data response: the bytes read (the count byte is their length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FruData {
    /// The data read (at most 255 bytes are emitted).
    pub data: Vec<u8>,
}

impl Request for ReadFruData {
    type Response = FruData;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x11;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.fru_id);
        out.put_u16_le(self.offset);
        out.put_u8(self.count);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Read FRU Data request";
        let (i, fru_id) = wire::ctx(what, u8_(data))?;
        let (i, offset) = wire::ctx(what, le_u16(i))?;
        let (_, count) = wire::ctx(what, u8_(i))?;
        Ok(ReadFruData {
            fru_id,
            offset,
            count,
        })
    }
}

impl Response for FruData {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Read FRU Data response";
        let (i, count) = wire::ctx(what, u8_(data))?;
        let (_, d) = wire::ctx(what, take(usize::from(count))(i))?;
        Ok(FruData { data: d.to_vec() })
    }
    fn emit(&self, out: &mut BytesMut) {
        let n = self.data.len().min(255);
        out.put_u8(n as u8);
        out.put_slice(&self.data[..n]);
    }
}

// ---------------------------------------------------------------------------------------------
// Chunked reads
// ---------------------------------------------------------------------------------------------

/// The Read FRU Data requests that cover `area_size` bytes in chunks of at most `max_chunk`
/// (0 is taken as 1).
pub fn plan_fru_reads(fru_id: u8, area_size: u16, max_chunk: u8) -> Vec<ReadFruData> {
    let chunk = u16::from(max_chunk.max(1));
    let mut v = Vec::with_capacity(usize::from(area_size / chunk) + 1);
    let mut offset = 0u16;
    while offset < area_size {
        let n = chunk.min(area_size - offset);
        v.push(ReadFruData {
            fru_id,
            offset,
            count: u8::try_from(n).unwrap_or(u8::MAX),
        });
        offset += n;
    }
    v
}

/// A FRU area being read chunk by chunk: ask [`FruReadPlan::next_request`], feed the answer to
/// [`FruReadPlan::record`], or the completion code to [`FruReadPlan::on_completion`] (which
/// shrinks the chunk on 0xC8 "request too long" and 0xCA "cannot return that many bytes").
/// A BMC that returns fewer bytes than asked is fine: the next read starts after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FruReadPlan {
    fru_id: u8,
    size: u16,
    chunk: u8,
    data: Vec<u8>,
}

impl FruReadPlan {
    /// Plan reading `area_size` bytes of FRU `fru_id`, at most `max_chunk` bytes a read (32 is
    /// a safe start over LAN; 0 is taken as 1).
    pub fn new(fru_id: u8, area_size: u16, max_chunk: u8) -> Self {
        FruReadPlan {
            fru_id,
            size: area_size,
            chunk: max_chunk.max(1),
            data: Vec::with_capacity(usize::from(area_size)),
        }
    }

    /// The next request, or `None` when the whole area has been read.
    pub fn next_request(&self) -> Option<ReadFruData> {
        let offset = self.offset();
        if offset >= self.size {
            return None;
        }
        let n = u16::from(self.chunk).min(self.size - offset);
        Some(ReadFruData {
            fru_id: self.fru_id,
            offset,
            count: u8::try_from(n).unwrap_or(u8::MAX),
        })
    }

    /// Take the answer to [`FruReadPlan::next_request`]. Bytes beyond what was asked are
    /// ignored; an empty answer (which would never finish) is refused.
    pub fn record(&mut self, response: &FruData) -> Result<()> {
        let what = "Read FRU Data response";
        let req = self
            .next_request()
            .ok_or(Error::invalid(what, "the area is already complete"))?;
        if response.data.is_empty() {
            return Err(Error::invalid(what, "no data returned"));
        }
        self.data
            .extend(response.data.iter().take(usize::from(req.count)).copied());
        Ok(())
    }

    /// React to a failed read: on 0xC8 or 0xCA make the chunk smaller (by 8 bytes, or by half
    /// below 9) and return `true` when a retry with the new [`FruReadPlan::next_request`]
    /// makes sense. Other codes return `false`.
    pub fn on_completion(&mut self, code: CompletionCode) -> bool {
        match code {
            CompletionCode::RequestTooLong | CompletionCode::CannotReturnBytes => {
                self.chunk = if self.chunk > 8 {
                    self.chunk - 8
                } else {
                    self.chunk / 2
                };
                if self.chunk == 0 {
                    self.chunk = 1;
                    false
                } else {
                    true
                }
            }
            _ => false,
        }
    }

    /// The current chunk size.
    pub fn chunk(&self) -> u8 {
        self.chunk
    }

    /// Bytes read so far (the offset of the next read).
    pub fn offset(&self) -> u16 {
        u16::try_from(self.data.len()).unwrap_or(u16::MAX)
    }

    /// Whether the whole area has been read.
    pub fn is_complete(&self) -> bool {
        self.offset() >= self.size
    }

    /// The bytes read so far.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The bytes read.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

// ---------------------------------------------------------------------------------------------
// Inventory areas
// ---------------------------------------------------------------------------------------------

/// The FRU common header (8 bytes: format version 1, five area offsets in multiples of 8
/// bytes, 0 meaning absent, a pad byte and a zero checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FruCommonHeader {
    /// Internal use area offset (8-byte units).
    pub internal_use: u8,
    /// Chassis info area offset (8-byte units).
    pub chassis: u8,
    /// Board info area offset (8-byte units).
    pub board: u8,
    /// Product info area offset (8-byte units).
    pub product: u8,
    /// Multi-record area offset (8-byte units).
    pub multi_record: u8,
}

impl FruCommonHeader {
    /// Length of the header in bytes.
    pub const LEN: usize = 8;

    /// Parse and check the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "FRU common header";
        let (_, h) = wire::ctx(what, array::<8>(data))?;
        let [
            version,
            internal_use,
            chassis,
            board,
            product,
            multi_record,
            _pad,
            _sum,
        ] = h;
        if version & 0x0f != 1 {
            return Err(Error::invalid(what, "format version is not 1"));
        }
        if wire::checksum(&h) != 0 {
            return Err(Error::Checksum { what });
        }
        Ok(FruCommonHeader {
            internal_use,
            chassis,
            board,
            product,
            multi_record,
        })
    }

    /// The 8 header bytes with their checksum.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut h = [
            1,
            self.internal_use,
            self.chassis,
            self.board,
            self.product,
            self.multi_record,
            0,
            0,
        ];
        h[7] = wire::checksum(&h[..7]);
        h
    }
}

/// Check an info area starting at `data` (version 1, length, zero checksum) and return its
/// contents between the length byte and the checksum.
fn checked_area<'a>(what: &'static str, data: &'a [u8]) -> Result<&'a [u8]> {
    let (_, [version, units]) = wire::ctx(what, array::<2>(data))?;
    if version & 0x0f != 1 {
        return Err(Error::invalid(what, "format version is not 1"));
    }
    if units == 0 {
        return Err(Error::invalid(what, "zero area length"));
    }
    let (_, area) = wire::ctx(what, take(usize::from(units) * 8)(data))?;
    if wire::checksum(area) != 0 {
        return Err(Error::Checksum { what });
    }
    Ok(area
        .get(2..area.len().saturating_sub(1))
        .unwrap_or_default())
}

/// Parse `n` fixed fields, then custom fields up to the end marker (or the end of the area, for
/// writers that forget it). Fixed fields missing because the marker came early are empty.
fn parse_fields(
    what: &'static str,
    mut i: &[u8],
    n: usize,
) -> Result<(Vec<EncodedString>, Vec<EncodedString>)> {
    let mut fixed = Vec::with_capacity(n);
    let mut custom = Vec::new();
    let mut ended = false;
    while fixed.len() < n {
        if ended || i.is_empty() {
            fixed.push(EncodedString::default());
            continue;
        }
        let (rest, f) = EncodedString::parse_fru(what, i)?;
        i = rest;
        match f {
            Some(f) => fixed.push(f),
            None => ended = true,
        }
    }
    while !ended && !i.is_empty() {
        let (rest, f) = EncodedString::parse_fru(what, i)?;
        i = rest;
        match f {
            Some(f) => custom.push(f),
            None => ended = true,
        }
    }
    Ok((fixed, custom))
}

/// Lay out an info area: version, length, `head`, the fields, the end marker, padding and the
/// checksum.
fn emit_area(
    what: &'static str,
    head: &[u8],
    fields: &[&EncodedString],
    custom: &[EncodedString],
) -> Result<Vec<u8>> {
    let mut v = vec![1u8, 0];
    v.extend_from_slice(head);
    for f in fields.iter().copied().chain(custom) {
        f.emit_fru(&mut v)?;
    }
    v.push(END_OF_FIELDS);
    while (v.len() + 1) % 8 != 0 {
        v.push(0);
    }
    let units = u8::try_from((v.len() + 1) / 8).map_err(|_| Error::InvalidArgument {
        what,
        reason: "area longer than 2040 bytes",
    })?;
    if let Some(l) = v.get_mut(1) {
        *l = units;
    }
    v.push(wire::checksum(&v));
    Ok(v)
}

/// The chassis info area.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChassisInfo {
    /// Chassis type (SMBIOS chassis type numbers: 0x17 rack mount, 0x11 main server chassis...).
    pub chassis_type: u8,
    /// Chassis part number.
    pub part_number: EncodedString,
    /// Chassis serial number.
    pub serial_number: EncodedString,
    /// Custom fields.
    pub custom: Vec<EncodedString>,
}

impl ChassisInfo {
    /// Parse the area starting at `area` (its version byte); bytes after the area are ignored.
    pub fn parse(area: &[u8]) -> Result<Self> {
        let what = "FRU chassis info area";
        let body = checked_area(what, area)?;
        let (i, chassis_type) = wire::ctx(what, u8_(body))?;
        let (fixed, custom) = parse_fields(what, i, 2)?;
        let mut f = fixed.into_iter();
        Ok(ChassisInfo {
            chassis_type,
            part_number: f.next().unwrap_or_default(),
            serial_number: f.next().unwrap_or_default(),
            custom,
        })
    }

    /// Encode the area, padded to a multiple of 8 bytes with its checksum.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        emit_area(
            "FRU chassis info area",
            &[self.chassis_type],
            &[&self.part_number, &self.serial_number],
            &self.custom,
        )
    }
}

/// The board info area.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoardInfo {
    /// Language code (0 or 25: English).
    pub language: u8,
    /// Manufacturing date and time in minutes since 1996-01-01 00:00 UTC (24 bits; 0 is
    /// unspecified).
    pub mfg_minutes: u32,
    /// Board manufacturer.
    pub manufacturer: EncodedString,
    /// Board product name.
    pub product_name: EncodedString,
    /// Board serial number.
    pub serial_number: EncodedString,
    /// Board part number.
    pub part_number: EncodedString,
    /// FRU file id.
    pub fru_file_id: EncodedString,
    /// Custom fields.
    pub custom: Vec<EncodedString>,
}

impl BoardInfo {
    /// The manufacturing time as Unix seconds, `None` when unspecified (0).
    pub fn mfg_time_unix(&self) -> Option<u64> {
        (self.mfg_minutes != 0).then(|| FRU_EPOCH_UNIX + u64::from(self.mfg_minutes) * 60)
    }

    /// Parse the area starting at `area` (its version byte); bytes after the area are ignored.
    pub fn parse(area: &[u8]) -> Result<Self> {
        let what = "FRU board info area";
        let body = checked_area(what, area)?;
        let (i, language) = wire::ctx(what, u8_(body))?;
        let (i, mfg_minutes) = wire::ctx(what, le_u24(i))?;
        let (fixed, custom) = parse_fields(what, i, 5)?;
        let mut f = fixed.into_iter();
        Ok(BoardInfo {
            language,
            mfg_minutes,
            manufacturer: f.next().unwrap_or_default(),
            product_name: f.next().unwrap_or_default(),
            serial_number: f.next().unwrap_or_default(),
            part_number: f.next().unwrap_or_default(),
            fru_file_id: f.next().unwrap_or_default(),
            custom,
        })
    }

    /// Encode the area, padded to a multiple of 8 bytes with its checksum (the date keeps its
    /// low 24 bits).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let [m0, m1, m2, _] = self.mfg_minutes.to_le_bytes();
        emit_area(
            "FRU board info area",
            &[self.language, m0, m1, m2],
            &[
                &self.manufacturer,
                &self.product_name,
                &self.serial_number,
                &self.part_number,
                &self.fru_file_id,
            ],
            &self.custom,
        )
    }
}

/// The product info area.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductInfo {
    /// Language code (0 or 25: English).
    pub language: u8,
    /// Manufacturer name.
    pub manufacturer: EncodedString,
    /// Product name.
    pub product_name: EncodedString,
    /// Product part/model number.
    pub part_number: EncodedString,
    /// Product version.
    pub version: EncodedString,
    /// Product serial number.
    pub serial_number: EncodedString,
    /// Asset tag.
    pub asset_tag: EncodedString,
    /// FRU file id.
    pub fru_file_id: EncodedString,
    /// Custom fields.
    pub custom: Vec<EncodedString>,
}

impl ProductInfo {
    /// Parse the area starting at `area` (its version byte); bytes after the area are ignored.
    pub fn parse(area: &[u8]) -> Result<Self> {
        let what = "FRU product info area";
        let body = checked_area(what, area)?;
        let (i, language) = wire::ctx(what, u8_(body))?;
        let (fixed, custom) = parse_fields(what, i, 7)?;
        let mut f = fixed.into_iter();
        Ok(ProductInfo {
            language,
            manufacturer: f.next().unwrap_or_default(),
            product_name: f.next().unwrap_or_default(),
            part_number: f.next().unwrap_or_default(),
            version: f.next().unwrap_or_default(),
            serial_number: f.next().unwrap_or_default(),
            asset_tag: f.next().unwrap_or_default(),
            fru_file_id: f.next().unwrap_or_default(),
            custom,
        })
    }

    /// Encode the area, padded to a multiple of 8 bytes with its checksum.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        emit_area(
            "FRU product info area",
            &[self.language],
            &[
                &self.manufacturer,
                &self.product_name,
                &self.part_number,
                &self.version,
                &self.serial_number,
                &self.asset_tag,
                &self.fru_file_id,
            ],
            &self.custom,
        )
    }
}

/// A decoded FRU inventory: the common header and the info areas it points at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FruInventory {
    /// The common header as read (offsets of all areas, including the internal use and
    /// multi-record areas, which are not decoded).
    pub header: FruCommonHeader,
    /// The chassis info area, when present.
    pub chassis: Option<ChassisInfo>,
    /// The board info area, when present.
    pub board: Option<BoardInfo>,
    /// The product info area, when present.
    pub product: Option<ProductInfo>,
}

impl FruInventory {
    /// Parse a whole inventory area (as read with [`ReadFruData`] from offset 0).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let header = FruCommonHeader::parse(data)?;
        let at = |units: u8, what: &'static str| {
            data.get(usize::from(units) * 8..)
                .ok_or(Error::truncated(what))
        };
        let chassis = match header.chassis {
            0 => None,
            o => Some(ChassisInfo::parse(at(o, "FRU chassis info area")?)?),
        };
        let board = match header.board {
            0 => None,
            o => Some(BoardInfo::parse(at(o, "FRU board info area")?)?),
        };
        let product = match header.product {
            0 => None,
            o => Some(ProductInfo::parse(at(o, "FRU product info area")?)?),
        };
        Ok(FruInventory {
            header,
            chassis,
            board,
            product,
        })
    }

    /// Encode the chassis, board and product areas behind a fresh common header (`header` is
    /// not used: the offsets are recomputed, and the internal use and multi-record areas are
    /// not written).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut header = FruCommonHeader::default();
        let mut body = Vec::new();
        let mut place = |area: Vec<u8>| -> Result<u8> {
            let units = u8::try_from((FruCommonHeader::LEN + body.len()) / 8).map_err(|_| {
                Error::InvalidArgument {
                    what: "FRU inventory",
                    reason: "areas extend past offset 2040",
                }
            })?;
            body.extend(area);
            Ok(units)
        };
        if let Some(c) = &self.chassis {
            header.chassis = place(c.to_bytes()?)?;
        }
        if let Some(b) = &self.board {
            header.board = place(b.to_bytes()?)?;
        }
        if let Some(p) = &self.product {
            header.product = place(p.to_bytes()?)?;
        }
        let mut out = header.to_bytes().to_vec();
        out.extend(body);
        Ok(out)
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

    #[test]
    fn six_bit_ascii_known_answer() {
        // The FRU specification's example: "IPMI" packs to 29 DC A6.
        assert_eq!(decode_6bit_ascii(&[0x29, 0xdc, 0xa6]), "IPMI");
        let e = EncodedString::packed_6bit("ipmi").expect("encodable");
        assert_eq!(e.data, vec![0x29, 0xdc, 0xa6]);
        assert_eq!(e.decode(), "IPMI");
        assert!(EncodedString::packed_6bit("a~b").is_none());
    }

    #[test]
    fn bcd_plus_known_answer() {
        assert_eq!(decode_bcd_plus(&[0x12, 0xab, 0xc3]), "12 -.3");
        let e = EncodedString::bcd_plus("1.5-2").expect("encodable");
        assert_eq!(e.data, vec![0x1c, 0x5b, 0x2a]);
        assert_eq!(e.decode(), "1.5-2 ");
        assert!(EncodedString::bcd_plus("12a").is_none());
    }

    #[test]
    fn latin1_and_binary() {
        assert_eq!(decode_latin1(&[0x41, 0xe9]), "A\u{e9}");
        assert_eq!(
            EncodedString::latin1("A\u{e9}\u{263a}").data,
            vec![0x41, 0xe9, b'?']
        );
        assert_eq!(EncodedString::binary(vec![0x0a, 0xff]).decode(), "0aff");
    }

    const CHASSIS_AREA: [u8; 16] = [
        0x01, 0x02, 0x17, 0xc2, b'A', b'B', 0xc0, 0xc1, 0, 0, 0, 0, 0, 0, 0, 0x20,
    ];

    #[test]
    fn chassis_area_known_answer() {
        let c = ChassisInfo {
            chassis_type: 0x17,
            part_number: EncodedString::latin1("AB"),
            serial_number: EncodedString::default(),
            custom: vec![],
        };
        assert_eq!(c.to_bytes().expect("encode"), CHASSIS_AREA.to_vec());
        assert_eq!(ChassisInfo::parse(&CHASSIS_AREA).expect("parse"), c);
        let mut bad = CHASSIS_AREA;
        bad[4] = b'X';
        assert_eq!(
            ChassisInfo::parse(&bad),
            Err(Error::Checksum {
                what: "FRU chassis info area"
            })
        );
        assert!(matches!(
            ChassisInfo::parse(&CHASSIS_AREA[..10]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn inventory_known_answer() {
        // Header: version 1, chassis area at offset 1 (8 bytes), checksum 0xFE.
        let mut image = vec![0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xfe];
        image.extend_from_slice(&CHASSIS_AREA);
        let inv = FruInventory::parse(&image).expect("parse");
        assert_eq!(inv.header.chassis, 1);
        assert_eq!(
            inv.chassis.as_ref().map(|c| c.part_number.decode()),
            Some("AB".to_string())
        );
        assert!(inv.board.is_none() && inv.product.is_none());
        assert_eq!(inv.to_bytes().expect("encode"), image);
        // A bad header checksum.
        image[7] = 0xff;
        assert!(matches!(
            FruInventory::parse(&image),
            Err(Error::Checksum { .. })
        ));
    }

    #[test]
    fn board_and_product_round_trip() {
        let board = BoardInfo {
            language: 25,
            mfg_minutes: 0x00_b5_e3_40,
            manufacturer: EncodedString::latin1("ACME"),
            product_name: EncodedString::packed_6bit("BOARD").expect("6-bit"),
            serial_number: EncodedString::bcd_plus("1234").expect("bcd"),
            part_number: EncodedString::latin1("P-1"),
            fru_file_id: EncodedString::binary(vec![1, 2]),
            custom: vec![EncodedString::latin1("extra")],
        };
        let product = ProductInfo {
            language: 0,
            manufacturer: EncodedString::latin1("ACME"),
            product_name: EncodedString::latin1("Server"),
            version: EncodedString::latin1("v2"),
            asset_tag: EncodedString::latin1("tag-7"),
            ..ProductInfo::default()
        };
        let inv = FruInventory {
            board: Some(board.clone()),
            product: Some(product.clone()),
            ..FruInventory::default()
        };
        let bytes = inv.to_bytes().expect("encode");
        let back = FruInventory::parse(&bytes).expect("parse");
        assert_eq!(back.board, Some(board));
        assert_eq!(back.product, Some(product));
        assert_eq!(back.header.board, 1);
        assert_eq!(
            back.board.and_then(|b| b.mfg_time_unix()),
            Some(FRU_EPOCH_UNIX + 0xb5_e340 * 60)
        );
    }

    #[test]
    fn early_end_marker_and_missing_marker() {
        // Board area whose field list ends right after the manufacturer.
        let mut a = vec![
            0x01, 0x02, 0x00, 0, 0, 0, 0xc2, b'H', b'P', 0xc1, 0, 0, 0, 0, 0,
        ];
        a.push(wire::checksum(&a));
        let b = BoardInfo::parse(&a).expect("parse");
        assert_eq!(b.manufacturer.decode(), "HP");
        assert!(b.product_name.is_empty() && b.custom.is_empty());
        // Field longer than the area.
        let mut a = vec![0x01, 0x01, 0x00, 0xc9, b'A', b'B', 0];
        a.push(wire::checksum(&a));
        assert!(matches!(
            ProductInfo::parse(&a),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn one_byte_latin1_field_is_refused() {
        let c = ChassisInfo {
            part_number: EncodedString::latin1("A"),
            ..ChassisInfo::default()
        };
        assert!(matches!(c.to_bytes(), Err(Error::InvalidArgument { .. })));
        let c = ChassisInfo {
            part_number: EncodedString::binary(vec![0; 64]),
            ..ChassisInfo::default()
        };
        assert!(c.to_bytes().is_err());
    }

    #[test]
    fn commands_known_answer() {
        let mut b = BytesMut::new();
        ReadFruData {
            fru_id: 0,
            offset: 0x0120,
            count: 32,
        }
        .emit(&mut b);
        assert_eq!(&b[..], &[0x00, 0x20, 0x01, 0x20]);
        assert_eq!(
            ReadFruData::parse(&b).expect("parse"),
            ReadFruData {
                fru_id: 0,
                offset: 0x120,
                count: 32
            }
        );
        let info = FruInventoryAreaInfo::parse(&[0x00, 0x04, 0x00]).expect("parse");
        assert_eq!(
            info,
            FruInventoryAreaInfo {
                size: 1024,
                word_access: false
            }
        );
        rt(&info);
        let d = FruData::parse(&[0x03, 1, 2, 3]).expect("parse");
        assert_eq!(d.data, vec![1, 2, 3]);
        rt(&d);
        assert!(matches!(
            FruData::parse(&[0x04, 1, 2, 3]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn read_plan_chunks_and_shrinks() {
        let plan = plan_fru_reads(2, 100, 32);
        let v: Vec<(u16, u8)> = plan.iter().map(|r| (r.offset, r.count)).collect();
        assert_eq!(v, vec![(0, 32), (32, 32), (64, 32), (96, 4)]);
        assert!(plan.iter().all(|r| r.fru_id == 2));
        assert!(plan_fru_reads(0, 0, 32).is_empty());

        let image: Vec<u8> = (0..100u8).collect();
        let mut p = FruReadPlan::new(2, 100, 32);
        let mut first = true;
        while let Some(req) = p.next_request() {
            if first {
                // The BMC refuses 32-byte reads: shrink to 24.
                assert!(p.on_completion(CompletionCode::CannotReturnBytes));
                assert_eq!(p.chunk(), 24);
                first = false;
                continue;
            }
            // And returns at most 20 bytes anyway.
            let start = usize::from(req.offset);
            let end = (start + usize::from(req.count).min(20)).min(image.len());
            p.record(&FruData {
                data: image[start..end].to_vec(),
            })
            .expect("record");
        }
        assert!(p.is_complete());
        assert_eq!(p.into_data(), image);

        let mut p = FruReadPlan::new(0, 10, 3);
        assert!(p.on_completion(CompletionCode::RequestTooLong));
        assert_eq!(p.chunk(), 1);
        assert!(!p.on_completion(CompletionCode::RequestTooLong));
        assert!(!p.on_completion(CompletionCode::NodeBusy));
        assert!(p.record(&FruData { data: vec![] }).is_err());
    }

    fn field() -> impl Strategy<Value = EncodedString> {
        (0u8..4, proptest::collection::vec(any::<u8>(), 0..=63)).prop_map(|(k, mut data)| {
            let kind = StringKind::from_bits(k);
            if kind == StringKind::Latin1 && data.len() == 1 {
                data.push(b'x');
            }
            EncodedString { kind, data }
        })
    }

    fn fields(n: usize) -> impl Strategy<Value = Vec<EncodedString>> {
        proptest::collection::vec(field(), n)
    }

    fn customs() -> impl Strategy<Value = Vec<EncodedString>> {
        proptest::collection::vec(field(), 0..4)
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..700)) {
            let _ = FruInventory::parse(&data);
            let _ = FruCommonHeader::parse(&data);
            let _ = ChassisInfo::parse(&data);
            let _ = BoardInfo::parse(&data);
            let _ = ProductInfo::parse(&data);
            let _ = FruData::parse(&data);
            let _ = FruInventoryAreaInfo::parse(&data);
            let _ = ReadFruData::parse(&data);
            let _ = GetFruInventoryAreaInfo::parse(&data);
            let _ = decode_6bit_ascii(&data);
            let _ = decode_bcd_plus(&data);
            let _ = decode_latin1(&data);
        }

        #[test]
        fn area_parsers_never_panic_on_valid_framing(
            version in 0u8..3, units in 0u8..6, body in proptest::collection::vec(any::<u8>(), 0..60)
        ) {
            // Make the length and checksum right so that the field parser itself is exercised.
            let mut a = vec![version, units];
            a.extend(body);
            let len = usize::from(units) * 8;
            a.resize(len.max(2), 0);
            if len >= 3 {
                let c = wire::checksum(&a[..len - 1]);
                a[len - 1] = c;
            }
            let _ = ChassisInfo::parse(&a);
            let _ = BoardInfo::parse(&a);
            let _ = ProductInfo::parse(&a);
        }

        #[test]
        fn inventory_round_trip(
            ct in any::<u8>(), cf in fields(2), cc in customs(),
            lang in any::<u8>(), mfg in 0u32..0x100_0000, bf in fields(5), bc in customs(),
            pf in fields(7), pc in customs(), which in 0u8..8,
        ) {
            let mut cf = cf.into_iter();
            let chassis = ChassisInfo {
                chassis_type: ct,
                part_number: cf.next().unwrap_or_default(),
                serial_number: cf.next().unwrap_or_default(),
                custom: cc,
            };
            let mut bf = bf.into_iter();
            let board = BoardInfo {
                language: lang,
                mfg_minutes: mfg,
                manufacturer: bf.next().unwrap_or_default(),
                product_name: bf.next().unwrap_or_default(),
                serial_number: bf.next().unwrap_or_default(),
                part_number: bf.next().unwrap_or_default(),
                fru_file_id: bf.next().unwrap_or_default(),
                custom: bc,
            };
            let mut pf = pf.into_iter();
            let product = ProductInfo {
                language: lang,
                manufacturer: pf.next().unwrap_or_default(),
                product_name: pf.next().unwrap_or_default(),
                part_number: pf.next().unwrap_or_default(),
                version: pf.next().unwrap_or_default(),
                serial_number: pf.next().unwrap_or_default(),
                asset_tag: pf.next().unwrap_or_default(),
                fru_file_id: pf.next().unwrap_or_default(),
                custom: pc,
            };
            let inv = FruInventory {
                header: FruCommonHeader::default(),
                chassis: (which & 1 != 0).then_some(chassis),
                board: (which & 2 != 0).then_some(board),
                product: (which & 4 != 0).then_some(product),
            };
            let bytes = inv.to_bytes().expect("encodable");
            prop_assert_eq!(bytes.len() % 8, 0);
            let back = FruInventory::parse(&bytes).expect("parse");
            prop_assert_eq!(back.chassis, inv.chassis);
            prop_assert_eq!(back.board, inv.board);
            prop_assert_eq!(back.product, inv.product);
        }

        #[test]
        fn six_bit_round_trip(s in "[ -_]{0,40}") {
            let e = EncodedString::packed_6bit(&s).expect("in range");
            let d = e.decode();
            prop_assert!(d == s || d == format!("{s} "), "{:?} -> {:?}", s, d);
        }

        #[test]
        fn bcd_round_trip(s in "[0-9 .-]{0,40}") {
            let e = EncodedString::bcd_plus(&s).expect("in range");
            let d = e.decode();
            prop_assert!(d == s || d == format!("{s} "), "{:?} -> {:?}", s, d);
        }

        #[test]
        fn commands_round_trip(fru_id in any::<u8>(), offset in any::<u16>(), count in any::<u8>(),
                               size in any::<u16>(), word in any::<bool>(),
                               data in proptest::collection::vec(any::<u8>(), 0..=255)) {
            let r = ReadFruData { fru_id, offset, count };
            let mut b = BytesMut::new();
            r.emit(&mut b);
            prop_assert_eq!(ReadFruData::parse(&b).expect("parse"), r);
            let g = GetFruInventoryAreaInfo { fru_id };
            let mut b = BytesMut::new();
            g.emit(&mut b);
            prop_assert_eq!(GetFruInventoryAreaInfo::parse(&b).expect("parse"), g);
            rt(&FruInventoryAreaInfo { size, word_access: word });
            rt(&FruData { data });
        }

        #[test]
        fn read_plan_covers_area(size in 0u16..2000, chunk in any::<u8>(), fru_id in any::<u8>()) {
            let plan = plan_fru_reads(fru_id, size, chunk);
            let mut next = 0u32;
            for r in &plan {
                prop_assert_eq!(u32::from(r.offset), next);
                prop_assert!(r.count >= 1 && r.count <= chunk.max(1));
                next += u32::from(r.count);
            }
            prop_assert_eq!(next, u32::from(size));
        }
    }
}
