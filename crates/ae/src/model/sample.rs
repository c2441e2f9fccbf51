//! The reparameterisation of a variational autoencoder: from the code layer's `[μ, log σ²]`
//! (2·L values per image) to the code `z = μ + σ·ε`, ε ~ N(0, 1) drawn from the layer's seeded
//! stream in training; `z = μ` at inference. No parameters.

use super::describe::{Described, Op};
use super::layer::{Backward, Forward, Mode, Part, TensorLayout};
use ae_engine::{ParamGrads, Workspace};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Sampling of an `latent`-unit Gaussian code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub latent: usize,
}

impl Part for Sample {
    fn input_len(&self) -> usize {
        2 * self.latent
    }

    fn output_len(&self) -> usize {
        self.latent
    }

    fn tensors(&self) -> [TensorLayout; 2] {
        [TensorLayout::vector(0), TensorLayout::vector(0)]
    }

    fn init(&self, _: &mut [f32], _: &mut ChaCha8Rng) {}

    fn macs(&self) -> usize {
        0
    }

    fn kernel(&self) -> String {
        "sample".into()
    }

    fn describe(&self) -> Described {
        Described { op: Op::GaussianSample, input: vec![2 * self.latent], output: vec![self.latent] }
    }

    fn forward(&self, _: &[f32], _: &[f32], p: Forward, _: &mut Workspace) {
        let l = self.latent;
        let rows = p.x.chunks_exact(2 * l).zip(p.y.chunks_exact_mut(l));
        match p.mode {
            Mode::Train(cache) => {
                let n = p.x.len() / (2 * l);
                cache.noise.clear();
                let draw = |rng: &mut ChaCha8Rng| -> f32 { StandardNormal.sample(rng) };
                cache.noise.extend((0..n * l).map(|_| draw(&mut cache.rng)));
                for ((x, y), eps) in rows.zip(cache.noise.chunks_exact(l)) {
                    let (mu, log_var) = x.split_at(l);
                    for (((z, m), v), e) in y.iter_mut().zip(mu).zip(log_var).zip(eps) {
                        *z = m + (0.5 * v).exp() * e;
                    }
                }
            }
            Mode::Eval(_) => rows.for_each(|(x, y)| y.copy_from_slice(&x[..l])),
        }
    }

    fn backward(&self, _: &[f32], p: Backward, _: ParamGrads, _: &mut Workspace) {
        let l = self.latent;
        let Some(dx) = p.dx else { return };
        let rows = p.x.chunks_exact(2 * l).zip(dx.chunks_exact_mut(2 * l));
        for (((x, dx), dz), eps) in rows.zip(p.dy.chunks_exact(l)).zip(p.cache.noise.chunks_exact(l)) {
            let (d_mu, d_log_var) = dx.split_at_mut(l);
            d_mu.copy_from_slice(dz);
            // ∂z/∂(log σ²) = ε · σ / 2.
            for (((d, v), g), e) in d_log_var.iter_mut().zip(&x[l..]).zip(dz).zip(eps) {
                *d = g * e * 0.5 * (0.5 * v).exp();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cache;
    use ae_engine::Activation;

    #[test]
    fn gradients_match_finite_differences_for_fixed_draws() {
        let layer = Sample { latent: 3 };
        let x: Vec<f32> = (0..12).map(|i| ((i as f32) * 0.7).sin()).collect();
        let weights: Vec<f64> = (0..6).map(|i| ((i as f64) * 1.3).cos()).collect();
        let mut cache = Cache::new(5);
        let mut ws = Workspace::new(1);
        let mut y = vec![0.0; 6];
        let forward = |layer: &Sample, x: &[f32], cache: &mut Cache, y: &mut [f32], ws: &mut Workspace| {
            let mode = Mode::Train(cache);
            layer.forward(&[], &[], Forward { x, act: Activation::Identity, y, mode }, ws);
        };
        forward(&layer, &x, &mut cache, &mut y, &mut ws);
        let eps = cache.noise.clone();
        assert!(eps.iter().all(|e| e.is_finite()) && eps.iter().any(|e| e.abs() > 0.1));
        let mut dy: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
        let mut dx = vec![0.0; 12];
        let (mut dw, mut db) = (vec![], vec![]);
        let pass = Backward {
            x: &x,
            act: Activation::Identity,
            y: &y,
            dy: &mut dy,
            dx: Some(&mut dx),
            cache: &cache,
        };
        layer.backward(&[], pass, ParamGrads { weight: &mut dw, bias: &mut db }, &mut ws);
        // z = μ + exp(v/2)·ε with the same ε, in f64.
        let loss = |x: &[f64]| -> f64 {
            (0..2)
                .flat_map(|n| (0..3).map(move |k| (n, k)))
                .map(|(n, k)| {
                    weights[n * 3 + k]
                        * (x[n * 6 + k] + (0.5 * x[n * 6 + 3 + k]).exp() * eps[n * 3 + k] as f64)
                })
                .sum()
        };
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        for i in 0..12 {
            let (mut up, mut down) = (x64.clone(), x64.clone());
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let numeric = (loss(&up) - loss(&down)) / 2e-6;
            assert!((numeric - dx[i] as f64).abs() < 1e-5, "x[{i}]: {numeric} vs {}", dx[i]);
        }
        // Inference takes the mean.
        let mode = Mode::Eval(None);
        layer.forward(&[], &[], Forward { x: &x, act: Activation::Identity, y: &mut y, mode }, &mut ws);
        assert_eq!(y, [x[0], x[1], x[2], x[6], x[7], x[8]]);
    }
}
