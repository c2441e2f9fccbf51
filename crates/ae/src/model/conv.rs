//! Convolutions: strided ones (`nn.Conv2d`) down the encoder, transposed ones
//! (`nn.ConvTranspose2d`) up the decoder. Both keep their kernel as the engine's
//! `[kh, kw, big channels, small channels]`.

use super::describe::{chw, sides, Described, Op};
use super::layer::{glorot, Backward, Forward, Part, TensorLayout};
use ae_engine::{
    conv_backward, conv_forward, conv_transpose_backward, conv_transpose_forward, Activation, ConvGeometry,
    Epilogue, ParamGrads, Workspace,
};
use rand_chacha::ChaCha8Rng;

/// A convolution from `geometry.big` to `geometry.small`, or with `transposed`, from `small` up
/// to `big`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv {
    pub geometry: ConvGeometry,
    pub transposed: bool,
}

impl Conv {
    fn run(&self, w: &[f32], x: &[f32], y: &mut [f32], epilogue: Epilogue<'_>, ws: &mut Workspace) {
        let g = &self.geometry;
        if self.transposed {
            conv_transpose_forward(g, x, w, epilogue, y, ws)
        } else {
            conv_forward(g, x, w, epilogue, y, ws)
        }
    }
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

    fn describe(&self) -> Described {
        let g = &self.geometry;
        let (before, after) = sides(g);
        // A negative "after" is rows the kernel never reaches: no padding (a conv), or zero rows
        // added after the transposed conv's full output.
        let [bottom, right] = after.map(|a| a.max(0) as usize);
        let (kernel, stride) = (g.kernel, g.stride);
        if self.transposed {
            let output_padding = after.map(|a| (-a).max(0) as usize);
            let crop = [before[0], before[1], bottom, right];
            let op = Op::ConvTranspose2d { kernel, stride, crop, output_padding };
            Described { op, input: chw(g.small), output: chw(g.big) }
        } else {
            let op = Op::Conv2d { kernel, stride, pads: [before[0], before[1], bottom, right] };
            Described { op, input: chw(g.big), output: chw(g.small) }
        }
    }

    fn forward(&self, w: &[f32], b: &[f32], p: Forward, ws: &mut Workspace) {
        self.run(w, p.x, p.y, Epilogue::new(b, p.act), ws);
    }

    fn forward_normalised(
        &self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        y: &mut [f32],
        norm: (&[f32], &[f32]),
        act: Activation,
        ws: &mut Workspace,
    ) -> bool {
        self.run(w, x, y, Epilogue { bias: b, norm: Some(norm), act }, ws);
        true
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
