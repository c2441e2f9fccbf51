//! Training: the losses, Adam, seeded shuffling and noise, the tutorial's epoch bookkeeping, and
//! the `train` job that leaves a run directory.

use crate::augment::Augment;
use crate::checkpoint::{self, CheckpointError, DataRecipe};
use crate::config::{Batching, ConfigError, Loss, RunConfig, TrainingConfig};
use crate::data::probe::{probe, DatasetSize};
use crate::data::{load_dataset, split_for, DataError, Images, Pixels};
use crate::evaluation::{quality, ErrorSums, Quality};
use crate::inference::predict;
use crate::memory::{MemoryLimit, MemoryNeed};
use crate::model::{objective, Activations, Autoencoder, CodeSums, CodeTerms, Gradients, Objective, Output};
use crate::noise::Noise;
use crate::report::{
    save_grid, save_loss_curve, save_quality_curve, write_atomic, MetricsLog, ReportError, RunDir,
};
use crate::Error;
use ae_engine::{AdamConfig, Workspace};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod optimizer;
mod resume;
mod selection;
pub use optimizer::Adam;
pub use resume::{EpochProgress, RunState, Saved, StreamState, TrainerState, CHECKPOINT};
pub use selection::BestEpoch;

/// How an epoch ended.
pub enum EpochEnd {
    Finished(EpochStats),
    /// Asked to stop after some of its batches.
    Stopped(EpochProgress),
}

/// What one epoch did; one line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    /// Summed loss divided as the batching mode says (the tutorial's figure).
    #[serde(with = "crate::json_float")]
    pub loss_per_sample: f64,
    /// Mean of the sigmoid code over every trained sample and unit.
    pub code_mean: f64,
    /// Fraction of code values below 0.1.
    #[serde(default)]
    pub code_below_0_1: f64,
    /// Fraction of code values saturated (below 0.01 or above 0.99), where the sigmoid passes
    /// almost no gradient back to the encoder.
    #[serde(default)]
    pub code_saturated: f64,
    /// Loss per held-out sample after the epoch, if there is a held-out split.
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub holdout_loss_per_sample: Option<f64>,
    /// A VAE's KL(q(z|x) ‖ N(0, I)) per sample, in nats (its loss adds β times this to
    /// `loss_per_sample`, the reconstruction term).
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub kl_per_sample: Option<f64>,
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub holdout_kl_per_sample: Option<f64>,
    /// The held-out images' reconstructions (from their noisy copies for a denoiser) after the
    /// epoch: PSNR in dB and mean SSIM.
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub holdout_psnr_db: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_ssim: Option<f64>,
    pub steps: usize,
    pub seconds: f64,
}

impl EpochStats {
    /// The held-out figure the kept model is chosen by (lower is better), if there are held-out
    /// images.
    pub fn selection_loss(&self) -> Option<f64> {
        self.holdout_loss_per_sample.map(|loss| loss + self.holdout_kl_per_sample.unwrap_or(0.0))
    }

    /// The tutorial's line, plus the held-out loss when there is one.
    pub fn line(&self) -> String {
        let mut line = format!("Epoch {}) Average loss per sample: {}", self.epoch, self.loss_per_sample);
        match self.kl_per_sample {
            Some(kl) => line += &format!(" (KL per sample: {kl})"),
            None => line += &format!(" (Code mean: {})", self.code_mean),
        }
        if let Some(h) = self.holdout_loss_per_sample {
            line += &format!(" (Held-out loss per sample: {h}");
            if let Some(kl) = self.holdout_kl_per_sample {
                line += &format!(", KL: {kl}");
            }
            if let Some(psnr) = self.holdout_psnr_db {
                line += &format!(", PSNR: {}", crate::evaluation::psnr_text(psnr));
            }
            line += ")";
        }
        line
    }
}

/// The batch's loss between `target` and the reconstruction of `logits` (`sigmoid(logits)`, or
/// for [`Output::Clipped`] the logits themselves); writes ∂L/∂logits into `grad`.
pub fn loss_and_grad(
    loss: Loss,
    output: Output,
    logits: &[f32],
    reconstruction: &[f32],
    target: &[f32],
    grad: &mut [f32],
) -> f64 {
    let mut sum = 0.0f64;
    for (((g, &z), &y), &t) in grad.iter_mut().zip(logits).zip(reconstruction).zip(target) {
        match loss {
            // 0.5·(z − t)²; the reconstruction's clipping is left out, so that values beyond
            // [0, 1] are still pulled back.
            Loss::L2 if output == Output::Clipped => {
                let d = z - t;
                *g = d;
                sum += 0.5 * (d as f64) * (d as f64);
            }
            Loss::L2 => {
                // 0.5·(y − t)², through the sigmoid: ∂/∂z = (y − t)·y·(1 − y).
                let d = y - t;
                *g = d * y * (1.0 - y);
                sum += 0.5 * (d as f64) * (d as f64);
            }
            Loss::Bce => {
                // −[t·log σ(z) + (1 − t)·log(1 − σ(z))] = max(z, 0) − t·z + log(1 + e^−|z|).
                let z64 = z as f64;
                sum += z64.max(0.0) - t as f64 * z64 + (-z64.abs()).exp().ln_1p();
                *g = y - t;
            }
        }
    }
    sum
}

/// What one training step summed over its batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepSums {
    /// The reconstruction loss.
    pub loss: f64,
    /// The code's statistics and penalty (see [`Objective::measure`]).
    pub code: CodeSums,
}

/// A model with its optimiser state and every buffer a step needs, allocated once.
pub struct Trainer {
    pub model: Autoencoder,
    config: TrainingConfig,
    /// The model kind's terms beyond the reconstruction loss.
    objective: Box<dyn Objective>,
    noise: Noise,
    augment: Augment,
    optimizer: Adam,
    /// Whether the code layer's backward pass applies its weight's update (the fast path; the
    /// same bits as updating after the pass).
    fuse_code_update: bool,
    /// The schedule's factor on the learning rate for the next step, set by `run_epoch` (which
    /// knows the run's progress); the warm-up's follows from the step count.
    lr_factor: f64,
    /// The code's penalty weights for the next step (a VAE's β after its warm-up), set likewise.
    terms: CodeTerms,
    acts: Activations,
    grads: Gradients,
    ws: Workspace,
    clean: Vec<f32>,
    noisy: Vec<f32>,
    order: Vec<usize>,
    shuffle_rng: ChaCha8Rng,
    noise_rng: ChaCha8Rng,
    augment_rng: ChaCha8Rng,
    /// An image's copy while it is shifted.
    scratch: Vec<f32>,
}

/// Independent random streams from one seed.
fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

