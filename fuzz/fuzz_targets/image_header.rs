#![no_main]
use libfuzzer_sys::fuzz_target;

// What the memory check reads of an image file before decoding it: any bytes give sides within
// the limit and the decoded size they imply, or an error; nothing is decoded, nothing large is
// allocated (run with -rss_limit_mb=2048), whatever sides the header claims.
fuzz_target!(|data: &[u8]| {
    if let Ok(([h, w], bytes)) = ae::data::folder::header_of_bytes(data) {
        assert!(h <= 1 << 14 && w <= 1 << 14);
        assert!(bytes >= (h * w) as u64);
    }
});
