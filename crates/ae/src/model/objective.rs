//! What a model kind adds to the reconstruction loss and what it logs of its code. The trainer
//! asks the kind's [`Objective`] and never matches on the kind; a new model kind implements this
//! trait and registers in [`objective`].
//!
//! A denoising autoencoder is a [`Deterministic`] one: it differs only in its inputs, which the
//! noise stage corrupts.

use super::{Activations, Autoencoder, CodeTerms};
use crate::config::{CodeActivation, ModelConfig, ModelKind, TrainingConfig};
use crate::loss::kl::kl_divergence;

/// The code-side terms of a model kind's loss.
pub trait Objective: Send + Sync {
    /// The gradient weights of the code's penalties at `epochs` (fractional) into the run.
    fn terms(&self, model: &Autoencoder, epochs: f64) -> CodeTerms;

    /// The penalty and statistics of the last forward pass's codes, summed over its batch.
    fn measure(&self, model: &Autoencoder, acts: &Activations) -> CodeSums;

    /// Whether the code is a sigmoid whose saturation is worth reporting.
    fn saturates(&self) -> bool;

    /// Whether the kind's KL term is logged (per sample) beside the reconstruction loss.
    fn logs_kl(&self) -> bool;
}

/// The objective of `model`'s kind with the run's training settings.
pub fn objective(model: &ModelConfig, training: &TrainingConfig) -> Box<dyn Objective> {
    match model.kind {
        ModelKind::Autoencoder => Box::new(Deterministic {
            sparsity: training.sparsity,
            sigmoid: model.code_function() == CodeActivation::Sigmoid,
        }),
        ModelKind::Vae => {
            Box::new(Variational { beta: training.beta, kl_warmup_epochs: training.kl_warmup_epochs })
        }
    }
}

/// Sums over a batch of codes: value, values below 0.1, saturated values, and a VAE's KL.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodeSums {
    pub sum: f64,
    pub below_0_1: usize,
    pub saturated: usize,
    /// KL(q(z|x) ‖ N(0, I)) summed over the batch (0 where the kind has none).
    pub kl: f64,
}

impl CodeSums {
    pub fn of(code: &[f32]) -> Self {
        let mut s = Self::default();
        for &c in code {
            s.sum += c as f64;
            s.below_0_1 += (c < 0.1) as usize;
            s.saturated += !(0.01..=0.99).contains(&c) as usize;
        }
        s
    }

    pub fn add(&mut self, other: CodeSums) {
        self.sum += other.sum;
        self.below_0_1 += other.below_0_1;
        self.saturated += other.saturated;
        self.kl += other.kl;
    }
}

/// An autoencoder with a deterministic code (plain, sparse or denoising).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Deterministic {
    /// λ of the L1 penalty (see `TrainingConfig::sparsity`).
    pub sparsity: f64,
    /// Whether the code is a sigmoid's (else linear, with nothing to saturate).
    pub sigmoid: bool,
}

impl Deterministic {
    /// The penalty's gradient at each code value: per image it is `λ·P·mean_k|c_k|` (P pixels,
    /// K code units), so `∂/∂c_k = λ·P/K`.
    pub fn l1_gradient(&self, model: &Autoencoder) -> f32 {
        crate::loss::sparsity::l1_weight(self.sparsity, model.input_len(), model.config.code_length)
    }
}

impl Objective for Deterministic {
    fn terms(&self, model: &Autoencoder, _epochs: f64) -> CodeTerms {
        CodeTerms { l1: self.l1_gradient(model), kl: 0.0 }
    }

    fn measure(&self, model: &Autoencoder, acts: &Activations) -> CodeSums {
        let mut sums = CodeSums::of(acts.code(model));
        if !self.sigmoid {
            // A linear code has no range to saturate at (0.01 / 0.99 mean nothing to it).
            sums.saturated = 0;
        }
        sums
    }

    fn saturates(&self) -> bool {
        self.sigmoid
    }

    fn logs_kl(&self) -> bool {
        false
    }
}

/// A variational autoencoder: its loss adds β·KL(q(z|x) ‖ N(0, I)), β rising linearly from 0 over
/// `kl_warmup_epochs` (0: none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variational {
    pub beta: f64,
    pub kl_warmup_epochs: usize,
}

