//! Fully connected layer over a batch: `y = act(x · W + b)` with `W` row-major `[inputs, outputs]`.
//!
//! The code layer is short and wide (batch 50, 32768 inputs, 256 outputs): a GEMM library splits
//! such a product poorly, so the work is split over the inputs by hand, one slice per thread,
//! with the partial sums added in a fixed order (bit-identical results for a given thread count).

use crate::activation::{add_column_sums, Activation};
use crate::adam::AdamStep;
use crate::geometry::ParamGrads;
use crate::matmul::{matmul, matmul_strided, MatRef, Threads};
use crate::workspace::Workspace;
use rayon::prelude::*;

/// Rows of the weight gradient computed per `gemm` call in the backward pass.
const DW_ROWS: usize = 1024;

/// Rows of the weight gradient computed and applied at a time by [`dense_backward_adam`]: the
/// block's weights, gradient and two moments (1 MB at 256 outputs) stay in the level-2 cache.
const FUSED_ROWS: usize = 256;

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

    /// An upper bound on the scratch values this layer's passes ask of a
    /// [`Workspace`], for the memory check that runs before anything is allocated: per part the
    /// forward pass's partial outputs or the backward pass's slice of ∂x, and a weight-sized
    /// buffer (the fused Adam's block of gradient rows, or the copied `Wᵀ`).
    pub fn scratch_bound(&self, batch: usize, parts: usize) -> usize {
        let parts = parts.max(1);
        let per = self.slice(parts);
        let copy = if aliasing(self.outputs) { self.outputs * transposed_stride(per) } else { 0 };
        parts * (batch * self.outputs.max(per) + copy.max(FUSED_ROWS * self.outputs))
    }

    /// The inputs `k0..k1` of slice `p` when slices hold `per` inputs.
    fn slice_range(&self, p: usize, per: usize) -> (usize, usize) {
        (p * per, ((p + 1) * per).min(self.inputs))
    }
}

/// The start of both backward passes: `output_grad` becomes ∂L/∂pre-activation in place and
/// `bias_grad` its column sums.
fn backprop_to_bias(act: Activation, output: &[f32], output_grad: &mut [f32], bias_grad: &mut [f32]) {
    act.backprop(output, output_grad);
    bias_grad.fill(0.0);
    add_column_sums(output_grad, bias_grad);
}

/// Rows `r0..r0 + rows` of ∂W = xᵀ · ∂y into `dst`; both backward passes compute them this way,
/// so the fused one gives the same sums.
fn weight_grad_rows(
    s: &DenseShape,
    input: &[f32],
    dy: MatRef<'_>,
    (r0, rows): (usize, usize),
    dst: &mut [f32],
) {
    let x_t = MatRef::strided(&input[r0..], rows, input.len() / s.inputs, 1, s.inputs);
    matmul(dst, x_t, dy, false, Threads::Serial);
}

/// Whether rows `stride` values apart alias in the level-1 cache (a multiple of 4 KB): `gemm` then
/// reads `Wᵀ` for ∂x column by column down one cache set (the 256 → 1024 layers' ∂x took 0.96 ms
/// where 0.42 ms does with the copy below).
fn aliasing(stride: usize) -> bool {
    stride.is_multiple_of(1024)
}

/// The row stride of [`transposed_away_from_aliasing`]'s copy of `rows` rows.
fn transposed_stride(rows: usize) -> usize {
    if aliasing(rows) {
        rows + 16
    } else {
        rows
    }
}

/// `Wᵀ` of a row-major `rows × cols` block: a view of `w` as it lies, or, where its rows alias,
/// a copy into `buf` in 16 × 16 blocks whose rows do not. The same values either way, and `gemm`
/// makes the same sums of them.
fn transposed_away_from_aliasing<'a>(
    w: &'a [f32],
    rows: usize,
    cols: usize,
    buf: &'a mut [f32],
) -> MatRef<'a> {
    if !aliasing(cols) {
        return MatRef::transposed(w, rows, cols);
    }
    let stride = transposed_stride(rows);
    let t = &mut buf[..cols * stride];
    for r0 in (0..rows).step_by(16) {
        for c0 in (0..cols).step_by(16) {
            for r in r0..(r0 + 16).min(rows) {
                for c in c0..(c0 + 16).min(cols) {
                    t[c * stride + r] = w[r * cols + c];
                }
            }
        }
    }
    MatRef::strided(t, cols, rows, stride, 1)
}