impl Trainer {
    pub fn new(model: Autoencoder, config: &TrainingConfig, noise: Noise) -> Self {
        let capacity = config.batch_size;
        let objective = objective(&model.config, config);
        Self {
            optimizer: Adam::new(
                AdamConfig {
                    learning_rate: config.learning_rate,
                    beta1: config.beta1,
                    beta2: config.beta2,
                    epsilon: config.epsilon,
                    weight_decay: config.weight_decay,
                },
                &model,
            ),
            fuse_code_update: true,
            lr_factor: 1.0,
            terms: objective.terms(&model, 0.0),
            objective,
            acts: {
                let mut acts = Activations::new(&model, capacity);
                // A VAE's draws have a stream of their own, like shuffles and noise.
                acts.seed_draws(rand::RngCore::next_u64(&mut stream(config.seed, 4)));
                acts
            },
            grads: Gradients::new(&model, capacity),
            ws: Workspace::for_current_pool(),
            clean: Vec::with_capacity(capacity * model.input_len()),
            noisy: vec![0.0; capacity * model.input_len()],
            order: Vec::new(),
            // Weights use stream 0 (in `Autoencoder::new`); shuffles and noise have their own.
            shuffle_rng: stream(config.seed, 1),
            noise_rng: stream(config.seed, 2),
            // Stream 3 is the held-out images' noise (`corrupt`), 4 seeds the draws.
            augment_rng: stream(config.seed, 5),
            scratch: Vec::new(),
            augment: config.augment,
            noise,
            config: config.clone(),
            model,
        }
    }

    /// The trained model, dropping the optimiser state and every buffer.
    pub fn into_model(self) -> Autoencoder {
        self.model
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.optimizer.steps()
    }

    /// One Adam step from `input` towards `target`; returns the batch's summed terms.
    pub fn train_step(&mut self, input: &[f32], target: &[f32]) -> StepSums {
        let n = input.len() / self.model.input_len();
        self.model.forward(input, &mut self.acts, &mut self.ws, true);
        self.model.track_running_stats(&self.acts);
        let loss = loss_and_grad(
            self.config.loss,
            self.model.output(),
            self.acts.logits(),
            self.acts.reconstruction(),
            target,
            self.grads.output_mut(n),
        );
        let code = self.objective.measure(&self.model, &self.acts);
        let step = self.optimizer.begin();
        let lr = self.optimizer.config.learning_rate * (self.lr_factor * self.config.warmup(step));
        let code_weight = 2 * self.model.code_layer;
        // The linear path's tensors come after the chain's and have their own scale.
        let linear = self.model.linear_path().map_or(usize::MAX, |(encode, _)| 2 * encode);
        let rate = |p: usize| match p {
            _ if p == code_weight => lr * self.config.code_lr_scale,
            _ if p >= linear => lr * self.config.linear_lr_scale,
            _ => lr,
        };
        let code_adam = self.optimizer.config_for(code_weight, rate(code_weight));
        let fused = self.fuse_code_update.then(|| self.optimizer.fused(code_weight, &code_adam));
        self.model.backward(input, &self.acts, &mut self.grads, &mut self.ws, self.terms, fused);
        let fused = self.fuse_code_update.then_some(code_weight);
        self.optimizer.update(&mut self.model.params, &self.grads.params, rate, fused);
        StepSums { loss, code }
    }

    /// One pass over `data` in a fresh seeded order, with fresh noise on every batch.
    /// `on_step(done, total)` follows progress.
    pub fn run_epoch(
        &mut self,
        epoch: usize,
        data: &Pixels,
        on_step: impl FnMut(usize, usize),
    ) -> EpochStats {
        match self.epoch_from(epoch, data, None, &|| false, on_step) {
            EpochEnd::Finished(stats) => stats,
            EpochEnd::Stopped(_) => unreachable!("never asked to stop"),
        }
    }

    /// [`run_epoch`](Self::run_epoch), or its rest from `progress` (a checkpoint taken inside the
    /// epoch, whose order is already shuffled); after each step, `stop()` may end it early with
    /// where it stands.
    pub fn epoch_from(
        &mut self,
        epoch: usize,
        data: &Pixels,
        progress: Option<EpochProgress>,
        stop: &dyn Fn() -> bool,
        mut on_step: impl FnMut(usize, usize),
    ) -> EpochEnd {
        let started = std::time::Instant::now();
        let n = data.len();
        if progress.is_none() {
            if self.order.len() != n {
                self.order = (0..n).collect();
            }
            // Like the tutorial's in-place `np.random.shuffle`, each epoch permutes the previous order.
            self.order.shuffle(&mut self.shuffle_rng);
        }
        let mut sums = progress.unwrap_or_default();
        let bs = self.config.batch_size;
        let mut starts: Vec<usize> = match self.config.batching {
            Batching::Tutorial => (0..n.saturating_sub(bs)).step_by(bs).collect(),
            Batching::All => (0..n).step_by(bs).collect(),
        };
        // Batch normalisation has no statistics of a single image: such a last batch waits for
        // the next epoch's shuffle (PyTorch's `drop_last` for that one image).
        if n > 1 && !self.model.trains_on_single_images() && starts.last() == Some(&(n - 1)) {
            starts.pop();
        }
        let already = sums.seconds;
        for (i, &start) in starts.iter().enumerate().skip(sums.batches) {
            let progress = ((epoch - 1) as f64 + i as f64 / starts.len() as f64) / self.config.epochs as f64;
            self.lr_factor = self.config.schedule.factor(progress);
            self.terms = self.objective.terms(&self.model, progress * self.config.epochs as f64);
            let end = (start + bs).min(n);
            let mut clean = std::mem::take(&mut self.clean);
            clean.clear();
            let len = self.model.input_len();
            for &idx in &self.order[start..end] {
                data.push_image(idx, &mut clean);
                if !self.augment.is_none() {
                    let at = clean.len() - len;
                    let image = &mut clean[at..];
                    self.augment.apply(image, data.shape(), &mut self.scratch, &mut self.augment_rng);
                }
            }
            let step = if self.noise.is_none() {
                self.train_step(&clean, &clean)
            } else {
                let mut noisy = std::mem::take(&mut self.noisy);
                self.noise.apply(&clean, &mut noisy[..clean.len()], &mut self.noise_rng);
                let result = self.train_step(&noisy[..clean.len()], &clean);
                self.noisy = noisy;
                result
            };
            self.clean = clean;
            sums.loss += step.loss;
            sums.code.add(step.code);
            sums.trained += end - start;
            sums.batches = i + 1;
            on_step(i + 1, starts.len());
            if i + 1 < starts.len() && stop() {
                sums.seconds = already + started.elapsed().as_secs_f64();
                return EpochEnd::Stopped(sums);
            }
        }
        let values = (sums.trained.max(1) * self.model.config.code_length) as f64;
        EpochEnd::Finished(EpochStats {
            epoch,
            // The tutorial divides by every sample, trained or not.
            loss_per_sample: sums.loss / n.max(1) as f64,
            code_mean: sums.code.sum / values,
            code_below_0_1: sums.code.below_0_1 as f64 / values,
            code_saturated: sums.code.saturated as f64 / values,
            holdout_loss_per_sample: None,
            kl_per_sample: self.objective.logs_kl().then(|| sums.code.kl / n.max(1) as f64),
            holdout_kl_per_sample: None,
            holdout_psnr_db: None,
            holdout_ssim: None,
            steps: starts.len(),
            seconds: already + started.elapsed().as_secs_f64(),
        })
    }

