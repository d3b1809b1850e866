//! What a BMC serves from its storage and sensor devices: an SDR repository
//! ([`SdrRepository`]), sensor readings ([`SensorState`]), a System Event Log ([`Sel`]) and FRU
//! inventory areas, bundled in [`Storage`], which answers the Storage (0x0A) and Sensor/Event
//! (0x04) commands that read them. [`super::SimpleSystem`] keeps one; any other
//! [`super::ManagedSystem`] can delegate to one from its `handle`.
//!
//! The requests are parsed and the answers emitted with the typed commands of
//! [`crate::cmd::sdr`], [`crate::cmd::sel`] and [`crate::cmd::fru`]; every request is checked
//! (lengths, offsets, reservations), so no request data can make it panic.
//!
//! ```
//! use ipmi_proto::bmc::storage::Storage;
//! use ipmi_proto::cmd::Privilege;
//! let mut storage = Storage::example();
//! // Get Sensor Reading (Sensor/Event 0x2D) of the CPU temperature: raw 45.
//! let answer = storage.handle(Privilege::User, 0x04, 0x2d, &[0x02]).unwrap();
//! assert_eq!(answer.unwrap()[0], 45);
//! ```

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;

use crate::cmd::fru::{
    BoardInfo, EncodedString, FruData, FruInventory, FruInventoryAreaInfo, GetFruInventoryAreaInfo,
    ProductInfo, ReadFruData,
};
use crate::cmd::sdr::{
    AnalogFormat, FruDeviceLocator, FullSensor, GetSdr, GetSdrRepositoryInfo, GetSensorReading,
    GetSensorThresholds, LAST_RECORD, Linearization, McDeviceLocator, ModifierUnit,
    READ_ENTIRE_RECORD, RateUnit, ReserveSdrRepository, SDR_VERSION, Sdr, SdrData, SdrHeader,
    SdrRecord, SdrRepositoryInfo, SdrReservation, SensorKey, SensorReading, SensorThresholds,
    SensorUnits, Threshold, Thresholds,
};
use crate::cmd::sel::{
    ClearSel, ClearSelAction, ErasureProgress, FIRST_ENTRY, GetSelEntry, GetSelInfo, LAST_ENTRY,
    READ_ENTIRE_ENTRY, ReserveSel, SEL_VERSION, SelEntry, SelEntryData, SelInfo, SelRecord,
    SelReservation, SystemEvent,
};
use crate::cmd::{CompletionCode, Privilege, Request, Response};
use crate::error::{Error, Result};
use crate::message::{BMC_SLAVE_ADDR, NetFn};

/// Most bytes one Read FRU Data answer carries; longer reads return this many (the response's
/// count byte says so, and clients read on from there).
pub const MAX_FRU_READ: u8 = 128;

/// Bytes an [`SdrRepository`] holds at most (free space is reported against this).
pub const SDR_CAPACITY: usize = 0xfffe;

/// Entries a [`Sel`] made with [`Sel::new`] holds.
pub const DEFAULT_SEL_CAPACITY: usize = 512;

/// The Get Device ID "additional device support" bits of a BMC with everything [`Storage`]
/// serves: sensor device (bit 0), SDR repository (bit 1), SEL (bit 2) and FRU inventory (bit 3)
/// devices. Add bit 7 for a chassis device.
pub const STORAGE_DEVICE_SUPPORT: u8 = 0x0f;

/// Seconds since 1970 now, as the 32-bit SEL/SDR timestamp.
fn now_timestamp() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// The next reservation id after `current` (never 0, which means "no reservation").
fn next_reservation(current: u16) -> u16 {
    current.wrapping_add(1).max(1)
}

/// Whether `given` is the live reservation `current` (0 is never live).
fn reservation_ok(current: u16, given: u16) -> bool {
    current != 0 && given == current
}

