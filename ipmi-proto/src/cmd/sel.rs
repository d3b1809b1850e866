//! The System Event Log (Storage net function 0x0A; IPMI v2.0 section 31 and 32): Get SEL
//! Info, Reserve SEL, Get SEL Entry, Clear SEL, and the 16-byte SEL record formats.
//!
//! ```
//! use ipmi_proto::cmd::sel::{SelEntry, SelRecord};
//! let rec = SelRecord::parse(&[
//!     0x01, 0x00, 0x02, 0x5a, 0x3b, 0x8c, 0x4f, 0x20, 0x00, 0x04, 0x04, 0x30, 0x01, 0x52,
//!     0x05, 0x0a,
//! ])
//! .unwrap();
//! assert!(matches!(rec.entry, SelEntry::System(e) if e.sensor_number == 0x30));
//! ```

use bytes::{BufMut, BytesMut};

use super::{Request, Response};
use crate::error::{Error, Result};
use crate::message::NetFn;
use crate::wire::{self, array, le_u16, le_u24, le_u32, u8_};

/// The SEL version byte of IPMI v1.5/v2.0 (BCD 5.1 with the digits swapped).
pub const SEL_VERSION: u8 = 0x51;

/// Record id of the first entry (Get SEL Entry).
pub const FIRST_ENTRY: u16 = 0x0000;

/// Record id of the last entry (Get SEL Entry), and the next id returned after it.
pub const LAST_ENTRY: u16 = 0xffff;

/// `bytes_to_read` value of Get SEL Entry meaning "the entire record".
pub const READ_ENTIRE_ENTRY: u8 = 0xff;

/// Get SEL Info (Storage 0x40).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetSelInfo;

/// The Get SEL Info response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SelInfo {
    /// SEL version (0x51).
    pub version: u8,
    /// Number of log entries.
    pub entries: u16,
    /// Free space in bytes.
    pub free_space: u16,
    /// Most recent addition timestamp (seconds since 1970; 0xFFFFFFFF: unspecified).
    pub last_addition: u32,
    /// Most recent erase timestamp.
    pub last_erase: u32,
    /// Operation support: bit 7 overflow, bit 3 Delete SEL, bit 2 Partial Add SEL Entry,
    /// bit 1 Reserve SEL, bit 0 Get SEL Allocation Info supported.
    pub operation_support: u8,
}

impl SelInfo {
    /// Whether events were dropped because the SEL was full.
    pub fn overflow(&self) -> bool {
        self.operation_support & 0x80 != 0
    }

    /// Whether Reserve SEL is supported.
    pub fn supports_reserve(&self) -> bool {
        self.operation_support & 0x02 != 0
    }
}

impl Request for GetSelInfo {
    type Response = SelInfo;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x40;
    fn emit(&self, _out: &mut BytesMut) {}
    fn parse(_data: &[u8]) -> Result<Self> {
        Ok(GetSelInfo)
    }
}

impl Response for SelInfo {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get SEL Info response";
        let (i, version) = wire::ctx(what, u8_(data))?;
        let (i, entries) = wire::ctx(what, le_u16(i))?;
        let (i, free_space) = wire::ctx(what, le_u16(i))?;
        let (i, last_addition) = wire::ctx(what, le_u32(i))?;
        let (i, last_erase) = wire::ctx(what, le_u32(i))?;
        let (_, operation_support) = wire::ctx(what, u8_(i))?;
        Ok(SelInfo {
            version,
            entries,
            free_space,
            last_addition,
            last_erase,
            operation_support,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.version);
        out.put_u16_le(self.entries);
        out.put_u16_le(self.free_space);
        out.put_u32_le(self.last_addition);
        out.put_u32_le(self.last_erase);
        out.put_u8(self.operation_support);
    }
}

/// Reserve SEL (Storage 0x42).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReserveSel;

/// A SEL reservation id (for partial reads and Clear SEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SelReservation(pub u16);

