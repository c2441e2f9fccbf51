#![no_main]
use libfuzzer_sys::fuzz_target;

// Model files: any bytes load or give an error, and never allocate beyond what the file holds.
fuzz_target!(|data: &[u8]| {
    let _ = ae::checkpoint::from_bytes(data, std::path::Path::new("fuzz.safetensors"));
});
