#![no_main]
// Any bytes, raw or gzip: an error or a well-formed image stack, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(images) = ae::data::idx::parse(data) {
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
    }
});
