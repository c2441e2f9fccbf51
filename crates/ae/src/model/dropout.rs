//! Dropout (Srivastava et al. 2014; PyTorch's `nn.Dropout`): in training each value is zeroed with
//! probability `p` and the others scaled by `1 / (1 − p)`, drawn from the layer's seeded stream;
//! at inference the identity. No parameters.

use super::describe::{Described, Op};
use super::layer::{Backward, Forward, Mode, Part, TensorLayout};
use ae_engine::{Activation, ParamGrads, Workspace};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Dropout over `len` values per image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    pub len: usize,
    pub p: f32,
}

impl Part for Dropout {
    fn input_len(&self) -> usize {
        self.len
    }

    fn output_len(&self) -> usize {
        self.len
    }

    fn tensors(&self) -> [TensorLayout; 2] {
        [TensorLayout::vector(0), TensorLayout::vector(0)]
    }

    fn init(&self, _: &mut [f32], _: &mut ChaCha8Rng) {}

    fn macs(&self) -> usize {
        0
    }

    fn kernel(&self) -> String {
        "dropout".into()
    }

    fn describe(&self) -> Described {
        Described { op: Op::Dropout { p: self.p }, input: vec![self.len], output: vec![self.len] }
    }

    fn forward(&self, _: &[f32], _: &[f32], p: Forward, _: &mut Workspace) {
        // The activation stays with the layer before (the code's sigmoid).
        assert_eq!(p.act, Activation::Identity, "dropout applies no activation of its own");
        match p.mode {
            Mode::Train(cache) => {
                // The mask, kept for the backward pass: 0, or the scale that keeps the mean.
                let scale = 1.0 / (1.0 - self.p);
                let (rate, rng) = (self.p, &mut cache.rng);
                cache.noise.clear();
                cache
                    .noise
                    .extend((0..p.x.len()).map(|_| if rng.random::<f32>() < rate { 0.0 } else { scale }));
                for ((y, x), m) in p.y.iter_mut().zip(p.x).zip(&cache.noise) {
                    *y = x * m;
                }
            }
            Mode::Eval(_) => p.y.copy_from_slice(p.x),
        }
    }

    fn backward(&self, _: &[f32], p: Backward, _: ParamGrads, _: &mut Workspace) {
        let Some(dx) = p.dx else { return };
        for ((d, g), m) in dx.iter_mut().zip(p.dy.iter()).zip(&p.cache.noise) {
            *d = g * m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cache;

    #[test]
    fn training_drops_a_fraction_p_and_keeps_the_mean_and_inference_passes_through() {
        let layer = Dropout { len: 4, p: 0.25 };
        let x = vec![2.0f32; 40_000];
        let (mut y, mut ws, mut cache) = (vec![0.0; x.len()], Workspace::new(1), Cache::new(7));
        let pass = Forward { x: &x, act: Activation::Identity, y: &mut y, mode: Mode::Train(&mut cache) };
        layer.forward(&[], &[], pass, &mut ws);
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((dropped - 0.25).abs() < 0.01, "{dropped}");
        assert!(y.iter().all(|&v| v == 0.0 || v == 2.0 / 0.75));
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
        assert!((mean - 2.0).abs() < 0.03, "{mean}");
        // The gradient goes through the kept values, scaled alike, and not the dropped ones.
        let mut dy = vec![1.0f32; x.len()];
        let mut dx = vec![5.0f32; x.len()];
        let pass = Backward {
            x: &x,
            act: Activation::Identity,
            y: &y,
            dy: &mut dy,
            dx: Some(&mut dx),
            cache: &cache,
        };
        layer.backward(&[], pass, ParamGrads { weight: &mut [], bias: &mut [] }, &mut ws);
        assert!(dx.iter().zip(&y).all(|(d, v)| *d == v / 2.0));
        let mut out = vec![0.0; 8];
        let pass = Forward { x: &x[..8], act: Activation::Identity, y: &mut out, mode: Mode::Eval(None) };
        layer.forward(&[], &[], pass, &mut ws);
        assert_eq!(out, x[..8]);
    }
}
