//! The squared error, 0.5·Σ(x̂ − x)² over the pixels: the tutorial's loss. As a VAE's likelihood,
//! a unit-variance Gaussian (up to its normaliser).

/// The likelihood a VAE trained on this loss reconstructs under, for `ae eval`.
pub(super) const LIKELIHOOD: &str = "unit-variance Gaussian likelihood";

/// 0.5·(z − t)² of a linear output `z`; the reconstruction's clipping to [0, 1] is left out, so
/// that values beyond it are still pulled back.
pub(super) fn of_linear_output(output: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for ((g, &z), &t) in grad.iter_mut().zip(output).zip(target) {
        let d = z - t;
        *g = d;
        sum += 0.5 * (d as f64) * (d as f64);
    }
    sum
}

/// 0.5·(y − t)² of a sigmoid's output `y`, its gradient taken through the sigmoid to the logits:
/// ∂/∂z = (y − t)·y·(1 − y).
pub(super) fn through_sigmoid(reconstruction: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for ((g, &y), &t) in grad.iter_mut().zip(reconstruction).zip(target) {
        let d = y - t;
        *g = d * y * (1.0 - y);
        sum += 0.5 * (d as f64) * (d as f64);
    }
    sum
}

/// log p(x | y) of one pixel under a unit-variance Gaussian at the reconstruction `y`.
pub(super) fn log_likelihood(y: f64, x: f64) -> f64 {
    -0.5 * (y - x).powi(2) - 0.5 * (2.0 * std::f64::consts::PI).ln()
}
