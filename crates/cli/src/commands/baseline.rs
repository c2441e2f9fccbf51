//! `ae baseline`: PCA with K components on a dataset's split, the best linear autoencoder.

use crate::flags::choice;
use crate::limits::memory_limit;
use crate::outputs::describe;
use ae::config::{Preset, RunConfig};
use ae::data::{load_dataset, split_for};
use ae::noise::Noise;
use ae::training::corrupt;
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub(crate) struct BaselineArgs {
    /// A dataset file or folder, or a dataset name (olivetti, mnist, fashion-mnist).
    #[arg(long)]
    pub(crate) data: String,
    /// Principal components: the code length it stands beside.
    #[arg(long)]
    pub(crate) components: usize,
    /// The preset whose data settings (size, held-out share, split) apply.
    #[arg(long, value_parser = choice::<Preset>(), default_value_t = Preset::Default)]
    pub(crate) preset: Preset,
    /// The split's seed, as `ae train --seed`.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Resize images to HEIGHT WIDTH, as `ae train --size`.
    #[arg(long, num_args = 2, value_names = ["HEIGHT", "WIDTH"])]
    pub(crate) size: Option<Vec<usize>>,
    /// Noise on the held-out inputs (PCA as a denoiser), as `ae train --noise`.
    #[arg(long)]
    pub(crate) noise: Option<Noise>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: BaselineArgs) -> Result<()> {
    let mut config = RunConfig::preset(args.preset);
    config.data.point_at(&args.data, args.size.as_deref().map(|s| [s[0], s[1]]));
    crate::progress::fetch(&config.data)?;
    let pixels = load_dataset(&config.data, None)?;
    let split = split_for(&config.data, pixels.len(), args.seed)?;
    let (train, eval, which) = if split.holdout.is_empty() {
        (pixels.select(&split.train), pixels.to_images(), "all")
    } else {
        (pixels.select(&split.train), pixels.select(&split.holdout).to_images(), "holdout")
    };
    if let Some(limit) = memory_limit() {
        let d = pixels.shape().len();
        let need = ae::memory::MemoryNeed {
            parameters: 0,
            activations: 0,
            scratch: ae::baseline::memory_need(train.len(), d, args.components),
            data: pixels.bytes() + 8 * eval.data.len() as u64,
            other: ae::memory::PROCESS,
        };
        limit.check("the PCA baseline", &need, "use fewer components or smaller images")?;
    }
    let noise = args.noise.unwrap_or_default();
    let noisy = (!noise.is_none()).then(|| corrupt(&eval, noise, args.seed));
    let b = ae::baseline::pca_baseline(
        &train,
        noisy.as_ref().unwrap_or(&eval),
        &eval,
        args.components,
        args.seed,
    )?;
    if args.json {
        let mut value = serde_json::to_value(&b)?;
        value["split"] = which.into();
        value["train_images"] = train.len().into();
        println!("{value}");
    } else {
        println!(
            "PCA, {} components ({}, {:.1} s), fitted on {} training images; {which}: {} images, {}{}",
            b.components,
            b.method,
            b.seconds,
            train.len(),
            b.quality.images,
            describe(&b.quality),
            if noise.is_none() { String::new() } else { format!(" (from inputs with noise {noise})") }
        );
    }
    Ok(())
}
