//! Benchmark programs, run by `scripts/bench.sh`, which starts the anchors beside them in the
//! same run and prints ratios:
//!
//! * `ipmi_codec`: encode and decode a cipher-suite-17 Chassis Status request and response
//!   (AES-CBC-128 and HMAC-SHA256-128), packets per second on one core.
//! * `ipmi_farm`: N virtual BMCs (ipmi-proto's BMC side) on consecutive loopback ports.
//! * `ipmi_fleet`: power status with full session set-up and close across N BMCs from one
//!   process; prints wall time, throughput and peak resident memory.

/// Peak resident set size of this process in KiB (Linux `VmHWM`), if readable.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
