//! `ae encode`: a split's codes as a .npy array, with their dataset indices and labels.

use crate::inputs::{beside_model, labels_of, load_indexed_inputs, ModelInput};
use ae::inference::predict;
use ae::report::save_npy;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct EncodeArgs {
    #[command(flatten)]
    pub(crate) input: ModelInput,
    /// Output .npy file; must not exist [default: codes-<split>.npy beside the model]. Beside it,
    /// NAME-indices.npy (each code's image index in the dataset, int64) and, where the dataset
    /// has labels, NAME-labels.npy (uint8).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// One label per image of the dataset: an IDX label file [default: the labels file beside
    /// an IDX images file, e.g. MNIST's t10k-labels-idx1-ubyte next to t10k-images-idx3-ubyte].
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
}

pub(crate) fn run(args: EncodeArgs) -> Result<()> {
    let (model, recipe, images, split, indices, total) = load_indexed_inputs(&args.input)?;
    let out =
        args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("codes-{split}.npy")));
    // Beside the codes, named after them: `codes-holdout.npy` → `codes-holdout-indices.npy`.
    let beside = |what: &str| {
        let stem = out.file_stem().map_or("codes".into(), |s| s.to_string_lossy().into_owned());
        out.with_file_name(format!("{stem}-{what}.npy"))
    };
    let data_path = args.input.data.clone().or(recipe.data.path.clone());
    let labels_path = args.labels.clone().or_else(|| data_path.as_deref().and_then(ae::data::labels_beside));
    let (indices_out, labels_out) = (beside("indices"), beside("labels"));
    for path in [&out, &indices_out].into_iter().chain(labels_path.as_ref().map(|_| &labels_out)) {
        if path.exists() {
            bail!("{} already exists; choose another --out or remove it", path.display());
        }
    }
    let labels = labels_path.as_deref().map(|path| labels_of(path, &indices, total)).transpose()?;
    let predictions = predict(&model, &images, args.input.batch_size);
    save_npy(&out, &[images.len(), model.config.code_length], &predictions.codes)?;
    let as_i64: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    save_npy(&indices_out, &[as_i64.len()], &as_i64)?;
    if let Some(labels) = &labels {
        save_npy(&labels_out, &[labels.len()], labels)?;
    }
    let mean =
        predictions.codes.iter().map(|&c| c as f64).sum::<f64>() / predictions.codes.len().max(1) as f64;
    println!(
        "Encoded {} {split} images to {} codes of {} (mean {mean:.4}): {}; their dataset indices: {}{}",
        images.len(),
        images.len(),
        model.config.code_length,
        out.display(),
        indices_out.display(),
        if labels.is_some() { format!("; their labels: {}", labels_out.display()) } else { String::new() }
    );
    Ok(())
}
