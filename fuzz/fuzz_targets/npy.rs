#![no_main]
// Any bytes: an error or images whose data fill their shape, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(pixels) = ae::data::parse_npy(data) {
        let _ = pixels.to_images();
    }
});
