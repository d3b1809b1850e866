//! An established client session fed arbitrary datagrams: no panic, no event, and the
//! session still works afterwards (a forged or garbled datagram never disturbs it).
#![no_main]

use std::time::Instant;

use ipmi_proto::bmc::{BmcConfig, Responder, SimpleSystem, User};
use ipmi_proto::cmd::Privilege;
use ipmi_proto::cmd::chassis::GetChassisStatus;
use ipmi_proto::session::{Event, Session, SessionConfig, SuiteChoice};
use libfuzzer_sys::fuzz_target;

fn pump(now: Instant, s: &mut Session, bmc: &mut Responder, sys: &mut SimpleSystem) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..64 {
        let mut moved = false;
        while let Some(d) = s.poll_transmit() {
            moved = true;
            if let Some(r) = bmc.handle(now, &d, sys) {
                s.handle_datagram(now, &r);
            }
        }
        while let Some(e) = s.poll_event() {
            events.push(e);
        }
        if !moved {
            break;
        }
    }
    events
}

fuzz_target!(|input: (u8, Vec<Vec<u8>>)| {
    let (suite, datagrams) = input;
    let suite = [1u8, 2, 3, 15, 16, 17][suite as usize % 6];
    let now = Instant::now();
    let cfg = BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .build();
    let mut bmc = Responder::new(cfg);
    let mut sys = SimpleSystem::default();
    let mut s = Session::new(
        SessionConfig::builder("admin", "password")
            .cipher_suite(SuiteChoice::Fixed(suite))
            .build()
            .unwrap(),
        now,
    );
    let ev = pump(now, &mut s, &mut bmc, &mut sys);
    assert!(
        matches!(ev.first(), Some(Event::Established { .. })),
        "{ev:?}"
    );
    for d in &datagrams {
        s.handle_datagram(now, d);
        let _ = bmc.handle(now, d, &mut sys);
    }
    assert!(
        s.poll_event().is_none(),
        "a fuzzed datagram produced an event"
    );
    let id = s.submit(now, &GetChassisStatus);
    let ev = pump(now, &mut s, &mut bmc, &mut sys);
    assert!(
        matches!(ev.first(), Some(Event::Response { id: got, .. }) if *got == id),
        "{ev:?}"
    );
});
