//! What the commands that use a trained model read: the model, its data and the split it names,
//! refused past the memory limit before anything large is loaded; and the checks of their options.

use crate::limits::{memory_limit, BATCH_ADVICE};
use ae::checkpoint::{self, DataRecipe};
use ae::data::{labels_for, load_dataset, split_for, Images};
use ae::memory::{MemoryNeed, PROCESS};
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// Which images of the dataset a command works on.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SplitChoice {
    /// The images held out of training (the model file records the split).
    Holdout,
    /// The images the model was trained on.
    Train,
    /// All images.
    All,
}

#[derive(Args)]
pub(crate) struct ModelInput {
    /// A model file (model.safetensors) or a run directory holding one.
    pub(crate) model: PathBuf,
    /// The dataset file or folder [default: the one the model was trained on].
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Which images to use [default: holdout when the model has a held-out split, else all].
    #[arg(long, value_enum)]
    pub(crate) split: Option<SplitChoice>,
    /// Images per forward pass [default: 50].
    #[arg(long, default_value_t = 50)]
    pub(crate) batch_size: usize,
}

/// The model, its recipe and the chosen images, prepared as in training.
pub(crate) fn load_inputs(
    input: &ModelInput,
) -> Result<(ae::model::Autoencoder, DataRecipe, Images, &'static str)> {
    let (model, recipe, images, split, _, _) = load_indexed_inputs(input)?;
    Ok((model, recipe, images, split))
}

/// [`load_inputs`], the chosen images' indices in the whole dataset (to match a labels file) and
/// the whole dataset's count.
#[allow(clippy::type_complexity)]
pub(crate) fn load_indexed_inputs(
    input: &ModelInput,
) -> Result<(ae::model::Autoencoder, DataRecipe, Images, &'static str, Vec<usize>, usize)> {
    let (model, recipe, images, name, indices, _, total) = load_inputs_and_training(input, None)?;
    Ok((model, recipe, images, name, indices, total))
}

/// [`load_indexed_inputs`], the model's training images (for the PCA baseline) and the dataset's
/// count; `eval` (its importance samples) sizes `eval`'s own steps into the memory check.
#[allow(clippy::type_complexity)]
pub(crate) fn load_inputs_and_training(
    input: &ModelInput,
    eval: Option<usize>,
) -> Result<(ae::model::Autoencoder, DataRecipe, Images, &'static str, Vec<usize>, ae::data::Pixels, usize)> {
    check_batch(input.batch_size)?;
    let header = checkpoint::header(&input.model)?;
    let mut data = header.recipe.data.clone();
    if let Some(path) = &input.data {
        data.path = Some(path.clone());
    }
    let choice =
        input.split.unwrap_or(if data.holdout > 0.0 { SplitChoice::Holdout } else { SplitChoice::All });
    // Sized from the headers first: a job too large for the limit is refused before any loading.
    if let Some(limit) = memory_limit() {
        let size = ae::data::probe::probe(&data)?;
        let split = split_for(&data, size.count, header.recipe.seed)?;
        let run = match choice {
            SplitChoice::Holdout => split.holdout.len(),
            SplitChoice::Train => split.train.len(),
            SplitChoice::All => size.count,
        };
        let need =
            ae::inference::dataset_need(&header, &size, run, split.train.len(), input.batch_size, eval)?;
        limit.check("this job", &need, BATCH_ADVICE)?;
    }
    let (model, recipe) = checkpoint::load(&input.model)?;
    crate::progress::fetch(&data)?;
    let pixels = load_dataset(&data, None)?;
    let s = pixels.shape();
    if [s.height, s.width, s.channels] != model.config.input {
        let [h, w, c] = model.config.input;
        bail!("the data are {}×{}×{} images but the model takes {h}×{w}×{c}", s.height, s.width, s.channels);
    }
    let split = split_for(&data, pixels.len(), recipe.seed)?;
    let (indices, name) = match choice {
        SplitChoice::Holdout if split.holdout.is_empty() => {
            bail!("--split holdout: this model was trained without a held-out split")
        }
        SplitChoice::Holdout => (split.holdout, "holdout"),
        SplitChoice::Train => (split.train.clone(), "train"),
        SplitChoice::All => ((0..pixels.len()).collect(), "all"),
    };
    let images = if name == "all" { pixels.to_images() } else { pixels.select(&indices).to_images() };
    let train = pixels.select(&split.train);
    Ok((model, recipe, images, name, indices, train, pixels.len()))
}

/// Reads the model of `input`, refused past the memory limit from its header.
pub(crate) fn load_model(input: &ModelInput) -> Result<(ae::model::Autoencoder, DataRecipe)> {
    check_batch(input.batch_size)?;
    check_model_fits("loading the model", || Ok(checkpoint::header(&input.model)?.loading))?;
    Ok(checkpoint::load(&input.model)?)
}

/// Refuses `what`, building a model whose file's `loading` need is read only where there is a
/// limit, past the memory limit.
pub(crate) fn check_model_fits(
    what: &str,
    loading: impl FnOnce() -> Result<MemoryNeed, checkpoint::CheckpointError>,
) -> Result<()> {
    if let Some(limit) = memory_limit() {
        let need = loading()? + MemoryNeed { other: PROCESS, ..Default::default() };
        limit.check(what, &need, "use --max-memory to allow more")?;
    }
    Ok(())
}

pub(crate) fn check_batch(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    Ok(())
}

pub(crate) fn beside_model(model: &Path, name: &str) -> PathBuf {
    let dir = if model.is_dir() { model } else { model.parent().unwrap_or(Path::new(".")) };
    dir.join(name)
}

/// The labels in the IDX file `path` of the dataset's images at `indices`; the file must hold one
/// label for each of the dataset's `total` images.
pub(crate) fn labels_of(path: &Path, indices: &[usize], total: usize) -> Result<Vec<u8>> {
    let all = labels_for(path, total)?;
    Ok(indices.iter().map(|&i| all[i]).collect())
}

/// `--steps` as given: a line from one end to the other needs both ends.
pub(crate) fn steps_of(steps: usize) -> Result<usize> {
    if steps < 2 {
        bail!("--steps {steps}: at least 2 (both ends of the line)");
    }
    Ok(steps)
}

/// Refuses a `--range` that is not a positive number.
pub(crate) fn check_range(range: f32) -> Result<()> {
    if !(range.is_finite() && range > 0.0) {
        bail!("--range must be a positive number, got {range}");
    }
    Ok(())
}

/// Refuses `flag`'s image index `i` past the `split`'s `count` images.
pub(crate) fn check_index(flag: &str, i: usize, count: usize, split: &str) -> Result<()> {
    if i >= count {
        bail!("{flag} {i}: the {split} split has {count} images");
    }
    Ok(())
}
