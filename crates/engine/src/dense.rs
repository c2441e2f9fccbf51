//! Fully connected layer over a batch: `y = act(x · W + b)` with `W` row-major `[inputs, outputs]`.

use crate::activation::{add_column_sums, Activation};
use crate::conv::ParamGrads;
use crate::matmul::{matmul, MatRef, Threads};

/// Sizes of a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseShape {
    pub inputs: usize,
    pub outputs: usize,
}

impl DenseShape {
    fn batch(&self, input: &[f32], output: &[f32], weight: &[f32], bias: &[f32]) -> usize {
        let n = input.len() / self.inputs;
        assert_eq!(input.len(), n * self.inputs, "input is not a whole batch");
        assert_eq!(output.len(), n * self.outputs, "output does not match the batch");
        assert_eq!(weight.len(), self.inputs * self.outputs, "weight has the wrong length");
        assert_eq!(bias.len(), self.outputs, "bias has the wrong length");
        n
    }
}

pub fn dense_forward(
    s: &DenseShape,
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    act: Activation,
    output: &mut [f32],
) {
    let n = s.batch(input, output, weight, bias);
    let x = MatRef::new(input, n, s.inputs);
    matmul(output, x, MatRef::new(weight, s.inputs, s.outputs), false, Threads::Pool);
    act.add_bias_and_apply(output, bias);
}

/// Backward; `output_grad` becomes ∂L/∂pre-activation in place, `input_grad` is optional.
#[allow(clippy::too_many_arguments)]
pub fn dense_backward(
    s: &DenseShape,
    input: &[f32],
    weight: &[f32],
    act: Activation,
    output: &[f32],
    output_grad: &mut [f32],
    input_grad: Option<&mut [f32]>,
    grads: ParamGrads<'_>,
) {
    let n = s.batch(input, output, weight, grads.bias);
    act.backprop(output, output_grad);
    grads.bias.fill(0.0);
    add_column_sums(output_grad, grads.bias);
    let dy = MatRef::new(output_grad, n, s.outputs);
    matmul(grads.weight, MatRef::transposed(input, n, s.inputs), dy, false, Threads::Pool);
    if let Some(dx) = input_grad {
        let w_t = MatRef::transposed(weight, s.inputs, s.outputs);
        matmul(dx, dy, w_t, false, Threads::Pool);
    }
}
