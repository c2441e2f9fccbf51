//! Binary cross-entropy between the pixels (read as probabilities) and a sigmoid's output. As a
//! VAE's likelihood, a Bernoulli per pixel.

/// The likelihood a VAE trained on this loss reconstructs under, for `ae eval`.
pub(super) const LIKELIHOOD: &str = "Bernoulli likelihood";

/// −[t·log σ(z) + (1 − t)·log(1 − σ(z))] = max(z, 0) − t·z + log(1 + e^−|z|), from the logits `z`
/// so that it stays finite where σ(z) rounds to 0 or 1; ∂/∂z = σ(z) − t (`reconstruction` is σ(z)).
pub(super) fn with_logits(logits: &[f32], reconstruction: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for (((g, &z), &y), &t) in grad.iter_mut().zip(logits).zip(reconstruction).zip(target) {
        let z64 = z as f64;
        sum += z64.max(0.0) - t as f64 * z64 + (-z64.abs()).exp().ln_1p();
        *g = y - t;
    }
    sum
}

/// log p(x | l) of one pixel under a Bernoulli of logit `l`: x·l − softplus(l), stable for
/// either sign of `l`.
pub(super) fn log_likelihood(l: f64, x: f64) -> f64 {
    x * l - (l.max(0.0) + (-l.abs()).exp().ln_1p())
}
