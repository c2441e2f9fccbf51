//! Training: the L2 loss, Adam, seeded shuffling and the tutorial's epoch bookkeeping.

use crate::checkpoint::{self, DataRecipe};
use crate::config::{Batching, RunConfig, TrainingConfig};
use crate::data::{olivetti_for_model, Images, Split};
use crate::inference::{predict, quality, Quality};
use crate::model::{Activations, Autoencoder, Gradients};
use crate::report::{save_grid, save_loss_curve, MetricsLog, RunDir};
use ae_engine::{AdamConfig, AdamMoments, Workspace};
use anyhow::{bail, Context};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What one epoch did; one line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    /// Summed `0.5·Σ(x̂−x)²` divided as the batching mode says (the tutorial's figure).
    pub loss_per_sample: f64,
    /// Mean of the sigmoid code over every trained sample and unit.
    pub code_mean: f64,
    /// Loss per held-out sample after the epoch, if there is a held-out split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout_loss_per_sample: Option<f64>,
    pub steps: usize,
    pub seconds: f64,
}

impl EpochStats {
    /// The tutorial's line, plus the held-out loss when there is one.
    pub fn line(&self) -> String {
        let mut line = format!(
            "Epoch {}) Average loss per sample: {} (Code mean: {})",
            self.epoch, self.loss_per_sample, self.code_mean
        );
        if let Some(h) = self.holdout_loss_per_sample {
            line += &format!(" (Held-out loss per sample: {h})");
        }
        line
    }
}

/// `0.5·Σ(x̂−x)²` over a batch (TensorFlow's `l2_loss`); writes `∂L/∂x̂ = x̂ − x` into `grad`.
pub fn l2_loss(reconstruction: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for ((g, &y), &t) in grad.iter_mut().zip(reconstruction).zip(target) {
        let d = y - t;
        *g = d;
        sum += (d as f64) * (d as f64);
    }
    0.5 * sum
}

/// A model with its optimiser state and every buffer a step needs, allocated once.
pub struct Trainer {
    pub model: Autoencoder,
    config: TrainingConfig,
    adam: AdamConfig,
    moments: Vec<AdamMoments>,
    step: u64,
    acts: Activations,
    grads: Gradients,
    ws: Workspace,
    batch: Vec<f32>,
    order: Vec<usize>,
    rng: ChaCha8Rng,
}

