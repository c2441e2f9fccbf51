#![no_main]
// Any bytes, raw or gzip: an error or a well-formed image stack, never a panic. The header alone
// (what the memory check reads) never promises more than an IDX file may hold, and the full
// parse never inflates past the header's promise (run with -rss_limit_mb=2048).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok((count, rows, cols)) = ae::data::idx::image_header(data) {
        assert!((count as u64) * (rows * cols) as u64 <= 1 << 32);
    }
    if let Ok(images) = ae::data::idx::parse(data) {
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
    }
});
