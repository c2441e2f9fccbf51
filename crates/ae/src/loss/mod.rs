//! The reconstruction losses, one file each, and the one function the trainer and the
//! evaluation call: a batch's loss and its gradient with respect to the output layer's logits.
//! A new loss is a file here, a variant of [`Loss`] (config/training.rs) and an arm below.

use crate::config::Loss;
use crate::model::Output;

mod bce;
mod l2;

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
    fn a_linear_output_s_l2_gradient_is_its_error_unclipped() {
        let (z, t) = ([1.5f32, -0.25, 0.5], [1.0f32, 0.0, 0.75]);
        let mut g = [0.0; 3];
        let loss = loss_and_grad(Loss::L2, Output::Clipped, &z, &z.map(|v| v.clamp(0.0, 1.0)), &t, &mut g);
        assert_eq!(g, [0.5, -0.25, -0.25]);
        assert!((loss - 0.5 * (0.25 + 0.0625 + 0.0625)).abs() < 1e-12, "{loss}");
    }
}
