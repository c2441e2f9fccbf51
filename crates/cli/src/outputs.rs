//! How the commands write and print what they made: .npy shapes, grids' rows, decoded codes,
//! and the quality figures' lines.

use ae::data::Images;
use ae::evaluation::Quality;
use ae::report::save_npy;
use anyhow::Result;
use std::path::Path;

/// `[n, h, w]` for grayscale, `[n, h, w, c]` otherwise.
pub(crate) fn npy_shape(images: &Images) -> Vec<usize> {
    let s = images.shape;
    let mut shape = vec![images.len(), s.height, s.width];
    if s.channels > 1 {
        shape.push(s.channels);
    }
    shape
}

/// `images` cut into rows of `columns` (the last may be shorter), for a grid.
pub(crate) fn rows_of(images: &Images, columns: usize) -> Vec<Images> {
    (0..images.len())
        .step_by(columns.max(1))
        .map(|start| images.select(&(start..(start + columns).min(images.len())).collect::<Vec<_>>()))
        .collect()
}

/// Decoded `images` as `dir/<name>` and the codes `z` they came from as `dir/<codes>`.
pub(crate) fn save_decoded(dir: &Path, [name, codes]: [&str; 2], images: &Images, z: &[f32]) -> Result<()> {
    save_npy(&dir.join(name), &npy_shape(images), &images.data)?;
    save_npy(&dir.join(codes), &[images.len(), z.len() / images.len().max(1)], z)?;
    Ok(())
}

pub(crate) fn describe(q: &Quality) -> String {
    format!("MSE {:.5}, PSNR {}, SSIM {:.4}", q.mse, ae::evaluation::psnr_text(q.psnr_db), q.ssim)
}

/// PCA's figures beside the model's `q`.
pub(crate) fn baseline_line(b: &ae::baseline::Baseline, q: &Quality) -> String {
    format!(
        "PCA baseline, {} components ({}, {:.1} s): {}; the model is {}.",
        b.components,
        b.method,
        b.seconds,
        describe(&b.quality),
        ae::evaluation::psnr_gap_text(q.psnr_db, b.quality.psnr_db)
    )
}
