//! The trainer: one model, its optimiser and its random streams, stepping through batches and
//! epochs (the tutorial's epoch bookkeeping included) and measuring held-out images.

use super::optimizer::Adam;
use super::resume::EpochProgress;
use super::streams::stream;
use crate::augment::Augment;
use crate::config::{Batching, TrainingConfig};
use crate::data::{Images, Pixels};
use crate::evaluation::{quality, Quality};
use crate::loss::loss_and_grad;
use crate::model::{objective, Activations, Autoencoder, CodeSums, CodeTerms, Gradients, Objective, Output};
use crate::noise::Noise;
use crate::record::EpochStats;
use ae_engine::{AdamConfig, Workspace};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How an epoch ended.
pub enum EpochEnd {
    Finished(EpochStats),
    /// Asked to stop after some of its batches.
    Stopped(EpochProgress),
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
    pub(super) config: TrainingConfig,
    /// The model kind's terms beyond the reconstruction loss.
    pub(super) objective: Box<dyn Objective>,
    pub(super) noise: Noise,
    pub(super) augment: Augment,
    pub(super) optimizer: Adam,
    /// Whether the code layer's backward pass applies its weight's update (the fast path; the
    /// same bits as updating after the pass).
    pub(super) fuse_code_update: bool,
    /// The schedule's factor on the learning rate for the next step, set by `run_epoch` (which
    /// knows the run's progress); the warm-up's follows from the step count.
    pub(super) lr_factor: f64,
    /// The code's penalty weights for the next step (a VAE's β after its warm-up), set likewise.
    pub(super) terms: CodeTerms,
    pub(super) acts: Activations,
    pub(super) grads: Gradients,
    pub(super) ws: Workspace,
    pub(super) clean: Vec<f32>,
    pub(super) noisy: Vec<f32>,
    pub(super) order: Vec<usize>,
    pub(super) shuffle_rng: ChaCha8Rng,
    pub(super) noise_rng: ChaCha8Rng,
    pub(super) augment_rng: ChaCha8Rng,
    /// An image's copy while it is shifted.
    pub(super) scratch: Vec<f32>,
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
