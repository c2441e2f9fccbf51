//! `ae reconstruct`: a trained model's reconstructions of a split, as a grid and .npy arrays.

use crate::inputs::{beside_model, load_inputs, ModelInput};
use crate::outputs::npy_shape;
use ae::evaluation::quality;
use ae::inference::predict;
use ae::report::{save_grid, save_npy, RunDir};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct ReconstructArgs {
    #[command(flatten)]
    pub(crate) input: ModelInput,
    /// Output directory to create; must not exist [default: reconstruct-<split> beside the model].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Images shown in the grid [default: 10].
    #[arg(long, default_value_t = 10)]
    pub(crate) columns: usize,
}

pub(crate) fn run(args: ReconstructArgs) -> Result<()> {
    let (model, _, images, split) = load_inputs(&args.input)?;
    let out =
        args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("reconstruct-{split}")));
    let run = RunDir::create(&out)?;
    let predictions = predict(&model, &images, args.input.batch_size);
    let shown: Vec<usize> = (0..images.len().min(args.columns.max(1))).collect();
    let grid = run.path().join("reconstructions.png");
    save_grid(
        &grid,
        &[&images.select(&shown), &predictions.reconstructions.select(&shown)],
        shown.len(),
        64,
    )?;
    save_npy(&run.path().join("originals.npy"), &npy_shape(&images), &images.data)?;
    let recon = &predictions.reconstructions;
    save_npy(&run.path().join("reconstructions.npy"), &npy_shape(recon), &recon.data)?;
    let out = run.finish()?;
    let q = quality(&images, recon);
    println!(
        "Reconstructed {} {split} images (MSE {:.5}, PSNR {}) into {}",
        q.images,
        q.mse,
        ae::evaluation::psnr_text(q.psnr_db),
        out.display()
    );
    Ok(())
}
