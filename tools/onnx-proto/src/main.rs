//! Generates `ae::export::onnx::proto` from the official `onnx.proto3`, vendored unchanged in
//! `proto/` (github.com/onnx/onnx, `onnx/onnx.proto3` at commit f754691, 2026-08-22; Apache-2.0),
//! with protox (a protobuf compiler in Rust: no `protoc`) and prost-build.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    // prost-build names its file after the package (`onnx.rs`): it writes into this tool's own
    // target directory, emptied first, and the file is copied to where `ae` includes it.
    let out = here.join("target/generated");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(&out)?;
    let descriptors = protox::compile(["onnx.proto3"], [here.join("proto")])?;
    prost_build::Config::new().out_dir(&out).compile_fds(descriptors)?;
    let target = here.join("../../crates/ae/generated/onnx_proto.rs");
    std::fs::copy(out.join("onnx.rs"), &target)?;
    println!("wrote {}", target.display());
    Ok(())
}
