//! The responder's SOL payload and session bookkeeping, driven by a client session in
//! virtual time.

use std::time::{Duration, Instant};

use super::*;
use crate::cmd::sol::{PayloadActivated, SolActivation};
use crate::session::{Event, Session, SessionConfig, SuiteChoice};

struct Rig {
    now: Instant,
    client: Session,
    bmc: Responder,
    system: SimpleSystem,
}

impl Rig {
    fn new(suite: u8) -> Self {
        let cfg = BmcConfig::builder()
            .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
            .user(User::new(3, "other", "otherpass", Privilege::Administrator).unwrap())
            .port(9623)
            .build();
        let now = Instant::now();
        let mut rig = Rig {
            now,
            client: Session::new(
                SessionConfig::builder("admin", "password")
                    .cipher_suite(SuiteChoice::Fixed(suite))
                    .build()
                    .unwrap(),
                now,
            ),
            bmc: Responder::new(cfg),
            system: SimpleSystem::default(),
        };
        assert!(matches!(
            rig.pump().first(),
            Some(Event::Established { .. })
        ));
        rig
    }

    /// Deliver datagrams both ways (SOL output included) until quiet; return the events.
    fn pump(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(d) = self.client.poll_transmit() {
                moved = true;
                if let Some(r) = self.bmc.handle(self.now, &d, &mut self.system) {
                    self.client.handle_datagram(self.now, &r);
                }
            }
            while let Some((_, d)) = self.bmc.poll_sol(self.now, &mut self.system) {
                moved = true;
                self.client.handle_datagram(self.now, &d);
            }
            while let Some(e) = self.client.poll_event() {
                events.push(e);
            }
            if !moved {
                break;
            }
        }
        events
    }

    fn call<R: Request>(&mut self, req: &R) -> Result<R::Response> {
        let id = self.client.submit(self.now, req);
        for e in self.pump() {
            match e {
                Event::Response { id: got, response } if got == id => {
                    return response.decode::<R>();
                }
                Event::RequestFailed { id: got, error } if got == id => return Err(error),
                _ => {}
            }
        }
        panic!("no answer");
    }

    fn activate(&mut self) -> Result<PayloadActivated> {
        self.call(&ActivatePayload::sol(
            1,
            SolActivation {
                encryption: true,
                authentication: true,
                test_mode: false,
                serial_alerts: crate::cmd::sol::SerialAlerts::Deferred,
                handshake_deasserted: false,
            },
        ))
    }
}