impl Request for ReserveSel {
    type Response = SelReservation;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x42;
    fn emit(&self, _out: &mut BytesMut) {}
    fn parse(_data: &[u8]) -> Result<Self> {
        Ok(ReserveSel)
    }
}

impl Response for SelReservation {
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, id) = wire::ctx("Reserve SEL response", le_u16(data))?;
        Ok(SelReservation(id))
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.0);
    }
}

/// Get SEL Entry (Storage 0x43).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetSelEntry {
    /// Reservation id (only needed for partial reads; 0 otherwise).
    pub reservation_id: u16,
    /// Record id ([`FIRST_ENTRY`], [`LAST_ENTRY`] or a next id from a previous answer).
    pub record_id: u16,
    /// Offset into the record.
    pub offset: u8,
    /// Bytes to read ([`READ_ENTIRE_ENTRY`] for all).
    pub bytes_to_read: u8,
}

impl GetSelEntry {
    /// Read all of record `record_id`.
    pub fn entire(record_id: u16) -> Self {
        GetSelEntry {
            reservation_id: 0,
            record_id,
            offset: 0,
            bytes_to_read: READ_ENTIRE_ENTRY,
        }
    }
}

/// The Get SEL Entry response: the next record id and the (part of the) record read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelEntryData {
    /// Next record id ([`LAST_ENTRY`] after the last).
    pub next_record_id: u16,
    /// The record bytes read (16 for a whole record).
    pub data: Vec<u8>,
}

impl SelEntryData {
    /// Decode the data as a whole record.
    pub fn record(&self) -> Result<SelRecord> {
        SelRecord::parse(&self.data)
    }
}

impl Request for GetSelEntry {
    type Response = SelEntryData;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x43;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.reservation_id);
        out.put_u16_le(self.record_id);
        out.put_u8(self.offset);
        out.put_u8(self.bytes_to_read);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get SEL Entry request";
        let (i, reservation_id) = wire::ctx(what, le_u16(data))?;
        let (i, record_id) = wire::ctx(what, le_u16(i))?;
        let (i, offset) = wire::ctx(what, u8_(i))?;
        let (_, bytes_to_read) = wire::ctx(what, u8_(i))?;
        Ok(GetSelEntry {
            reservation_id,
            record_id,
            offset,
            bytes_to_read,
        })
    }
}

impl Response for SelEntryData {
    fn parse(data: &[u8]) -> Result<Self> {
        let (rest, next_record_id) = wire::ctx("Get SEL Entry response", le_u16(data))?;
        Ok(SelEntryData {
            next_record_id,
            data: rest.to_vec(),
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.next_record_id);
        out.put_slice(&self.data);
    }
}

/// What Clear SEL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClearSelAction {
    /// 0xAA: initiate erasure.
    Initiate,
    /// 0x00: get the erasure status.
    GetStatus,
}

/// Clear SEL (Storage 0x47): reservation id, `'C' 'L' 'R'`, action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearSel {
    /// Reservation id from Reserve SEL.
    pub reservation_id: u16,
    /// Initiate or poll.
    pub action: ClearSelAction,
}

/// The Clear SEL response: erasure progress (bits 3:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErasureProgress {
    /// 0: erasure in progress.
    InProgress,
    /// 1: erase completed.
    Completed,
    /// Another (reserved) value.
    Reserved(u8),
}

impl Request for ClearSel {
    type Response = ErasureProgress;
    const NETFN: NetFn = NetFn::Storage;
    const CMD: u8 = 0x47;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.reservation_id);
        out.put_slice(b"CLR");
        out.put_u8(match self.action {
            ClearSelAction::Initiate => 0xaa,
            ClearSelAction::GetStatus => 0x00,
        });
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Clear SEL request";
        let (i, reservation_id) = wire::ctx(what, le_u16(data))?;
        let (i, clr) = wire::ctx(what, array::<3>(i))?;
        let (_, action) = wire::ctx(what, u8_(i))?;
        if &clr != b"CLR" {
            return Err(Error::invalid(what, "missing the 'CLR' signature"));
        }
        let action = match action {
            0xaa => ClearSelAction::Initiate,
            0x00 => ClearSelAction::GetStatus,
            _ => return Err(Error::invalid(what, "action is neither 0xAA nor 0x00")),
        };
        Ok(ClearSel {
            reservation_id,
            action,
        })
    }
}

