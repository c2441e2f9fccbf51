//! Element-wise activations, applied fused with the bias add, and their derivatives.
//!
//! The passes are compiled for AVX-512 and AVX2 as well as the baseline (`multiversion`, picked
//! at run time) and written without branches, so that they vectorise: a branchy ReLU derivative
//! on SSE2 took 17 % of the largest layer's backward pass.

use multiversion::multiversion;

/// The non-linearity after a layer. Derivatives are taken from the layer's *output*, so the
/// pre-activation values never need to be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
    Sigmoid,
}

impl Activation {
    #[inline]
    fn eval(self, v: f32) -> f32 {
        match self {
            Activation::Identity => v,
            Activation::Relu => v.max(0.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        }
    }

    /// `y[p, c] = act(y[p, c] + bias[c])` for every row `p` of a row-major `rows × bias.len()` block.
    pub fn add_bias_and_apply(self, y: &mut [f32], bias: &[f32]) {
        add_bias_and_apply(self, y, bias);
    }

    /// `out[i] = act(input[i])`, leaving `input` as it is.
    pub fn apply_into(self, input: &[f32], out: &mut [f32]) {
        for (o, &v) in out.iter_mut().zip(input) {
            *o = self.eval(v);
        }
    }

    /// Turns `grad` (∂L/∂output) into ∂L/∂pre-activation in place, given the layer's output.
    pub fn backprop(self, output: &[f32], grad: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::Relu => relu_backprop(output, grad),
            Activation::Sigmoid => sigmoid_backprop(output, grad),
        }
    }
}

/// What a layer's forward pass does to each sum it writes: adds the bias, then, where an
/// inference-mode batch norm follows the layer, that norm's per-channel `x·scale + shift` (its
/// running estimates folded in: [`crate::batch_norm::inference_affine`]), then the activation.
/// Folded into the layer's pass, the norm costs no pass over memory of its own.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    pub bias: &'a [f32],
    /// `(scale, shift)`, one value per channel each.
    pub norm: Option<(&'a [f32], &'a [f32])>,
    pub act: Activation,
}

impl<'a> Epilogue<'a> {
    /// The bias and the activation alone.
    pub fn new(bias: &'a [f32], act: Activation) -> Self {
        Self { bias, norm: None, act }
    }

    /// Applies it to every row of a row-major `rows × bias.len()` block. With a norm each value is
    /// `act(f32(f32(f32(y + b)·scale) + shift))`: the bits of the bias pass followed by the norm's.
    pub fn apply(&self, y: &mut [f32]) {
        match self.norm {
            None => add_bias_and_apply(self.act, y, self.bias),
            Some((scale, shift)) => {
                assert!(
                    scale.len() == self.bias.len() && shift.len() == self.bias.len(),
                    "one scale and shift a channel"
                );
                add_bias_scale_shift_and_apply(self.act, y, self.bias, scale, shift)
            }
        }
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn add_bias_scale_shift_and_apply(
    act: Activation,
    y: &mut [f32],
    bias: &[f32],
    scale: &[f32],
    shift: &[f32],
) {
    // One loop per activation, so that each vectorises on its own.
    match act {
        Activation::Identity => affine_rows(y, bias, scale, shift, |v| v),
        Activation::Relu => affine_rows(y, bias, scale, shift, |v| v.max(0.0)),
        Activation::Sigmoid => affine_rows(y, bias, scale, shift, |v| Activation::Sigmoid.eval(v)),
    }
}

/// Rust never fuses a multiply with an add, so each operation rounds as the separate passes did.
#[inline(always)]
fn affine_rows(y: &mut [f32], bias: &[f32], scale: &[f32], shift: &[f32], f: impl Fn(f32) -> f32) {
    let channels = bias.len();
    let (scale, shift) = (&scale[..channels], &shift[..channels]);
    for row in y.chunks_exact_mut(channels) {
        let row = &mut row[..channels];
        for c in 0..channels {
            row[c] = f((row[c] + bias[c]) * scale[c] + shift[c]);
        }
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn add_bias_and_apply(act: Activation, y: &mut [f32], bias: &[f32]) {
    // One loop per activation, so that each vectorises on its own.
    match act {
        Activation::Identity => add_bias_rows(y, bias, |v| v),
        Activation::Relu => add_bias_rows(y, bias, |v| v.max(0.0)),
        Activation::Sigmoid => add_bias_rows(y, bias, |v| Activation::Sigmoid.eval(v)),
    }
}

#[inline(always)]
fn add_bias_rows(y: &mut [f32], bias: &[f32], f: impl Fn(f32) -> f32) {
    for row in y.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = f(*v + b);
        }
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn relu_backprop(output: &[f32], grad: &mut [f32]) {
    for (g, &y) in grad.iter_mut().zip(output) {
        // A select, not a conditional store: the same values, and it vectorises.
        *g = if y <= 0.0 { 0.0 } else { *g };
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn sigmoid_backprop(output: &[f32], grad: &mut [f32]) {
    for (g, &y) in grad.iter_mut().zip(output) {
        *g *= y * (1.0 - y);
    }
}

/// `sums[c] += Σ_p rows[p, c]`: the bias gradient of a row-major block.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
pub fn add_column_sums(rows: &[f32], sums: &mut [f32]) {
    for row in rows.chunks_exact(sums.len()) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        for act in [Activation::Identity, Activation::Relu, Activation::Sigmoid] {
            for &x in &[-1.3f32, -0.2, 0.4, 2.1] {
                let h = 1e-3;
                let numeric = (act.eval(x + h) - act.eval(x - h)) / (2.0 * h);
                let mut g = [1.0];
                act.backprop(&[act.eval(x)], &mut g);
                assert!((g[0] - numeric).abs() < 1e-3, "{act:?} at {x}: {} vs {numeric}", g[0]);
            }
        }
    }

    #[test]
    fn bias_is_added_per_column_before_the_activation() {
        let mut y = [1.0, -1.0, 0.5, -3.0];
        Activation::Relu.add_bias_and_apply(&mut y, &[0.5, 2.0]);
        assert_eq!(y, [1.5, 1.0, 1.0, 0.0]);
    }
}