/// The bytes `offset..offset+count` of a record (`count` 0xFF: to the end). An offset past the
/// end is 0xC9, a count past the end 0xCA.
fn record_slice(
    record: &[u8],
    offset: u8,
    count: u8,
    entire: u8,
) -> Result<Vec<u8>, CompletionCode> {
    let start = usize::from(offset);
    if start > record.len() {
        return Err(CompletionCode::ParameterOutOfRange);
    }
    let end = if count == entire {
        record.len()
    } else {
        start + usize::from(count)
    };
    record
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or(CompletionCode::CannotReturnBytes)
}

fn encode<R: Response>(r: &R) -> Vec<u8> {
    let mut b = BytesMut::new();
    r.emit(&mut b);
    b.to_vec()
}

/// Parse request data, mapping a short request to 0xC7 and a malformed one to 0xCC.
fn parse<R: Request>(data: &[u8]) -> Result<R, CompletionCode> {
    R::parse(data).map_err(|e| match e {
        Error::Truncated { .. } => CompletionCode::RequestLengthInvalid,
        _ => CompletionCode::InvalidDataField,
    })
}

// ---------------------------------------------------------------------------------------------
// SDR repository
// ---------------------------------------------------------------------------------------------

/// A Sensor Data Record repository: whole records (header included) by record id, with a
/// reservation for partial reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdrRepository {
    records: BTreeMap<u16, Vec<u8>>,
    used: usize,
    reservation: u16,
    last_addition: u32,
    last_erase: u32,
}

impl Default for SdrRepository {
    fn default() -> Self {
        Self::new()
    }
}

impl SdrRepository {
    /// An empty repository.
    pub fn new() -> Self {
        SdrRepository {
            records: BTreeMap::new(),
            used: 0,
            reservation: 0,
            last_addition: 0xffff_ffff,
            last_erase: 0xffff_ffff,
        }
    }

    /// The record id the next added record gets.
    fn next_id(&self) -> Result<u16> {
        let id = match self.records.last_key_value() {
            None => 1,
            Some((id, _)) => id.wrapping_add(1),
        };
        if id == 0 || id == LAST_RECORD {
            return Err(Error::InvalidArgument {
                what: "SDR repository",
                reason: "record ids exhausted",
            });
        }
        Ok(id)
    }

    /// Add a record built with the typed [`SdrRecord`]s (version 0x51); returns its record id.
    /// Fails when the repository is full.
    pub fn push(&mut self, record: SdrRecord) -> Result<u16> {
        let id = self.next_id()?;
        let mut b = BytesMut::new();
        Sdr {
            record_id: id,
            version: SDR_VERSION,
            record,
        }
        .emit(&mut b);
        self.insert(id, b.to_vec())
    }

    /// Add a record given as bytes (5-byte header, then as many bytes as its length byte
    /// says); its record id is replaced by the next free one, which is returned.
    pub fn push_raw(&mut self, record: &[u8]) -> Result<u16> {
        let header = SdrHeader::parse(record)?;
        if usize::from(header.total_len()) != record.len() {
            return Err(Error::InvalidArgument {
                what: "SDR record",
                reason: "length byte does not match the record",
            });
        }
        let id = self.next_id()?;
        let mut bytes = record.to_vec();
        if let Some(b) = bytes.get_mut(..2) {
            b.copy_from_slice(&id.to_le_bytes());
        }
        self.insert(id, bytes)
    }

    fn insert(&mut self, id: u16, bytes: Vec<u8>) -> Result<u16> {
        if self.used + bytes.len() > SDR_CAPACITY {
            return Err(Error::InvalidArgument {
                what: "SDR repository",
                reason: "out of space",
            });
        }
        self.used += bytes.len();
        self.records.insert(id, bytes);
        self.last_addition = now_timestamp();
        // A change cancels the reservation.
        self.reservation = next_reservation(self.reservation);
        Ok(id)
    }