impl Response for ErasureProgress {
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, v) = wire::ctx("Clear SEL response", u8_(data))?;
        Ok(match v & 0x0f {
            0 => Self::InProgress,
            1 => Self::Completed,
            other => Self::Reserved(other),
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(match self {
            Self::InProgress => 0,
            Self::Completed => 1,
            Self::Reserved(v) => v & 0x0f,
        });
    }
}

/// A system event record's contents (record type 0x02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemEvent {
    /// Timestamp (seconds since 1970, or since the BMC started when below 0x20000000).
    pub timestamp: u32,
    /// Generator id: byte 1 bits 7:1 slave address or software id, bit 0 set for software;
    /// byte 2 bits 7:4 channel, bits 1:0 LUN.
    pub generator_id: u16,
    /// Event message format revision (0x04 for IPMI v2.0, 0x03 for v1.0).
    pub evm_rev: u8,
    /// Sensor type.
    pub sensor_type: u8,
    /// Sensor number.
    pub sensor_number: u8,
    /// Deassertion event (bit 7 of the event dir/type byte).
    pub deassertion: bool,
    /// Event/reading type code (7 bits).
    pub event_type: u8,
    /// Event data 1..3.
    pub event_data: [u8; 3],
}

impl SystemEvent {
    /// Whether the generator is system software (rather than an IPMB device).
    pub fn software_generator(&self) -> bool {
        self.generator_id & 1 != 0
    }

    /// Channel number of the generator.
    pub fn generator_channel(&self) -> u8 {
        ((self.generator_id >> 12) & 0x0f) as u8
    }

    /// LUN of the generator.
    pub fn generator_lun(&self) -> u8 {
        ((self.generator_id >> 8) & 3) as u8
    }

    /// The event offset (event data 1, bits 3:0): which state or threshold the event is for.
    pub fn offset(&self) -> u8 {
        self.event_data[0] & 0x0f
    }
}

/// The contents of a SEL record, by record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SelEntry {
    /// 0x02: a system event.
    System(SystemEvent),
    /// 0xC0..=0xDF: OEM timestamped record.
    OemTimestamped {
        /// Record type (0xC0..=0xDF).
        record_type: u8,
        /// Timestamp.
        timestamp: u32,
        /// Manufacturer IANA number (24 bits).
        manufacturer_id: u32,
        /// OEM-defined bytes.
        data: [u8; 6],
    },
    /// 0xE0..=0xFF: OEM non-timestamped record.
    OemNonTimestamped {
        /// Record type (0xE0..=0xFF).
        record_type: u8,
        /// OEM-defined bytes.
        data: [u8; 13],
    },
    /// Any other (unspecified) record type.
    Other {
        /// Record type.
        record_type: u8,
        /// The 13 bytes after the type.
        data: [u8; 13],
    },
}

/// A 16-byte SEL record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SelRecord {
    /// Record id.
    pub record_id: u16,
    /// The typed contents.
    pub entry: SelEntry,
}

impl SelRecord {
    /// Length of a SEL record in bytes.
    pub const LEN: usize = 16;

    /// The record type byte.
    pub fn record_type(&self) -> u8 {
        match self.entry {
            SelEntry::System(_) => 0x02,
            SelEntry::OemTimestamped { record_type, .. }
            | SelEntry::OemNonTimestamped { record_type, .. }
            | SelEntry::Other { record_type, .. } => record_type,
        }
    }

    /// The timestamp, for the record types that have one.
    pub fn timestamp(&self) -> Option<u32> {
        match self.entry {
            SelEntry::System(e) => Some(e.timestamp),
            SelEntry::OemTimestamped { timestamp, .. } => Some(timestamp),
            _ => None,
        }
    }

