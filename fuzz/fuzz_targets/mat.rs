#![no_main]
// Any bytes: an error or a matrix whose values fill its dimensions, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(array) = ae::data::mat::read_variable(data, "faces") {
        if !array.values.is_empty() {
            assert_eq!(array.values.len(), array.dims.iter().product::<usize>());
        }
    }
});