/// Copies every slice's columns of ∂x from its part's scratch (`batch × slice` values) into `dx`.
fn gather_input_grad(s: &DenseShape, per: usize, ws: &Workspace, dx: &mut [f32]) {
    for (p, part) in ws.parts().iter().enumerate().take(s.inputs.div_ceil(per)) {
        let (k0, k1) = s.slice_range(p, per);
        for (row, src) in dx.chunks_exact_mut(s.inputs).zip(part.cols.chunks_exact(k1 - k0)) {
            row[k0..k1].copy_from_slice(src);
        }
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
        let (k0, k1) = s.slice_range(p, per);
        // Columns k0..k1 of x times rows k0..k1 of W.
        let x = MatRef::strided(&input[k0..], n, k1 - k0, s.inputs, 1);
        let w = MatRef::new(&weight[k0 * s.outputs..k1 * s.outputs], k1 - k0, s.outputs);
        matmul(&mut part.cols[..n * s.outputs], x, w, false, Threads::Serial);
    });
    // The slices' partial products summed in slice order, the bias added and the activation
    // applied, a block of rows at a time in parallel: the same operations on each value as one
    // pass after another, with the block still in cache (a 200 × 12 544 output had taken three
    // serial passes over 10 MB).
    let parts = &ws.parts()[..used];
    let rows = (BLOCK_VALUES / s.outputs).max(1);
    output.par_chunks_mut(rows * s.outputs).enumerate().for_each(|(i, block)| {
        let at = i * rows * s.outputs;
        block.copy_from_slice(&parts[0].cols[at..][..block.len()]);
        for part in &parts[1..] {
            block.iter_mut().zip(&part.cols[at..]).for_each(|(y, p)| *y += p);
        }
        act.add_bias_and_apply(block, bias);
    });
}

/// About how many output values (64 KB) are summed and activated as one task: small outputs in
/// one block, large ones a row or a few at a time.
const BLOCK_VALUES: usize = 16_384;

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
    backprop_to_bias(act, output, output_grad, grads.bias);
    let dy = MatRef::new(output_grad, n, s.outputs);
    let per = s.slice(ws.len());
    let want_dx = input_grad.is_some();
    let copy = if want_dx && aliasing(s.outputs) { s.outputs * transposed_stride(per) } else { 0 };
    ws.reserve(if want_dx { n * per } else { 0 }, copy, 0);
    // Each thread owns rows k0..k1 of ∂W and columns k0..k1 of ∂x (into its scratch first).
    grads.weight.par_chunks_mut(per * s.outputs).zip(ws.parts_mut().par_iter_mut()).enumerate().for_each(
        |(p, (dw, part))| {
            let (k0, k1) = s.slice_range(p, per);
            // ∂W rows k0..k1 = x[:, k0..k1]ᵀ · ∂y, a block of rows at a time: `gemm` runs this
            // thin product (inner size = the batch) a third faster in blocks than whole, with the
            // same sums in the same order.
            for (r0, dw) in (k0..k1).step_by(DW_ROWS).zip(dw.chunks_mut(DW_ROWS * s.outputs)) {
                weight_grad_rows(s, input, dy, (r0, DW_ROWS.min(k1 - r0)), dw);
            }
            if want_dx {
                let w = &weight[k0 * s.outputs..k1 * s.outputs];
                let w_t = transposed_away_from_aliasing(w, k1 - k0, s.outputs, &mut part.weight_grad);
                matmul(&mut part.cols[..n * (k1 - k0)], dy, w_t, false, Threads::Serial);
            }
        },
    );
    if let Some(dx) = input_grad {
        gather_input_grad(s, per, ws, dx);
    }
}

