//! `ae interpolate`: the straight line between two images' codes, decoded.

use crate::inputs::{beside_model, check_index, load_inputs, steps_of, ModelInput};
use crate::outputs::save_decoded;
use ae::inference::interpolate;
use ae::report::{save_grid, RunDir};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct InterpolateArgs {
    #[command(flatten)]
    pub(crate) input: ModelInput,
    /// Index of the first image in the chosen split.
    #[arg(long)]
    pub(crate) from: usize,
    /// Index of the last image in the chosen split.
    #[arg(long)]
    pub(crate) to: usize,
    /// Images on the line, both ends included.
    #[arg(long, default_value_t = 10)]
    pub(crate) steps: usize,
    /// Output directory to create; must not exist [default: interpolate-FROM-TO beside the model].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn run(args: InterpolateArgs) -> Result<()> {
    let (model, _, images, split) = load_inputs(&args.input)?;
    check_index("--from", args.from, images.len(), split)?;
    check_index("--to", args.to, images.len(), split)?;
    let name = format!("interpolate-{}-{}", args.from, args.to);
    let out = args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &name));
    let run = RunDir::create(&out)?;
    let (from, to) = (images.select(&[args.from]), images.select(&[args.to]));
    let (z, line) = interpolate(&model, &from, &to, steps_of(args.steps)?);
    save_grid(&run.path().join("interpolation.png"), &[&line], line.len(), 64)?;
    save_decoded(run.path(), ["images.npy", "codes.npy"], &line, &z)?;
    let out = run.finish()?;
    println!(
        "Decoded {} codes from {split} image {} to {} into {}",
        line.len(),
        args.from,
        args.to,
        out.display()
    );
    Ok(())
}