    /// Parse a record (16 bytes; bytes after it are ignored).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "SEL record";
        let (i, record_id) = wire::ctx(what, le_u16(data))?;
        let (i, record_type) = wire::ctx(what, u8_(i))?;
        let (_, body) = wire::ctx(what, array::<13>(i))?;
        let entry = match record_type {
            0x02 => {
                let (i, timestamp) = wire::ctx(what, le_u32(&body))?;
                let (i, generator_id) = wire::ctx(what, le_u16(i))?;
                let (_, [evm_rev, sensor_type, sensor_number, dir_type, d1, d2, d3]) =
                    wire::ctx(what, array::<7>(i))?;
                SelEntry::System(SystemEvent {
                    timestamp,
                    generator_id,
                    evm_rev,
                    sensor_type,
                    sensor_number,
                    deassertion: dir_type & 0x80 != 0,
                    event_type: dir_type & 0x7f,
                    event_data: [d1, d2, d3],
                })
            }
            0xc0..=0xdf => {
                let (i, timestamp) = wire::ctx(what, le_u32(&body))?;
                let (i, manufacturer_id) = wire::ctx(what, le_u24(i))?;
                let (_, data) = wire::ctx(what, array::<6>(i))?;
                SelEntry::OemTimestamped {
                    record_type,
                    timestamp,
                    manufacturer_id,
                    data,
                }
            }
            0xe0..=0xff => SelEntry::OemNonTimestamped {
                record_type,
                data: body,
            },
            _ => SelEntry::Other {
                record_type,
                data: body,
            },
        };
        Ok(SelRecord { record_id, entry })
    }

    /// Append the 16 record bytes.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u16_le(self.record_id);
        out.put_u8(self.record_type());
        match &self.entry {
            SelEntry::System(e) => {
                out.put_u32_le(e.timestamp);
                out.put_u16_le(e.generator_id);
                out.put_slice(&[
                    e.evm_rev,
                    e.sensor_type,
                    e.sensor_number,
                    (u8::from(e.deassertion) << 7) | (e.event_type & 0x7f),
                ]);
                out.put_slice(&e.event_data);
            }
            SelEntry::OemTimestamped {
                timestamp,
                manufacturer_id,
                data,
                ..
            } => {
                out.put_u32_le(*timestamp);
                let [m0, m1, m2, _] = manufacturer_id.to_le_bytes();
                out.put_slice(&[m0, m1, m2]);
                out.put_slice(data);
            }
            SelEntry::OemNonTimestamped { data, .. } | SelEntry::Other { data, .. } => {
                out.put_slice(data);
            }
        }
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

    fn rec_rt(r: &SelRecord) -> Vec<u8> {
        let mut b = BytesMut::new();
        r.emit(&mut b);
        assert_eq!(b.len(), SelRecord::LEN);
        assert_eq!(&SelRecord::parse(&b).expect("parse"), r);
        b.to_vec()
    }

    const FAN_EVENT: [u8; 16] = [
        0x01, 0x00, 0x02, 0x5a, 0x3b, 0x8c, 0x4f, 0x20, 0x00, 0x04, 0x04, 0x30, 0x01, 0x52, 0x05,
        0x0a,
    ];

    #[test]
    fn system_event_known_answer() {
        let r = SelRecord::parse(&FAN_EVENT).expect("parse");
        assert_eq!(r.record_id, 1);
        assert_eq!(r.record_type(), 2);
        assert_eq!(r.timestamp(), Some(0x4f8c_3b5a));
        let SelEntry::System(e) = r.entry else {
            panic!("not a system event: {r:?}");
        };
        assert_eq!(e.generator_id, 0x0020);
        assert!(!e.software_generator());
        assert_eq!(e.generator_channel(), 0);
        assert_eq!(e.generator_lun(), 0);
        assert_eq!(e.evm_rev, 0x04);
        assert_eq!(e.sensor_type, 0x04);
        assert_eq!(e.sensor_number, 0x30);
        assert!(!e.deassertion);
        assert_eq!(e.event_type, 0x01);
        assert_eq!(e.event_data, [0x52, 0x05, 0x0a]);
        assert_eq!(e.offset(), 2);
        assert_eq!(rec_rt(&r), FAN_EVENT.to_vec());

        // Deasserted, from BIOS (software id 0x01) on channel 1 LUN 2.
        let mut d = FAN_EVENT;
        d[7] = 0x01;
        d[8] = 0x12;
        d[12] = 0x81;
        let SelEntry::System(e) = SelRecord::parse(&d).expect("parse").entry else {
            panic!("not a system event");
        };
        assert!(e.deassertion && e.software_generator());
        assert_eq!((e.generator_channel(), e.generator_lun()), (1, 2));
        assert!(matches!(
            SelRecord::parse(&FAN_EVENT[..15]),
            Err(Error::Truncated { what: "SEL record" })
        ));
    }

    #[test]
    fn oem_records() {
        let mut b = [0u8; 16];
        b[0] = 0x10;
        b[2] = 0xc1;
        b[3..7].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        b[7..10].copy_from_slice(&[0x57, 0x01, 0x00]);
        b[10..16].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        let r = SelRecord::parse(&b).expect("parse");
        assert_eq!(
            r.entry,
            SelEntry::OemTimestamped {
                record_type: 0xc1,
                timestamp: 0x1234_5678,
                manufacturer_id: 0x0157,
                data: [1, 2, 3, 4, 5, 6],
            }
        );
        assert_eq!(rec_rt(&r), b.to_vec());
        b[2] = 0xe0;
        let r = SelRecord::parse(&b).expect("parse");
        assert!(matches!(
            r.entry,
            SelEntry::OemNonTimestamped {
                record_type: 0xe0,
                ..
            }
        ));
        assert_eq!(r.timestamp(), None);
        assert_eq!(rec_rt(&r), b.to_vec());
        b[2] = 0x03;
        let r = SelRecord::parse(&b).expect("parse");
        assert!(matches!(
            r.entry,
            SelEntry::Other {
                record_type: 0x03,
                ..
            }
        ));
        assert_eq!(rec_rt(&r), b.to_vec());
    }

    #[test]
    fn commands_known_answer() {
        let mut b = BytesMut::new();
        ClearSel {
            reservation_id: 0x0102,
            action: ClearSelAction::Initiate,
        }
        .emit(&mut b);
        assert_eq!(&b[..], &[0x02, 0x01, b'C', b'L', b'R', 0xaa]);
        assert_eq!(
            ClearSel::parse(&b).expect("parse"),
            ClearSel {
                reservation_id: 0x0102,
                action: ClearSelAction::Initiate
            }
        );
        assert!(matches!(
            ClearSel::parse(&[0x02, 0x01, b'C', b'L', b'X', 0xaa]),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            ClearSel::parse(&[0x02, 0x01, b'C', b'L', b'R', 0x01]),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            ClearSel::parse(&[0x02, 0x01, b'C']),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(
            ErasureProgress::parse(&[0x01]).expect("parse"),
            ErasureProgress::Completed
        );
        assert_eq!(
            ErasureProgress::parse(&[0x00]).expect("parse"),
            ErasureProgress::InProgress
        );

        let mut b = BytesMut::new();
        GetSelEntry::entire(LAST_ENTRY).emit(&mut b);
        assert_eq!(&b[..], &[0x00, 0x00, 0xff, 0xff, 0x00, 0xff]);

        let mut resp = vec![0x02, 0x00];
        resp.extend_from_slice(&FAN_EVENT);
        let e = SelEntryData::parse(&resp).expect("parse");
        assert_eq!(e.next_record_id, 2);
        assert_eq!(e.record().expect("record").record_id, 1);
        rt(&e);

        let info = SelInfo::parse(&[
            0x51, 0x03, 0x00, 0x00, 0x08, 0x10, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x8a,
        ])
        .expect("parse");
        assert_eq!(info.entries, 3);
        assert_eq!(info.free_space, 0x0800);
        assert_eq!(info.last_addition, 0x10);
        assert!(info.overflow() && info.supports_reserve());
        rt(&info);
        assert_eq!(
            SelReservation::parse(&[0x34, 0x12]).expect("parse"),
            SelReservation(0x1234)
        );
    }

    fn sel_entry() -> impl Strategy<Value = SelEntry> {
        prop_oneof![
            (
                any::<u32>(),
                any::<u16>(),
                any::<[u8; 3]>(),
                any::<bool>(),
                0u8..0x80,
                any::<[u8; 3]>()
            )
                .prop_map(
                    |(timestamp, generator_id, b, deassertion, event_type, event_data)| {
                        SelEntry::System(SystemEvent {
                            timestamp,
                            generator_id,
                            evm_rev: b[0],
                            sensor_type: b[1],
                            sensor_number: b[2],
                            deassertion,
                            event_type,
                            event_data,
                        })
                    }
                ),
            (
                0xc0u8..=0xdf,
                any::<u32>(),
                0u32..0x100_0000,
                any::<[u8; 6]>()
            )
                .prop_map(|(record_type, timestamp, manufacturer_id, data)| {
                    SelEntry::OemTimestamped {
                        record_type,
                        timestamp,
                        manufacturer_id,
                        data,
                    }
                }),
            (0xe0u8..=0xff, any::<[u8; 13]>())
                .prop_map(|(record_type, data)| SelEntry::OemNonTimestamped { record_type, data }),
            (0u8..0xc0, any::<[u8; 13]>())
                .prop_filter("not a system event", |(t, _)| *t != 0x02)
                .prop_map(|(record_type, data)| SelEntry::Other { record_type, data }),
        ]
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = SelRecord::parse(&data);
            let _ = SelInfo::parse(&data);
            let _ = SelReservation::parse(&data);
            let _ = SelEntryData::parse(&data).map(|e| e.record());
            let _ = ErasureProgress::parse(&data);
            let _ = GetSelEntry::parse(&data);
            let _ = ClearSel::parse(&data);
            let _ = GetSelInfo::parse(&data);
            let _ = ReserveSel::parse(&data);
        }

        #[test]
        fn records_round_trip(record_id in any::<u16>(), entry in sel_entry()) {
            rec_rt(&SelRecord { record_id, entry });
        }

        #[test]
        fn commands_round_trip(
            res in any::<u16>(), id in any::<u16>(), off in any::<u8>(), n in any::<u8>(),
            init in any::<bool>(), progress in 0u8..16,
            data in proptest::collection::vec(any::<u8>(), 0..32),
            info in any::<(u8, u16, u16, u32, u32, u8)>(),
        ) {
            let g = GetSelEntry { reservation_id: res, record_id: id, offset: off, bytes_to_read: n };
            let mut b = BytesMut::new();
            g.emit(&mut b);
            prop_assert_eq!(GetSelEntry::parse(&b).expect("parse"), g);
            let c = ClearSel {
                reservation_id: res,
                action: if init { ClearSelAction::Initiate } else { ClearSelAction::GetStatus },
            };
            let mut b = BytesMut::new();
            c.emit(&mut b);
            prop_assert_eq!(ClearSel::parse(&b).expect("parse"), c);
            rt(&match progress {
                0 => ErasureProgress::InProgress,
                1 => ErasureProgress::Completed,
                p => ErasureProgress::Reserved(p),
            });
            rt(&SelEntryData { next_record_id: id, data });
            rt(&SelReservation(res));
            rt(&SelInfo {
                version: info.0, entries: info.1, free_space: info.2,
                last_addition: info.3, last_erase: info.4, operation_support: info.5,
            });
        }
    }
}
