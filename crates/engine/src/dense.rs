//! Fully connected layer over a batch: `y = act(x · W + b)` with `W` row-major `[inputs, outputs]`.
//!
//! The code layer is short and wide (batch 50, 32768 inputs, 256 outputs): a GEMM library splits
//! such a product poorly, so the work is split over the inputs by hand, one slice per thread,
//! with the partial sums added in a fixed order (bit-identical results for a given thread count).

use crate::activation::{add_column_sums, Activation};
use crate::conv::ParamGrads;
use crate::matmul::{matmul, MatRef, Threads};
use crate::workspace::Workspace;
use rayon::prelude::*;

/// Rows of the weight gradient computed per `gemm` call in the backward pass.
const DW_ROWS: usize = 1024;

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

    /// Inputs per slice when split over `parts` threads.
    fn slice(&self, parts: usize) -> usize {
        self.inputs.div_ceil(parts.max(1))
    }
}

pub fn dense_forward(
    s: &DenseShape,
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    act: Activation,
    output: &mut [f32],
    ws: &mut Workspace,
) {
    let n = s.batch(input, output, weight, bias);
    let per = s.slice(ws.len());
    ws.reserve(n * s.outputs, 0, 0);
    let used = s.inputs.div_ceil(per);
    ws.parts_mut()[..used].par_iter_mut().enumerate().for_each(|(p, part)| {
        let (k0, k1) = (p * per, ((p + 1) * per).min(s.inputs));
        // Columns k0..k1 of x times rows k0..k1 of W.
        let x = MatRef::strided(&input[k0..], n, k1 - k0, s.inputs, 1);
        let w = MatRef::new(&weight[k0 * s.outputs..k1 * s.outputs], k1 - k0, s.outputs);
        matmul(&mut part.cols[..n * s.outputs], x, w, false, Threads::Serial);
    });
    output.copy_from_slice(&ws.parts()[0].cols[..output.len()]);
    for part in &ws.parts()[1..used] {
        output.iter_mut().zip(&part.cols).for_each(|(y, p)| *y += p);
    }
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
    ws: &mut Workspace,
) {
    let n = s.batch(input, output, weight, grads.bias);
    act.backprop(output, output_grad);
    grads.bias.fill(0.0);
    add_column_sums(output_grad, grads.bias);
    let dy = MatRef::new(output_grad, n, s.outputs);
    let per = s.slice(ws.len());
    let want_dx = input_grad.is_some();
    ws.reserve(if want_dx { n * per } else { 0 }, 0, 0);
    // Each thread owns rows k0..k1 of ∂W and columns k0..k1 of ∂x (into its scratch first).
    grads.weight.par_chunks_mut(per * s.outputs).zip(ws.parts_mut().par_iter_mut()).enumerate().for_each(
        |(p, (dw, part))| {
            let (k0, k1) = (p * per, ((p + 1) * per).min(s.inputs));
            // ∂W rows k0..k1 = x[:, k0..k1]ᵀ · ∂y, a block of rows at a time: `gemm` runs this
            // thin product (inner size = the batch) a third faster in blocks than whole, with the
            // same sums in the same order.
            for (r0, dw) in (k0..k1).step_by(DW_ROWS).zip(dw.chunks_mut(DW_ROWS * s.outputs)) {
                let rows = DW_ROWS.min(k1 - r0);
                let x_t = MatRef::strided(&input[r0..], rows, n, 1, s.inputs);
                matmul(dw, x_t, dy, false, Threads::Serial);
            }
            if want_dx {
                let w_t = MatRef::transposed(&weight[k0 * s.outputs..k1 * s.outputs], k1 - k0, s.outputs);
                matmul(&mut part.cols[..n * (k1 - k0)], dy, w_t, false, Threads::Serial);
            }
        },
    );
    if let Some(dx) = input_grad {
        for (p, part) in ws.parts().iter().enumerate().take(s.inputs.div_ceil(per)) {
            let (k0, k1) = (p * per, ((p + 1) * per).min(s.inputs));
            for (row, src) in dx.chunks_exact_mut(s.inputs).zip(part.cols.chunks_exact(k1 - k0)) {
                row[k0..k1].copy_from_slice(src);
            }
        }
    }
}
