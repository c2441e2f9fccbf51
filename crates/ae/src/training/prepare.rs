//! The run's first stage: the data split, the batch settled for it, the memory check before
//! anything large is allocated, and the run's config written into its directory.

use super::Job;
use crate::config::{Batching, ConfigError, RunConfig, TrainingConfig};
use crate::data::probe::DatasetSize;
use crate::data::{split_for, Images, Pixels};
use crate::fs::write_atomic;
use crate::memory::{Advice, MemoryNeed};
use crate::model::Autoencoder;
use crate::report::{ReportError, RunDir};

/// How many training images the end of a run measures (all of them but for large datasets).
pub(super) const SHOWN: usize = 1000;

/// What to change when training does not fit in memory (config keys; the binary adds its flags).
const TRAINING_MEMORY_ADVICE: Advice = Advice {
    text: "lower training.batch_size, data.size or model.max_code_map_side",
    settings: &["training.batch_size", "data.size", "model.max_code_map_side"],
};

/// What to change when the data alone do not fit.
const DATA_MEMORY_ADVICE: Advice = Advice {
    text: "set data.size to smaller images or data.storage to u8, or use fewer images",
    settings: &["data.size", "data.storage"],
};

/// The run's `config.toml`, written atomically.
pub(super) fn write_config(config: &RunConfig, run: &RunDir) -> Result<(), ReportError> {
    let path = run.path().join("config.toml");
    write_atomic(&path, config.to_toml().as_bytes()).map_err(|cause| ReportError::Io {
        action: "write",
        path,
        cause,
    })
}

/// The data split and checked for a run of `config`.
pub(super) struct Prepared {
    pub(super) train_set: Pixels,
    pub(super) holdout: Images,
    /// The run's training settings with the batch capped by the training images.
    pub(super) training: TrainingConfig,
}

pub(super) fn prepare(config: &RunConfig, pixels: Pixels) -> crate::Result<Prepared> {
    let split = split_for(&config.data, pixels.len(), config.training.seed)?;
    if split.train.len() <= config.training.batch_size && config.training.batching == Batching::Tutorial {
        let problem = format!(
            "{} leaves the tutorial's batching no batch of the {} training images",
            config.training.batch_size,
            split.train.len()
        );
        return Err(ConfigError::new("training.batch_size", problem).into());
    }
    // Buffers for a batch larger than the training set would never be filled: capped, the
    // batches are the same.
    let batch = config.training.batch_size.min(split.train.len()).max(1);
    if split.train.len() == 1 && config.model.has_batch_norm() {
        log::warn!(
            "data.holdout leaves one training image: batch normalisation of a single image makes every \
             normalised value 0 (the code sits at its midpoint); hold out fewer images"
        );
    }
    let (train_set, holdout) = (pixels.select(&split.train), pixels.select(&split.holdout).to_images());
    let training = TrainingConfig { batch_size: batch, ..config.training.clone() };
    Ok(Prepared { train_set, holdout, training })
}

/// Refuses a run of `config` on a dataset of `size` that would not fit in the job's memory limit:
/// loading the data, then training beside it.
pub(super) fn check_memory(config: &RunConfig, size: &DatasetSize, job: &Job<'_>) -> crate::Result<()> {
    let Some(limit) = job.limit else { return Ok(()) };
    let split = split_for(&config.data, size.count, config.training.seed)?;
    let batch = config.training.batch_size.min(split.train.len()).max(1);
    let mut need = Autoencoder::memory_need(&config.model, batch, rayon::current_num_threads(), true)?;
    // The images: the training split, and the measured ones three times (a denoiser's noisy
    // copies, the reconstructions): the held-out images, or without them the first training
    // images the end of the run measures.
    let per_image = size.bytes / size.count.max(1) as u64;
    let measured = if split.holdout.is_empty() { split.train.len().min(SHOWN) } else { split.holdout.len() };
    let d = size.shape.len();
    need.data = per_image * split.train.len() as u64 + 3 * 4 * d as u64 * measured as u64;
    // The PCA baseline at the end, once the trainer's buffers are freed, takes less than them
    // unless images are large and many: the larger counts.
    let pca = crate::baseline::memory_need(split.train.len(), d, config.model.code_length);
    let trainer = need.parameters + need.activations + need.scratch;
    need.scratch += pca.saturating_sub(trainer);
    // A checkpoint copies the weights into PyTorch's layout while it is written (a quarter of the
    // parameters' figure: the weights without their gradients and moments).
    need.other = crate::memory::PROCESS + need.parameters / 4;
    // Loading comes first, before any of training's buffers: the larger of the two is refused,
    // so the one figure said is the run's.
    let loading = MemoryNeed { data: size.loading, other: crate::memory::PROCESS, ..MemoryNeed::default() };
    match loading.total() > need.total() {
        true => limit.check("loading the data", &loading, DATA_MEMORY_ADVICE)?,
        false => limit.check("training", &need, TRAINING_MEMORY_ADVICE)?,
    }
    Ok(())
}
