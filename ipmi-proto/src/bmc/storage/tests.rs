use bytes::BytesMut;
use proptest::prelude::*;

use super::*;
use crate::bmc::{ManagedSystem, SimpleSystem};
use crate::cmd::fru::FruReadPlan;
use crate::cmd::sdr::{FIRST_RECORD, id_string_text};
use crate::cmd::sel::READ_ENTIRE_ENTRY;

const STORAGE: u8 = 0x0a;
const SENSOR: u8 = 0x04;

fn req<R: Request>(r: &R) -> Vec<u8> {
    let mut b = BytesMut::new();
    r.emit(&mut b);
    b.to_vec()
}

/// Send a typed request to `handle` at ADMINISTRATOR privilege and parse the answer.
fn call<R: Request>(sys: &mut SimpleSystem, r: &R) -> Result<R::Response, CompletionCode> {
    call_as(sys, Privilege::Administrator, r)
}

fn call_as<R: Request>(
    sys: &mut SimpleSystem,
    privilege: Privilege,
    r: &R,
) -> Result<R::Response, CompletionCode> {
    let data = sys.handle(privilege, R::NETFN.request_value(), R::CMD, &req(r))?;
    Ok(R::Response::parse(&data).expect("answer parses"))
}

fn raw(sys: &mut SimpleSystem, netfn: u8, cmd: u8, data: &[u8]) -> Result<Vec<u8>, CompletionCode> {
    sys.handle(Privilege::Administrator, netfn, cmd, data)
}

fn get_sdr(reservation_id: u16, record_id: u16, offset: u8, bytes_to_read: u8) -> GetSdr {
    GetSdr {
        reservation_id,
        record_id,
        offset,
        bytes_to_read,
    }
}

/// Every record, walking from 0x0000 with whole-record reads.
fn walk_sdrs(sys: &mut SimpleSystem) -> Vec<Sdr> {
    let mut id = FIRST_RECORD;
    let mut out = Vec::new();
    while id != LAST_RECORD {
        let d = call(sys, &get_sdr(0, id, 0, READ_ENTIRE_RECORD)).expect("Get SDR");
        out.push(Sdr::parse(&d.data).expect("record parses"));
        assert!(out.len() < 100, "the walk does not end");
        id = d.next_record_id;
    }
    out
}

#[test]
fn device_id_announces_storage_devices() {
    let mut sys = SimpleSystem::default();
    let d = sys.device_id();
    assert_eq!(d.additional_support, 0x8f);
    assert!(!d.provides_sdrs);
}

