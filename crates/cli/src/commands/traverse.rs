//! `ae traverse`: one code unit at a time varied around an image's code, decoded.

use crate::inputs::{beside_model, check_index, check_range, load_inputs, steps_of, ModelInput};
use crate::outputs::{rows_of, save_decoded};
use ae::inference::{predict, traverse};
use ae::report::{save_grid, RunDir};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct TraverseArgs {
    #[command(flatten)]
    pub(crate) input: ModelInput,
    /// Index of the image in the chosen split whose code (a VAE's mean) the rows start from.
    #[arg(long, default_value_t = 0)]
    pub(crate) image: usize,
    /// Each unit runs over [−RANGE, RANGE] (a VAE's prior has σ 1).
    #[arg(long, default_value_t = 3.0)]
    pub(crate) range: f32,
    /// Values per unit.
    #[arg(long, default_value_t = 9)]
    pub(crate) steps: usize,
    /// Output directory to create; must not exist [default: traverse-IMAGE beside the model].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn run(args: TraverseArgs) -> Result<()> {
    let (model, _, images, split) = load_inputs(&args.input)?;
    check_index("--image", args.image, images.len(), split)?;
    check_range(args.range)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| beside_model(&args.input.model, &format!("traverse-{}", args.image)));
    let run = RunDir::create(&out)?;
    let base = predict(&model, &images.select(&[args.image]), 1).codes;
    let steps = steps_of(args.steps)?;
    let (z, grid) = traverse(&model, &base, args.range, steps);
    let rows = rows_of(&grid, steps);
    save_grid(&run.path().join("traversal.png"), &rows.iter().collect::<Vec<_>>(), steps, 64)?;
    save_decoded(run.path(), ["images.npy", "codes.npy"], &grid, &z)?;
    let out = run.finish()?;
    println!(
        "Decoded {} units × {steps} values in ±{} around {split} image {}'s code into {}",
        base.len(),
        args.range,
        args.image,
        out.display()
    );
    Ok(())
}
