//! The client session against the sans-IO BMC responder, in virtual time, with loss,
//! duplication, replay and forgery injected between them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::bmc::{BmcConfig, Responder, SimpleSystem, User};
use crate::cmd::Privilege;
use crate::cmd::chassis::{
    BootDevice, BootMode, BootParameter, BootPersistence, ChassisControl, ChassisStatus,
    GetChassisStatus, GetSystemBootOptions,
};

/// A deterministic random source (xorshift), so failures replay exactly.
struct TestRng(u64);
impl RandomSource for TestRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

type Filter = Box<dyn FnMut(usize, &Bytes) -> usize>;

struct Pair {
    now: Instant,
    client: Session,
    bmc: Responder,
    system: SimpleSystem,
    /// Decides how many copies of the n-th client datagram reach the BMC (0 = lost).
    to_bmc: Filter,
    /// Same for the BMC's datagrams.
    to_client: Filter,
    sent_to_bmc: usize,
    sent_to_client: usize,
    /// Every datagram the BMC sent, for replay tests.
    bmc_log: Vec<Bytes>,
    events: VecDeque<Event>,
}

fn bmc_config() -> BmcConfig {
    BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .user(User::new(3, "user", "userpass", Privilege::User).unwrap())
        .user(
            User::new(
                4,
                "admin20",
                "abcdefghijklmnopqrst",
                Privilege::Administrator,
            )
            .unwrap(),
        )
        .guid([0x5a; 16])
        .build()
}

fn client_config(user: &str, pass: &str, suite: SuiteChoice) -> SessionConfig {
    SessionConfig::builder(user, pass)
        .cipher_suite(suite)
        .build()
        .unwrap()
}

