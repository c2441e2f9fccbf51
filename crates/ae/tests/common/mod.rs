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

/// The PSNR (dB, peak 1) on run `run`'s held-out images of the trivial predictor: the mean of its
/// training images, whatever the input. A model that ignores its input scores about this, so
/// quality bars are set above it. Uses `ae reconstruct --split` to get both splits' originals.
pub fn mean_image_psnr(run: &std::path::Path) -> f64 {
    let (mean, holdout) = mean_and_holdout(run);
    let mse =
        holdout.outer_iter().map(|image| (&image - &mean).mapv(|d| (d as f64).powi(2)).sum()).sum::<f64>()
            / holdout.len() as f64;
    10.0 * (1.0 / mse).log10()
}

/// The binary cross-entropy (nats per image) on run `run`'s held-out images of the same trivial
/// predictor, the mean training image: the bar for a model trained with `--loss bce`.
pub fn mean_image_bce(run: &std::path::Path) -> f64 {
    let (mean, holdout) = mean_and_holdout(run);
    let mean = mean.mapv(|m| (m as f64).clamp(1e-6, 1.0 - 1e-6));
    let bce = |image: ndarray::ArrayViewD<f32>| -> f64 {
        image
            .iter()
            .zip(mean.iter())
            .map(|(&x, &m)| -(x as f64 * m.ln() + (1.0 - x as f64) * (1.0 - m).ln()))
            .sum()
    };
    holdout.outer_iter().map(bce).sum::<f64>() / holdout.shape()[0] as f64
}

/// Run `run`'s images of `split` (`train`, `holdout`), from `ae reconstruct --split` (once).
pub fn originals(run: &std::path::Path, split: &str) -> ndarray::ArrayD<f32> {
    let dir = run.with_extension(format!("{split}-split"));
    if !dir.exists() {
        let out =
            ae(&["reconstruct", run.to_str().unwrap(), "--split", split, "--out", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    ndarray_npy::read_npy(dir.join("originals.npy")).expect("originals.npy")
}

/// The mean of run `run`'s training images and its held-out images.
fn mean_and_holdout(run: &std::path::Path) -> (ndarray::ArrayD<f32>, ndarray::ArrayD<f32>) {
    let (train, holdout) = (originals(run, "train"), originals(run, "holdout"));
    (train.mean_axis(ndarray::Axis(0)).expect("training images"), holdout)
}