fn sol_text(events: &[Event]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SolData(d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn sol_round_trip_with_echo_and_host_output() {
    let mut rig = Rig::new(17);
    let act = rig.activate().unwrap();
    assert_eq!(act.port, 9623);
    assert_eq!(act.inbound_size, SOL_PAYLOAD_SIZE);
    rig.client.sol_start(usize::from(act.inbound_size) - 4);
    let now = rig.now;
    let long: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
    rig.client.sol_write(now, &long);
    let events = rig.pump();
    assert_eq!(
        rig.system.serial_in, long,
        "the serial port got every character once"
    );
    assert_eq!(
        sol_text(&events),
        long,
        "the echo came back whole and in order"
    );
    // Output the host writes on its own is pushed to the console.
    rig.system.serial_out.extend(b"login: ");
    let events = rig.pump();
    assert_eq!(sol_text(&events), b"login: ");
}

#[test]
fn sol_survives_loss_both_ways() {
    let mut rig = Rig::new(3);
    let act = rig.activate().unwrap();
    rig.client.sol_start(usize::from(act.inbound_size) - 4);
    let text = b"0123456789".repeat(30);
    let now = rig.now;
    rig.client.sol_write(now, &text);
    let mut got = Vec::new();
    let mut n = 0u32;
    for _ in 0..400 {
        while let Some(d) = rig.client.poll_transmit() {
            n += 1;
            if n % 3 == 0 {
                continue; // lost on the way to the BMC
            }
            if let Some(r) = rig.bmc.handle(rig.now, &d, &mut rig.system) {
                n += 1;
                if n % 4 != 0 {
                    rig.client.handle_datagram(rig.now, &r);
                }
            }
        }
        while let Some((_, d)) = rig.bmc.poll_sol(rig.now, &mut rig.system) {
            rig.client.handle_datagram(rig.now, &d);
        }
        while let Some(e) = rig.client.poll_event() {
            if let Event::SolData(d) = e {
                got.extend(d);
            }
        }
        if got.len() == text.len() && rig.system.serial_in.len() == text.len() {
            break;
        }
        rig.now += Duration::from_millis(100);
        let now = rig.now;
        rig.client.handle_timeout(now);
    }
    assert_eq!(rig.system.serial_in, text);
    assert_eq!(got, text);
}

#[test]
fn one_sol_session_at_a_time_and_deactivation() {
    let mut rig = Rig::new(17);
    rig.activate().unwrap();
    // Again on the same session: already active.
    match rig.activate() {
        Err(Error::Completion { code, .. }) => assert_eq!(code.to_u8(), 0x80),
        other => panic!("{other:?}"),
    }
    rig.call(&DeactivatePayload::sol(1)).unwrap();
    match rig.call(&DeactivatePayload::sol(1)) {
        Err(Error::Completion { code, .. }) => assert_eq!(code.to_u8(), 0x80),
        other => panic!("{other:?}"),
    }
    assert!(rig.activate().is_ok());
    assert!(rig.bmc.sol_active());
}

#[test]
fn sol_configuration_parameters() {
    assert_eq!(sol_config(&[0x01, 1, 0, 0], 1, 9623), Ok(vec![0x11, 0x01]));
    assert_eq!(
        sol_config(&[0x01, 8, 0, 0], 1, 9623),
        Ok(vec![0x11, 0x97, 0x25])
    );
    assert_eq!(sol_config(&[0x81, 8, 0, 0], 1, 9623), Ok(vec![0x11]));
    assert_eq!(
        sol_config(&[0x01, 99, 0, 0], 1, 623),
        Err(CompletionCode::Oem(0x80))
    );
    assert_eq!(
        sol_config(&[0x01], 1, 623),
        Err(CompletionCode::RequestLengthInvalid)
    );
}

#[test]
fn open_session_flood_is_bounded_and_idle_sessions_expire() {
    let cfg = BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .max_sessions(4)
        .session_timeout(Duration::from_secs(60))
        .build();
    let mut bmc = Responder::new(cfg);
    let mut sys = SimpleSystem::default();
    let now = Instant::now();
    let suite = CipherSuite::by_id(17).unwrap();
    let mut refused = 0;
    for i in 1..=10u32 {
        let req = OpenSessionRequest {
            tag: i as u8,
            max_privilege: 4,
            console_session_id: i,
            algorithms: Algorithms::of(&suite),
        };
        let mut p = BytesMut::new();
        req.emit(&mut p);
        let mut d = BytesMut::new();
        Ipmi20Packet::emit_unsigned(
            &Ipmi20Header {
                payload_type: PayloadType::OpenSessionRequest,
                encrypted: false,
                authenticated: false,
                session_id: 0,
                sequence: 0,
            },
            &p,
            &mut d,
        )
        .unwrap();
        let r = bmc.handle(now, &d, &mut sys).unwrap();
        let Packet::Ipmi20(pkt) = Packet::parse(&r, 0).unwrap() else {
            panic!()
        };
        let resp = OpenSessionResponse::parse(pkt.payload).unwrap();
        if resp.status == RakpStatus::InsufficientResources {
            refused += 1;
        }
    }
    assert_eq!(bmc.session_count(), 4);
    assert_eq!(refused, 6);
    bmc.handle_timeout(now + Duration::from_secs(61));
    assert_eq!(bmc.session_count(), 0);
}