impl Pair {
    fn new(cfg: SessionConfig, bmc: BmcConfig) -> Self {
        let now = Instant::now();
        Pair {
            now,
            client: Session::with_random(cfg, now, Box::new(TestRng(0x1234_5678))),
            bmc: Responder::with_random(bmc, Box::new(TestRng(0x9876_5432))),
            system: SimpleSystem::default(),
            to_bmc: Box::new(|_, _| 1),
            to_client: Box::new(|_, _| 1),
            sent_to_bmc: 0,
            sent_to_client: 0,
            bmc_log: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// Exchange datagrams and fire timers until an event arrives or nothing is left to do.
    fn next_event(&mut self) -> Option<Event> {
        for _ in 0..10_000 {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let mut moved = false;
            while let Some(d) = self.client.poll_transmit() {
                moved = true;
                let n = (self.to_bmc)(self.sent_to_bmc, &d);
                self.sent_to_bmc += 1;
                for _ in 0..n {
                    if let Some(r) = self.bmc.handle(self.now, &d, &mut self.system) {
                        self.bmc_log.push(r.clone());
                        let m = (self.to_client)(self.sent_to_client, &r);
                        self.sent_to_client += 1;
                        for _ in 0..m {
                            self.client.handle_datagram(self.now, &r);
                        }
                    }
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push_back(e);
            }
            if !self.events.is_empty() || moved {
                continue;
            }
            match self.client.poll_timeout() {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.client.handle_timeout(self.now);
                }
                None => return None,
            }
        }
        panic!("no progress after 10000 steps");
    }

    fn established(&mut self) -> u8 {
        match self.next_event() {
            Some(Event::Established { suite, .. }) => suite,
            other => panic!("expected Established, got {other:?}"),
        }
    }

    fn call<R: Request>(&mut self, req: &R) -> Result<R::Response> {
        let id = self.client.submit(self.now, req);
        loop {
            match self.next_event() {
                Some(Event::Response { id: got, response }) if got == id => {
                    return response.decode::<R>();
                }
                Some(Event::RequestFailed { id: got, error }) if got == id => return Err(error),
                Some(Event::Established { .. }) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn every_suite_establishes_and_runs_commands() {
    for id in [1u8, 2, 3, 15, 16, 17] {
        let mut p = Pair::new(
            client_config("admin", "password", SuiteChoice::Fixed(id)),
            bmc_config(),
        );
        assert_eq!(p.established(), id);
        let st: ChassisStatus = p.call(&GetChassisStatus).unwrap();
        assert!(!st.power_on);
        p.call(&ChassisControl::PowerUp).unwrap();
        assert!(p.call(&GetChassisStatus).unwrap().power_on, "suite {id}");
        assert_eq!(p.system.controls, vec![ChassisControl::PowerUp]);
    }
}

#[test]
fn auto_picks_the_strongest_offered() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Auto),
        bmc_config(),
    );
    assert_eq!(p.established(), 17);
    let only3 = BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .cipher_suites(&[1, 2, 3])
        .build();
    let mut p = Pair::new(client_config("admin", "password", SuiteChoice::Auto), only3);
    assert_eq!(p.established(), 3);
}

#[test]
fn auto_without_cipher_suite_answer_falls_back_to_17_then_3() {
    // A BMC (like ipmi_sim) that ignores pre-session Get Channel Cipher Suites and has no SHA-256.
    let only3 = BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .cipher_suites(&[3])
        .build();
    let mut p = Pair::new(client_config("admin", "password", SuiteChoice::Auto), only3);
    p.to_bmc = Box::new(|_, d| {
        // Drop RMCP+ pre-session IPMI messages (the 0x54 query).
        usize::from(!(d.len() > 5 && d[4] == 0x06 && d[5] == 0x00))
    });
    assert_eq!(p.established(), 3);
}

#[test]
fn fixed_suite_refused_lists_what_the_bmc_offers() {
    let only3 = BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .cipher_suites(&[3])
        .build();
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(17)),
        only3,
    );
    match p.next_event() {
        Some(Event::Failed(Error::UnsupportedCipherSuite {
            requested, offered, ..
        })) => {
            assert_eq!(requested, Some(17));
            assert_eq!(offered, vec![3]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_password_is_an_authentication_error_not_a_timeout() {
    let mut p = Pair::new(
        client_config("admin", "wrong", SuiteChoice::Fixed(3)),
        bmc_config(),
    );
    match p.next_event() {
        Some(Event::Failed(Error::Authentication { reason })) => {
            assert!(reason.contains("RAKP 2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // The client told the BMC with a RAKP 3 error, so the half-open session is gone.
    assert_eq!(p.bmc.session_count(), 0);
    let mut p = Pair::new(
        client_config("nobody", "x", SuiteChoice::Fixed(17)),
        bmc_config(),
    );
    assert!(matches!(
        p.next_event(),
        Some(Event::Failed(Error::Authentication { .. }))
    ));
}

#[test]
fn privilege_above_the_users_is_refused() {
    let cfg = SessionConfig::builder("user", "userpass")
        .cipher_suite(SuiteChoice::Fixed(17))
        .privilege(Privilege::Administrator)
        .build()
        .unwrap();
    let mut p = Pair::new(cfg, bmc_config());
    assert!(matches!(
        p.next_event(),
        Some(Event::Failed(Error::Authentication { .. }))
    ));
    // At USER it works, and operator commands are refused with 0xD4.
    let cfg = SessionConfig::builder("user", "userpass")
        .cipher_suite(SuiteChoice::Fixed(17))
        .privilege(Privilege::User)
        .build()
        .unwrap();
    let mut p = Pair::new(cfg, bmc_config());
    p.established();
    assert!(p.call(&GetChassisStatus).is_ok());
    match p.call(&ChassisControl::PowerUp) {
        Err(Error::Completion { code, .. }) => {
            assert_eq!(code, CompletionCode::InsufficientPrivilege)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn twenty_byte_password_and_kg() {
    let mut p = Pair::new(
        client_config("admin20", "abcdefghijklmnopqrst", SuiteChoice::Fixed(17)),
        bmc_config(),
    );
    p.established();
    let bmc = BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .kg("bmc-key")
        .build();
    let with_kg = SessionConfig::builder("admin", "password")
        .kg("bmc-key")
        .build()
        .unwrap();
    let mut p = Pair::new(with_kg, bmc.clone());
    p.established();
    let mut p = Pair::new(client_config("admin", "password", SuiteChoice::Auto), bmc);
    match p.next_event() {
        Some(Event::Failed(Error::Authentication { reason })) => assert!(reason.contains("RAKP 4")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn boot_options_round_trip() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Auto),
        bmc_config(),
    );
    p.established();
    let flags = crate::cmd::chassis::BootFlags::new(
        BootDevice::Pxe,
        BootPersistence::Persistent,
        BootMode::Efi,
    );
    p.call(&crate::cmd::chassis::SetSystemBootOptions {
        mark_invalid: false,
        parameter: BootParameter::BootFlags(flags),
    })
    .unwrap();
    let got = p.call(&GetSystemBootOptions::parameter(5)).unwrap();
    assert_eq!(got.parameter, BootParameter::BootFlags(flags));
}

#[test]
fn loss_is_recovered_by_retransmission() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(17)),
        bmc_config(),
    );
    // Lose every third datagram in each direction.
    p.to_bmc = Box::new(|n, _| usize::from(n % 3 != 1));
    p.to_client = Box::new(|n, _| usize::from(n % 3 != 2));
    p.established();
    for _ in 0..5 {
        p.call(&ChassisControl::PowerUp).unwrap();
        assert!(p.call(&GetChassisStatus).unwrap().power_on);
    }
    assert!(p.client.stats().retransmits > 0);
}

#[test]
fn duplicates_are_dropped() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(3)),
        bmc_config(),
    );
    p.to_client = Box::new(|_, _| 2);
    p.established();
    for _ in 0..3 {
        p.call(&GetChassisStatus).unwrap();
    }
    assert!(p.client.stats().dropped >= 3);
    assert!(p.events.is_empty());
}

#[test]
fn replayed_and_forged_datagrams_do_not_disturb_the_session() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(17)),
        bmc_config(),
    );
    p.established();
    p.call(&GetChassisStatus).unwrap();
    let before = p.client.stats();
    let log = p.bmc_log.clone();
    let now = p.now;
    for d in &log {
        p.client.handle_datagram(now, d);
        let mut forged = d.to_vec();
        let n = forged.len();
        forged[n - 1] ^= 1;
        p.client.handle_datagram(now, &forged);
        p.client.handle_datagram(now, &d[..d.len() / 2]);
    }
    let after = p.client.stats();
    assert_eq!(after.accepted, before.accepted);
    assert_eq!(after.dropped, before.dropped + 3 * log.len() as u64);
    assert!(p.client.poll_event().is_none());
    assert!(p.call(&GetChassisStatus).is_ok());
}

#[test]
fn a_dropped_session_is_re_established() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(17)),
        bmc_config(),
    );
    p.established();
    // The BMC forgets every session (reboot, idle timeout).
    p.bmc.handle_timeout(p.now + Duration::from_secs(3600));
    assert_eq!(p.bmc.session_count(), 0);
    assert!(p.call(&GetChassisStatus).is_ok());
    assert_eq!(p.client.stats().reestablished, 1);
}

