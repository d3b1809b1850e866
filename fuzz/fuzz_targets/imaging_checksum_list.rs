//! Checksum specifications (`ALGO:HEX`, bare hex) and checksum lists (`SHA256SUMS` GNU and
//! BSD lines) on arbitrary text: no panic; an accepted checksum has its algorithm's length and
//! prints back to a specification that parses to the same value.
#![no_main]

use imaging::Checksum;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the image name looked up, the rest the list.
    let (name, list) = text.split_once('\n').unwrap_or((text, ""));
    for allow_md5 in [false, true] {
        for c in [
            Checksum::parse(name, allow_md5),
            Checksum::from_list(list, name, allow_md5),
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(c.digest().len(), c.algorithm().digest_len());
            assert_eq!(Checksum::parse(&c.to_string(), true).ok(), Some(c));
        }
    }
});
