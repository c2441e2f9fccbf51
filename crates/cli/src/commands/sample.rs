//! `ae sample`: codes drawn from a VAE's prior, decoded.

use crate::inputs::{beside_model, load_model, ModelInput};
use crate::limits::check_inference;
use crate::outputs::{rows_of, save_decoded};
use ae::data::Images;
use ae::inference::sample_prior;
use ae::report::{save_grid, RunDir};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct SampleArgs {
    /// A VAE's model file or run directory.
    pub(crate) model: PathBuf,
    /// Codes to draw.
    #[arg(long, default_value_t = 64)]
    pub(crate) count: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Output directory to create; must not exist [default: samples beside the model].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn run(args: SampleArgs) -> Result<()> {
    let input = ModelInput { model: args.model.clone(), data: None, split: None, batch_size: 50 };
    let (model, _) = load_model(&input)?;
    if !model.is_variational() {
        bail!(
            "{} is not a VAE: only a VAE's codes follow N(0, I) (train one with --model vae)",
            args.model.display()
        );
    }
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    // The codes are decoded in one batch.
    check_inference(&model, args.count, args.count, args.count, "use a smaller --count")?;
    let out = args.out.clone().unwrap_or_else(|| beside_model(&args.model, "samples"));
    let run = RunDir::create(&out)?;
    let (z, images) = sample_prior(&model, args.count, args.seed);
    let columns = (args.count as f64).sqrt().ceil() as usize;
    let rows = rows_of(&images, columns);
    // A last row shorter than the others is left out of the grid (the .npy has every sample).
    let full: Vec<&Images> = rows.iter().filter(|r| r.len() == columns).collect();
    save_grid(&run.path().join("samples.png"), &full, columns, 64)?;
    save_decoded(run.path(), ["samples.npy", "codes.npy"], &images, &z)?;
    let out = run.finish()?;
    println!("Decoded {} codes drawn from N(0, I) (seed {}) into {}", args.count, args.seed, out.display());
    Ok(())
}
