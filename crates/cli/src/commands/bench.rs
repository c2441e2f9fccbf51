//! `ae bench`: training steps, forward passes and each layer of a preset's model, timed.

use crate::flags::choice;
use ae::config::{Preset, RunConfig};
use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Which preset's model to time (seed and default differ only in padding; deep is another network).
    #[arg(long, value_parser = choice::<Preset>(), default_value_t = Preset::Seed)]
    pub(crate) preset: Preset,
    /// Timed repetitions; the median is reported.
    #[arg(long, default_value_t = 20)]
    pub(crate) steps: usize,
    /// Untimed repetitions first.
    #[arg(long, default_value_t = 3)]
    pub(crate) warmup: usize,
    /// Images per step.
    #[arg(long, default_value_t = 50)]
    pub(crate) batch_size: usize,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: BenchArgs) -> Result<()> {
    if args.steps == 0 || args.batch_size == 0 {
        bail!("--steps and --batch-size must be at least 1");
    }
    let config = RunConfig::preset(args.preset).model;
    let report = ae::bench::run(&config, args.batch_size, args.steps, args.warmup)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(())
}