#[test]
fn sdr_repository_walk_and_sensor_values() {
    let mut sys = SimpleSystem::default();
    let info = call(&mut sys, &GetSdrRepositoryInfo).expect("info");
    assert_eq!(info.version, 0x51);
    assert_eq!(info.record_count, 6);
    assert!(info.supports_reserve());
    assert!(info.free_space > 0 && info.free_space < 0xffff);

    let sdrs = walk_sdrs(&mut sys);
    assert_eq!(sdrs.len(), 6);
    let ids: Vec<u16> = sdrs.iter().map(|s| s.record_id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
    let names: Vec<String> = sdrs.iter().filter_map(|s| s.record.name()).collect();
    assert_eq!(
        names,
        vec![
            "BMC",
            "Inlet Temp",
            "CPU Temp",
            "FAN1",
            "12V",
            "Baseboard FRU"
        ]
    );
    assert!(matches!(sdrs[0].record, SdrRecord::McDeviceLocator(_)));
    assert!(matches!(
        &sdrs[5].record,
        SdrRecord::FruDeviceLocator(f) if f.fru_device_id == 0 && f.logical
    ));

    let mut values = Vec::new();
    for s in &sdrs {
        let SdrRecord::FullSensor(f) = &s.record else {
            continue;
        };
        let r = call(
            &mut sys,
            &GetSensorReading {
                sensor_number: f.key.number,
            },
        )
        .expect("reading");
        assert!(r.scanning_enabled && !r.reading_unavailable);
        assert_eq!(r.states, Some(0), "{}", id_string_text(&f.id));
        values.push((
            id_string_text(&f.id),
            f.convert(r.reading).expect("analog"),
            f.units.describe(),
        ));
    }
    assert_eq!(
        values,
        vec![
            ("Inlet Temp".to_string(), 24.0, "degrees C".to_string()),
            ("CPU Temp".to_string(), 45.0, "degrees C".to_string()),
            ("FAN1".to_string(), 4800.0, "RPM".to_string()),
            ("12V".to_string(), 12.0, "Volts".to_string()),
        ]
    );
}

#[test]
fn sdr_partial_reads_and_reservations() {
    let mut sys = SimpleSystem::default();
    let whole = call(&mut sys, &get_sdr(0, 3, 0, READ_ENTIRE_RECORD)).expect("whole");
    let header = SdrHeader::parse(&whole.data).expect("header");
    assert_eq!(header.record_id, 3);
    assert_eq!(usize::from(header.total_len()), whole.data.len());

    // Offset 0 needs no reservation; any other offset needs the live one.
    assert!(call(&mut sys, &GetSdr::header(0, 3)).is_ok());
    assert_eq!(
        call(&mut sys, &get_sdr(0, 3, 5, 4)),
        Err(CompletionCode::ReservationCancelled)
    );
    let SdrReservation(r1) = call(&mut sys, &ReserveSdrRepository).expect("reserve");
    assert_ne!(r1, 0);
    let mut got = Vec::new();
    for q in GetSdr::plan(r1, 3, header.total_len(), 7) {
        let d = call(&mut sys, &q).expect("partial read");
        assert_eq!(d.next_record_id, 4);
        assert_eq!(d.data.len(), usize::from(q.bytes_to_read));
        got.extend(d.data);
    }
    assert_eq!(got, whole.data);
    // A new reservation makes the old one stale.
    let SdrReservation(r2) = call(&mut sys, &ReserveSdrRepository).expect("reserve");
    assert_ne!(r1, r2);
    assert_eq!(
        call(&mut sys, &get_sdr(r1, 3, 5, 4)),
        Err(CompletionCode::ReservationCancelled)
    );
    assert!(call(&mut sys, &get_sdr(r2, 3, 5, 4)).is_ok());
    // Adding a record cancels it too.
    let rec = sys.storage.sdr.get(1).expect("record 1").to_vec();
    assert_eq!(sys.storage.sdr.push_raw(&rec), Ok(7));
    assert_eq!(
        call(&mut sys, &get_sdr(r2, 3, 5, 4)),
        Err(CompletionCode::ReservationCancelled)
    );
    let SdrReservation(r3) = call(&mut sys, &ReserveSdrRepository).expect("reserve");

    // Out of range.
    let len = whole.data.len() as u8;
    assert_eq!(
        call(&mut sys, &get_sdr(r3, 3, len + 1, 1)),
        Err(CompletionCode::ParameterOutOfRange)
    );
    assert_eq!(
        call(&mut sys, &get_sdr(r3, 3, len - 2, 3)),
        Err(CompletionCode::CannotReturnBytes)
    );
    assert_eq!(
        call(&mut sys, &get_sdr(r3, 3, len - 2, 2)).map(|d| d.data.len()),
        Ok(2)
    );
    assert_eq!(
        call(&mut sys, &get_sdr(r3, 3, len - 2, READ_ENTIRE_RECORD)).map(|d| d.data.len()),
        Ok(2)
    );
    assert_eq!(
        call(&mut sys, &get_sdr(r3, 3, len, READ_ENTIRE_RECORD)).map(|d| d.data.len()),
        Ok(0)
    );
    // Unknown records; 0xFFFF is only ever a "next" id.
    for id in [8, 0x1234, LAST_RECORD] {
        assert_eq!(
            call(&mut sys, &get_sdr(0, id, 0, READ_ENTIRE_RECORD)),
            Err(CompletionCode::NotPresent)
        );
    }
    // The last record says 0xFFFF comes next.
    assert_eq!(
        call(&mut sys, &GetSdr::header(0, 7)).map(|d| d.next_record_id),
        Ok(LAST_RECORD)
    );
    // A short request.
    assert_eq!(
        raw(&mut sys, STORAGE, GetSdr::CMD, &[0, 0, 1]),
        Err(CompletionCode::RequestLengthInvalid)
    );
    // An empty repository.
    sys.storage.sdr.clear();
    assert_eq!(
        call(&mut sys, &GetSdr::header(0, 0)),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        call(&mut sys, &GetSdrRepositoryInfo).map(|i| i.record_count),
        Ok(0)
    );
}

#[test]
fn sdr_push_raw_checks_the_length() {
    let mut repo = SdrRepository::new();
    assert!(repo.push_raw(&[0, 0, 0x51, 0xc0, 2, 1]).is_err());
    assert!(repo.push_raw(&[0, 0, 0x51]).is_err());
    assert_eq!(repo.push_raw(&[9, 9, 0x51, 0xc0, 2, 1, 2]), Ok(1));
    assert_eq!(repo.get(1), Some(&[1, 0, 0x51, 0xc0, 2, 1, 2][..]));
    assert_eq!(repo.len(), 1);
    assert_eq!(repo.info().free_space as usize, SDR_CAPACITY - 7);
    assert!(repo.push_raw(&vec![0u8; 300]).is_err());
}

#[test]
fn thresholds_and_comparison_status() {
    let mut sys = SimpleSystem::default();
    let t = call(&mut sys, &GetSensorThresholds { sensor_number: 2 }).expect("thresholds");
    assert_eq!(t.readable, 0x38);
    assert_eq!(t.value(Threshold::UpperNonCritical), Some(85));
    assert_eq!(t.value(Threshold::UpperCritical), Some(90));
    assert_eq!(t.value(Threshold::UpperNonRecoverable), Some(95));
    assert_eq!(t.value(Threshold::LowerCritical), None);
    // The record says the same.
    let f = sys.storage.sdr.full_sensor(2).expect("CPU Temp record");
    assert_eq!(f.reading_mask & 0x3f, 0x38);
    assert_eq!(
        (f.thresholds.unc, f.thresholds.uc, f.thresholds.unr),
        (85, 90, 95)
    );

    for (raw, status) in [(45, 0), (85, 0x08), (91, 0x18), (200, 0x38)] {
        assert!(sys.storage.set_reading(2, raw));
        let r = call(&mut sys, &GetSensorReading { sensor_number: 2 }).expect("reading");
        assert_eq!((r.reading, r.states), (raw, Some(status)));
    }
    let t = call(&mut sys, &GetSensorThresholds { sensor_number: 1 }).expect("thresholds");
    assert_eq!(t.readable, 0);
    assert!(!sys.storage.set_reading(0x99, 1));
    assert_eq!(
        call(
            &mut sys,
            &GetSensorReading {
                sensor_number: 0x99
            }
        ),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        call(
            &mut sys,
            &GetSensorThresholds {
                sensor_number: 0x99
            }
        ),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        raw(&mut sys, SENSOR, GetSensorReading::CMD, &[]),
        Err(CompletionCode::RequestLengthInvalid)
    );

    // Lower thresholds, signed readings, discrete sensors.
    let s = SensorState {
        format: AnalogFormat::TwosComplement,
        ..SensorState::new(0xf6)
    }
    .with_thresholds(
        Thresholds {
            lnc: 0xfb,
            lc: 0xf6,
            lnr: 0xf1,
            ..Thresholds::default()
        },
        0x07,
    );
    assert_eq!(s.threshold_status(), 0x03);
    assert_eq!(s.threshold_response().thresholds.unr, 0);
    let d = SensorState {
        discrete_states: Some(0x4102),
        ..SensorState::new(0)
    };
    let r = d.reading();
    assert_eq!((r.states, r.states_high), (Some(0x02), Some(0x41)));
    let n = SensorState {
        format: AnalogFormat::NoReading,
        ..SensorState::new(0)
    }
    .with_thresholds(Thresholds::default(), 0x3f);
    assert_eq!(n.threshold_status(), 0);
}

fn sel_walk(sys: &mut SimpleSystem) -> Vec<SelRecord> {
    let mut id = FIRST_ENTRY;
    let mut out = Vec::new();
    while id != LAST_ENTRY {
        let d = call(sys, &GetSelEntry::entire(id)).expect("Get SEL Entry");
        out.push(d.record().expect("record"));
        assert!(out.len() < 100);
        id = d.next_record_id;
    }
    out
}

#[test]
fn sel_info_entries_and_partial_reads() {
    let mut sys = SimpleSystem::default();
    let info = call(&mut sys, &GetSelInfo).expect("info");
    assert_eq!(info.version, 0x51);
    assert_eq!(info.entries, 3);
    assert_eq!(info.free_space as usize, (DEFAULT_SEL_CAPACITY - 3) * 16);
    assert_eq!(info.last_addition, 1_700_003_600);
    assert!(info.supports_reserve() && !info.overflow());

    let records = sel_walk(&mut sys);
    assert_eq!(records, sys.storage.sel.records().to_vec());
    let ids: Vec<u16> = records.iter().map(|r| r.record_id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let SelEntry::System(e) = records[0].entry else {
        panic!("not a system event");
    };
    assert_eq!(
        (e.sensor_type, e.sensor_number, e.offset()),
        (0x01, 0x02, 9)
    );
    assert!(!e.deassertion);
    assert!(matches!(records[1].entry, SelEntry::System(e) if e.deassertion));

    // 0xFFFF is the last entry.
    let last = call(&mut sys, &GetSelEntry::entire(LAST_ENTRY)).expect("last");
    assert_eq!(last.record().map(|r| r.record_id), Ok(3));
    assert_eq!(last.next_record_id, LAST_ENTRY);
    assert_eq!(
        call(&mut sys, &GetSelEntry::entire(9)),
        Err(CompletionCode::NotPresent)
    );

    // Partial reads.
    let partial = |reservation_id, offset, bytes_to_read| GetSelEntry {
        reservation_id,
        record_id: 2,
        offset,
        bytes_to_read,
    };
    assert_eq!(
        call(&mut sys, &partial(0, 4, 4)),
        Err(CompletionCode::ReservationCancelled)
    );
    let SelReservation(r) = call(&mut sys, &ReserveSel).expect("reserve");
    let whole = call(&mut sys, &GetSelEntry::entire(2)).expect("whole").data;
    let mut got = call(&mut sys, &partial(0, 0, 5)).expect("head").data;
    got.extend(call(&mut sys, &partial(r, 5, 6)).expect("middle").data);
    got.extend(
        call(&mut sys, &partial(r, 11, READ_ENTIRE_ENTRY))
            .expect("tail")
            .data,
    );
    assert_eq!(got, whole);
    assert_eq!(
        call(&mut sys, &partial(r, 17, 1)),
        Err(CompletionCode::ParameterOutOfRange)
    );
    assert_eq!(
        call(&mut sys, &partial(r, 10, 7)),
        Err(CompletionCode::CannotReturnBytes)
    );
    assert_eq!(
        call(&mut sys, &partial(r.wrapping_add(1), 4, 4)),
        Err(CompletionCode::ReservationCancelled)
    );
    assert_eq!(
        raw(&mut sys, STORAGE, GetSelEntry::CMD, &[0]),
        Err(CompletionCode::RequestLengthInvalid)
    );
}

#[test]
fn clear_sel_needs_operator_and_a_reservation() {
    let mut sys = SimpleSystem::default();
    let SelReservation(r) = call(&mut sys, &ReserveSel).expect("reserve");
    let clear = |reservation_id, action| ClearSel {
        reservation_id,
        action,
    };
    assert_eq!(
        call_as(
            &mut sys,
            Privilege::User,
            &clear(r, ClearSelAction::Initiate)
        ),
        Err(CompletionCode::InsufficientPrivilege)
    );
    assert_eq!(
        call(
            &mut sys,
            &clear(r.wrapping_add(1), ClearSelAction::Initiate)
        ),
        Err(CompletionCode::ReservationCancelled)
    );
    assert_eq!(
        raw(
            &mut sys,
            STORAGE,
            ClearSel::CMD,
            &[r as u8, (r >> 8) as u8, b'C', b'L', b'X', 0xaa]
        ),
        Err(CompletionCode::InvalidDataField)
    );
    assert_eq!(
        raw(&mut sys, STORAGE, ClearSel::CMD, &[1, 0, b'C']),
        Err(CompletionCode::RequestLengthInvalid)
    );
    assert_eq!(sys.storage.sel.len(), 3);

    assert_eq!(
        call_as(
            &mut sys,
            Privilege::Operator,
            &clear(r, ClearSelAction::Initiate)
        ),
        Ok(ErasureProgress::Completed)
    );
    assert!(sys.storage.sel.is_empty());
    // Polling with the same reservation.
    assert_eq!(
        call(&mut sys, &clear(r, ClearSelAction::GetStatus)),
        Ok(ErasureProgress::Completed)
    );
    let info = call(&mut sys, &GetSelInfo).expect("info");
    assert_eq!(info.entries, 0);
    assert_ne!(info.last_erase, 0xffff_ffff);
    for id in [FIRST_ENTRY, LAST_ENTRY, 1] {
        assert_eq!(
            call(&mut sys, &GetSelEntry::entire(id)),
            Err(CompletionCode::NotPresent)
        );
    }
    // New events start again at id 1.
    let e = SelEntry::OemNonTimestamped {
        record_type: 0xe0,
        data: [7; 13],
    };
    assert_eq!(sys.storage.sel.add(e), Ok(1));
    assert_eq!(sel_walk(&mut sys).len(), 1);
    // The owner's clear cancels the reservation.
    sys.storage.sel.clear();
    assert_eq!(
        call(&mut sys, &clear(r, ClearSelAction::GetStatus)),
        Err(CompletionCode::ReservationCancelled)
    );
}

#[test]
fn sel_capacity_and_ids() {
    let mut sel = Sel::with_capacity(2);
    let e = SelEntry::Other {
        record_type: 0x10,
        data: [0; 13],
    };
    assert_eq!(sel.add(e), Ok(1));
    assert_eq!(sel.add(e), Ok(2));
    assert_eq!(sel.add(e), Err(CompletionCode::OutOfSpace));
    let info = sel.info();
    assert!(info.overflow());
    assert_eq!(info.free_space, 0);
    sel.clear();
    assert!(!sel.info().overflow());
    // Ids skip 0xFFFF and 0x0000 when they wrap, and ids still in use.
    let mut sel = Sel::with_capacity(4);
    sel.next_id = 0xfffe;
    assert_eq!(sel.add(e), Ok(0xfffe));
    assert_eq!(sel.add(e), Ok(1));
    sel.next_id = 1;
    assert_eq!(sel.add(e), Ok(2));
}

#[test]
fn fru_inventory_reads() {
    let mut sys = SimpleSystem::default();
    let info = call(&mut sys, &GetFruInventoryAreaInfo { fru_id: 0 }).expect("area info");
    assert!(!info.word_access);
    let size = info.size;
    assert_eq!(usize::from(size), sys.storage.fru[&0].len());

    // Read it the way a client does, in 24-byte chunks.
    let mut plan = FruReadPlan::new(0, size, 24);
    while let Some(r) = plan.next_request() {
        let d = call(&mut sys, &r).expect("read");
        plan.record(&d).expect("record");
    }
    let inv = FruInventory::parse(plan.data()).expect("inventory");
    let board = inv.board.expect("board area");
    assert_eq!(board.manufacturer.decode(), "Acme");
    assert_eq!(board.product_name.decode(), "Virtual Board");
    assert_eq!(board.serial_number.decode(), "VB-0001");
    assert_eq!(board.part_number.decode(), "VB-1");
    assert_eq!(board.mfg_time_unix(), Some(1_699_999_980));
    let product = inv.product.expect("product area");
    assert_eq!(product.manufacturer.decode(), "Acme");
    assert_eq!(product.product_name.decode(), "Virtual Node");
    assert_eq!(product.serial_number.decode(), "VN-0001");
    assert!(inv.chassis.is_none());

    // Short reads at the end, 0xC9 past it, capped counts, unknown FRUs.
    let read = |offset, count| ReadFruData {
        fru_id: 0,
        offset,
        count,
    };
    assert_eq!(
        call(&mut sys, &read(size - 3, 10)).map(|d| d.data.len()),
        Ok(3)
    );
    assert_eq!(
        call(&mut sys, &read(size, 1)),
        Err(CompletionCode::ParameterOutOfRange)
    );
    assert_eq!(
        call(&mut sys, &read(u16::MAX, 255)),
        Err(CompletionCode::ParameterOutOfRange)
    );
    sys.storage.fru.insert(1, vec![0x5a; 1000]);
    assert_eq!(
        call(
            &mut sys,
            &ReadFruData {
                fru_id: 1,
                offset: 0,
                count: 255
            }
        )
        .map(|d| d.data.len()),
        Ok(usize::from(MAX_FRU_READ))
    );
    assert_eq!(call(&mut sys, &read(0, 0)).map(|d| d.data.len()), Ok(0));
    assert_eq!(
        call(&mut sys, &GetFruInventoryAreaInfo { fru_id: 7 }),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        call(
            &mut sys,
            &ReadFruData {
                fru_id: 7,
                offset: 0,
                count: 1
            }
        ),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        raw(&mut sys, STORAGE, ReadFruData::CMD, &[0, 0]),
        Err(CompletionCode::RequestLengthInvalid)
    );
    assert_eq!(
        raw(&mut sys, STORAGE, GetFruInventoryAreaInfo::CMD, &[]),
        Err(CompletionCode::RequestLengthInvalid)
    );
}

#[test]
fn other_commands_are_invalid() {
    let mut sys = SimpleSystem::default();
    // Get Device SDR Info, Get Device SDR, Get SEL Time, Add SEL Entry, an odd net function.
    for (netfn, cmd) in [
        (SENSOR, 0x20),
        (SENSOR, 0x21),
        (STORAGE, 0x48),
        (STORAGE, 0x44),
        (0x0b, 0x20),
        (0x30, 0x01),
    ] {
        assert_eq!(
            raw(&mut sys, netfn, cmd, &[0; 8]),
            Err(CompletionCode::InvalidCommand),
            "{netfn:#x} {cmd:#x}"
        );
    }
    assert_eq!(sys.storage.handle(Privilege::User, 0x06, 0x01, &[]), None);
}

#[test]
fn an_empty_store_answers_sensibly() {
    let mut s = Storage::new();
    let mut handle = |netfn, cmd, data: &[u8]| {
        s.handle(Privilege::Administrator, netfn, cmd, data)
            .expect("served here")
    };
    assert!(handle(STORAGE, GetSdrRepositoryInfo::CMD, &[]).is_ok());
    assert_eq!(
        handle(STORAGE, GetSdr::CMD, &[0, 0, 0, 0, 0, 0xff]),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        handle(STORAGE, GetSelEntry::CMD, &[0, 0, 0, 0, 0, 0xff]),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        handle(STORAGE, GetFruInventoryAreaInfo::CMD, &[0]),
        Err(CompletionCode::NotPresent)
    );
    assert_eq!(
        handle(SENSOR, GetSensorReading::CMD, &[1]),
        Err(CompletionCode::NotPresent)
    );
}

proptest! {
    #[test]
    fn handle_never_panics(
        netfn in prop::sample::select(vec![0x04u8, 0x0a, 0x05, 0x0b]),
        cmd in prop::sample::select(vec![
            0x20u8, 0x22, 0x23, 0x40, 0x42, 0x43, 0x47, 0x10, 0x11, 0x2d, 0x27, 0x21, 0x48,
        ]),
        data in proptest::collection::vec(any::<u8>(), 0..12),
        privilege in prop::sample::select(vec![
            Privilege::Callback, Privilege::User, Privilege::Operator, Privilege::Administrator,
        ]),
    ) {
        let mut sys = SimpleSystem::default();
        let _ = sys.handle(privilege, netfn, cmd, &data);
        // And with live reservations, whose ids random data may hit.
        let _ = sys.handle(privilege, 0x0a, 0x22, &[]);
        let _ = sys.handle(privilege, 0x0a, 0x42, &[]);
        let _ = sys.handle(privilege, netfn, cmd, &data);
        let mut d = data.clone();
        if d.len() >= 2 {
            d[0] = 1;
            d[1] = 0;
        }
        if let Ok(answer) = sys.handle(privilege, netfn, cmd, &d) {
            prop_assert!(answer.len() < 300);
        }
    }

    #[test]
    fn partial_sdr_reads_reassemble(record_id in 1u16..=6, chunk in 1u8..40) {
        let mut sys = SimpleSystem::default();
        let SdrReservation(r) = call(&mut sys, &ReserveSdrRepository).expect("reserve");
        let header = SdrHeader::parse(sys.storage.sdr.get(record_id).expect("record")).expect("header");
        let mut got = Vec::new();
        for q in GetSdr::plan(r, record_id, header.total_len(), chunk) {
            got.extend(call(&mut sys, &q).expect("read").data);
        }
        prop_assert_eq!(Some(got.as_slice()), sys.storage.sdr.get(record_id));
    }
}
