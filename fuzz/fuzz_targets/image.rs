#![no_main]
use libfuzzer_sys::fuzz_target;

// A folder's image files: any bytes decode within the limits or give an error.
fuzz_target!(|data: &[u8]| {
    if let Ok(img) = ae::data::folder::from_bytes(data) {
        let _ = img.to_rgb8();
    }
});