    /// How well the model reconstructs `targets` from `inputs` (the same images, or their
    /// corrupted copies for a denoiser) without training; a VAE from the mean of its code.
    pub fn evaluate(&mut self, inputs: &Images, targets: &Images) -> HeldOut {
        let (mut loss, mut kl) = (0.0, 0.0);
        let len = self.config.batch_size * self.model.input_len();
        let mut reconstructions = Vec::with_capacity(targets.data.len());
        let output = self.model.output();
        for (input, target) in inputs.data.chunks(len).zip(targets.data.chunks(len)) {
            self.model.forward(input, &mut self.acts, &mut self.ws, false);
            let n = input.len() / self.model.input_len();
            let (logits, recon) = (self.acts.logits(), self.acts.reconstruction());
            // A clipped output's held-out loss is the clipped reconstruction's (below).
            if let Output::Sigmoid = output {
                loss +=
                    loss_and_grad(self.config.loss, output, logits, recon, target, self.grads.output_mut(n));
            }
            kl += self.objective.measure(&self.model, &self.acts).kl;
            reconstructions.extend_from_slice(recon);
        }
        let per = |v: f64| v / targets.len().max(1) as f64;
        let quality = quality(targets, &Images::new(targets.shape, reconstructions));
        // A linear output is clipped in what the model gives; the loss reads it unclipped to
        // train, but the held-out loss, which chooses the kept epoch, is the clipped
        // reconstruction's, as `ae eval` reports it (MNIST: 0.44 against 0.57 unclipped).
        let loss = match output {
            Output::Clipped => quality.loss_per_sample,
            Output::Sigmoid => per(loss),
        };
        HeldOut { loss, kl: self.objective.logs_kl().then(|| per(kl)), quality }
    }
}

/// [`Trainer::evaluate`]'s figures.
#[derive(Clone, Debug)]
pub struct HeldOut {
    /// Loss per sample.
    pub loss: f64,
    /// A VAE's KL per sample.
    pub kl: Option<f64>,
    pub quality: Quality,
}

/// `images` with `noise` drawn from a stream fixed by `seed`: the held-out inputs of a denoiser.
pub fn corrupt(images: &Images, noise: Noise, seed: u64) -> Images {
    let mut data = images.data.clone();
    noise.apply(&images.data, &mut data, &mut stream(seed, 3));
    Images::new(images.shape, data)
}

/// [`TrainSummary::train_quality`]: `model` on up to the first thousand of `train_set` as they are,
/// a batch at a time, so that large images need no more than a batch of copies; a denoiser's
/// inputs get noise drawn as [`corrupt`] draws the held-out images'.
fn training_fit(model: &Autoencoder, train_set: &Pixels, noise: Noise, seed: u64, batch: usize) -> Quality {
    let (count, batch) = (train_set.len().min(SHOWN), batch.max(1));
    let mut rng = stream(seed, 3);
    let mut sums = ErrorSums::default();
    for start in (0..count).step_by(batch) {
        let images = train_set.select(&(start..(start + batch).min(count)).collect::<Vec<_>>()).to_images();
        let mut inputs = images.data.clone();
        noise.apply(&images.data, &mut inputs, &mut rng);
        let predicted = predict(model, &Images::new(images.shape, inputs), batch).reconstructions;
        sums.add(&ErrorSums::of(&images, &predicted));
    }
    Quality::from_sums(&sums)
}

/// What the training job reports as it goes.
pub enum Event<'a> {
    Step {
        done: usize,
        total: usize,
    },
    Epoch(&'a EpochStats),
    /// After an epoch, the fraction of code values saturated at 0 or 1 crossed
    /// [`SATURATION_NOTE`] upwards (`saturated`) or back down: while it is saturated the encoder
    /// gets almost no gradient and the loss may stall.
    Saturation {
        epoch: usize,
        fraction: f64,
        saturated: bool,
    },
}

/// What a finished run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    #[serde(skip)]
    pub run_dir: PathBuf,
    /// The epochs' lines, in `metrics.jsonl`.
    #[serde(skip)]
    pub history: Vec<EpochStats>,
    pub steps: u64,
    pub train_seconds: f64,
    /// The process's peak resident memory when the run ended (Linux's `VmHWM`).
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    /// Reconstruction quality on the held-out images (or the training images without a split),
    /// from noisy inputs for a denoiser.
    pub quality: Quality,
    /// For a denoiser: the noisy inputs' quality, to compare with `quality`.
    pub noisy_quality: Option<Quality>,
    /// With held-out images: the kept model on (up to the first thousand of) its training images
    /// as they are, without augmentation (a denoiser's from noisy copies), in inference mode: how
    /// closely it fits what it learned from, beside `quality` on unseen images. The epochs' loss is
    /// of augmented images under batch statistics, and moves with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_quality: Option<Quality>,
    /// PCA with as many components as the code, fitted on the training images, on the same
    /// images as `quality` (from the noisy inputs for a denoiser); `None` where PCA cannot have
    /// that many components (a code longer than an image).
    #[serde(default)]
    pub baseline: Option<crate::baseline::Baseline>,
    /// With held-out images: the epoch whose weights are the run's model (`model.safetensors`;
    /// the last epoch's are `last.safetensors`). Without, the model is the last epoch's.
    pub best: Option<BestEpoch>,
    /// Whether early stopping ended the run before its last epoch.
    pub stopped_early: bool,
}

/// The run's summary ([`TrainSummary`] less its history), read by the HTML report.
pub const SUMMARY: &str = "summary.json";

/// The run's model file: the best epoch's weights when there are held-out images, else the last.
pub const MODEL: &str = "model.safetensors";
/// The last epoch's weights, beside a best epoch's `model.safetensors`.
pub const LAST_MODEL: &str = "last.safetensors";

/// How many training images the end of a run measures (all of them but for large datasets).
const SHOWN: usize = 1000;

/// How many images the grids show.
const GRID_COLUMNS: usize = 10;
/// Above this fraction of saturated code values the run says so.
pub const SATURATION_NOTE: f64 = 0.95;

/// What to change when training does not fit in memory (config keys; the binary adds its flags).
const TRAINING_MEMORY_ADVICE: &str = "lower training.batch_size, data.size or model.max_code_map_side";
/// What to change when the data alone do not fit.
const DATA_MEMORY_ADVICE: &str = "set data.size to smaller images or data.storage to u8, or use fewer images";

/// How a training job runs, beside what it trains (nothing here goes in the run's config).
pub struct Job<'a> {
    /// Refuse a run whose buffers would not fit, before the model is allocated.
    pub limit: Option<MemoryLimit>,
    /// A checkpoint is written once this many seconds have passed since the last one, after the
    /// step (inside an epoch) or the epoch's end where that happens; with 0, at every epoch's end.
    /// Also at the last epoch, and when `stop` asks.
    pub checkpoint_seconds: f64,
    /// Asked after every step: `true` ends the run with a checkpoint ([`Error::Interrupted`]).
    pub stop: &'a dyn Fn() -> bool,
}

impl Default for Job<'_> {
    fn default() -> Self {
        Self { limit: None, checkpoint_seconds: 30.0, stop: &|| false }
    }
}

