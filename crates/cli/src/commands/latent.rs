//! `ae latent`: a scatter of the codes, and a 2-D VAE's decoded manifold.

use crate::inputs::{beside_model, check_range, labels_of, load_indexed_inputs, steps_of, ModelInput};
use crate::outputs::{rows_of, save_decoded};
use ae::inference::{manifold, predict};
use ae::report::{save_grid, save_latent_scatter, save_npy, RunDir};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct LatentArgs {
    #[command(flatten)]
    pub(crate) input: ModelInput,
    /// One label per image of the dataset, to colour the scatter: an IDX label file (MNIST's
    /// t10k-labels-idx1-ubyte, raw or .gz).
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
    /// The two code units on the scatter's axes.
    #[arg(long, num_args = 2, value_names = ["X", "Y"], default_values_t = [0, 1])]
    pub(crate) units: Vec<usize>,
    /// The manifold grid covers [−RANGE, RANGE]² of a 2-D VAE's code.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) range: f32,
    /// Codes per side of the manifold grid.
    #[arg(long, default_value_t = 20)]
    pub(crate) steps: usize,
    /// Output directory to create; must not exist [default: latent-<split> beside the model].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn run(args: LatentArgs) -> Result<()> {
    let (model, _, images, split, indices, total) = load_indexed_inputs(&args.input)?;
    let code_length = model.config.code_length;
    let [x, y] = [args.units[0], args.units[1]];
    if x == y || x.max(y) >= code_length {
        bail!("--units {x} {y}: two different units of the code's {code_length} are needed");
    }
    let manifold_too = model.is_variational() && code_length == 2;
    if manifold_too {
        check_range(args.range)?;
    }
    let labels = args.labels.as_deref().map(|path| labels_of(path, &indices, total)).transpose()?;
    let out = args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("latent-{split}")));
    let run = RunDir::create(&out)?;
    let codes = predict(&model, &images, args.input.batch_size).codes;
    let points: Vec<[f32; 2]> = codes.chunks_exact(code_length).map(|c| [c[x], c[y]]).collect();
    let names = [format!("code unit {x}"), format!("code unit {y}")];
    save_latent_scatter(&run.path().join("scatter.png"), &points, labels.as_deref(), [&names[0], &names[1]])?;
    save_npy(&run.path().join("codes.npy"), &[images.len(), code_length], &codes)?;
    if let Some(labels) = &labels {
        let as_floats: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
        save_npy(&run.path().join("labels.npy"), &[labels.len()], &as_floats)?;
    }
    if manifold_too {
        let steps = steps_of(args.steps)?;
        let (z, grid) = manifold(&model, args.range, steps);
        let rows = rows_of(&grid, steps);
        save_grid(
            &run.path().join("manifold.png"),
            &rows.iter().collect::<Vec<_>>(),
            steps,
            28.max(grid.shape.height),
        )?;
        save_decoded(run.path(), ["manifold.npy", "manifold-codes.npy"], &grid, &z)?;
    }
    let out = run.finish()?;
    let drawn = if manifold_too { "scatter.png and manifold.png" } else { "scatter.png" };
    let coloured = if labels.is_some() { ", coloured by label" } else { "" };
    println!("Drew the codes of {} {split} images{coloured}: {drawn} in {}", images.len(), out.display());
    Ok(())
}
