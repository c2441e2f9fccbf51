//! A fully connected layer (`nn.Linear`): the code layer, and the decoder's projection of a code
//! that does not reshape to its first feature map.

use super::describe::{chw, Described, Op};
use super::layer::{glorot, Backward, Forward, Part, TensorLayout};
use ae_engine::{dense_backward, dense_forward, DenseShape, ParamGrads, Shape, Workspace};
use rand_chacha::ChaCha8Rng;

/// A dense layer over the feature maps `input` and `output` (`1×1×n` for plain vectors). The
/// engine keeps their values in H, W, C order; PyTorch flattens and reshapes in C, H, W order,
/// which is how the model file stores the weight's rows and columns and the bias.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense {
    pub input: Shape,
    pub output: Shape,
}

impl Dense {
    pub fn shape(&self) -> DenseShape {
        DenseShape { inputs: self.input.len(), outputs: self.output.len() }
    }
}

impl Part for Dense {
    fn input_len(&self) -> usize {
        self.input.len()
    }

    fn output_len(&self) -> usize {
        self.output.len()
    }

    fn tensors(&self) -> [TensorLayout; 2] {
        let (i, o) = (self.input, self.output);
        // Engine [inputs, outputs] as [ih, iw, ic, oh, ow, oc] → Linear [oc, oh, ow, ic, ih, iw],
        // stored as [outputs, inputs]; the bias [oh, ow, oc] → [oc, oh, ow].
        let engine = vec![i.height, i.width, i.channels, o.height, o.width, o.channels];
        let weight = TensorLayout { engine, axes: vec![5, 3, 4, 2, 0, 1], stored: vec![o.len(), i.len()] };
        let bias = TensorLayout {
            engine: vec![o.height, o.width, o.channels],
            axes: vec![2, 0, 1],
            stored: vec![o.len()],
        };
        [weight, bias]
    }

    fn init(&self, weight: &mut [f32], rng: &mut ChaCha8Rng) {
        glorot(weight, self.input.len() + self.output.len(), rng);
    }

    fn macs(&self) -> usize {
        self.input.len() * self.output.len()
    }

    fn scratch(&self, batch: usize, parts: usize) -> usize {
        self.shape().scratch_bound(batch, parts)
    }

    fn kernel(&self) -> String {
        "gemm".into()
    }

    /// Its input is always taken as a vector; its output is a map when it makes one.
    fn describe(&self) -> Described {
        let o = self.output;
        let output = if o.height * o.width > 1 { chw(o) } else { vec![o.len()] };
        Described { op: Op::Linear, input: vec![self.input.len()], output }
    }

    fn forward(&self, w: &[f32], b: &[f32], p: Forward, ws: &mut Workspace) {
        dense_forward(&self.shape(), p.x, w, b, p.act, p.y, ws)
    }

    fn backward(&self, w: &[f32], p: Backward, grads: ParamGrads, ws: &mut Workspace) {
        dense_backward(&self.shape(), p.x, w, p.act, p.y, p.dy, p.dx, grads, ws)
    }
}