/// [`dense_backward`] with the weight's Adam update folded in: each thread takes a block of rows
/// of `W`, computes their part of ∂x with the old weights, their gradient, and updates them and
/// their moments while all four are in cache. The same numbers as `dense_backward` followed by
/// [`AdamConfig::update`](crate::AdamConfig::update) on the weight, without writing the
/// gradient to memory and reading it back (the code layer's is 33.5 MB, and the update was
/// bound by memory). `bias_grad` is computed as usual, for the caller to apply.
#[allow(clippy::too_many_arguments)]
pub fn dense_backward_adam(
    s: &DenseShape,
    input: &[f32],
    weight: &mut [f32],
    act: Activation,
    output: &[f32],
    output_grad: &mut [f32],
    input_grad: Option<&mut [f32]>,
    bias_grad: &mut [f32],
    adam: AdamStep<'_>,
    ws: &mut Workspace,
) {
    let n = s.batch(input, output, weight, bias_grad);
    let AdamStep { config, step, moments } = adam;
    assert!(moments.m.len() == weight.len() && moments.v.len() == weight.len(), "moments match the weight");
    let lr_t = config.step_size(step);
    backprop_to_bias(act, output, output_grad, bias_grad);
    let dy = MatRef::new(output_grad, n, s.outputs);
    let per = s.slice(ws.len());
    let want_dx = input_grad.is_some();
    ws.reserve(if want_dx { n * per } else { 0 }, FUSED_ROWS * s.outputs, 0);
    let rows = per * s.outputs;
    weight
        .par_chunks_mut(rows)
        .zip(moments.m.par_chunks_mut(rows))
        .zip(moments.v.par_chunks_mut(rows))
        .zip(ws.parts_mut().par_iter_mut())
        .enumerate()
        .for_each(|(p, (((w, m), v), part))| {
            let (k0, k1) = s.slice_range(p, per);
            let block = FUSED_ROWS * s.outputs;
            for (r0, ((w, m), v)) in (k0..k1)
                .step_by(FUSED_ROWS)
                .zip(w.chunks_mut(block).zip(m.chunks_mut(block)).zip(v.chunks_mut(block)))
            {
                let rows = FUSED_ROWS.min(k1 - r0);
                if want_dx {
                    // Columns r0.. of this thread's ∂x = ∂y · W[r0.., :]ᵀ, before W changes.
                    let w_t = MatRef::transposed(w, rows, s.outputs);
                    matmul_strided(&mut part.cols[r0 - k0..], k1 - k0, dy, w_t, false, Threads::Serial);
                }
                let grad = &mut part.weight_grad[..rows * s.outputs];
                weight_grad_rows(s, input, dy, (r0, rows), grad);
                config.update_slice(lr_t, w, grad, m, v);
            }
        });
    if let Some(dx) = input_grad {
        gather_input_grad(s, per, ws, dx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AdamConfig, AdamMoments};

    /// The forward pass sums its slices' partial products in slice order, then adds the bias and
    /// applies the activation: bit for bit what those passes give one after another over the whole
    /// output, for outputs of many blocks (a row a block) and of one, at one to three parts.
    #[test]
    fn forward_sums_the_slices_in_order_then_activates_bit_for_bit() {
        for (inputs, outputs, n) in [(32, 12_544 + 7, 5), (700, 48, 9), (3, 5, 2)] {
            let s = DenseShape { inputs, outputs };
            let x: Vec<f32> = (0..n * inputs).map(|i| (i as f32 * 0.37).sin()).collect();
            let w: Vec<f32> = (0..inputs * outputs).map(|i| (i as f32 * 0.13).cos() * 0.3).collect();
            let b: Vec<f32> = (0..outputs).map(|i| (i as f32 * 0.7).sin() * 0.1).collect();
            for parts in 1..=3 {
                let per = s.slice(parts);
                let mut want = vec![0.0f32; n * outputs];
                for p in 0..inputs.div_ceil(per) {
                    let (k0, k1) = s.slice_range(p, per);
                    let mut partial = vec![0.0f32; n * outputs];
                    let xs = MatRef::strided(&x[k0..], n, k1 - k0, inputs, 1);
                    let ws = MatRef::new(&w[k0 * outputs..k1 * outputs], k1 - k0, outputs);
                    matmul(&mut partial, xs, ws, false, Threads::Serial);
                    if p == 0 {
                        want = partial;
                    } else {
                        want.iter_mut().zip(&partial).for_each(|(y, v)| *y += v);
                    }
                }
                for row in want.chunks_exact_mut(outputs) {
                    for (v, bias) in row.iter_mut().zip(&b) {
                        *v = (*v + bias).max(0.0);
                    }
                }
                let mut got = vec![f32::NAN; n * outputs];
                let mut ws = Workspace::new(parts);
                dense_forward(&s, &x, &w, &b, Activation::Relu, &mut got, &mut ws);
                let differ = got.iter().zip(&want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
                assert_eq!(differ, 0, "{inputs} → {outputs}, {parts} parts: {differ} values differ");
            }
        }
    }

    /// The fused update gives the same bits as the backward pass followed by Adam, for the
    /// input gradient, the bias gradient, the weights and both moments, over several steps,
    /// with row blocks and thread slices that do not divide the inputs evenly.
    #[test]
    fn fused_adam_matches_backward_then_update() {
        let s = DenseShape { inputs: 700, outputs: 48 };
        let n = 5;
        let x: Vec<f32> = (0..n * s.inputs).map(|i| (i as f32 * 0.37).sin()).collect();
        let y: Vec<f32> = (0..n * s.outputs).map(|i| 0.5 + 0.4 * (i as f32 * 0.23).cos()).collect();
        let dy: Vec<f32> = (0..n * s.outputs).map(|i| (i as f32 * 0.71).sin()).collect();
        let adam = AdamConfig::default();
        let start: Vec<f32> = (0..s.inputs * s.outputs).map(|i| (i as f32 * 0.13).cos() * 0.1).collect();
        for parts in [1, 3] {
            let mut ws = Workspace::new(parts);
            let (mut w_plain, mut w_fused) = (start.clone(), start.clone());
            let (mut m_plain, mut m_fused) =
                (AdamMoments::zeros(start.len()), AdamMoments::zeros(start.len()));
            for step in 1..=3 {
                let (mut g_plain, mut g_fused) = (dy.clone(), dy.clone());
                let (mut dx_plain, mut dx_fused) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                let (mut dw, mut db_plain, mut db_fused) =
                    (vec![0.0; start.len()], vec![0.0; s.outputs], vec![0.0; s.outputs]);
                let pg = ParamGrads { weight: &mut dw, bias: &mut db_plain };
                let act = Activation::Sigmoid;
                dense_backward(&s, &x, &w_plain, act, &y, &mut g_plain, Some(&mut dx_plain), pg, &mut ws);
                adam.update(step, &mut w_plain, &dw, &mut m_plain);
                let fused = AdamStep { config: &adam, step, moments: &mut m_fused };
                dense_backward_adam(
                    &s,
                    &x,
                    &mut w_fused,
                    act,
                    &y,
                    &mut g_fused,
                    Some(&mut dx_fused),
                    &mut db_fused,
                    fused,
                    &mut ws,
                );
                let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same(&dx_plain, &dx_fused), "∂x, {parts} parts, step {step}");
                assert!(same(&db_plain, &db_fused), "∂b, {parts} parts, step {step}");
                assert!(same(&w_plain, &w_fused), "weights, {parts} parts, step {step}");
                assert!(same(&m_plain.m, &m_fused.m) && same(&m_plain.v, &m_fused.v), "moments, step {step}");
            }
            assert!(w_fused.iter().zip(&start).any(|(a, b)| a != b), "the weights moved");
        }
    }

    /// Outputs a multiple of 1024 (∂x through the copied `Wᵀ`), with slices of 1024 inputs (the
    /// copy's rows padded) and of 512: ∂x, ∂W and ∂b against f64 sums, and ∂x bit for bit against
    /// the product read from `W` where it lies, as it was computed before the copy.
    #[test]
    fn input_gradient_through_the_copied_transpose_matches_f64_sums() {
        let s = DenseShape { inputs: 1024, outputs: 1024 };
        let n = 3;
        let x: Vec<f32> = (0..n * s.inputs).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..s.inputs * s.outputs).map(|i| (i as f32 * 0.11).cos() * 0.05).collect();
        let y = vec![1.0f32; n * s.outputs];
        let r: Vec<f32> = (0..n * s.outputs).map(|i| (i as f32 * 0.7).cos()).collect();
        for parts in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(parts).build().unwrap();
            let (mut dy, mut dx) = (r.clone(), vec![0.0; n * s.inputs]);
            let (mut dw, mut db) = (vec![0.0; w.len()], vec![0.0; s.outputs]);
            pool.install(|| {
                let mut ws = Workspace::new(parts);
                let grads = ParamGrads { weight: &mut dw, bias: &mut db };
                dense_backward(&s, &x, &w, Activation::Identity, &y, &mut dy, Some(&mut dx), grads, &mut ws);
                // What the memory check counts on covers what the pass took.
                let taken: usize = ws.parts().iter().map(|p| p.cols.len() + p.weight_grad.len()).sum();
                assert!(taken <= s.scratch_bound(n, parts), "{taken} > {}", s.scratch_bound(n, parts));
            });
            for b in 0..n {
                for i in 0..s.inputs {
                    let want: f64 = (0..s.outputs)
                        .map(|o| r[b * s.outputs + o] as f64 * w[i * s.outputs + o] as f64)
                        .sum();
                    let got = dx[b * s.inputs + i] as f64;
                    assert!((got - want).abs() < 1e-4, "{parts} parts: dx[{b}, {i}] {got} vs {want}");
                }
            }
            for (i, o) in [(0, 0), (511, 1023), (512, 7), (1023, 512)] {
                let want: f64 =
                    (0..n).map(|b| x[b * s.inputs + i] as f64 * r[b * s.outputs + o] as f64).sum();
                assert!((dw[i * s.outputs + o] as f64 - want).abs() < 1e-5, "{parts} parts: dW[{i}, {o}]");
            }
            let want_db: f64 = (0..n).map(|b| r[b * s.outputs + 5] as f64).sum();
            assert!((db[5] as f64 - want_db).abs() < 1e-5);
            // The product as it was before the copy, from `W` where it lies: the same bits.
            let per = s.slice(parts);
            let mut bits = vec![0.0f32; n * s.inputs];
            for p in 0..parts {
                let (k0, k1) = s.slice_range(p, per);
                let w_t = MatRef::transposed(&w[k0 * s.outputs..k1 * s.outputs], k1 - k0, s.outputs);
                let dy = MatRef::new(&r, n, s.outputs);
                matmul_strided(&mut bits[k0..], s.inputs, dy, w_t, false, Threads::Serial);
            }
            assert_eq!(dx, bits, "{parts} parts");
        }
    }
}
