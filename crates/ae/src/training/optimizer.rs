//! The optimiser in one place: Adam (AdamW with a weight decay) over the model's parameters by
//! name, outside the backward pass; the learning rate's schedule and warm-up; and its state as the
//! checkpoint's tensors, saved and read back.

use crate::checkpoint::{Tensor, Values};
use crate::config::{Schedule, TrainingConfig};
use crate::model::Autoencoder;
use ae_engine::{AdamConfig, AdamMoments, AdamStep};
use safetensors::tensor::{Dtype, SafeTensors};

/// Adam's moments for each parameter tensor of a model, named as in the model file
/// (`code.weight`, …), and the update count. The trainer gives each update its rates. One tensor's
/// update may instead be applied by the backward pass on its way ([`Adam::fused`], the code
/// layer's weight, while its gradient is in cache): the same bits as [`Adam::update`].
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    pub config: AdamConfig,
    names: Vec<String>,
    /// Whether `config.weight_decay` applies to each parameter.
    decays: Vec<bool>,
    moments: Vec<AdamMoments>,
    steps: u64,
}

impl Adam {
    pub fn new(config: AdamConfig, model: &Autoencoder) -> Self {
        Self {
            config,
            names: model.param_names(),
            decays: model.decays(),
            moments: model.params.iter().map(|p| AdamMoments::zeros(p.len())).collect(),
            steps: 0,
        }
    }

    /// Updates begun so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Each parameter's moments, by name.
    pub fn moments(&self) -> impl Iterator<Item = (&str, &AdamMoments)> {
        self.names.iter().map(String::as_str).zip(&self.moments)
    }

    /// The moments as a checkpoint's tensors, `optimizer.<parameter>.exp_avg` / `.exp_avg_sq`
    /// (PyTorch's names); parameterless layers have none.
    pub fn tensors(&self) -> Vec<Tensor<'_>> {
        let mut tensors = Vec::new();
        for (name, moments) in self.moments().filter(|(_, m)| !m.m.is_empty()) {
            for (kind, values) in [("exp_avg", &moments.m), ("exp_avg_sq", &moments.v)] {
                tensors.push(Tensor {
                    name: format!("optimizer.{name}.{kind}"),
                    shape: vec![values.len()],
                    values: Values::F32(values.as_slice().into()),
                });
            }
        }
        tensors
    }

    /// The moments [`tensors`](Self::tensors) wrote for `model`'s parameters, in their order, or
    /// which tensor is missing or of another shape or type.
    pub fn read_moments(model: &Autoencoder, tensors: &SafeTensors<'_>) -> Result<Vec<AdamMoments>, String> {
        model
            .param_names()
            .iter()
            .zip(&model.params)
            .map(|(name, param)| {
                if param.is_empty() {
                    return Ok(AdamMoments { m: Vec::new(), v: Vec::new() });
                }
                let read = |which: &str| -> Result<Vec<f32>, String> {
                    let key = format!("optimizer.{name}.{which}");
                    match tensors.tensor(&key) {
                        Ok(t) if t.dtype() == Dtype::F32 && t.shape() == [param.len()] => Ok(t
                            .data()
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                            .collect()),
                        _ => Err(format!("tensor `{key}` is missing or not {} float32 values", param.len())),
                    }
                };
                Ok(AdamMoments { m: read("exp_avg")?, v: read("exp_avg_sq")? })
            })
            .collect()
    }

    /// Takes up a saved state: `steps` updates done and each parameter's moments, in `moments`
    /// order; `false` (and nothing changed) if they do not fit this model's parameters.
    pub fn restore(&mut self, steps: u64, moments: Vec<AdamMoments>) -> bool {
        let fits = moments.len() == self.moments.len()
            && moments
                .iter()
                .zip(&self.moments)
                .all(|(a, b)| a.m.len() == b.m.len() && a.v.len() == b.v.len());
        if fits {
            (self.steps, self.moments) = (steps, moments);
        }
        fits
    }

    /// Begins the next update; returns its number (from 1).
    pub fn begin(&mut self) -> u64 {
        self.steps += 1;
        self.steps
    }

    /// The settings of parameter `p`'s update at learning rate `rate`: without weight decay where
    /// it does not apply.
    pub fn config_for(&self, p: usize, rate: f64) -> AdamConfig {
        let weight_decay = if self.decays[p] { self.config.weight_decay } else { 0.0 };
        AdamConfig { learning_rate: rate, weight_decay, ..self.config }
    }

    /// The current update of parameter `p` with `config`'s rate, for a backward pass to apply.
    pub fn fused<'a>(&'a mut self, p: usize, config: &'a AdamConfig) -> AdamStep<'a> {
        AdamStep { config, step: self.steps, moments: &mut self.moments[p] }
    }

    /// Applies the current update to every parameter but `fused`, parameter `p` at learning rate
    /// `rate(p)`.
    pub fn update(
        &mut self,
        params: &mut [Vec<f32>],
        grads: &[Vec<f32>],
        rate: impl Fn(usize) -> f64,
        fused: Option<usize>,
    ) {
        assert!(self.steps >= 1, "an update begins before it is applied");
        for (p, (param, grad)) in params.iter_mut().zip(grads).enumerate() {
            if Some(p) != fused {
                let config = self.config_for(p, rate(p));
                config.update(self.steps, param, grad, &mut self.moments[p]);
            }
        }
    }
}

impl Schedule {
    /// The factor on the learning rate at `progress` (0 at the start of the run, 1 at its end).
    pub fn factor(self, progress: f64) -> f64 {
        match self {
            Schedule::Constant => 1.0,
            Schedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress.clamp(0.0, 1.0)).cos()),
        }
    }
}

impl TrainingConfig {
    /// The warm-up's factor on the learning rate of step `step` (counted from 1).
    pub fn warmup(&self, step: u64) -> f64 {
        if step >= self.warmup_steps {
            1.0
        } else {
            step as f64 / self.warmup_steps as f64
        }
    }
}
