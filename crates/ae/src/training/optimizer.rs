//! Adam over the model's parameters by name, outside the backward pass.

use crate::model::Autoencoder;
use ae_engine::{AdamConfig, AdamMoments, AdamStep};

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