impl Trainer {
    pub fn new(model: Autoencoder, config: &TrainingConfig) -> Self {
        let capacity = config.batch_size;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        // Shuffles draw from their own stream, independent of the weight initialisation.
        rng.set_stream(1);
        Self {
            adam: AdamConfig {
                learning_rate: config.learning_rate,
                beta1: config.beta1,
                beta2: config.beta2,
                epsilon: config.epsilon,
            },
            moments: model.params.iter().map(|p| AdamMoments::zeros(p.len())).collect(),
            step: 0,
            acts: Activations::new(&model, capacity),
            grads: Gradients::new(&model, capacity),
            ws: Workspace::for_current_pool(),
            batch: Vec::with_capacity(capacity * model.input_len()),
            order: Vec::new(),
            rng,
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
        self.step
    }

    /// One Adam step on `input` as its own target; returns the batch's summed loss and code sum.
    pub fn train_step(&mut self, input: &[f32]) -> (f64, f64) {
        let n = input.len() / self.model.input_len();
        self.model.forward(input, &mut self.acts, &mut self.ws);
        let loss = l2_loss(self.acts.reconstruction(), input, self.grads.output_mut(n));
        let code_sum = self.acts.code(&self.model).iter().map(|&c| c as f64).sum();
        self.model.backward(input, &self.acts, &mut self.grads, &mut self.ws);
        self.step += 1;
        for ((param, grad), moments) in
            self.model.params.iter_mut().zip(&self.grads.params).zip(&mut self.moments)
        {
            self.adam.update(self.step, param, grad, moments);
        }
        (loss, code_sum)
    }

    /// One pass over `data` in a fresh seeded order. `on_step(done, total)` follows progress.
    pub fn run_epoch(
        &mut self,
        epoch: usize,
        data: &Images,
        mut on_step: impl FnMut(usize, usize),
    ) -> EpochStats {
        let started = std::time::Instant::now();
        let n = data.len();
        if self.order.len() != n {
            self.order = (0..n).collect();
        }
        // Like the tutorial's in-place `np.random.shuffle`, each epoch permutes the previous order.
        self.order.shuffle(&mut self.rng);
        let bs = self.config.batch_size;
        let starts: Vec<usize> = match self.config.batching {
            Batching::Tutorial => (0..n.saturating_sub(bs)).step_by(bs).collect(),
            Batching::All => (0..n).step_by(bs).collect(),
        };
        let (mut loss, mut code_sum, mut trained) = (0.0, 0.0, 0);
        for (i, &start) in starts.iter().enumerate() {
            let end = (start + bs).min(n);
            let mut batch = std::mem::take(&mut self.batch);
            batch.clear();
            for &idx in &self.order[start..end] {
                batch.extend_from_slice(data.image(idx));
            }
            let (l, c) = self.train_step(&batch);
            self.batch = batch;
            loss += l;
            code_sum += c;
            trained += end - start;
            on_step(i + 1, starts.len());
        }
        EpochStats {
            epoch,
            // The tutorial divides by every sample, trained or not.
            loss_per_sample: loss / n.max(1) as f64,
            code_mean: code_sum / (trained.max(1) * self.model.config.code_length) as f64,
            holdout_loss_per_sample: None,
            steps: starts.len(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Loss per sample on `data` without training.
    pub fn evaluate(&mut self, data: &Images) -> f64 {
        let mut loss = 0.0;
        for chunk in data.data.chunks(self.config.batch_size * self.model.input_len()) {
            self.model.forward(chunk, &mut self.acts, &mut self.ws);
            let n = chunk.len() / self.model.input_len();
            loss += l2_loss(self.acts.reconstruction(), chunk, self.grads.output_mut(n));
        }
        loss / data.len().max(1) as f64
    }
}

/// What a finished run produced.
pub struct TrainSummary {
    pub run_dir: PathBuf,
    pub history: Vec<EpochStats>,
    pub steps: u64,
    pub train_seconds: f64,
    /// Reconstruction quality on the held-out images (or the training images without a split).
    pub quality: Quality,
}

/// How many originals/reconstructions the grid shows.
const GRID_COLUMNS: usize = 10;

/// The whole job: load the data, train, and leave a complete run directory at `out`
/// (`config.toml`, `metrics.jsonl`, `model.safetensors`, `reconstructions.png`, `loss.png`).
/// `on_epoch` sees each epoch's stats, `on_step(done, total)` each step within an epoch.
pub fn train(
    config: &RunConfig,
    out: &Path,
    mut on_epoch: impl FnMut(&EpochStats),
    mut on_step: impl FnMut(usize, usize),
) -> anyhow::Result<TrainSummary> {
    config.validate()?;
    let model = Autoencoder::new(&config.model, config.training.seed)?;
    let images = olivetti_for_model(config.data.path.as_deref(), config.model.input, config.data.resize)?;
    let split = Split::new(images.len(), config.data.holdout, config.training.seed);
    let (train_set, holdout) = (images.select(&split.train), images.select(&split.holdout));
    if train_set.len() < config.training.batch_size && config.training.batching == Batching::Tutorial {
        bail!(
            "training.batch_size: {} is more than the {} training images; the tutorial's batching would train on none",
            config.training.batch_size,
            train_set.len()
        );
    }

    let run = RunDir::create(out)?;
    std::fs::write(run.path().join("config.toml"), config.to_toml())
        .with_context(|| format!("cannot write {}", run.path().join("config.toml").display()))?;
    let mut metrics = MetricsLog::create(&run.path().join("metrics.jsonl"))?;

    let mut trainer = Trainer::new(model, &config.training);
    let mut history = Vec::with_capacity(config.training.epochs);
    let started = std::time::Instant::now();
    for epoch in 1..=config.training.epochs {
        let mut stats = trainer.run_epoch(epoch, &train_set, &mut on_step);
        if !holdout.is_empty() {
            stats.holdout_loss_per_sample = Some(trainer.evaluate(&holdout));
        }
        metrics.append(&stats)?;
        on_epoch(&stats);
        if !stats.loss_per_sample.is_finite() {
            bail!(
                "training diverged at epoch {epoch} (loss {}); the epochs so far are in {}",
                stats.loss_per_sample,
                run.path().display()
            );
        }
        history.push(stats);
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let steps = trainer.steps();
    // Free the optimiser state and gradients before the reports allocate their own buffers.
    let model = &trainer.into_model();
    let recipe =
        DataRecipe { resize: config.data.resize, holdout: config.data.holdout, seed: config.training.seed };
    checkpoint::save(model, &recipe, &run.path().join("model.safetensors"))?;
    let shown = if holdout.is_empty() { &train_set } else { &holdout };
    let predictions = predict(model, shown, config.training.batch_size);
    let first: Vec<usize> = (0..shown.len().min(GRID_COLUMNS)).collect();
    let (originals, reconstructions) = (shown.select(&first), predictions.reconstructions.select(&first));
    save_grid(&run.path().join("reconstructions.png"), &[&originals, &reconstructions], GRID_COLUMNS, 64)?;
    save_loss_curve(&run.path().join("loss.png"), &history)?;
    let quality = quality(shown, &predictions.reconstructions);
    let run_dir = run.finish()?;
    Ok(TrainSummary { run_dir, history, steps, train_seconds, quality })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelConfig, PaddingMode, Preset, RunConfig};
    use ae_engine::Shape;

    fn tiny_config() -> ModelConfig {
        let mut config = ModelConfig::tutorial(PaddingMode::TfSame);
        config.input = [8, 8, 1];
        config.encoder.iter_mut().for_each(|s| s.filters = 4);
        config.decoder.iter_mut().for_each(|s| s.filters = 4);
        config.code_length = 16;
        config
    }

    fn blobs(n: usize) -> Images {
        let data =
            (0..n * 64).map(|i| (((i % 64) as f32 * 0.37 + (i / 64) as f32).sin() + 1.0) / 2.0).collect();
        Images::new(Shape::new(8, 8, 1), data)
    }

    #[test]
    fn l2_loss_matches_tensorflow_definition() {
        let mut g = [0.0; 2];
        assert_eq!(l2_loss(&[1.0, 0.0], &[0.0, 2.0], &mut g), 2.5);
        assert_eq!(g, [1.0, -2.0]);
    }

    #[test]
    fn training_lowers_the_loss_and_is_reproducible() {
        let mut training = RunConfig::preset(Preset::Default).training;
        training.batch_size = 8;
        training.learning_rate = 1e-2;
        let data = blobs(24);
        let run = || {
            let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training);
            (1..=40).map(|e| trainer.run_epoch(e, &data, |_, _| {}).loss_per_sample).collect::<Vec<_>>()
        };
        let losses = run();
        assert!(losses[39] < 0.5 * losses[0], "{losses:?}");
        assert_eq!(losses, run());
    }

    #[test]
    fn tutorial_batching_skips_the_last_batch_but_divides_by_all() {
        let mut training = RunConfig::preset(Preset::Seed).training;
        training.batch_size = 8;
        let data = blobs(24);
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training);
        let stats = trainer.run_epoch(1, &data, |_, _| {});
        assert_eq!(stats.steps, 2);
        training.batching = Batching::All;
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training);
        assert_eq!(trainer.run_epoch(1, &data, |_, _| {}).steps, 3);
    }
}
