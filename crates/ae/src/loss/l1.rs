//! The absolute error, Σ|x̂ − x| over the pixels: less swayed by a few badly reconstructed pixels
//! than the squared error, so edges stay sharper. As a VAE's likelihood, a unit-scale Laplace.

/// The likelihood a VAE trained on this loss reconstructs under, for `ae eval`.
pub(super) const LIKELIHOOD: &str = "unit-scale Laplace likelihood";

/// The sign of `d`, 0 at 0: the subgradient that leaves an exact pixel where it is.
fn sign(d: f32) -> f32 {
    if d > 0.0 {
        1.0
    } else if d < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// |z − t| of a linear output `z` (unclipped, as the squared error reads it).
pub(super) fn of_linear_output(output: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for ((g, &z), &t) in grad.iter_mut().zip(output).zip(target) {
        let d = z - t;
        *g = sign(d);
        sum += d.abs() as f64;
    }
    sum
}

/// |y − t| of a sigmoid's output `y`; ∂/∂z = sign(y − t)·y·(1 − y).
pub(super) fn through_sigmoid(reconstruction: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for ((g, &y), &t) in grad.iter_mut().zip(reconstruction).zip(target) {
        let d = y - t;
        *g = sign(d) * y * (1.0 - y);
        sum += d.abs() as f64;
    }
    sum
}

/// log p(x | y) of one pixel under a Laplace of scale 1 at the reconstruction `y`: −|y − x| − ln 2.
pub(super) fn log_likelihood(y: f64, x: f64) -> f64 {
    -(y - x).abs() - std::f64::consts::LN_2
}