/// The whole job: load the data, train, and leave a complete run directory at `out`
/// (`config.toml`, `metrics.jsonl`, `model.safetensors`, `checkpoint.safetensors`,
/// `reconstructions.png`, `loss.png`; with held-out images `last.safetensors` and `quality.png`;
/// for a denoiser `denoising.png`).
pub fn train(
    config: &RunConfig,
    out: &Path,
    job: &Job<'_>,
    on_event: impl FnMut(Event<'_>),
) -> crate::Result<TrainSummary> {
    config.validate()?;
    // Sized from the headers and checked against the memory limit before anything is decoded.
    let size = probe(&config.data)?;
    let mut config = config.clone();
    config.model.input = [size.shape.height, size.shape.width, size.shape.channels];
    config.model.settle();
    check_memory(&config, &size, job)?;
    let pixels = load_dataset(&config.data, None)?;
    // Recorded absolute, so the run's model finds its data from any directory.
    if let Some(path) = &config.data.path {
        config.data.path =
            Some(std::path::absolute(path).map_err(|cause| DataError::Io { path: path.clone(), cause })?);
    }
    // The model's input is the data's shape as loaded (after `data.size`), as the headers said.
    let shape = pixels.shape();
    config.model.input = [shape.height, shape.width, shape.channels];
    config.model.settle();
    let prepared = prepare(&config, pixels)?;
    let run = RunDir::create(out)?;
    write_config(&config, &run)?;
    let metrics = MetricsLog::create(&run.path().join("metrics.jsonl"))?;
    let mut model = Autoencoder::new(&config.model, config.training.seed)?;
    if config.model.linear_path {
        let train = &prepared.train_set;
        let k = config.model.code_length.min(train.shape().len());
        let pca = crate::baseline::Pca::fit(train, k, config.training.seed)
            .map_err(|e| ConfigError::new("model.linear_path", format!("starts at PCA: {e}")))?;
        // A denoiser's starts as the linear denoiser PCA makes (noise from a stream of its own).
        let start = match config.noise.is_none() {
            true => pca.start(),
            false => {
                let mut rng = stream(config.training.seed, 6);
                pca.denoising_start(train, |clean, noisy| config.noise.apply(clean, noisy, &mut rng))
            }
        };
        model.start_linear_path(pca.mean(), pca.components(), |i, j| pca.direction(i, j), &start);
    }
    let trainer = Trainer::new(model, &prepared.training, config.noise);
    run_training(&config, prepared, run, trainer, metrics, None, job, on_event)
}

/// Goes on with the run in `dir` (its `.partial` directory, or a finished run to train further)
/// from its checkpoint, to `epochs` in all if given (else the run's own). With the same epochs and
/// thread count, the epochs and the weights are those of a run never interrupted, bit for bit.
pub fn resume(
    dir: &Path,
    epochs: Option<usize>,
    job: &Job<'_>,
    on_event: impl FnMut(Event<'_>),
) -> crate::Result<TrainSummary> {
    // Everything is read and checked before a finished run is renamed back to `.partial`.
    let mut config = RunConfig::from_toml_file(&dir.join("config.toml"))?;
    let own_epochs = config.training.epochs;
    if let Some(epochs) = epochs {
        config.training.epochs = epochs;
    }
    config.validate()?;
    let unfinished = dir.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".partial"));
    let checkpoint = dir.join(CHECKPOINT);
    if unfinished && !checkpoint.exists() {
        let problem = "the run stopped before its first checkpoint, so there is nothing to go on from; \
                       remove the directory and start the run again";
        return Err(CheckpointError::Invalid { path: checkpoint, problem: problem.into() }.into());
    }
    let saved = resume::load(&checkpoint)?;
    let done = saved.state.epochs_done;
    // An unfinished run whose epochs are all done (stopped while its files were being written)
    // only finishes: the reports, the baseline and the summary.
    let trained = saved.state.within.is_none() && (saved.state.stopped_early || done >= own_epochs);
    let finishing = unfinished && trained && epochs.is_none_or(|e| e <= done || saved.state.stopped_early);
    if finishing {
        config.training.epochs = own_epochs;
    } else if saved.state.stopped_early {
        let best = saved.state.best.as_ref().map_or(0, |b| b.epoch);
        let problem = format!(
            "the run stopped early after epoch {done} (no held-out improvement since epoch {best}); \
             start a new run to train longer"
        );
        return Err(ConfigError::new("training.early_stopping", problem).into());
    }
    if !finishing && done >= config.training.epochs && saved.state.within.is_none() {
        let problem = format!("the run has trained {done} epochs already; ask for more");
        return Err(ConfigError::new("training.epochs", problem).into());
    }
    let threads = rayon::current_num_threads();
    if let Some(trained) = saved.state.threads.filter(|&t| t != threads) {
        log::warn!(
            "the run trained with {trained} thread(s) and goes on with {threads}: its figures will differ from an \
             uninterrupted run's in the last digits (resume with --threads {trained} to match it bit for bit)"
        );
    }
    check_memory(&config, &probe(&config.data)?, job)?;
    let pixels = load_dataset(&config.data, None)?;
    let shape = pixels.shape();
    if [shape.height, shape.width, shape.channels] != config.model.input {
        let problem = format!("the data are {shape:?} images now, not the run's {:?}", config.model.input);
        return Err(ConfigError::new("data.path", problem).into());
    }
    let prepared = prepare(&config, pixels)?;
    let run = RunDir::reopen(dir)?;
    write_config(&config, &run)?;
    let metrics = MetricsLog::rewrite(&run.path().join("metrics.jsonl"), &saved.state.history)?;
    let mut trainer = Trainer::new(saved.model, &prepared.training, config.noise);
    trainer
        .restore(&saved.state.trainer, saved.moments)
        .map_err(|problem| CheckpointError::Invalid { path: run.path().join(CHECKPOINT), problem })?;
    run_training(&config, prepared, run, trainer, metrics, Some(saved.state), job, on_event)
}

/// The run's `config.toml`, written atomically.
fn write_config(config: &RunConfig, run: &RunDir) -> Result<(), ReportError> {
    let path = run.path().join("config.toml");
    write_atomic(&path, config.to_toml().as_bytes()).map_err(|cause| ReportError::Io {
        action: "write",
        path,
        cause,
    })
}

/// The data split and checked for a run of `config`.
struct Prepared {
    train_set: Pixels,
    holdout: Images,
    /// The run's training settings with the batch capped by the training images.
    training: TrainingConfig,
}

