//! A sparse autoencoder's L1 penalty on the code, beside the losses: per image `λ·P·mean_k|c_k|`
//! (P pixels, K code units), which weighs the mean code value as λ times one pixel's loss, so one
//! λ means the same for any code length and image size.

/// The penalty's weight on each `|c_k|`, `λ·P/K`: its gradient's size at every code value.
pub fn l1_weight(lambda: f64, pixels: usize, code_length: usize) -> f32 {
    (lambda * pixels as f64 / code_length as f64) as f32
}

/// Adds `weight · ∂|c|/∂c` to `dcode`: `weight` for the (positive) sigmoid code, `weight` times
/// the sign for a linear one.
pub fn add_l1_gradient(code: &[f32], weight: f32, dcode: &mut [f32]) {
    dcode.iter_mut().zip(code).for_each(|(g, &c)| *g += weight * c.signum());
}