#[test]
fn a_silent_bmc_times_out() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(17)),
        bmc_config(),
    );
    p.to_bmc = Box::new(|_, _| 0);
    let start = p.now;
    match p.next_event() {
        Some(Event::Failed(Error::Timeout { .. })) => {}
        other => panic!("{other:?}"),
    }
    // 1 s timeout x (1 + 4 retries).
    assert_eq!(p.now - start, Duration::from_secs(5));
}

#[test]
fn close_frees_the_bmc_session() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(17)),
        bmc_config(),
    );
    p.established();
    assert_eq!(p.bmc.session_count(), 1);
    let now = p.now;
    p.client.close(now);
    assert_eq!(p.next_event(), Some(Event::Closed));
    assert_eq!(p.bmc.session_count(), 0);
    assert!(p.client.is_closed());
    let id = p.client.submit(now, &GetChassisStatus);
    assert_eq!(
        p.client.poll_event(),
        Some(Event::RequestFailed {
            id,
            error: Error::SessionClosed
        })
    );
}

#[test]
fn requests_queue_and_run_one_at_a_time() {
    let mut p = Pair::new(
        client_config("admin", "password", SuiteChoice::Fixed(3)),
        bmc_config(),
    );
    let now = p.now;
    let ids: Vec<_> = (0..5)
        .map(|_| p.client.submit(now, &GetChassisStatus))
        .collect();
    assert_eq!(p.established(), 3);
    let mut got = Vec::new();
    while got.len() < ids.len() {
        match p.next_event() {
            Some(Event::Response { id, response }) => {
                assert_eq!(response.completion, CompletionCode::Ok);
                got.push(id);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, ids);
}

#[test]
fn keepalive_keeps_the_session_busy() {
    let cfg = SessionConfig::builder("admin", "password")
        .keepalive(Some(Duration::from_secs(30)))
        .build()
        .unwrap();
    let mut p = Pair::new(cfg, bmc_config());
    p.established();
    let before = p.bmc.stats().commands;
    // Advance 95 s of idle time: three keepalives.
    let end = p.now + Duration::from_secs(95);
    while let Some(t) = p.client.poll_timeout() {
        if t > end {
            break;
        }
        p.now = t;
        p.client.handle_timeout(t);
        p.next_event_nonblocking();
    }
    assert_eq!(p.bmc.stats().commands - before, 3);
}

impl Pair {
    fn next_event_nonblocking(&mut self) {
        while let Some(d) = self.client.poll_transmit() {
            if let Some(r) = self.bmc.handle(self.now, &d, &mut self.system) {
                self.client.handle_datagram(self.now, &r);
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic_or_disturb(datagrams in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..120), 1..40)) {
        let mut p = Pair::new(client_config("admin", "password", SuiteChoice::Fixed(17)), bmc_config());
        p.established();
        let now = p.now;
        for d in &datagrams {
            p.client.handle_datagram(now, d);
            let _ = route(d);
            let _ = p.bmc.handle(now, d, &mut p.system);
        }
        proptest::prop_assert!(p.client.poll_event().is_none());
        proptest::prop_assert!(p.call(&GetChassisStatus).is_ok());
    }
}
