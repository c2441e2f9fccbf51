//! The reconstruction losses, one file each (and the code's terms: a VAE's KL, `kl.rs`, and a
//! sparse code's L1 penalty, `sparsity.rs`), and the one function the trainer and the evaluation call: a batch's loss and its gradient with respect to the output layer's logits.
//! A new loss is a file here, a variant of [`Loss`] (config/training.rs) and an arm below.

use crate::config::Loss;
use crate::model::Output;

mod bce;
pub mod kl;
mod l1;
mod l2;
pub mod sparsity;

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
    match loss {
        Loss::L2 if output == Output::Clipped => l2::of_linear_output(logits, target, grad),
        Loss::L2 => l2::through_sigmoid(reconstruction, target, grad),
        Loss::Bce => bce::with_logits(logits, reconstruction, target, grad),
        Loss::L1 if output == Output::Clipped => l1::of_linear_output(logits, target, grad),
        Loss::L1 => l1::through_sigmoid(reconstruction, target, grad),
    }
}

/// log p(x | logit) of one pixel under the likelihood `loss` implies for a VAE's decoder (whose
/// output is the sigmoid of `logit`); its sum over the pixels is the loss's negative up to a
/// constant.
pub fn log_likelihood(loss: Loss, logit: f64, x: f64) -> f64 {
    let sigmoid = || 1.0 / (1.0 + (-logit).exp());
    match loss {
        Loss::L2 => l2::log_likelihood(sigmoid(), x),
        Loss::Bce => bce::log_likelihood(logit, x),
        Loss::L1 => l1::log_likelihood(sigmoid(), x),
    }
}

/// The name of that likelihood.
pub fn likelihood(loss: Loss) -> &'static str {
    match loss {
        Loss::L2 => l2::LIKELIHOOD,
        Loss::Bce => bce::LIKELIHOOD,
        Loss::L1 => l1::LIKELIHOOD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for loss in [Loss::L2, Loss::Bce, Loss::L1] {
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
    fn a_linear_output_s_l2_gradient_is_its_error_unclipped() {
        let (z, t) = ([1.5f32, -0.25, 0.5], [1.0f32, 0.0, 0.75]);
        let mut g = [0.0; 3];
        let loss = loss_and_grad(Loss::L2, Output::Clipped, &z, &z.map(|v| v.clamp(0.0, 1.0)), &t, &mut g);
        assert_eq!(g, [0.5, -0.25, -0.25]);
        assert!((loss - 0.5 * (0.25 + 0.0625 + 0.0625)).abs() < 1e-12, "{loss}");
    }

    #[test]
    fn an_l1_gradient_is_the_sign_of_the_error_and_zero_where_exact() {
        let (z, t) = ([1.5f32, -0.25, 0.75], [1.0f32, 0.0, 0.75]);
        let mut g = [9.0; 3];
        let loss = loss_and_grad(Loss::L1, Output::Clipped, &z, &z.map(|v| v.clamp(0.0, 1.0)), &t, &mut g);
        assert_eq!((g, loss), ([1.0, -1.0, 0.0], 0.75));
        let y = [0.5f32, 0.8];
        loss_and_grad(Loss::L1, Output::Sigmoid, &[0.0, 1.386], &y, &[0.9, 0.3], &mut g[..2]);
        assert_eq!(&g[..2], &[-0.25, 0.8f32 * (1.0 - 0.8f32)]);
    }

    /// Each likelihood is a density over the pixel's values (a probability over {0, 1} for the
    /// Bernoulli), whatever the decoder's output: its integral is 1.
    #[test]
    fn every_likelihood_integrates_to_one() {
        for logit in [-3.0, 0.0, 0.4, 2.5] {
            let bernoulli: f64 = [0.0, 1.0].iter().map(|&x| log_likelihood(Loss::Bce, logit, x).exp()).sum();
            assert!((bernoulli - 1.0).abs() < 1e-12, "{bernoulli}");
            for loss in [Loss::L2, Loss::L1] {
                let (step, n) = (1e-3, 80_000);
                let density: f64 =
                    (0..=n).map(|i| log_likelihood(loss, logit, -40.0 + i as f64 * step).exp() * step).sum();
                assert!((density - 1.0).abs() < 1e-4, "{loss:?} at logit {logit}: {density}");
            }
        }
        assert_eq!(
            [Loss::L2, Loss::Bce, Loss::L1].map(likelihood),
            ["unit-variance Gaussian likelihood", "Bernoulli likelihood", "unit-scale Laplace likelihood"]
        );
    }
}
