//! How a run trains: epochs, batches, the optimiser's settings, the schedule, the loss and its
//! code penalties, augmentation and early stopping.

use super::choice::choices;
use crate::augment::Augment;
use serde::{Deserialize, Serialize};

/// Which samples an epoch trains on and what its average divides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Batching {
    /// The tutorial's `range(0, N − batch, batch)`: the last batch is skipped (even when full), and
    /// the epoch's summed loss is divided by N all the same.
    Tutorial,
    /// Every sample once per epoch (a smaller last batch if needed); the average is over them.
    All,
}

/// The training objective between reconstruction and clean image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// `0.5·Σ(x̂−x)²` (TensorFlow's `l2_loss`; a Gaussian likelihood).
    #[default]
    L2,
    /// Binary cross-entropy `−Σ[x·log x̂ + (1−x)·log(1−x̂)]` (a Bernoulli likelihood), computed from
    /// the output sigmoid's logits in the numerically stable form.
    Bce,
    /// `Σ|x̂−x|` (a Laplace likelihood): fewer blurred edges than the squared error.
    L1,
}

/// How the learning rate changes over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// The same rate for every step (the tutorial).
    #[default]
    Constant,
    /// Half a cosine from the full rate at the first step down to zero at the end of the last
    /// epoch: large steps early, and a final model that is not caught mid-oscillation.
    Cosine,
}

fn one() -> f64 {
    1.0
}

/// Measured on the faces' denoiser (bench/results/residual.md, "A linear path started at PCA").
pub(super) const LINEAR_LR_SCALE: f64 = 0.01;

fn default_linear_lr_scale() -> f64 {
    LINEAR_LR_SCALE
}

fn is_default_linear_lr_scale(v: &f64) -> bool {
    *v == LINEAR_LR_SCALE
}

/// Optimisation settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Seeds the weights, the split, every shuffle and the noise.
    pub seed: u64,
    pub batching: Batching,
    #[serde(default)]
    pub loss: Loss,
    /// Weight λ of an L1 penalty on the code (a sparse autoencoder); 0 for none. Per image the
    /// penalty is `λ · pixels · mean(|code|)`: against the loss summed over the pixels it weighs the
    /// mean code value as λ times one pixel's loss, so one λ means the same for any code length
    /// and image size.
    #[serde(default)]
    pub sparsity: f64,
    /// The learning rate's course over the run (absent in older files: constant).
    #[serde(default)]
    pub schedule: Schedule,
    /// Multiplies the learning rate of the code layer's weight (absent in older files: 1). Adam
    /// moves each of its `inputs × code_length` weights by about the learning rate, so the code
    /// layer, with 30–130 times the fan-in of the convolutions, turns fastest.
    #[serde(default = "one")]
    pub code_lr_scale: f64,
    /// Multiplies the learning rate of the linear path's tensors (`model.linear_path`; absent: the
    /// default's). They start at PCA, whose weights are about 1/√pixels: at the full rate Adam's
    /// first hundred steps undo them (faces: 31.0 dB at the start, 12 dB ten epochs later).
    #[serde(default = "default_linear_lr_scale", skip_serializing_if = "is_default_linear_lr_scale")]
    pub linear_lr_scale: f64,
    /// Steps over which the learning rate rises linearly from 1/warmup_steps of its value to all
    /// of it (absent in older files: 0, none). Adam's first steps move every weight by the full
    /// rate; at 3e-3 that left MNIST's decoder with only dead ReLUs.
    #[serde(default)]
    pub warmup_steps: u64,
    /// A VAE's weight β on the KL term (1: the ELBO; other values: a β-VAE).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub beta: f64,
    /// Epochs over which a VAE's β rises linearly from 0 (0: none), so the decoder learns to use
    /// the code before the KL term pulls it to the prior.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kl_warmup_epochs: usize,
    /// Decoupled weight decay λ on the convolution and dense weights (AdamW; not on biases or the
    /// normalisation's scale and shift); 0: plain Adam.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub weight_decay: f64,
    /// What changes each training image as it is drawn (flips, shifts), from the run's seed.
    #[serde(default, skip_serializing_if = "Augment::is_none")]
    pub augment: Augment,
    /// Stop when the held-out loss has not improved for this many epochs (0: never). The run is
    /// complete; its model is the best epoch's either way.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub early_stopping: usize,
}

pub(super) fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

choices!(Loss: L2, Bce, L1);
choices!(Schedule: Constant, Cosine);
