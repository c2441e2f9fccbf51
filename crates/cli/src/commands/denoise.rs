//! `ae denoise`: image files denoised by a trained denoiser, or a clean / noisy / denoised grid.

use crate::inputs::{beside_model, load_inputs, load_model, ModelInput};
use crate::limits::{check_inference, BATCH_ADVICE};
use crate::outputs::{describe, npy_shape};
use ae::data::images_for_model;
use ae::evaluation::quality;
use ae::inference::predict;
use ae::report::{save_grid, save_images, save_npy, RunDir};
use ae::training::corrupt;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct DenoiseArgs {
    #[command(flatten)]
    pub(crate) input: ModelInput,
    /// Noisy PNG/JPEG files to denoise, at the model's input size or a whole multiple of it.
    /// Without files: the chosen faces with the model's noise added, as a clean/noisy/denoised grid.
    pub(crate) images: Vec<PathBuf>,
    /// Output directory to create; must not exist [default: denoise-<split> or denoised beside the model].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Images shown in the grid [default: 10].
    #[arg(long, default_value_t = 10)]
    pub(crate) columns: usize,
}

pub(crate) fn run(args: DenoiseArgs) -> Result<()> {
    let (model, recipe) = load_model(&args.input)?;
    if recipe.noise.is_none() {
        bail!(
            "{} was trained without noise, so it is not a denoiser (train one with --noise)",
            args.input.model.display()
        );
    }
    let batch = args.input.batch_size;
    if !args.images.is_empty() {
        // The inputs decode to the model's size; what they need is known before reading any.
        check_inference(&model, args.images.len(), batch, args.images.len(), BATCH_ADVICE)?;
        let noisy = images_for_model(&args.images, model.config.input, recipe.data.resize)?;
        let out = args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, "denoised"));
        let run = RunDir::create(&out)?;
        let denoised = predict(&model, &noisy, batch).reconstructions;
        // Inputs of one name from different folders are numbered, never written over each other.
        let (mut used, mut numbered) = (std::collections::HashSet::new(), 0);
        for (i, path) in args.images.iter().enumerate() {
            let stem =
                path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| format!("{i}"));
            let mut name = stem.clone();
            for k in 2.. {
                if used.insert(name.clone()) {
                    break;
                }
                name = format!("{stem}-{k}");
            }
            numbered += (name != stem) as usize;
            save_images(run.path(), &format!("{name}-"), &denoised.select(&[i]))?;
        }
        let shown: Vec<usize> = (0..noisy.len().min(args.columns.max(1))).collect();
        save_grid(
            &run.path().join("denoising.png"),
            &[&noisy.select(&shown), &denoised.select(&shown)],
            shown.len(),
            64,
        )?;
        let out = run.finish()?;
        let note = if numbered > 0 {
            format!(" ({numbered} with a repeated name numbered: NAME-2, …)")
        } else {
            String::new()
        };
        println!("Denoised {} images into {}{note}", noisy.len(), out.display());
        return Ok(());
    }
    let (_, _, clean, split) = load_inputs(&args.input)?;
    let out =
        args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("denoise-{split}")));
    let run = RunDir::create(&out)?;
    let noisy = corrupt(&clean, recipe.noise, recipe.seed);
    let denoised = predict(&model, &noisy, batch).reconstructions;
    let shown: Vec<usize> = (0..clean.len().min(args.columns.max(1))).collect();
    let rows = [clean.select(&shown), noisy.select(&shown), denoised.select(&shown)];
    save_grid(&run.path().join("denoising.png"), &[&rows[0], &rows[1], &rows[2]], shown.len(), 64)?;
    save_npy(&run.path().join("noisy.npy"), &npy_shape(&noisy), &noisy.data)?;
    save_npy(&run.path().join("denoised.npy"), &npy_shape(&denoised), &denoised.data)?;
    let out = run.finish()?;
    println!(
        "{} {split} images with noise {}: noisy {}; denoised {}. Grid in {}",
        clean.len(),
        recipe.noise,
        describe(&quality(&clean, &noisy)),
        describe(&quality(&clean, &denoised)),
        out.display()
    );
    Ok(())
}
