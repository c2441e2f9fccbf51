//! Adam, in TensorFlow's form (bias correction folded into the step size, ε added to √v).

use multiversion::multiversion;
use rayon::prelude::*;

/// Adam hyperparameters; TensorFlow's and the tutorial's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Decoupled weight decay λ (AdamW, Loshchilov & Hutter): each update first shrinks the
    /// parameter by `learning_rate·λ` of itself, apart from the gradient's moments. 0: plain Adam.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.0 }
    }
}

/// One tensor's moment estimates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdamMoments {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl AdamMoments {
    pub fn zeros(len: usize) -> Self {
        Self { m: vec![0.0; len], v: vec![0.0; len] }
    }
}

/// Chunk size for the parallel update; fixed so results do not depend on the thread count.
const CHUNK: usize = 1 << 14;

impl AdamConfig {
    /// Applies update number `step` (1-based) to `param` in place.
    pub fn update(&self, step: u64, param: &mut [f32], grad: &[f32], moments: &mut AdamMoments) {
        assert!(
            param.len() == grad.len() && moments.m.len() == param.len() && moments.v.len() == param.len()
        );
        let lr_t = self.step_size(step);
        param
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .zip(moments.m.par_chunks_mut(CHUNK))
            .zip(moments.v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| self.update_slice(lr_t, p, g, m, v));
    }

    /// The step size of update number `step`, with both bias corrections folded in.
    pub(crate) fn step_size(&self, step: u64) -> f32 {
        assert!(step >= 1, "Adam steps count from 1");
        let t = step as f64;
        (self.learning_rate * (1.0 - self.beta2.powf(t)).sqrt() / (1.0 - self.beta1.powf(t))) as f32
    }

    /// The update of a run of parameters, element by element: the same numbers however the
    /// parameters are split.
    pub(crate) fn update_slice(
        &self,
        lr_t: f32,
        param: &mut [f32],
        grad: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        let (b1, b2, eps) = (self.beta1 as f32, self.beta2 as f32, self.epsilon as f32);
        // PyTorch's AdamW: `p ← p·(1 − lr·λ)` before the step (1 exactly without decay: the same bits).
        let keep = (1.0 - self.learning_rate * self.weight_decay) as f32;
        update_elements([b1, b2, eps, lr_t, keep], param, grad, m, v);
    }
}

/// The element-wise update, compiled for AVX-512 and AVX2 too (square roots and divisions are
/// exact in any vector width, so every version gives the same bits).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn update_elements(
    [b1, b2, eps, lr_t, keep]: [f32; 5],
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    for (((p, &g), m), v) in param.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *p = *p * keep - lr_t * *m / (v.sqrt() + eps);
    }
}

/// An Adam update to apply to a weight during its backward pass (see
/// [`dense_backward_adam`](crate::dense::dense_backward_adam)).
pub struct AdamStep<'a> {
    pub config: &'a AdamConfig,
    /// 1-based update number.
    pub step: u64,
    pub moments: &'a mut AdamMoments,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_about_the_learning_rate() {
        // With m̂ = g and v̂ = g², the first step is lr·sign(g) whatever the gradient's size.
        let adam = AdamConfig::default();
        let mut p = vec![1.0f32, 1.0, 1.0];
        let mut st = AdamMoments::zeros(3);
        adam.update(1, &mut p, &[0.5, -20.0, 1e-3], &mut st);
        for (got, want) in p.iter().zip([0.999, 1.001, 0.999]) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[test]
    fn three_steps_match_the_formula_worked_by_hand() {
        // lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ), m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g²,
        // p −= lr_t·m/(√v + ε), worked in f64 outside this code base. β1, β2 and ε are distinct
        // and ε is large, so swapping or dropping any of them moves every step.
        let adam =
            AdamConfig { learning_rate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 0.1, weight_decay: 0.0 };
        let mut p = vec![1.0f32, -0.5];
        let mut st = AdamMoments::zeros(2);
        let steps: [([f32; 2], [f64; 2]); 3] = [
            ([0.3, -2.0], [0.995985083759092, -0.49182743997631556]),
            ([-0.1, -1.0], [0.9945488977224587, -0.48418158132701467]),
            ([0.5, 0.25], [0.9904398121351873, -0.4793044278508861]),
        ];
        for (t, (grad, want)) in steps.iter().enumerate() {
            adam.update(t as u64 + 1, &mut p, grad, &mut st);
            for (got, want) in p.iter().zip(want) {
                assert!((*got as f64 - want).abs() < 1e-6, "step {}: {got} vs {want}", t + 1);
            }
        }
    }

    #[test]
    fn weight_decay_shrinks_the_parameter_before_the_step_as_adamw_does() {
        // torch.optim.AdamW's update, worked in f64: p ← p·(1 − lr·λ), then the Adam step (with
        // this engine's ε, added to √v before the bias correction, as TensorFlow's Adam).
        let adam =
            AdamConfig { learning_rate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 0.1, weight_decay: 0.5 };
        let (mut p, mut st) = (vec![2.0f32, -1.0], AdamMoments::zeros(2));
        let (mut want, mut m, mut v) = ([2.0f64, -1.0], [0.0f64; 2], [0.0f64; 2]);
        for (t, grad) in [[0.3f32, -2.0], [-0.1, -1.0], [0.5, 0.25]].iter().enumerate() {
            adam.update(t as u64 + 1, &mut p, grad, &mut st);
            let t = (t + 1) as i32;
            let lr_t = 0.01 * (1.0 - 0.95f64.powi(t)).sqrt() / (1.0 - 0.8f64.powi(t));
            for i in 0..2 {
                let g = grad[i] as f64;
                m[i] = 0.8 * m[i] + 0.2 * g;
                v[i] = 0.95 * v[i] + 0.05 * g * g;
                want[i] = want[i] * (1.0 - 0.01 * 0.5) - lr_t * m[i] / (v[i].sqrt() + 0.1);
            }
            for (got, want) in p.iter().zip(want) {
                assert!((*got as f64 - want).abs() < 1e-6, "step {t}: {got} vs {want}");
            }
        }
        // Without a gradient the parameter decays geometrically.
        let mut q = vec![1.0f32];
        let mut st = AdamMoments::zeros(1);
        for step in 1..=10 {
            adam.update(step, &mut q, &[0.0], &mut st);
        }
        assert!((q[0] as f64 - 0.995f64.powi(10)).abs() < 1e-6, "{}", q[0]);
    }

    #[test]
    fn minimises_a_quadratic() {
        let adam = AdamConfig { learning_rate: 0.05, ..Default::default() };
        let mut p = vec![3.0f32, -2.0];
        let mut st = AdamMoments::zeros(2);
        for step in 1..=2000 {
            let g: Vec<f32> = p.iter().map(|x| 2.0 * (x - 0.5)).collect();
            adam.update(step, &mut p, &g, &mut st);
        }
        assert!(p.iter().all(|x| (x - 0.5).abs() < 1e-2), "{p:?}");
    }
}
