//! Generates `ae::export::onnx::proto` from the official `onnx.proto3`, vendored unchanged in
//! `proto/` (github.com/onnx/onnx, `onnx/onnx.proto3` at commit f754691, 2026-08-22; Apache-2.0),
//! with protox (a protobuf compiler in Rust: no `protoc`) and prost-build.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile_dir(here)?;
    let descriptors = protox::compile(["onnx.proto3"], [here.join("proto")])?;
    prost_build::Config::new().out_dir(&out).compile_fds(descriptors)?;
    let code = std::fs::read_to_string(out.join("onnx.rs"))?;
    let target = here.join("../../crates/ae/src/export/onnx_proto.rs");
    std::fs::write(&target, code)?;
    std::fs::remove_dir_all(&out)?;
    println!("wrote {}", target.display());
    Ok(())
}

/// A fresh directory for prost-build's output, beside this tool's target directory.
fn tempfile_dir(here: &Path) -> std::io::Result<std::path::PathBuf> {
    let dir = here.join("target/generated");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
