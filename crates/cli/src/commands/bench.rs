//! `ae bench`: training steps, forward passes and each layer of a preset's model, timed.

use crate::flags::choice;
use ae::config::{ModelKind, Overrides, Preset, RunConfig, Start};
use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Which preset's model to time, as `ae train --preset` (seed and tutorial-net differ only in
    /// padding and the code's normalisation).
    #[arg(long, value_parser = choice::<Preset>(), default_value_t = Preset::Default)]
    pub(crate) preset: Preset,
    /// The model as it would train on these images (a file, folder or dataset name, as `ae train
    /// --data`): their size and channels; the images themselves are not read [default: 32×32 grey].
    #[arg(long)]
    pub(crate) data: Option<String>,
    /// Resize to HEIGHT WIDTH, as `ae train --size`.
    #[arg(long, num_args = 2, value_names = ["HEIGHT", "WIDTH"])]
    pub(crate) size: Option<Vec<usize>>,
    /// The code's length, as `ae train --code-length` (a VAE's latent units).
    #[arg(long)]
    pub(crate) code_length: Option<usize>,
    /// Time a variational autoencoder, as `ae train --model vae`.
    #[arg(long, value_parser = choice::<ModelKind>())]
    pub(crate) model: Option<ModelKind>,
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
    let overrides = Overrides {
        data: args.data.clone(),
        size: args.size.as_deref().map(|s| [s[0], s[1]]),
        code_length: args.code_length,
        model: args.model,
        ..Default::default()
    };
    let mut run = RunConfig::resolve(Start::Preset(args.preset), &overrides)?;
    if args.data.is_some() {
        crate::progress::fetch(&run.data)?;
        let shape = ae::data::probe::probe(&run.data)?.shape;
        run.model.input = [shape.height, shape.width, shape.channels];
    } else if let Some([h, w]) = overrides.size {
        run.model.input = [h, w, 1];
    }
    run.model.settle();
    let config = run.model;
    let report = ae::bench::run(&config, args.batch_size, args.steps, args.warmup)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(())
}