fn prepare(config: &RunConfig, pixels: Pixels) -> crate::Result<Prepared> {
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
fn check_memory(config: &RunConfig, size: &DatasetSize, job: &Job<'_>) -> crate::Result<()> {
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

/// The epochs from where `state` left off (or the first), checkpoints, and the run's files.
#[allow(clippy::too_many_arguments)]
fn run_training(
    config: &RunConfig,
    prepared: Prepared,
    run: RunDir,
    mut trainer: Trainer,
    mut metrics: MetricsLog,
    state: Option<RunState>,
    job: &Job<'_>,
    mut on_event: impl FnMut(Event<'_>),
) -> crate::Result<TrainSummary> {
    let Prepared { train_set, holdout, .. } = prepared;
    let recipe = DataRecipe {
        data: config.data.clone(),
        seed: config.training.seed,
        noise: config.noise,
        loss: config.training.loss,
    };
    let checkpoint_path = run.path().join(CHECKPOINT);
    let model_path = run.path().join(MODEL);
    // A run that stopped early and is only being finished trains no more epochs.
    let mut stopped_early = state.as_ref().is_some_and(|s| s.stopped_early);
    let (mut history, mut saturated, mut within, earlier_seconds, mut best) = match state {
        Some(s) => (s.history, s.saturated, s.within, s.train_seconds, s.best),
        None => (Vec::with_capacity(config.training.epochs), false, None, 0.0, None),
    };
    let first = history.len() + 1;
    let last_epoch = if stopped_early { history.len() } else { config.training.epochs };
    // A denoiser's held-out inputs get their seeded noise once, the same for every epoch.
    let holdout_inputs = corrupt(&holdout, config.noise, config.training.seed);
    let started = std::time::Instant::now();
    let last_checkpoint = std::cell::Cell::new(std::time::Instant::now());
    // Inside an epoch a checkpoint is due on the timer (0: only at epochs' ends).
    let due = || {
        job.checkpoint_seconds > 0.0
            && last_checkpoint.get().elapsed().as_secs_f64() >= job.checkpoint_seconds
    };
    let pause = || (job.stop)() || due();
    let save = |trainer: &Trainer,
                history: &[EpochStats],
                within,
                saturated,
                best: &Option<BestEpoch>,
                stopped_early| {
        let state = RunState {
            epochs_done: history.len(),
            within,
            history: history.to_vec(),
            saturated,
            train_seconds: earlier_seconds + started.elapsed().as_secs_f64(),
            best: best.clone(),
            stopped_early,
            trainer: trainer.state(),
            threads: Some(rayon::current_num_threads()),
        };
        resume::save(trainer, &recipe, &state, &checkpoint_path)
    };
    for epoch in first..=last_epoch {
        let mut stats = loop {
            let on_step = |done, total| on_event(Event::Step { done, total });
            match trainer.epoch_from(epoch, &train_set, within.take(), &pause, on_step) {
                EpochEnd::Finished(stats) => break stats,
                EpochEnd::Stopped(progress) => {
                    let batch = progress.batches;
                    // A loss already NaN is left for the epoch's end to report; the last
                    // checkpoint keeps the last good weights.
                    if progress.loss.is_finite() {
                        save(&trainer, &history, Some(progress.clone()), saturated, &best, false)?;
                        last_checkpoint.set(std::time::Instant::now());
                    }
                    if (job.stop)() {
                        return Err(Error::Interrupted { epoch, batch, checkpoint: checkpoint_path });
                    }
                    // Only the timer: the epoch goes on from where it stands, as a resume would.
                    within = Some(progress);
                }
            }
        };
        if !holdout.is_empty() {
            let held = trainer.evaluate(&holdout_inputs, &holdout);
            (stats.holdout_loss_per_sample, stats.holdout_kl_per_sample) = (Some(held.loss), held.kl);
            (stats.holdout_psnr_db, stats.holdout_ssim) =
                (Some(held.quality.psnr_db), Some(held.quality.ssim));
        }
        metrics.append(&stats)?;
        on_event(Event::Epoch(&stats));
        if !stats.loss_per_sample.is_finite() {
            // The last checkpoint (if any) stays: it holds the last good weights.
            return Err(Error::Diverged { epoch, loss: stats.loss_per_sample, run: run.path().into() });
        }
        if trainer.objective.saturates() && (stats.code_saturated >= SATURATION_NOTE) != saturated {
            saturated = !saturated;
            on_event(Event::Saturation { epoch, fraction: stats.code_saturated, saturated });
        }
        // The best held-out epoch's weights are the run's model, written as they improve.
        if let Some(improved) = selection::improves(best.as_ref(), &stats) {
            checkpoint::save(&trainer.model, &recipe, &model_path)?;
            best = Some(improved);
        }
        history.push(stats);
        let (epochs, patience) = (config.training.epochs, config.training.early_stopping);
        stopped_early = selection::stops_early(best.as_ref(), epoch, epochs, patience);
        let last = epoch == config.training.epochs || stopped_early;
        let stopping = (job.stop)();
        let elapsed = last_checkpoint.get().elapsed().as_secs_f64();
        if last || stopping || elapsed >= job.checkpoint_seconds {
            save(&trainer, &history, None, saturated, &best, stopped_early)?;
            last_checkpoint.set(std::time::Instant::now());
        }
        if stopping && !last {
            return Err(Error::Interrupted { epoch: epoch + 1, batch: 0, checkpoint: checkpoint_path });
        }
        if stopped_early {
            break;
        }
    }
    let train_seconds = earlier_seconds + started.elapsed().as_secs_f64();
    let steps = trainer.steps();
    // Free the optimiser state and gradients before the reports allocate their own buffers.
    let last_model = trainer.into_model();
    let model = &if best.is_some() {
        checkpoint::save(&last_model, &recipe, &run.path().join(LAST_MODEL))?;
        drop(last_model);
        // The reports are of the kept model, read back as every later command reads it.
        checkpoint::load(&model_path)?.0
    } else {
        checkpoint::save(&last_model, &recipe, &model_path)?;
        last_model
    };
    // Quality is measured on the held-out images, or without them on (up to) the first thousand.
    let first_train = || train_set.select(&(0..train_set.len().min(SHOWN)).collect::<Vec<_>>()).to_images();
    let train_quality = (!holdout.is_empty()).then(|| {
        training_fit(model, &train_set, config.noise, config.training.seed, config.training.batch_size)
    });
    let (shown, noisy) = if holdout.is_empty() {
        let shown = first_train();
        let noisy = corrupt(&shown, config.noise, config.training.seed);
        (shown, noisy)
    } else {
        (holdout, holdout_inputs)
    };
    let shown = &shown;
    let first: Vec<usize> = (0..shown.len().min(GRID_COLUMNS)).collect();
    let clean_predictions = predict(model, shown, config.training.batch_size);
    save_grid(
        &run.path().join("reconstructions.png"),
        &[&shown.select(&first), &clean_predictions.reconstructions.select(&first)],
        GRID_COLUMNS,
        64,
    )?;
    let (quality, noisy_quality) = if config.noise.is_none() {
        (quality(shown, &clean_predictions.reconstructions), None)
    } else {
        let denoised = predict(model, &noisy, config.training.batch_size).reconstructions;
        let rows = [shown.select(&first), noisy.select(&first), denoised.select(&first)];
        save_grid(&run.path().join("denoising.png"), &[&rows[0], &rows[1], &rows[2]], GRID_COLUMNS, 64)?;
        (quality(shown, &denoised), Some(quality(shown, &noisy)))
    };
    save_loss_curve(&run.path().join("loss.png"), &history)?;
    if best.is_some() {
        save_quality_curve(&run.path().join("quality.png"), &history, best.as_ref().map(|b| b.epoch))?;
    }
    // `noisy` is `shown` itself without noise.
    let baseline = crate::baseline::pca_baseline(
        &train_set,
        &noisy,
        shown,
        config.model.code_length,
        config.training.seed,
    )
    .ok();
    let peak_memory_bytes = crate::memory::peak_resident();
    let mut summary = TrainSummary {
        run_dir: PathBuf::new(),
        history,
        steps,
        train_seconds,
        peak_memory_bytes,
        quality,
        noisy_quality,
        train_quality,
        baseline,
        best,
        stopped_early,
    };
    let json = serde_json::to_vec_pretty(&summary).expect("a summary serialises");
    let summary_path = run.path().join(SUMMARY);
    write_atomic(&summary_path, &json)
        .map_err(|e| ReportError::Write { path: summary_path, reason: e.to_string() })?;
    crate::report::save_run_report(run.path(), &run.name())?;
    summary.run_dir = run.finish()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelConfig, Norm, PaddingMode, Preset, RunConfig};
    use ae_engine::Shape;

    fn tiny_config() -> ModelConfig {
        crate::model::tiny(PaddingMode::TfSame, 4)
    }

    pub(super) fn blobs(n: usize) -> Pixels {
        let data =
            (0..n * 64).map(|i| (((i % 64) as f32 * 0.37 + (i / 64) as f32).sin() + 1.0) / 2.0).collect();
        Pixels::Floats(Images::new(Shape::new(8, 8, 1), data))
    }

    #[test]
    fn only_a_vae_logs_a_kl_term_and_only_a_sigmoid_code_can_saturate() {
        // What the trainer asks of each kind's objective: an epoch's KL (logged for a VAE only)
        // and whether the end of a run may say its code saturated (a sigmoid code's only).
        let mut training = RunConfig::preset(Preset::Default).training;
        (training.batch_size, training.augment) = (8, Augment::default());
        let sigmoid =
            ModelConfig { code_activation: crate::config::CodeActivation::Sigmoid, ..tiny_config() };
        let linear =
            ModelConfig { code_activation: crate::config::CodeActivation::Identity, ..tiny_config() };
        let mut vae = ModelConfig { kind: crate::config::ModelKind::Vae, code_length: 3, ..tiny_config() };
        vae.settle();
        let data = blobs(8);
        for (model, logs_kl, saturates) in
            [(sigmoid, false, true), (linear, false, false), (vae, true, false)]
        {
            let mut trainer = Trainer::new(Autoencoder::new(&model, 1).unwrap(), &training, Noise::None);
            let stats = trainer.run_epoch(1, &data, |_, _| {});
            let what = (model.kind, model.code_activation);
            assert_eq!(stats.kl_per_sample.is_some(), logs_kl, "{what:?}");
            assert_eq!(trainer.objective.saturates(), saturates, "{what:?}");
        }
    }

    fn sigmoid(z: f32) -> f32 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn l2_loss_matches_tensorflow_definition() {
        let (z, t) = ([0.3f32, -1.2], [0.0f32, 0.9]);
        let y = z.map(sigmoid);
        let mut g = [0.0; 2];
        let want = 0.5 * ((y[0] - t[0]).powi(2) + (y[1] - t[1]).powi(2)) as f64;
        assert!((loss_and_grad(Loss::L2, Output::Sigmoid, &z, &y, &t, &mut g) - want).abs() < 1e-7);
    }

    #[test]
    fn loss_gradients_match_finite_differences() {
        let t = [0.0f32, 0.25, 0.9, 1.0, 0.5];
        let z = [-3.0f32, -0.4, 0.2, 2.5, 9.0];
        for loss in [Loss::L2, Loss::Bce] {
            let y = z.map(sigmoid);
            let mut g = [0.0; 5];
            loss_and_grad(loss, Output::Sigmoid, &z, &y, &t, &mut g);
            for i in 0..5 {
                let at = |dz: f32| {
                    let mut zz = z;
                    zz[i] += dz;
                    loss_and_grad(loss, Output::Sigmoid, &zz, &zz.map(sigmoid), &t, &mut [0.0; 5])
                };
                let numeric = (at(1e-3) - at(-1e-3)) / 2e-3;
                assert!((numeric - g[i] as f64).abs() < 1e-3, "{loss:?}[{i}]: {} vs {numeric}", g[i]);
            }
        }
    }

    #[test]
    fn bce_is_stable_where_the_sigmoid_saturates() {
        // σ(±60) rounds to exactly 0 or 1 in f32; the logit form still gives the right loss.
        let (z, t) = ([60.0f32, -60.0], [0.0f32, 1.0]);
        let mut g = [0.0; 2];
        let loss = loss_and_grad(Loss::Bce, Output::Sigmoid, &z, &z.map(sigmoid), &t, &mut g);
        assert!((loss - 120.0).abs() < 1e-9, "{loss}");
        assert_eq!(g, [1.0, -1.0]);
    }

    #[test]
    fn training_lowers_the_loss_and_is_reproducible() {
        let mut training = RunConfig::preset(Preset::Default).training;
        training.batch_size = 8;
        training.learning_rate = 1e-2;
        let data = blobs(24);
        let run = || {
            let mut trainer =
                Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
            (1..=40).map(|e| trainer.run_epoch(e, &data, |_, _| {}).loss_per_sample).collect::<Vec<_>>()
        };
        let losses = run();
        assert!(losses[39] < 0.5 * losses[0], "{losses:?}");
        assert_eq!(losses, run());
    }

    #[test]
    fn tutorial_batching_skips_the_last_batch_but_divides_by_all() {
        // 24 copies of one image and a learning rate of 0: every image's loss is the same L, so
        // the epoch's figure is (images trained)·L / 24 whatever the shuffle.
        let mut training = RunConfig::preset(Preset::Seed).training;
        training.batch_size = 8;
        training.learning_rate = 0.0;
        let one = blobs(1).to_images();
        let data = Pixels::Floats(Images::new(one.shape, one.data.repeat(24)));
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
        let each = trainer.evaluate(&one, &one).loss;
        let stats = trainer.run_epoch(1, &data, |_, _| {});
        assert_eq!(stats.steps, 2);
        assert!(
            (stats.loss_per_sample - each * 16.0 / 24.0).abs() < 1e-9 * each,
            "{} vs {each}",
            stats.loss_per_sample
        );
        training.batching = Batching::All;
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
        let stats = trainer.run_epoch(1, &data, |_, _| {});
        assert_eq!(stats.steps, 3);
        assert!((stats.loss_per_sample - each).abs() < 1e-9 * each, "{} vs {each}", stats.loss_per_sample);
    }

    #[test]
    fn with_batch_norm_a_last_batch_of_one_image_waits_for_the_next_epoch() {
        let mut training = RunConfig::preset(Preset::Default).training;
        training.batch_size = 8;
        let data = blobs(17);
        let steps = |code_norm| {
            let config = ModelConfig { code_norm, ..tiny_config() };
            let mut trainer = Trainer::new(Autoencoder::new(&config, 3).unwrap(), &training, Noise::None);
            trainer.run_epoch(1, &data, |_, _| {}).steps
        };
        assert_eq!(steps(Norm::None), 3);
        assert_eq!(steps(Norm::Batch), 2);
    }

    /// How far one training step on four blobs moves each parameter tensor of `before` at most.
    fn first_step_moves(before: &Autoencoder, training: &TrainingConfig) -> impl Fn(usize) -> f64 {
        let mut trainer = Trainer::new(before.clone(), training, Noise::None);
        let images = blobs(4).to_images();
        trainer.train_step(&images.data, &images.data);
        let (after, before) = (trainer.into_model(), before.clone());
        move |p| {
            after.params[p]
                .iter()
                .zip(&before.params[p])
                .map(|(a, b)| (a - b).abs() as f64)
                .fold(0.0, f64::max)
        }
    }

    #[test]
    fn the_first_step_moves_weights_by_the_warmed_up_rate_and_the_code_layer_by_its_share() {
        // Adam's first step moves a weight by lr·g/(|g| + ε), about the rate, whatever g.
        let training = RunConfig::preset(Preset::Default).training; // 3e-3, warm-up 100, code 0.1×
        let before = Autoencoder::new(&tiny_config(), 3).unwrap();
        let largest_move = first_step_moves(&before, &training);
        let code = 2 * before.code_layer;
        let rate = 3e-3 / 100.0; // step 1 of a 100-step warm-up
        for p in [0, 2, code + 2] {
            assert!((largest_move(p) / rate - 1.0).abs() < 0.01, "param {p}: {}", largest_move(p));
        }
        assert!((largest_move(code) / (0.1 * rate) - 1.0).abs() < 0.01, "code: {}", largest_move(code));
    }

    #[test]
    fn the_linear_path_moves_at_its_own_share_of_the_rate() {
        let mut training = RunConfig::preset(Preset::Residual).training; // 3e-3, warm-up 100
        (training.code_lr_scale, training.linear_lr_scale) = (0.1, 0.02);
        let config = ModelConfig {
            code_activation: crate::config::CodeActivation::Identity,
            linear_path: true,
            ..tiny_config()
        };
        let mut before = Autoencoder::new(&config, 3).unwrap();
        // Every weight non-zero, so that every one has a gradient to move by.
        for layer in [before.code_layer, before.chain - 1] {
            before.params[2 * layer]
                .iter_mut()
                .enumerate()
                .for_each(|(i, w)| *w = 0.01 * ((i % 7) as f32 - 3.0));
        }
        let largest_move = first_step_moves(&before, &training);
        let rate = 3e-3 / 100.0; // step 1 of the warm-up: Adam moves each weight by the rate
        let (encode, decode) = before.linear_path().unwrap();
        for (p, scale) in [(0, 1.0), (2 * before.code_layer, 0.1), (2 * encode, 0.02), (2 * decode + 1, 0.02)]
        {
            assert!((largest_move(p) / (scale * rate) - 1.0).abs() < 0.01, "param {p}: {}", largest_move(p));
        }
    }

    #[test]
    fn weight_decay_shrinks_kernels_by_their_rate_and_leaves_biases_and_the_normalisation() {
        // From one model and batch, the first step with and without decay sees the same gradients,
        // so the weights differ by the decay alone: −rate·λ·w (the code layer at its 0.1× rate,
        // through the fused update).
        let mut training = RunConfig::preset(Preset::Default).training;
        let config = ModelConfig { code_norm: Norm::Batch, ..tiny_config() };
        let before = Autoencoder::new(&config, 3).unwrap();
        let images = blobs(4).to_images();
        let mut step = |weight_decay| {
            training.weight_decay = weight_decay;
            let mut trainer = Trainer::new(before.clone(), &training, Noise::None);
            trainer.train_step(&images.data, &images.data);
            trainer.model
        };
        let (plain, decayed) = (step(0.0), step(0.5));
        let rate = 3e-3 / 100.0; // step 1 of the warm-up
        for (p, name) in before.param_names().iter().enumerate() {
            let scale = if p == 2 * before.code_layer { 0.1 } else { 1.0 };
            let decays = name.ends_with(".weight") && !name.starts_with("code_norm");
            for ((w, a), b) in before.params[p].iter().zip(&plain.params[p]).zip(&decayed.params[p]) {
                let want = if decays { -(scale * rate * 0.5 * *w as f64) } else { 0.0 };
                // Within the rounding of two f32 weights near w.
                let ulps = 2.0 * f32::EPSILON as f64 * (w.abs() as f64).max(1e-3);
                assert!(((b - a) as f64 - want).abs() < ulps, "{name}: {} vs {want}", b - a);
            }
        }
    }

    #[test]
    fn augmentation_changes_the_images_trained_on_and_a_flip_leaves_mirror_images_alone() {
        let mut training = RunConfig::preset(Preset::Default).training;
        training.batch_size = 4;
        let mut run = |data: &Pixels, augment: &str| {
            training.augment = augment.parse().unwrap();
            let mut trainer =
                Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
            (1..=2).map(|e| trainer.run_epoch(e, data, |_, _| {}).loss_per_sample).collect::<Vec<_>>()
        };
        let data = blobs(8);
        let plain = run(&data, "none");
        assert_ne!(run(&data, "flip"), plain);
        assert_ne!(run(&data, "shift:1"), plain);
        // Images equal to their mirror image: flipped or not, the same batches, the same bits.
        let images = data.to_images();
        let mirrored: Vec<f32> =
            images.data.chunks(8).flat_map(|row| (0..8).map(move |x| row[x.min(7 - x)])).collect();
        let symmetric = Pixels::Floats(Images::new(images.shape, mirrored));
        assert_eq!(run(&symmetric, "flip"), run(&symmetric, "none"));
    }

    #[test]
    fn the_fused_code_update_gives_the_bits_of_the_update_after_the_pass() {
        let training = RunConfig::preset(Preset::Default).training;
        let model = Autoencoder::new(&tiny_config(), 4).unwrap();
        let mut fused = Trainer::new(model.clone(), &training, Noise::None);
        let mut after = Trainer::new(model, &training, Noise::None);
        after.fuse_code_update = false;
        let images = blobs(6).to_images();
        for _ in 0..5 {
            fused.train_step(&images.data, &images.data);
            after.train_step(&images.data, &images.data);
        }
        assert_eq!(fused.optimizer, after.optimizer);
        assert_eq!((fused.steps(), after.steps()), (5, 5));
        assert_eq!(fused.model, after.model);
        let names: Vec<&str> = fused.optimizer.moments().map(|(name, _)| name).collect();
        assert_eq!(names[..3], ["encoder.conv0.weight", "encoder.conv0.bias", "encoder.conv1.weight"]);
    }

    #[test]
    fn a_vae_trains_on_its_elbo_with_its_kl_weight_warming_up() {
        let mut model = ModelConfig { kind: crate::config::ModelKind::Vae, code_length: 4, ..tiny_config() };
        model.settle();
        let mut training = RunConfig::preset(Preset::Default).training;
        (training.epochs, training.batch_size, training.loss) = (40, 8, Loss::Bce);
        (training.learning_rate, training.warmup_steps, training.kl_warmup_epochs) = (1e-2, 0, 10);
        // Sixteen 8×8 blobs to fit, as they are.
        training.augment = Augment::default();
        let data = blobs(16);
        let run = || {
            let mut trainer = Trainer::new(Autoencoder::new(&model, 1).unwrap(), &training, Noise::None);
            (1..=40).map(|e| trainer.run_epoch(e, &data, |_, _| {})).collect::<Vec<_>>()
        };
        let history = run();
        let objective = |s: &EpochStats| s.loss_per_sample + s.kl_per_sample.expect("a VAE logs its KL");
        // BCE against grey targets cannot reach 0: its floor is the targets' own entropy.
        let floor: f64 = data
            .to_images()
            .data
            .iter()
            .map(|&x| (x as f64).clamp(1e-12, 1.0 - 1e-12))
            .map(|x| -(x * x.ln() + (1.0 - x) * (1.0 - x).ln()))
            .sum::<f64>()
            / 16.0;
        let (first, last) = (objective(&history[0]) - floor, objective(&history[39]) - floor);
        assert!(last < 0.6 * first, "above the entropy {floor}: {first} → {last}");
        assert!(history[39].kl_per_sample.unwrap() > 0.0);
        // Seeded draws: the same run twice gives the same numbers.
        let again = run();
        assert_eq!(
            history.iter().map(objective).collect::<Vec<_>>(),
            again.iter().map(objective).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_trainer_weighs_the_kl_term_by_beta_as_it_warms_up() {
        // Two VAEs alike but for β (0.5 with a 4-epoch warm-up, and 0), at learning rate 0: every
        // step sees the same weights, images and draws, so their gradients differ by exactly the
        // KL term's, weighted as the trainer weighs it. At the code layer's bias that is
        // w·Σ_images ∂KL/∂[μ, log σ²] = w·Σ [μ, (σ² − 1)/2], worked out here from the draws'
        // distribution. Two batches an epoch: an epoch's last step is half an epoch before its end.
        let mut model = ModelConfig { kind: crate::config::ModelKind::Vae, code_length: 3, ..tiny_config() };
        model.settle();
        let mut training = RunConfig::preset(Preset::Default).training;
        (training.epochs, training.batch_size, training.learning_rate) = (8, 8, 0.0);
        (training.beta, training.kl_warmup_epochs, training.augment) = (0.5, 4, Augment::default());
        let trainer = |beta| {
            let training = TrainingConfig { beta, ..training.clone() };
            let mut trainer = Trainer::new(Autoencoder::new(&model, 1).unwrap(), &training, Noise::None);
            trainer.fuse_code_update = false;
            trainer
        };
        let (mut weighed, mut without) = (trainer(0.5), trainer(0.0));
        let data = blobs(16);
        let bias = 2 * weighed.model.code_layer + 1;
        for epoch in 1..=6 {
            weighed.run_epoch(epoch, &data, |_, _| {});
            without.run_epoch(epoch, &data, |_, _| {});
            let w = 0.5 * ((epoch as f64 - 0.5) / 4.0).min(1.0);
            let latent = model.code_length;
            let mut kl_gradient = vec![0.0f64; 2 * latent];
            for row in weighed.acts.distribution(&weighed.model).chunks_exact(2 * latent) {
                for j in 0..latent {
                    kl_gradient[j] += row[j] as f64;
                    kl_gradient[latent + j] += 0.5 * ((row[latent + j] as f64).exp() - 1.0);
                }
            }
            let (a, b) = (&weighed.grads.params[bias], &without.grads.params[bias]);
            for (j, g) in kl_gradient.iter().enumerate() {
                let difference = (a[j] - b[j]) as f64;
                assert!(
                    (difference - w * g).abs() < 1e-4 * (1.0 + (w * g).abs()),
                    "epoch {epoch}, unit {j}: {difference} where β's weight {w} gives {}",
                    w * g
                );
            }
            assert!(w * kl_gradient.iter().map(|g| g.abs()).sum::<f64>() > 0.01, "a KL term to see");
        }
    }

    #[test]
    fn the_sparsity_penalty_lowers_the_code_mean() {
        let mut training = RunConfig::preset(Preset::Default).training;
        training.batch_size = 8;
        training.learning_rate = 1e-2;
        let data = blobs(24);
        let code_mean = |sparsity: f64| {
            let training = TrainingConfig { sparsity, ..training.clone() };
            let mut trainer =
                Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
            (1..=20).map(|e| trainer.run_epoch(e, &data, |_, _| {})).last().unwrap().code_mean
        };
        let (plain, sparse) = (code_mean(0.0), code_mean(0.5));
        assert!(sparse < 0.5 * plain, "code mean {sparse} with the penalty vs {plain} without");
    }

    #[test]
    fn a_denoiser_trains_on_noisy_inputs_against_clean_targets() {
        let mut training = RunConfig::preset(Preset::Default).training;
        training.batch_size = 8;
        let data = blobs(16);
        let first_loss = |noise| {
            let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, noise);
            trainer.run_epoch(1, &data, |_, _| {}).loss_per_sample
        };
        // Same weights and order; only the inputs differ, so the losses do too.
        assert_ne!(first_loss(Noise::None), first_loss(Noise::Masking { p: 0.5 }));
        // Held-out noise is fixed by the seed, differs between seeds, and has the asked spread.
        let noise = Noise::Gaussian { sigma: 0.1 };
        // Trained a little, so that its output depends on its input.
        let quick = TrainingConfig { learning_rate: 1e-2, warmup_steps: 0, ..training.clone() };
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &quick, noise);
        for epoch in 1..=40 {
            trainer.run_epoch(epoch, &data, |_, _| {});
        }
        let data = data.to_images();
        let noisy = corrupt(&data, noise, training.seed);
        assert_eq!(noisy, corrupt(&data, noise, training.seed));
        assert_ne!(noisy, corrupt(&data, noise, training.seed + 1));
        let spread = (noisy.data.iter().zip(&data.data).map(|(y, x)| ((y - x) as f64).powi(2)).sum::<f64>()
            / data.data.len() as f64)
            .sqrt();
        assert!((0.08..0.1).contains(&spread), "σ 0.1 clipped to [0, 1] gave {spread}");
        // A denoiser's held-out loss compares the reconstruction of the noisy input with the clean
        // image: 0.5·Σ(x̂(noisy) − clean)² per image, worked out here from the reconstructions.
        let loss = trainer.evaluate(&noisy, &data).loss;
        let recon = crate::inference::predict(&trainer.model, &noisy, 5).reconstructions;
        let want =
            recon.data.iter().zip(&data.data).map(|(y, x)| 0.5 * ((y - x) as f64).powi(2)).sum::<f64>()
                / data.len() as f64;
        assert!((loss - want).abs() < 1e-5 * want, "{loss} vs {want}");
        let clean = trainer.evaluate(&data, &data).loss;
        assert!((clean - loss).abs() > 1e-3 * want, "the input must matter: {clean} vs {loss}");
    }
}
