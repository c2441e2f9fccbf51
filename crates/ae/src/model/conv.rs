//! Convolutions: strided ones (`nn.Conv2d`) down the encoder, transposed ones
//! (`nn.ConvTranspose2d`) up the decoder. Both keep their kernel as the engine's
//! `[kh, kw, big channels, small channels]`.

use super::layer::{glorot, Backward, Forward, Part, TensorLayout};
use ae_engine::{
    conv_backward, conv_forward, conv_transpose_backward, conv_transpose_forward, ConvGeometry, ParamGrads,
    Workspace,
};
use rand_chacha::ChaCha8Rng;

/// A convolution from `geometry.big` to `geometry.small`, or with `transposed`, from `small` up
/// to `big`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv {
    pub geometry: ConvGeometry,
    pub transposed: bool,
}

impl Part for Conv {
    fn input_len(&self) -> usize {
        let g = &self.geometry;
        if self.transposed {
            g.small.len()
        } else {
            g.big.len()
        }
    }

    fn output_len(&self) -> usize {
        let g = &self.geometry;
        if self.transposed {
            g.big.len()
        } else {
            g.small.len()
        }
    }

    fn tensors(&self) -> [TensorLayout; 2] {
        let g = &self.geometry;
        // Conv2d stores [out (small), in (big), kh, kw], ConvTranspose2d [in (small), out (big),
        // kh, kw]: the same permutation of the engine's kernel.
        let engine = vec![g.kernel, g.kernel, g.big.channels, g.small.channels];
        let axes = vec![3, 2, 0, 1];
        let stored = axes.iter().map(|&a| engine[a]).collect();
        let outputs = if self.transposed { g.big.channels } else { g.small.channels };
        [TensorLayout { engine, axes, stored }, TensorLayout::vector(outputs)]
    }

    fn init(&self, weight: &mut [f32], rng: &mut ChaCha8Rng) {
        let g = &self.geometry;
        glorot(weight, g.kernel * g.kernel * (g.big.channels + g.small.channels), rng);
    }

    fn macs(&self) -> usize {
        self.geometry.macs()
    }

    fn scratch(&self, _batch: usize, parts: usize) -> usize {
        self.geometry.scratch_bound(parts)
    }

    fn kernel(&self) -> String {
        format!("{:?}", self.geometry.algorithm).to_lowercase()
    }

    fn forward(&self, w: &[f32], b: &[f32], p: Forward, ws: &mut Workspace) {
        let g = &self.geometry;
        if self.transposed {
            conv_transpose_forward(g, p.x, w, b, p.act, p.y, ws)
        } else {
            conv_forward(g, p.x, w, b, p.act, p.y, ws)
        }
    }

    fn backward(&self, w: &[f32], p: Backward, grads: ParamGrads, ws: &mut Workspace) {
        let g = &self.geometry;
        if self.transposed {
            conv_transpose_backward(g, p.x, w, p.act, p.y, p.dy, p.dx, grads, ws)
        } else {
            conv_backward(g, p.x, w, p.act, p.y, p.dy, p.dx, grads, ws)
        }
    }
}
