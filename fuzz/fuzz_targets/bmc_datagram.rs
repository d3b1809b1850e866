//! The BMC responder fed arbitrary datagrams (pre-session and in-session): no panic, and
//! bounded state (a flood of Open Session requests cannot exceed the session limit).
#![no_main]

use std::time::Instant;

use ipmi_proto::bmc::{BmcConfig, Responder, SimpleSystem, User};
use ipmi_proto::cmd::Privilege;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|datagrams: Vec<Vec<u8>>| {
    let cfg = BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .max_sessions(8)
        .build();
    let mut bmc = Responder::new(cfg);
    let mut sys = SimpleSystem::default();
    let now = Instant::now();
    for d in &datagrams {
        let _ = bmc.handle(now, d, &mut sys);
        assert!(bmc.session_count() <= 8);
    }
});
