//! Generates the ONNX model types (`ae::export::onnx`'s protobuf messages) from the official
//! `onnx.proto3`, vendored unchanged in `proto/` (github.com/onnx/onnx, `onnx/onnx.proto3` at
//! commit f754691, 2026-08-22; Apache-2.0), with protox (a protobuf compiler in Rust: no `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto3");
    let descriptors = protox::compile(["onnx.proto3"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