impl Variational {
    /// The weight on the KL term at `epochs` into the run.
    pub fn kl_weight(&self, epochs: f64) -> f64 {
        if self.kl_warmup_epochs == 0 {
            self.beta
        } else {
            self.beta * (epochs / self.kl_warmup_epochs as f64).clamp(0.0, 1.0)
        }
    }
}

impl Objective for Variational {
    fn terms(&self, _model: &Autoencoder, epochs: f64) -> CodeTerms {
        CodeTerms { l1: 0.0, kl: self.kl_weight(epochs) as f32 }
    }

    fn measure(&self, model: &Autoencoder, acts: &Activations) -> CodeSums {
        let kl = kl_divergence(acts.distribution(model), model.config.code_length);
        CodeSums { kl, ..CodeSums::of(acts.code(model)) }
    }

    /// A Gaussian code does not saturate.
    fn saturates(&self) -> bool {
        false
    }

    fn logs_kl(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PaddingMode;

    #[test]
    fn code_statistics_count_low_and_saturated_values() {
        // Unequal counts on either side of each bound, and a value on the 0.1 bound itself.
        let sums = CodeSums::of(&[0.005, 0.05, 0.08, 0.1, 0.5, 0.995]);
        assert_eq!((sums.below_0_1, sums.saturated), (3, 2));
        assert!((sums.sum - 1.73).abs() < 1e-6);
        let mut total = sums;
        total.add(CodeSums { kl: 2.5, ..CodeSums::of(&[0.02, 1.0]) });
        assert_eq!((total.below_0_1, total.saturated), (4, 3));
        assert!((total.sum - 2.75).abs() < 1e-6);
        assert_eq!(total.kl, 2.5);
    }

    #[test]
    fn the_sparsity_gradient_is_the_penalty_s_derivative() {
        // Per image λ·P·mean_k c_k; its central difference in one code value, in f64.
        let model = Autoencoder::new(&crate::model::tiny(PaddingMode::TfSame, 4), 3).unwrap();
        let (p, k) = (model.input_len() as f64, model.config.code_length);
        let (lambda, h) = (0.3, 1e-3);
        let code: Vec<f64> = (0..k).map(|i| 0.1 + 0.05 * i as f64).collect();
        let penalty = |c: &[f64]| lambda * p * c.iter().sum::<f64>() / k as f64;
        let (mut up, mut down) = (code.clone(), code.clone());
        up[5] += h;
        down[5] -= h;
        let numeric = (penalty(&up) - penalty(&down)) / (2.0 * h);
        let gradient = Deterministic { sparsity: lambda, sigmoid: true }.l1_gradient(&model);
        assert!((numeric - gradient as f64).abs() < 1e-5, "{numeric}");
        assert_eq!(Deterministic { sparsity: 0.0, sigmoid: true }.terms(&model, 3.0), CodeTerms::default());
    }

    #[test]
    fn a_linear_code_reports_nothing_saturated() {
        let config = crate::model::tiny(PaddingMode::TfSame, 4);
        let linear = ModelConfig { code_activation: CodeActivation::Identity, ..config };
        let mut model = Autoencoder::new(&linear, 3).unwrap();
        // A code layer bias far outside (0.01, 0.99) for every unit.
        model.params[2 * model.code_layer + 1].iter_mut().for_each(|b| *b = 7.0);
        let (n, mut ws) = (2, ae_engine::Workspace::new(1));
        let mut acts = crate::model::Activations::new(&model, n);
        model.forward(&vec![0.5; n * model.input_len()], &mut acts, &mut ws, false);
        let objective =
            objective(&linear, &crate::config::RunConfig::preset(crate::config::Preset::Default).training);
        let sums = objective.measure(&model, &acts);
        assert!(!objective.saturates());
        assert_eq!(sums.saturated, 0);
        assert_eq!(
            CodeSums::of(acts.code(&model)).saturated,
            n * linear.code_length,
            "the plain count would say all"
        );
    }

    #[test]
    fn the_kl_weight_warms_up_to_beta() {
        let warm = Variational { beta: 2.0, kl_warmup_epochs: 10 };
        assert_eq!([0.0, 5.0, 10.0, 20.0].map(|e| warm.kl_weight(e)), [0.0, 1.0, 2.0, 2.0]);
        let cold = Variational { beta: 0.5, kl_warmup_epochs: 0 };
        assert_eq!([0.0, 7.0].map(|e| cold.kl_weight(e)), [0.5, 0.5]);
    }
}