    /// Erase every record.
    pub fn clear(&mut self) {
        self.records.clear();
        self.used = 0;
        self.last_erase = now_timestamp();
        self.reservation = next_reservation(self.reservation);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The bytes of record `id`.
    pub fn get(&self, id: u16) -> Option<&[u8]> {
        self.records.get(&id).map(Vec::as_slice)
    }

    /// The records, by record id, as bytes.
    pub fn records(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.records.iter().map(|(id, r)| (*id, r.as_slice()))
    }

    /// The records that parse, typed.
    pub fn parsed(&self) -> Vec<Sdr> {
        self.records
            .values()
            .filter_map(|r| Sdr::parse(r).ok())
            .collect()
    }

    /// The full sensor record of sensor `number` (any owner), if there is one.
    pub fn full_sensor(&self, number: u8) -> Option<FullSensor> {
        self.parsed().into_iter().find_map(|s| match s.record {
            SdrRecord::FullSensor(f) if f.key.number == number => Some(f),
            _ => None,
        })
    }

    /// The live reservation id (0 when none was made).
    pub fn reservation(&self) -> u16 {
        self.reservation
    }

    /// Reserve SDR Repository: a new reservation, cancelling the previous one.
    pub fn reserve(&mut self) -> SdrReservation {
        self.reservation = next_reservation(self.reservation);
        SdrReservation(self.reservation)
    }

    /// Get SDR Repository Info.
    pub fn info(&self) -> SdrRepositoryInfo {
        SdrRepositoryInfo {
            version: SDR_VERSION,
            record_count: u16::try_from(self.records.len()).unwrap_or(u16::MAX),
            free_space: u16::try_from(SDR_CAPACITY.saturating_sub(self.used)).unwrap_or(0xfffe),
            last_addition: self.last_addition,
            last_erase: self.last_erase,
            // Reserve SDR Repository supported; no modal/non-modal update commands.
            operation_support: 0x02,
        }
    }

    /// Get SDR: record 0x0000 is the first; the next id after the last is 0xFFFF. Partial
    /// reads (offset not 0) need the live reservation (0xC5 otherwise); an unknown record is
    /// 0xCB, an offset past the record 0xC9, a count past it 0xCA.
    pub fn read(&self, req: &GetSdr) -> Result<SdrData, CompletionCode> {
        if req.offset != 0 && !reservation_ok(self.reservation, req.reservation_id) {
            return Err(CompletionCode::ReservationCancelled);
        }
        let mut it = if req.record_id == 0 {
            self.records.range(..)
        } else {
            self.records.range(req.record_id..)
        };
        let (id, record) = it.next().ok_or(CompletionCode::NotPresent)?;
        if req.record_id != 0 && *id != req.record_id {
            return Err(CompletionCode::NotPresent);
        }
        let next_record_id = it.next().map_or(LAST_RECORD, |(id, _)| *id);
        let data = record_slice(record, req.offset, req.bytes_to_read, READ_ENTIRE_RECORD)?;
        Ok(SdrData {
            next_record_id,
            data,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Sensors
// ---------------------------------------------------------------------------------------------

/// The state of one sensor: its raw reading and, for threshold sensors, the raw thresholds
/// it compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorState {
    /// Raw reading.
    pub raw: u8,
    /// How the raw reading and thresholds are signed (for the comparisons).
    pub format: AnalogFormat,
    /// Raw threshold values.
    pub thresholds: Thresholds,
    /// Which thresholds exist ([`Threshold::mask_bit`]); 0 for none.
    pub readable_thresholds: u8,
    /// For discrete sensors, the asserted states (bit n = state n); `None` for threshold
    /// sensors, whose state byte is the threshold comparison.
    pub discrete_states: Option<u16>,
    /// Scanning enabled.
    pub scanning: bool,
    /// Event messages enabled.
    pub events: bool,
    /// The reading is unavailable.
    pub unavailable: bool,
}

impl SensorState {
    /// An unsigned threshold sensor reading `raw`, without thresholds.
    pub fn new(raw: u8) -> Self {
        SensorState {
            raw,
            format: AnalogFormat::Unsigned,
            thresholds: Thresholds::default(),
            readable_thresholds: 0,
            discrete_states: None,
            scanning: true,
            events: true,
            unavailable: false,
        }
    }

    /// A sensor reading `raw` with the format, thresholds and readable threshold mask (low
    /// byte of the reading mask) of its full sensor record.
    pub fn for_full_sensor(record: &FullSensor, raw: u8) -> Self {
        let threshold_based = record.event_reading_type == 0x01;
        SensorState {
            format: record.units.format,
            thresholds: record.thresholds,
            readable_thresholds: if threshold_based {
                (record.reading_mask & 0x3f) as u8
            } else {
                0
            },
            discrete_states: (!threshold_based).then_some(0),
            ..Self::new(raw)
        }
    }

    /// Set thresholds: `readable` is the mask of those that exist.
    pub fn with_thresholds(mut self, thresholds: Thresholds, readable: u8) -> Self {
        self.thresholds = thresholds;
        self.readable_thresholds = readable & 0x3f;
        self
    }

    /// The threshold comparison status: bit set for each readable threshold the reading is at
    /// or beyond (at or below a lower one, at or above an upper one).
    pub fn threshold_status(&self) -> u8 {
        let Some(v) = self.format.value(self.raw) else {
            return 0;
        };
        Threshold::ALL
            .iter()
            .filter(|t| self.readable_thresholds & t.mask_bit() != 0)
            .filter(|t| {
                let Some(th) = self.format.value(self.thresholds.get(**t)) else {
                    return false;
                };
                match t {
                    Threshold::LowerNonCritical
                    | Threshold::LowerCritical
                    | Threshold::LowerNonRecoverable => v <= th,
                    _ => v >= th,
                }
            })
            .fold(0, |acc, t| acc | t.mask_bit())
    }

    /// The Get Sensor Reading answer.
    pub fn reading(&self) -> SensorReading {
        let (states, states_high) = match self.discrete_states {
            None => (Some(self.threshold_status()), None),
            Some(s) => {
                let [lo, hi] = s.to_le_bytes();
                (Some(lo), Some(hi & 0x7f))
            }
        };
        SensorReading {
            reading: self.raw,
            event_messages_enabled: self.events,
            scanning_enabled: self.scanning,
            reading_unavailable: self.unavailable,
            states,
            states_high,
        }
    }

    /// The Get Sensor Thresholds answer.
    pub fn threshold_response(&self) -> SensorThresholds {
        let mut t = self.thresholds;
        // Unreadable thresholds read as 0.
        let keep = |bit: Threshold, v: &mut u8| {
            if self.readable_thresholds & bit.mask_bit() == 0 {
                *v = 0;
            }
        };
        keep(Threshold::LowerNonCritical, &mut t.lnc);
        keep(Threshold::LowerCritical, &mut t.lc);
        keep(Threshold::LowerNonRecoverable, &mut t.lnr);
        keep(Threshold::UpperNonCritical, &mut t.unc);
        keep(Threshold::UpperCritical, &mut t.uc);
        keep(Threshold::UpperNonRecoverable, &mut t.unr);
        SensorThresholds {
            readable: self.readable_thresholds,
            thresholds: t,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SEL
// ---------------------------------------------------------------------------------------------

/// A System Event Log: 16-byte records with ids assigned on addition, a reservation, and a
/// capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sel {
    records: Vec<SelRecord>,
    next_id: u16,
    capacity: usize,
    reservation: u16,
    last_addition: u32,
    last_erase: u32,
    overflow: bool,
}

impl Default for Sel {
    fn default() -> Self {
        Self::new()
    }
}

impl Sel {
    /// An empty SEL of [`DEFAULT_SEL_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_SEL_CAPACITY)
    }

    /// An empty SEL holding at most `entries` records (at most 0xFFFE, the ids available).
    pub fn with_capacity(entries: usize) -> Self {
        Sel {
            records: Vec::new(),
            next_id: 1,
            capacity: entries.min(0xfffe),
            reservation: 0,
            last_addition: 0xffff_ffff,
            last_erase: 0xffff_ffff,
            overflow: false,
        }
    }

    /// Add an entry; returns its record id. A full SEL refuses it with 0xC4 (out of space) and
    /// reports the overflow in Get SEL Info.
    pub fn add(&mut self, entry: SelEntry) -> Result<u16, CompletionCode> {
        if self.records.len() >= self.capacity {
            self.overflow = true;
            return Err(CompletionCode::OutOfSpace);
        }
        let mut id = self.next_id;
        // Skip 0x0000, 0xFFFF and ids still in use (after wrapping).
        while id == FIRST_ENTRY
            || id == LAST_ENTRY
            || self.records.iter().any(|r| r.record_id == id)
        {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.records.push(SelRecord {
            record_id: id,
            entry,
        });
        self.last_addition = match entry {
            SelEntry::System(SystemEvent { timestamp, .. })
            | SelEntry::OemTimestamped { timestamp, .. } => timestamp,
            _ => now_timestamp(),
        };
        Ok(id)
    }

    /// Erase every entry (and cancel the reservation).
    pub fn clear(&mut self) {
        self.erase();
        self.reservation = next_reservation(self.reservation);
    }

    fn erase(&mut self) {
        self.records.clear();
        self.next_id = 1;
        self.overflow = false;
        self.last_erase = now_timestamp();
    }

    /// The entries, oldest first.
    pub fn records(&self) -> &[SelRecord] {
        &self.records
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the SEL is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The live reservation id (0 when none was made).
    pub fn reservation(&self) -> u16 {
        self.reservation
    }

    /// Reserve SEL: a new reservation, cancelling the previous one.
    pub fn reserve(&mut self) -> SelReservation {
        self.reservation = next_reservation(self.reservation);
        SelReservation(self.reservation)
    }

    /// Get SEL Info.
    pub fn info(&self) -> SelInfo {
        let free = self.capacity.saturating_sub(self.records.len()) * SelRecord::LEN;
        SelInfo {
            version: SEL_VERSION,
            entries: u16::try_from(self.records.len()).unwrap_or(u16::MAX),
            free_space: u16::try_from(free).unwrap_or(0xfffe),
            last_addition: self.last_addition,
            last_erase: self.last_erase,
            // Overflow flag; Reserve SEL supported.
            operation_support: (u8::from(self.overflow) << 7) | 0x02,
        }
    }

    /// Get SEL Entry: 0x0000 is the first entry, 0xFFFF the last; the next id after the last
    /// is 0xFFFF. Partial reads (offset not 0) need the live reservation (0xC5 otherwise); an
    /// unknown record is 0xCB, an offset past the record 0xC9, a count past it 0xCA.
    pub fn read(&self, req: &GetSelEntry) -> Result<SelEntryData, CompletionCode> {
        if req.offset != 0 && !reservation_ok(self.reservation, req.reservation_id) {
            return Err(CompletionCode::ReservationCancelled);
        }
        let index = match req.record_id {
            FIRST_ENTRY if !self.records.is_empty() => 0,
            LAST_ENTRY if !self.records.is_empty() => self.records.len() - 1,
            id => self
                .records
                .iter()
                .position(|r| r.record_id == id)
                .ok_or(CompletionCode::NotPresent)?,
        };
        let record = self.records.get(index).ok_or(CompletionCode::NotPresent)?;
        let next_record_id = self
            .records
            .get(index + 1)
            .map_or(LAST_ENTRY, |r| r.record_id);
        let mut bytes = BytesMut::with_capacity(SelRecord::LEN);
        record.emit(&mut bytes);
        let data = record_slice(&bytes, req.offset, req.bytes_to_read, READ_ENTIRE_ENTRY)?;
        Ok(SelEntryData {
            next_record_id,
            data,
        })
    }

    /// Clear SEL: the reservation must be live (0xC5 otherwise). Erasure is immediate, so both
    /// actions answer "completed"; the reservation stays valid for polling.
    pub fn clear_command(&mut self, req: &ClearSel) -> Result<ErasureProgress, CompletionCode> {
        if !reservation_ok(self.reservation, req.reservation_id) {
            return Err(CompletionCode::ReservationCancelled);
        }
        if req.action == ClearSelAction::Initiate {
            self.erase();
        }
        Ok(ErasureProgress::Completed)
    }
}

// ---------------------------------------------------------------------------------------------
// The bundle
// ---------------------------------------------------------------------------------------------

/// The SDR repository, sensors, SEL and FRU inventory of a managed system, answering the
/// commands that read them ([`Storage::handle`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    /// The SDR repository.
    pub sdr: SdrRepository,
    /// Sensor states by sensor number (LUN 0).
    pub sensors: BTreeMap<u8, SensorState>,
    /// The System Event Log.
    pub sel: Sel,
    /// FRU inventory area bytes by FRU device id (e.g. from [`FruInventory::to_bytes`]).
    pub fru: BTreeMap<u8, Vec<u8>>,
}

impl Storage {
    /// An empty store: no records, sensors, events or FRU data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a full sensor record to the SDR repository and its sensor reading `raw` (with the
    /// record's thresholds); returns the record id.
    pub fn add_full_sensor(&mut self, record: FullSensor, raw: u8) -> Result<u16> {
        let state = SensorState::for_full_sensor(&record, raw);
        let number = record.key.number;
        let id = self.sdr.push(SdrRecord::FullSensor(record))?;
        self.sensors.insert(number, state);
        Ok(id)
    }

    /// Set the raw reading of sensor `number`; `false` if there is no such sensor.
    pub fn set_reading(&mut self, number: u8, raw: u8) -> bool {
        match self.sensors.get_mut(&number) {
            Some(s) => {
                s.raw = raw;
                true
            }
            None => false,
        }
    }

    /// Answer a command if it is one of those served here: Get SDR Repository Info, Reserve
    /// SDR Repository, Get SDR, Get SEL Info, Reserve SEL, Get SEL Entry, Clear SEL (OPERATOR
    /// privilege), Get FRU Inventory Area Info, Read FRU Data (Storage), Get Sensor Reading and
    /// Get Sensor Thresholds (Sensor/Event). `None` for any other command.
    pub fn handle(
        &mut self,
        privilege: Privilege,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, CompletionCode>> {
        if netfn & 1 != 0 {
            return None;
        }
        Some(match (NetFn::from_value(netfn), cmd) {
            (NetFn::Storage, GetSdrRepositoryInfo::CMD) => Ok(encode(&self.sdr.info())),
            (NetFn::Storage, ReserveSdrRepository::CMD) => Ok(encode(&self.sdr.reserve())),
            (NetFn::Storage, GetSdr::CMD) => {
                parse::<GetSdr>(data).and_then(|r| self.sdr.read(&r).map(|d| encode(&d)))
            }
            (NetFn::Storage, GetSelInfo::CMD) => Ok(encode(&self.sel.info())),
            (NetFn::Storage, ReserveSel::CMD) => Ok(encode(&self.sel.reserve())),
            (NetFn::Storage, GetSelEntry::CMD) => {
                parse::<GetSelEntry>(data).and_then(|r| self.sel.read(&r).map(|d| encode(&d)))
            }
            (NetFn::Storage, ClearSel::CMD) => {
                if privilege < Privilege::Operator {
                    Err(CompletionCode::InsufficientPrivilege)
                } else {
                    parse::<ClearSel>(data)
                        .and_then(|r| self.sel.clear_command(&r).map(|p| encode(&p)))
                }
            }
            (NetFn::Storage, GetFruInventoryAreaInfo::CMD) => {
                parse::<GetFruInventoryAreaInfo>(data).and_then(|r| {
                    let area = self.fru.get(&r.fru_id).ok_or(CompletionCode::NotPresent)?;
                    Ok(encode(&FruInventoryAreaInfo {
                        size: u16::try_from(area.len()).unwrap_or(u16::MAX),
                        word_access: false,
                    }))
                })
            }
            (NetFn::Storage, ReadFruData::CMD) => {
                parse::<ReadFruData>(data).and_then(|r| self.read_fru(&r).map(|d| encode(&d)))
            }
            (NetFn::SensorEvent, GetSensorReading::CMD) => parse::<GetSensorReading>(data)
                .and_then(|r| {
                    self.sensors
                        .get(&r.sensor_number)
                        .map(|s| encode(&s.reading()))
                        .ok_or(CompletionCode::NotPresent)
                }),
            (NetFn::SensorEvent, GetSensorThresholds::CMD) => parse::<GetSensorThresholds>(data)
                .and_then(|r| {
                    self.sensors
                        .get(&r.sensor_number)
                        .map(|s| encode(&s.threshold_response()))
                        .ok_or(CompletionCode::NotPresent)
                }),
            _ => return None,
        })
    }

    /// Read FRU Data: at most [`MAX_FRU_READ`] bytes, fewer at the end of the area; an
    /// unknown FRU is 0xCB, an offset at or past the end 0xC9.
    pub fn read_fru(&self, req: &ReadFruData) -> Result<FruData, CompletionCode> {
        let area = self
            .fru
            .get(&req.fru_id)
            .ok_or(CompletionCode::NotPresent)?;
        let start = usize::from(req.offset);
        if start >= area.len() {
            return Err(CompletionCode::ParameterOutOfRange);
        }
        let n = usize::from(req.count.min(MAX_FRU_READ));
        let end = (start + n).min(area.len());
        Ok(FruData {
            data: area.get(start..end).map(<[u8]>::to_vec).unwrap_or_default(),
        })
    }

    /// A small machine: a BMC locator, four analog sensors, a FRU locator, FRU 0 and three
    /// events.
    ///
    /// | Record | Sensor | Name | Reading |
    /// |---|---|---|---|
    /// | 1 | | `BMC` (management controller locator) | |
    /// | 2 | 0x01 | `Inlet Temp` | raw 24: 24 degrees C |
    /// | 3 | 0x02 | `CPU Temp` | raw 45: 45 degrees C; UNC 85, UC 90, UNR 95 |
    /// | 4 | 0x03 | `FAN1` | raw 96, M = 50: 4800 RPM |
    /// | 5 | 0x04 | `12V` | raw 200, M = 6, R exp -2: 12.00 Volts |
    /// | 6 | | `Baseboard FRU` (FRU 0 locator) | |
    ///
    /// FRU 0 has a board area (Acme, Virtual Board, serial VB-0001, part VB-1) and a product
    /// area (Acme, Virtual Node, serial VN-0001). The SEL holds a CPU Temp upper critical
    /// event asserted and deasserted, and a 12V lower critical event.
    pub fn example() -> Self {
        let mut s = Storage::new();
        // The records fit by construction; a failure would only leave one out.
        let _ = s.sdr.push(SdrRecord::McDeviceLocator(McDeviceLocator {
            slave_address: BMC_SLAVE_ADDR,
            channel: 0,
            power_state: 0,
            // Chassis, FRU inventory, SEL, SDR repository and sensor device.
            capabilities: 0x80 | STORAGE_DEVICE_SUPPORT,
            entity_id: 0x06,
            entity_instance: 0x01,
            oem: 0,
            id: EncodedString::latin1("BMC"),
        }));
        let sensors = [
            // number, name, entity, sensor type, unit, M, R exp, raw, upper thresholds
            (0x01, "Inlet Temp", 0x37, 0x01, 1, 1, 0, 24, None),
            (
                0x02,
                "CPU Temp",
                0x03,
                0x01,
                1,
                1,
                0,
                45,
                Some((85, 90, 95)),
            ),
            (0x03, "FAN1", 0x1d, 0x04, 18, 50, 0, 96, None),
            (0x04, "12V", 0x07, 0x02, 4, 6, -2, 200, None),
        ];
        for (number, name, entity_id, sensor_type, unit, m, r_exp, raw, upper) in sensors {
            let _ = s.add_full_sensor(
                analog_sensor(AnalogSensor {
                    number,
                    name,
                    entity_id,
                    sensor_type,
                    unit,
                    m,
                    r_exp,
                    upper,
                }),
                raw,
            );
        }
        let _ = s.sdr.push(SdrRecord::FruDeviceLocator(FruDeviceLocator {
            access_address: BMC_SLAVE_ADDR,
            fru_device_id: 0,
            logical: true,
            access_lun: 0,
            private_bus: 0,
            channel: 0,
            device_type: 0x10,
            device_type_modifier: 0,
            entity_id: 0x07,
            entity_instance: 0x01,
            oem: 0,
            id: EncodedString::latin1("Baseboard FRU"),
        }));

        let inventory = FruInventory {
            board: Some(BoardInfo {
                language: 0,
                // 2023-11-14 22:13 UTC.
                mfg_minutes: 14_659_093,
                manufacturer: EncodedString::latin1("Acme"),
                product_name: EncodedString::latin1("Virtual Board"),
                serial_number: EncodedString::latin1("VB-0001"),
                part_number: EncodedString::latin1("VB-1"),
                fru_file_id: EncodedString::default(),
                custom: Vec::new(),
            }),
            product: Some(ProductInfo {
                language: 0,
                manufacturer: EncodedString::latin1("Acme"),
                product_name: EncodedString::latin1("Virtual Node"),
                serial_number: EncodedString::latin1("VN-0001"),
                ..ProductInfo::default()
            }),
            ..FruInventory::default()
        };
        if let Ok(bytes) = inventory.to_bytes() {
            s.fru.insert(0, bytes);
        }

        let event = |timestamp, sensor_type, sensor_number, deassertion, event_data| {
            SelEntry::System(SystemEvent {
                timestamp,
                generator_id: u16::from(BMC_SLAVE_ADDR),
                evm_rev: 0x04,
                sensor_type,
                sensor_number,
                deassertion,
                event_type: 0x01,
                event_data,
            })
        };
        // Event data 1: 0x50 = reading in byte 2 and threshold in byte 3, then the offset
        // (9: upper critical going high, 2: lower critical going low).
        let events = [
            event(1_700_000_000, 0x01, 0x02, false, [0x59, 91, 90]),
            event(1_700_000_060, 0x01, 0x02, true, [0x59, 88, 90]),
            event(1_700_003_600, 0x02, 0x04, false, [0x52, 180, 190]),
        ];
        for e in events {
            let _ = s.sel.add(e);
        }
        s
    }
}

/// What [`analog_sensor`] needs to know.
struct AnalogSensor {
    number: u8,
    name: &'static str,
    entity_id: u8,
    sensor_type: u8,
    unit: u8,
    m: i16,
    r_exp: i8,
    /// Upper non-critical, critical and non-recoverable thresholds (raw).
    upper: Option<(u8, u8, u8)>,
}

/// A linear, unsigned, threshold-based full sensor record owned by the BMC.
fn analog_sensor(a: AnalogSensor) -> FullSensor {
    let (thresholds, readable, assertion, deassertion, capabilities) = match a.upper {
        Some((unc, uc, unr)) => (
            Thresholds {
                unr,
                uc,
                unc,
                ..Thresholds::default()
            },
            0x38u16,
            // Upper non-critical, critical and non-recoverable going high.
            0x0a80u16,
            // The same deasserted, and the upper threshold comparisons returned.
            0x7a80u16,
            // Auto re-arm, thresholds readable.
            0x44u8,
        ),
        None => (Thresholds::default(), 0, 0, 0, 0x40),
    };
    FullSensor {
        key: SensorKey {
            owner_id: BMC_SLAVE_ADDR,
            channel: 0,
            lun: 0,
            number: a.number,
        },
        entity_id: a.entity_id,
        entity_instance: 0x01,
        // Scanning and events enabled, sensor type initialised.
        initialization: 0x67,
        capabilities,
        sensor_type: a.sensor_type,
        event_reading_type: 0x01,
        assertion_mask: assertion,
        deassertion_mask: deassertion,
        reading_mask: readable,
        units: SensorUnits {
            format: AnalogFormat::Unsigned,
            rate: RateUnit::None,
            modifier: ModifierUnit::None,
            percentage: false,
            base: a.unit,
            modifier_unit: 0,
        },
        linearization: Linearization::Linear,
        m: a.m,
        tolerance: 0,
        b: 0,
        accuracy: 0,
        accuracy_exp: 0,
        direction: 0,
        r_exp: a.r_exp,
        b_exp: 0,
        analog_flags: 0,
        nominal_reading: 0,
        normal_max: 0,
        normal_min: 0,
        sensor_max: 0xff,
        sensor_min: 0,
        thresholds,
        positive_hysteresis: 0,
        negative_hysteresis: 0,
        oem: 0,
        id: EncodedString::latin1(a.name),
    }
}

#[cfg(test)]
mod tests;
