//! The HTTP source's header parsing: `Content-Range` of resumed responses (parse, then emit
//! and parse again to the same value) on arbitrary text, never a panic.
#![no_main]

use imaging::ContentRange;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(r) = ContentRange::parse(text) {
        assert!(r.start <= r.end);
        assert!(r.total.is_none_or(|t| r.end < t));
        assert_eq!(ContentRange::parse(&r.to_string()), Some(r));
    }
});
