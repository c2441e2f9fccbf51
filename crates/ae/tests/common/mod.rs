//! Shared by the integration tests: where the project's shared datasets are.
#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;

/// `../shared/datasets` beside the repository (or `$AE_SHARED_DATASETS`).
pub fn datasets() -> PathBuf {
    if let Some(dir) = std::env::var_os("AE_SHARED_DATASETS") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("../shared/datasets");
    assert!(
        dir.is_dir(),
        "the shared datasets are expected at {} (or set AE_SHARED_DATASETS)",
        dir.display()
    );
    dir
}

pub fn olivetti() -> PathBuf {
    datasets().join("olivettifaces.mat")
}

/// `../shared/peers/data`, where the peers' preprocessed copies of the faces are.
pub fn peer_data() -> PathBuf {
    datasets().join("../peers/data")
}

/// Runs the `ae` binary with no dataset cache or environment to fall back on.
pub fn ae(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env("AE_CACHE_DIR", "/nonexistent-ae-cache")
        .env_remove("AE_OLIVETTI")
        .output()
        .expect("the ae binary runs")
}
