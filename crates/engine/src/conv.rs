//! 2-D convolution and transposed convolution over NHWC batches: im2col/col2im plus GEMM in
//! general, Winograd F(4×4, 3×3) for 3×3 kernels at stride 1 (see [`Algorithm`]).
//!
//! Both layers share one [`ConvGeometry`]: a convolution maps its *big* side to its *small* side,
//! and a transposed convolution is the exact adjoint, mapping small back to big. The weight is one
//! row-major matrix `[kernel·kernel·big.channels, small.channels]` for both, which is TensorFlow's
//! kernel layout for `conv2d` (HWIO) and for `conv2d_transpose` (H, W, out, in) alike.

use crate::activation::{add_column_sums, Activation, Epilogue};
use crate::direct;
pub use crate::geometry::{Algorithm, ConvGeometry, Padding, ParamGrads, Shape};
use crate::matmul::{matmul, MatRef, Threads};
use crate::one_channel;
use crate::winograd::{self, Filter, Kernel};
use crate::workspace::{split_batch, Part, Workspace};
use rayon::prelude::*;

/// Sums the per-part partial gradients in a fixed order, so a given thread count always gives
/// bit-identical results.
fn reduce_partials(ws: &Workspace, parts: usize, grads: ParamGrads<'_>) {
    grads.weight.fill(0.0);
    grads.bias.fill(0.0);
    for part in &ws.parts()[..parts] {
        for (g, p) in grads.weight.iter_mut().zip(&part.weight_grad) {
            *g += p;
        }
        for (g, p) in grads.bias.iter_mut().zip(&part.bias_grad) {
            *g += p;
        }
    }
}

/// Convolution forward: `output (small) = act(im2col(input) · W + b)` (with the epilogue's norm
/// between the sum and `act`, where it has one).
pub fn conv_forward(
    g: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    epilogue: Epilogue<'_>,
    output: &mut [f32],
    ws: &mut Workspace,
) {
    let n = g.check(input, output, weight, epilogue.bias, g.small.channels);
    match g.algorithm {
        Algorithm::Winograd => {
            return winograd_forward(g, input, weight, epilogue, output, ws, Kernel::AsStored, n)
        }
        Algorithm::Direct | Algorithm::OneChannel => {
            return direct_forward(g, input, weight, epilogue, output, ws, false, n)
        }
        Algorithm::Im2col => {}
    }
    let per = split_batch(n, ws.len());
    let group = g.images_per_product(per);
    ws.reserve(group * g.cols_len(), 0, 0);
    output
        .par_chunks_mut(per * g.small.len())
        .zip(input.par_chunks(per * g.big.len()))
        .zip(ws.parts_mut().par_iter_mut())
        .for_each(|((out, inp), part)| {
            for (y, x) in out.chunks_mut(group * g.small.len()).zip(inp.chunks(group * g.big.len())) {
                let images = x.len() / g.big.len();
                let cols = &mut part.cols[..images * g.cols_len()];
                g.im2col(x, cols);
                let a = MatRef::new(cols, images * g.small.pixels(), g.window());
                matmul(y, a, MatRef::new(weight, g.window(), g.small.channels), false, Threads::Serial);
                epilogue.apply(y);
            }
        });
}

/// Convolution backward. `output_grad` (∂L/∂output) is turned into ∂L/∂pre-activation in place;
/// `input_grad` is skipped when `None` (the first layer needs none).
#[allow(clippy::too_many_arguments)]
pub fn conv_backward(
    g: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    act: Activation,
    output: &[f32],
    output_grad: &mut [f32],
    input_grad: Option<&mut [f32]>,
    grads: ParamGrads<'_>,
    ws: &mut Workspace,
) {
    let n = g.check(input, output, weight, grads.bias, g.small.channels);
    assert_eq!(output_grad.len(), output.len());
    let sides = Sides { input, output, output_grad, input_grad };
    match g.algorithm {
        Algorithm::Winograd => return winograd_backward(g, weight, act, sides, grads, ws, false, n),
        Algorithm::Direct | Algorithm::OneChannel => {
            return direct_backward(g, weight, act, sides, grads, ws, false, n)
        }
        Algorithm::Im2col => {}
    }
    let per = split_batch(n, ws.len());
    let group = g.images_per_product(per);
    ws.reserve(group * g.cols_len(), g.weight_len(), g.small.channels);
    let lens = (g.big.len(), g.small.len());
    for_each_part(sides, lens, per, ws.parts_mut(), |PartSlices { dout, out, inp, mut dinp }, part| {
        let (dw, db) = (&mut part.weight_grad[..g.weight_len()], &mut part.bias_grad[..g.small.channels]);
        dw.fill(0.0);
        db.fill(0.0);
        act.backprop(out, dout);
        let steps = dout.chunks(group * g.small.len()).zip(inp.chunks(group * g.big.len()));
        for (i, (dy, x)) in steps.enumerate() {
            let images = x.len() / g.big.len();
            let cols = &mut part.cols[..images * g.cols_len()];
            add_column_sums(dy, db);
            g.im2col(x, cols);
            let rows = images * g.small.pixels();
            let dy_mat = MatRef::new(dy, rows, g.small.channels);
            // ∂W += colsᵀ · ∂y
            matmul(dw, MatRef::transposed(cols, rows, g.window()), dy_mat, true, Threads::Serial);
            if let Some(dx) = dinp.as_deref_mut() {
                // ∂cols = ∂y · Wᵀ, scattered back onto the input images.
                let w_t = MatRef::transposed(weight, g.window(), g.small.channels);
                matmul(cols, dy_mat, w_t, false, Threads::Serial);
                let dx = &mut dx[i * group * g.big.len()..][..images * g.big.len()];
                dx.fill(0.0);
                g.col2im_add(cols, dx);
            }
        }
    });
    reduce_partials(ws, n.div_ceil(per), grads);
}

/// Transposed convolution forward: `output (big) = act(col2im(input · Wᵀ) + b)`.
pub fn conv_transpose_forward(
    g: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    epilogue: Epilogue<'_>,
    output: &mut [f32],
    ws: &mut Workspace,
) {
    let n = g.check(output, input, weight, epilogue.bias, g.big.channels);
    match g.algorithm {
        Algorithm::Winograd => {
            return winograd_forward(g, input, weight, epilogue, output, ws, Kernel::Rotated, n)
        }
        Algorithm::Direct | Algorithm::OneChannel => {
            return direct_forward(g, input, weight, epilogue, output, ws, true, n)
        }
        Algorithm::Im2col => {}
    }
    let per = split_batch(n, ws.len());
    let group = g.images_per_product(per);
    ws.reserve(group * g.cols_len(), 0, 0);
    output
        .par_chunks_mut(per * g.big.len())
        .zip(input.par_chunks(per * g.small.len()))
        .zip(ws.parts_mut().par_iter_mut())
        .for_each(|((out, inp), part)| {
            for (y, x) in out.chunks_mut(group * g.big.len()).zip(inp.chunks(group * g.small.len())) {
                let images = x.len() / g.small.len();
                let cols = &mut part.cols[..images * g.cols_len()];
                let x_mat = MatRef::new(x, images * g.small.pixels(), g.small.channels);
                let w_t = MatRef::transposed(weight, g.window(), g.small.channels);
                matmul(cols, x_mat, w_t, false, Threads::Serial);
                y.fill(0.0);
                g.col2im_add(cols, y);
                epilogue.apply(y);
            }
        });
}

/// Transposed convolution backward; the same in-place and `None` conventions as [`conv_backward`].
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose_backward(
    g: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    act: Activation,
    output: &[f32],
    output_grad: &mut [f32],
    input_grad: Option<&mut [f32]>,
    grads: ParamGrads<'_>,
    ws: &mut Workspace,
) {
    let n = g.check(output, input, weight, grads.bias, g.big.channels);
    assert_eq!(output_grad.len(), output.len());
    let sides = Sides { input, output, output_grad, input_grad };
    match g.algorithm {
        Algorithm::Winograd => return winograd_backward(g, weight, act, sides, grads, ws, true, n),
        Algorithm::Direct | Algorithm::OneChannel => {
            return direct_backward(g, weight, act, sides, grads, ws, true, n)
        }
        Algorithm::Im2col => {}
    }
    let per = split_batch(n, ws.len());
    let group = g.images_per_product(per);
    ws.reserve(group * g.cols_len(), g.weight_len(), g.big.channels);
    let lens = (g.small.len(), g.big.len());
    for_each_part(sides, lens, per, ws.parts_mut(), |PartSlices { dout, out, inp, mut dinp }, part| {
        let (dw, db) = (&mut part.weight_grad[..g.weight_len()], &mut part.bias_grad[..g.big.channels]);
        dw.fill(0.0);
        db.fill(0.0);
        act.backprop(out, dout);
        let steps = dout.chunks(group * g.big.len()).zip(inp.chunks(group * g.small.len()));
        for (i, (dy, x)) in steps.enumerate() {
            let images = x.len() / g.small.len();
            let cols = &mut part.cols[..images * g.cols_len()];
            add_column_sums(dy, db);
            g.im2col(dy, cols);
            let rows = images * g.small.pixels();
            let x_mat = MatRef::new(x, rows, g.small.channels);
            // ∂W += im2col(∂y)ᵀ · x
            matmul(dw, MatRef::transposed(cols, rows, g.window()), x_mat, true, Threads::Serial);
            if let Some(dx) = dinp.as_deref_mut() {
                // ∂x = im2col(∂y) · W: a plain convolution of the output gradient.
                let dx = &mut dx[i * group * g.small.len()..][..images * g.small.len()];
                let cols = MatRef::new(cols, rows, g.window());
                matmul(dx, cols, MatRef::new(weight, g.window(), g.small.channels), false, Threads::Serial);
            }
        }
    });
    reduce_partials(ws, n.div_ceil(per), grads);
}

/// Forward pass of either layer by Winograd: the convolution correlates with its kernel as
/// stored, the transposed convolution with the kernel rotated (the adjoint at stride 1).
#[allow(clippy::too_many_arguments)]
fn winograd_forward(
    g: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    epilogue: Epilogue<'_>,
    output: &mut [f32],
    ws: &mut Workspace,
    kernel: Kernel,
    n: usize,
) {
    let (a, b) = (g.big.channels, g.small.channels);
    ws.reserve_tiles(Filter::buffer_len(a, b), a.max(b), 0);
    let per = split_batch(n, ws.len());
    let (buf, parts) = ws.filter_and_parts_mut();
    let filter = Filter::transform(weight, a, b, kernel, buf);
    let (inputs, outputs) = (filter.inputs, filter.outputs);
    output
        .par_chunks_mut(per * g.small.pixels() * outputs)
        .zip(input.par_chunks(per * g.small.pixels() * inputs))
        .zip(parts.par_iter_mut())
        .for_each(|((out, inp), part)| {
            let size = (g.small.height, g.small.width);
            let step = winograd::images_per_block(size);
            let (out_step, in_step) = (step * g.small.pixels() * outputs, step * g.small.pixels() * inputs);
            // A few images at a time, so the bias and activation find the output still in cache.
            for (y, x) in out.chunks_mut(out_step).zip(inp.chunks(in_step)) {
                winograd::correlate(x, y, size, &filter, &mut part.tiles, false);
                epilogue.apply(y);
            }
        });
}

/// The tensors of one backward call, named from the layer's point of view.
struct Sides<'a, 'b> {
    input: &'a [f32],
    output: &'a [f32],
    output_grad: &'a mut [f32],
    input_grad: Option<&'b mut [f32]>,
}

/// Input gradients of at least this many values (8 MB, four times a core's level-2 cache) are
/// written with streamed stores.
const STREAM_VALUES: usize = 1 << 21;

/// Backward pass of either layer by Winograd. The input gradient correlates the output gradient
/// with the kernel the forward pass did not use; the kernel gradient pairs the output gradient
/// with the input, and both start from the same transform of the output gradient
/// ([`winograd::backward`]).
#[allow(clippy::too_many_arguments)]
fn winograd_backward(
    g: &ConvGeometry,
    weight: &[f32],
    act: Activation,
    sides: Sides<'_, '_>,
    grads: ParamGrads<'_>,
    ws: &mut Workspace,
    transpose: bool,
    n: usize,
) {
    let (a, b) = (g.big.channels, g.small.channels);
    let (inputs, outputs) = if transpose { (b, a) } else { (a, b) };
    let pixels = g.small.pixels();
    ws.reserve(0, g.weight_len(), outputs);
    ws.reserve_tiles(Filter::buffer_len(a, b), a.max(b), winograd::filter_len(a, b));
    let per = split_batch(n, ws.len());
    let (buf, parts) = ws.filter_and_parts_mut();
    let input_grad_kernel = if transpose { Kernel::AsStored } else { Kernel::Rotated };
    let filter = Filter::transform(weight, a, b, input_grad_kernel, buf);
    let lens = (pixels * inputs, pixels * outputs);
    // An input gradient too big to stay in cache until the next layer reads it is written
    // around the caches, saving the read of every line before its write.
    let stream_dx = n * lens.0 >= STREAM_VALUES;
    for_each_part(sides, lens, per, parts, |PartSlices { dout, out, inp, mut dinp }, part| {
        let size = (g.small.height, g.small.width);
        let (dw, db) = (&mut part.weight_grad[..g.weight_len()], &mut part.bias_grad[..outputs]);
        db.fill(0.0);
        let acc = &mut part.kernel_acc[..winograd::filter_len(a, b)];
        acc.fill(0.0);
        // A few images at a time, so every pass over the output gradient finds it in cache.
        let step = winograd::images_per_block(size);
        let (out_step, in_step) = (step * pixels * outputs, step * pixels * inputs);
        let mut dx_chunks = dinp.as_deref_mut().map(|dx| dx.chunks_mut(in_step));
        for ((dy, y), x) in dout.chunks_mut(out_step).zip(out.chunks(out_step)).zip(inp.chunks(in_step)) {
            act.backprop(y, dy);
            add_column_sums(dy, db);
            let dx = dx_chunks.as_mut().and_then(Iterator::next);
            winograd::backward(dy, x, dx, size, &filter, acc, &mut part.tiles, stream_dx);
        }
        winograd::finish_kernel_grad(acc, a, b, filter.kernel, dw);
    });
    reduce_partials(ws, n.div_ceil(per), grads);
}

/// The product of one image a forward pass makes by loops (`Algorithm::Direct` or `OneChannel`):
/// a transposed convolution (`transpose`) from small to big, a convolution from big to small.
/// `rows` is [`direct::gather_rows`]'s weight, for the direct loops' gather; `scratch` the
/// one-channel loops' frame.
fn loop_product(
    g: &ConvGeometry,
    transpose: bool,
    x: &[f32],
    weight: &[f32],
    rows: &[f32],
    y: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    match (g.algorithm, transpose) {
        (Algorithm::OneChannel, true) => one_channel::collect(g, x, weight, y, scratch),
        (Algorithm::OneChannel, false) => one_channel::spread(g, x, weight, y),
        (_, true) => direct::scatter(g, x, weight, y),
        (_, false) => direct::gather(g, x, rows, y),
    }
}

/// Forward pass of either layer by loops over the kernel taps: a transposed convolution scatters
/// each small-side pixel over its taps, a convolution gathers them.
#[allow(clippy::too_many_arguments)]
fn direct_forward(
    g: &ConvGeometry,
    input: &[f32],
    weight: &[f32],
    epilogue: Epilogue<'_>,
    output: &mut [f32],
    ws: &mut Workspace,
    transpose: bool,
    n: usize,
) {
    let (in_len, out_len) =
        if transpose { (g.small.len(), g.big.len()) } else { (g.big.len(), g.small.len()) };
    let per = split_batch(n, ws.len());
    let rows = loop_rows(g, weight);
    output.par_chunks_mut(per * out_len).zip(input.par_chunks(per * in_len)).for_each(|(out, inp)| {
        let mut scratch = Vec::new();
        for (y, x) in out.chunks_exact_mut(out_len).zip(inp.chunks_exact(in_len)) {
            y.fill(0.0);
            loop_product(g, transpose, x, weight, &rows, y, &mut scratch);
            epilogue.apply(y);
        }
    });
}

/// The direct loops' gather weight ([`direct::gather_rows`]); nothing for the one-channel loops.
fn loop_rows(g: &ConvGeometry, weight: &[f32]) -> Vec<f32> {
    match g.algorithm {
        Algorithm::Direct => direct::gather_rows(g, weight),
        _ => Vec::new(),
    }
}

/// Backward pass of either layer by loops over the kernel taps, the adjoints of [`direct_forward`].
#[allow(clippy::too_many_arguments)]
fn direct_backward(
    g: &ConvGeometry,
    weight: &[f32],
    act: Activation,
    sides: Sides<'_, '_>,
    grads: ParamGrads<'_>,
    ws: &mut Workspace,
    transpose: bool,
    n: usize,
) {
    let (in_len, out_len, bias_len) = if transpose {
        (g.small.len(), g.big.len(), g.big.channels)
    } else {
        (g.big.len(), g.small.len(), g.small.channels)
    };
    ws.reserve(0, g.weight_len(), bias_len);
    let per = split_batch(n, ws.len());
    let rows = loop_rows(g, weight);
    for_each_part(
        sides,
        (in_len, out_len),
        per,
        ws.parts_mut(),
        |PartSlices { dout, out, inp, mut dinp }, part| {
            let (dw, db) = (&mut part.weight_grad[..g.weight_len()], &mut part.bias_grad[..bias_len]);
            dw.fill(0.0);
            db.fill(0.0);
            let mut scratch = Vec::new();
            let images =
                dout.chunks_exact_mut(out_len).zip(out.chunks_exact(out_len)).zip(inp.chunks_exact(in_len));
            for (i, ((dy, y), x)) in images.enumerate() {
                act.backprop(y, dy);
                add_column_sums(dy, db);
                let dy = &*dy;
                let (big, small) = if transpose { (dy, x) } else { (x, dy) };
                if g.algorithm == Algorithm::OneChannel {
                    one_channel::kernel_grad(g, big, small, dw);
                } else {
                    direct::kernel_grad(g, big, small, dw);
                }
                if let Some(dx) = dinp.as_deref_mut() {
                    let dx = &mut dx[i * in_len..][..in_len];
                    dx.fill(0.0);
                    // The adjoint of the forward product: the other direction's.
                    loop_product(g, !transpose, dy, weight, &rows, dx, &mut scratch);
                }
            }
        },
    );
    reduce_partials(ws, n.div_ceil(per), grads);
}

/// One part's share of a backward call: its images' output gradient (turned into ∂L/∂pre-activation
/// in place), outputs, inputs, and input gradient when one is asked for.
struct PartSlices<'a> {
    dout: &'a mut [f32],
    out: &'a [f32],
    inp: &'a [f32],
    dinp: Option<&'a mut [f32]>,
}

/// Splits a backward call's tensors `per` images a part and runs `body` on every part in parallel,
/// with that part's scratch; `lens` are one image's input and output lengths.
fn for_each_part(
    sides: Sides<'_, '_>,
    (in_len, out_len): (usize, usize),
    per: usize,
    parts: &mut [Part],
    body: impl Fn(PartSlices<'_>, &mut Part) + Sync + Send,
) {
    let count = (sides.output.len() / out_len).div_ceil(per);
    let mut input_grads = optional_chunks(sides.input_grad, per * in_len, count);
    sides
        .output_grad
        .par_chunks_mut(per * out_len)
        .zip(sides.output.par_chunks(per * out_len))
        .zip(sides.input.par_chunks(per * in_len))
        .zip(input_grads.par_iter_mut())
        .zip(parts.par_iter_mut())
        .for_each(|((((dout, out), inp), dinp), part)| {
            body(PartSlices { dout, out, inp, dinp: dinp.as_deref_mut() }, part)
        });
}

/// Splits an optional gradient buffer into one optional chunk per part.
fn optional_chunks(buf: Option<&mut [f32]>, chunk: usize, parts: usize) -> Vec<Option<&mut [f32]>> {
    match buf {
        Some(buf) => buf.chunks_mut(chunk).map(Some).collect(),
        None => (0..parts).map(|_| None).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_pads_bottom_right_for_stride_two() {
        let g = ConvGeometry::same(Shape::new(32, 32, 1), 16, 3, 2, Padding::TfSame);
        assert_eq!((g.small.height, g.small.width, g.pad_top, g.pad_left), (16, 16, 0, 0));
        let g = ConvGeometry::same(Shape::new(32, 32, 1), 16, 3, 1, Padding::TfSame);
        assert_eq!((g.small.height, g.pad_top), (32, 1));
        let g = ConvGeometry::same(Shape::new(32, 32, 1), 16, 3, 2, Padding::Symmetric);
        assert_eq!((g.small.height, g.pad_top), (16, 1));
    }

    #[test]
    fn im2col_and_col2im_are_adjoint() {
        // <im2col(x), c> == <x, col2im(c)> for any x, c: the property every backward pass relies on.
        for padding in [Padding::TfSame, Padding::Symmetric] {
            let g = ConvGeometry::same(Shape::new(5, 6, 2), 3, 3, 2, padding);
            let x: Vec<f32> = (0..g.big.len()).map(|i| (i as f32 * 0.7).sin()).collect();
            let c: Vec<f32> = (0..g.cols_len()).map(|i| (i as f32 * 0.3).cos()).collect();
            let mut cols = vec![0.0; g.cols_len()];
            g.im2col(&x, &mut cols);
            let mut back = vec![0.0; g.big.len()];
            g.col2im_add(&c, &mut back);
            let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-4, "{padding:?}: {lhs} vs {rhs}");
        }
    }

    /// im2col against its definition (each window value the big pixel under the tap, 0 in the
    /// padding) and col2im_add bit for bit against the plain loop over output pixels then taps,
    /// for one channel (its own loops), a few (a loop per pixel) and more than eight (`memcpy`).
    #[test]
    fn im2col_and_col2im_follow_their_definitions_for_any_channel_count() {
        for (channels, stride, padding) in [
            (1, 1, Padding::Symmetric),
            (1, 2, Padding::TfSame),
            (3, 2, Padding::Symmetric),
            (9, 1, Padding::TfSame),
        ] {
            let g = ConvGeometry::same(Shape::new(7, 6, channels), 2, 3, stride, padding);
            let (b, s, k) = (g.big, g.small, g.kernel);
            let x: Vec<f32> = (0..b.len()).map(|i| (i as f32 * 0.7).sin()).collect();
            let c: Vec<f32> = (0..g.cols_len()).map(|i| (i as f32 * 0.3).cos()).collect();
            let (mut cols, mut back) = (vec![f32::NAN; g.cols_len()], vec![0.5; b.len()]);
            g.im2col(&x, &mut cols);
            g.col2im_add(&c, &mut back);
            let mut want_back = vec![0.5f32; b.len()];
            for oh in 0..s.height {
                for ow in 0..s.width {
                    for kh in 0..k {
                        for kw in 0..k {
                            let ih = (oh * stride + kh) as isize - g.pad_top as isize;
                            let iw = (ow * stride + kw) as isize - g.pad_left as isize;
                            let inside =
                                ih >= 0 && iw >= 0 && ih < b.height as isize && iw < b.width as isize;
                            for ci in 0..channels {
                                let at = ((oh * s.width + ow) * k * k + kh * k + kw) * channels + ci;
                                let pixel =
                                    inside.then(|| (ih as usize * b.width + iw as usize) * channels + ci);
                                let want = pixel.map_or(0.0, |p| x[p]);
                                assert_eq!(
                                    cols[at], want,
                                    "{channels} channels, stride {stride}: cols[{at}]"
                                );
                                if let Some(p) = pixel {
                                    want_back[p] += c[at];
                                }
                            }
                        }
                    }
                }
            }
            assert_eq!(back, want_back, "{channels} channels, stride {stride}: col2im");
        }
    }

    /// Direct-loop convolution in f64, the definition everything else is checked against.
    fn reference_conv(g: &ConvGeometry, x: &[f32], w: &[f32]) -> Vec<f64> {
        let (b, s) = (g.big, g.small);
        let mut y = vec![0.0f64; s.len()];
        for oh in 0..s.height {
            for ow in 0..s.width {
                for co in 0..s.channels {
                    let mut acc = 0.0;
                    for kh in 0..g.kernel {
                        for kw in 0..g.kernel {
                            let ih = (oh * g.stride + kh) as isize - g.pad_top as isize;
                            let iw = (ow * g.stride + kw) as isize - g.pad_left as isize;
                            if ih < 0 || iw < 0 || ih >= b.height as isize || iw >= b.width as isize {
                                continue;
                            }
                            for ci in 0..b.channels {
                                let xv = x[(ih as usize * b.width + iw as usize) * b.channels + ci] as f64;
                                acc +=
                                    xv * w[((kh * g.kernel + kw) * b.channels + ci) * s.channels + co] as f64;
                            }
                        }
                    }
                    y[(oh * s.width + ow) * s.channels + co] = acc;
                }
            }
        }
        y
    }

    /// Forward and backward of one layer through `algorithm` and through im2col agree.
    fn assert_matches_im2col(base: ConvGeometry, algorithm: Algorithm, transpose: bool) {
        let n = 3;
        let (in_len, out_len, bias_len) = if transpose {
            (base.small.len(), base.big.len(), base.big.channels)
        } else {
            (base.big.len(), base.small.len(), base.small.channels)
        };
        let x: Vec<f32> = (0..n * in_len).map(|i| (i as f32 * 0.37).sin()).collect();
        let wt: Vec<f32> = (0..base.weight_len()).map(|i| (i as f32 * 0.11).cos() * 0.2).collect();
        let b: Vec<f32> = (0..bias_len).map(|i| i as f32 * 0.01).collect();
        let r: Vec<f32> = (0..n * out_len).map(|i| (i as f32 * 0.23).cos()).collect();
        let run = |algorithm| {
            let g = base.with_algorithm(algorithm);
            let mut ws = Workspace::new(2);
            let mut y = vec![0.0; n * out_len];
            let (mut dy, mut dx) = (r.clone(), vec![0.0; x.len()]);
            let (mut dw, mut db) = (vec![0.0; wt.len()], vec![0.0; b.len()]);
            let grads = ParamGrads { weight: &mut dw, bias: &mut db };
            if transpose {
                conv_transpose_forward(&g, &x, &wt, Epilogue::new(&b, Activation::Relu), &mut y, &mut ws);
                conv_transpose_backward(
                    &g,
                    &x,
                    &wt,
                    Activation::Relu,
                    &y,
                    &mut dy,
                    Some(&mut dx),
                    grads,
                    &mut ws,
                );
            } else {
                conv_forward(&g, &x, &wt, Epilogue::new(&b, Activation::Relu), &mut y, &mut ws);
                conv_backward(&g, &x, &wt, Activation::Relu, &y, &mut dy, Some(&mut dx), grads, &mut ws);
            }
            [y, dx, dw, db]
        };
        let (fast, plain) = (run(algorithm), run(Algorithm::Im2col));
        let names = ["output", "input grad", "weight grad", "bias grad"];
        for (name, (f, p)) in names.iter().zip(fast.iter().zip(&plain)) {
            let scale = p.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let worst = f.iter().zip(p).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                worst <= 5e-5 * scale.max(1.0),
                "{algorithm:?} {base:?} transpose {transpose}: {name} differs by {worst} (scale {scale})"
            );
        }
    }

    /// A batch norm folded into the layer's pass (`Epilogue::norm`) gives the bits of the layer
    /// followed by the norm's own inference pass, for each algorithm, both directions and each
    /// activation.
    #[test]
    fn a_folded_norm_gives_the_bits_of_the_norm_after_the_layer() {
        let cases = [
            (Shape::new(9, 7, 5), 6, 2, Algorithm::Im2col),
            (Shape::new(9, 10, 12), 16, 1, Algorithm::Winograd),
            (Shape::new(7, 6, 24), 3, 2, Algorithm::Direct),
            (Shape::new(6, 19, 1), 16, 1, Algorithm::OneChannel),
        ];
        for (big, small_c, stride, algorithm) in cases {
            let g = ConvGeometry::same(big, small_c, 3, stride, Padding::Symmetric).with_algorithm(algorithm);
            for transpose in [false, true] {
                let (in_len, out_len, channels) = if transpose {
                    (g.small.len(), g.big.len(), g.big.channels)
                } else {
                    (g.big.len(), g.small.len(), g.small.channels)
                };
                let n = 3;
                let wave = |len: usize, k: f32| (0..len).map(|i| (i as f32 * k).sin()).collect::<Vec<f32>>();
                let (x, w, b) = (wave(n * in_len, 0.37), wave(g.weight_len(), 0.11), wave(channels, 0.5));
                let running = crate::RunningStats {
                    mean: wave(channels, 0.7),
                    var: wave(channels, 0.3).iter().map(|v| 0.1 + v * v).collect(),
                    batches: 1,
                };
                let (gamma, beta) = (wave(channels, 0.9), wave(channels, 1.3));
                let (scale, shift) = crate::batch_norm::inference_affine(&gamma, &beta, &running);
                for act in [Activation::Identity, Activation::Relu, Activation::Sigmoid] {
                    let run = |epilogue: Epilogue<'_>| {
                        let (mut y, mut ws) = (vec![f32::NAN; n * out_len], Workspace::new(2));
                        if transpose {
                            conv_transpose_forward(&g, &x, &w, epilogue, &mut y, &mut ws);
                        } else {
                            conv_forward(&g, &x, &w, epilogue, &mut y, &mut ws);
                        }
                        y
                    };
                    let sums = run(Epilogue::new(&b, Activation::Identity));
                    let mut want = vec![0.0; sums.len()];
                    crate::batch_norm_forward_eval(&sums, &gamma, &beta, &running, act, &mut want);
                    let got = run(Epilogue { bias: &b, norm: Some((&scale, &shift)), act });
                    let differ = got.iter().zip(&want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
                    assert_eq!(differ, 0, "{algorithm:?}, transpose {transpose}, {act:?}");
                }
            }
        }
    }

    /// Sizes that leave partial Winograd tiles and channel counts that leave partial lane groups.
    #[test]
    fn winograd_matches_im2col() {
        for (h, w, big_c, small_c, transpose) in [
            (7, 6, 20, 17, false),
            (9, 5, 3, 33, true),
            (16, 16, 32, 16, false),
            (6, 11, 16, 40, true),
            (2, 3, 9, 8, false),
            (1, 1, 8, 12, true),
        ] {
            let g = ConvGeometry::same(Shape::new(h, w, big_c), small_c, 3, 1, Padding::TfSame);
            assert_matches_im2col(g, Algorithm::Winograd, transpose);
        }
    }

    /// Strides, both paddings, every small-side channel count the direct loops take, and big-side
    /// channel counts that leave partial lane groups.
    #[test]
    fn direct_loops_match_im2col() {
        for small_c in 1..=crate::geometry::MAX_SMALL_CHANNELS {
            for (h, w, big_c, stride, padding) in [
                (8, 8, 24, 2, Padding::TfSame),
                (7, 6, 40, 2, Padding::Symmetric),
                (5, 9, 17, 1, Padding::TfSame),
            ] {
                let g = ConvGeometry::same(Shape::new(h, w, big_c), small_c, 3, stride, padding);
                assert_matches_im2col(g, Algorithm::Direct, true);
                assert_matches_im2col(g, Algorithm::Direct, false);
            }
        }
    }

    /// Both paddings, widths that end inside a block of sixteen pixels, one lane group of channels
    /// and several; chosen by `same` wherever it applies.
    #[test]
    fn one_channel_loops_match_im2col() {
        for (h, w, small_c, padding) in [
            (8, 16, 16, Padding::TfSame),
            (5, 9, 32, Padding::Symmetric),
            (7, 21, 16, Padding::Symmetric),
            (1, 1, 48, Padding::TfSame),
        ] {
            let g = ConvGeometry::same(Shape::new(h, w, 1), small_c, 3, 1, padding);
            assert_eq!(g.algorithm, Algorithm::OneChannel, "{g:?}");
            assert_matches_im2col(g, Algorithm::OneChannel, true);
            assert_matches_im2col(g, Algorithm::OneChannel, false);
        }
        let narrow = ConvGeometry::same(Shape::new(8, 8, 1), 24, 3, 1, Padding::TfSame);
        assert_eq!(narrow.algorithm, Algorithm::Im2col, "24 channels are not whole lane groups");
    }

    /// Every (big index, small index, weight index) a convolution multiplies together, for one image.
    fn taps(g: &ConvGeometry) -> Vec<(usize, usize, usize)> {
        let (b, s, k) = (g.big, g.small, g.kernel);
        let mut taps = Vec::new();
        for (oh, ow, kh, kw) in (0..s.height).flat_map(|oh| {
            (0..s.width).flat_map(move |ow| (0..k).flat_map(move |kh| (0..k).map(move |kw| (oh, ow, kh, kw))))
        }) {
            let ih = (oh * g.stride + kh) as isize - g.pad_top as isize;
            let iw = (ow * g.stride + kw) as isize - g.pad_left as isize;
            if ih < 0 || iw < 0 || ih >= b.height as isize || iw >= b.width as isize {
                continue;
            }
            for ci in 0..b.channels {
                for co in 0..s.channels {
                    let big = (ih as usize * b.width + iw as usize) * b.channels + ci;
                    let small = (oh * s.width + ow) * s.channels + co;
                    taps.push((big, small, ((kh * k + kw) * b.channels + ci) * s.channels + co));
                }
            }
        }
        taps
    }

    /// Small maps stack several images into one product (`images_per_product`), the last group of
    /// a part shorter than the others: forward, input, weight and bias gradients of both layers
    /// against f64 sums over every tap.
    #[test]
    fn stacked_im2col_products_match_the_f64_definition_forward_and_backward() {
        let n = 7;
        // 2×2 maps: a part's images in one product; 10×10: two products a part, the last of one image.
        for (big, small_c, stride) in
            [(Shape::new(4, 4, 5), 6, 2), (Shape::new(3, 5, 2), 3, 1), (Shape::new(20, 19, 2), 3, 2)]
        {
            let g = ConvGeometry::same(big, small_c, 3, stride, Padding::Symmetric)
                .with_algorithm(Algorithm::Im2col);
            assert!(g.images_per_product(split_batch(n, 2)) > 1, "{g:?} does not stack");
            let taps = taps(&g);
            let w: Vec<f32> = (0..g.weight_len()).map(|i| (i as f32 * 0.29).cos()).collect();
            for transpose in [false, true] {
                let (in_len, out_len) =
                    if transpose { (g.small.len(), g.big.len()) } else { (g.big.len(), g.small.len()) };
                let bias_len = if transpose { g.big.channels } else { g.small.channels };
                let x: Vec<f32> = (0..n * in_len).map(|i| (i as f32 * 0.13).sin()).collect();
                let r: Vec<f32> = (0..n * out_len).map(|i| (i as f32 * 0.41).cos()).collect();
                let mut ws = Workspace::new(2);
                let (mut y, mut dy, mut dx) = (vec![0.0; n * out_len], r.clone(), vec![0.0; x.len()]);
                let (mut dw, mut db) = (vec![0.0; w.len()], vec![0.0; bias_len]);
                let b = vec![0.0; bias_len];
                let grads = ParamGrads { weight: &mut dw, bias: &mut db };
                let id = Activation::Identity;
                if transpose {
                    conv_transpose_forward(&g, &x, &w, Epilogue::new(&b, id), &mut y, &mut ws);
                    conv_transpose_backward(&g, &x, &w, id, &y, &mut dy, Some(&mut dx), grads, &mut ws);
                } else {
                    conv_forward(&g, &x, &w, Epilogue::new(&b, id), &mut y, &mut ws);
                    conv_backward(&g, &x, &w, id, &y, &mut dy, Some(&mut dx), grads, &mut ws);
                }
                let (mut ey, mut edx, mut edw) =
                    (vec![0.0f64; y.len()], vec![0.0f64; x.len()], vec![0.0f64; w.len()]);
                let mut edb = vec![0.0f64; bias_len];
                for img in 0..n {
                    let (xi, yi) = (img * in_len, img * out_len);
                    for &(bi, si, wi) in &taps {
                        let (i, o) = if transpose { (si, bi) } else { (bi, si) };
                        ey[yi + o] += x[xi + i] as f64 * w[wi] as f64;
                        edx[xi + i] += r[yi + o] as f64 * w[wi] as f64;
                        edw[wi] += x[xi + i] as f64 * r[yi + o] as f64;
                    }
                    for (o, v) in r[yi..][..out_len].iter().enumerate() {
                        edb[o % bias_len] += *v as f64;
                    }
                }
                for (name, got, expect) in [
                    ("output", &y, &ey),
                    ("input grad", &dx, &edx),
                    ("weight grad", &dw, &edw),
                    ("bias grad", &db, &edb),
                ] {
                    for (a, e) in got.iter().zip(expect.iter()) {
                        assert!(
                            (*a as f64 - e).abs() <= 1e-4 * e.abs().max(1.0),
                            "transpose {transpose} {g:?}: {name} {a} vs {e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_algorithm_matches_the_f64_definition() {
        // Every algorithm against the f64 definition: im2col and the direct loops at stride 2,
        // Winograd at stride 1 with 40 input channels (f32 sums over 360 products per output), the
        // one-channel loops' convolution from a grey image.
        let cases = [
            (Shape::new(7, 6, 3), 4, 2, Algorithm::Im2col),
            (Shape::new(7, 6, 24), 3, 2, Algorithm::Direct),
            (Shape::new(9, 10, 40), 24, 1, Algorithm::Winograd),
            (Shape::new(9, 21, 1), 32, 1, Algorithm::OneChannel),
        ];
        for (big, small_c, stride, algorithm) in cases {
            let g = ConvGeometry::same(big, small_c, 3, stride, Padding::TfSame).with_algorithm(algorithm);
            let x: Vec<f32> = (0..2 * g.big.len()).map(|i| (i as f32 * 0.13).sin()).collect();
            let w: Vec<f32> = (0..g.weight_len()).map(|i| (i as f32 * 0.29).cos()).collect();
            let b = vec![0.0; small_c];
            let mut y = vec![0.0; 2 * g.small.len()];
            let mut ws = Workspace::new(2);
            conv_forward(&g, &x, &w, Epilogue::new(&b, Activation::Identity), &mut y, &mut ws);
            for img in 0..2 {
                let x = &x[img * g.big.len()..][..g.big.len()];
                let expect = reference_conv(&g, x, &w);
                // f32 rounding is bounded by the sum of the products' magnitudes, Σ|x|·|w|.
                let abs = |v: &[f32]| v.iter().map(|v| v.abs()).collect::<Vec<_>>();
                let magnitude = reference_conv(&g, &abs(x), &abs(&w));
                let got = &y[img * g.small.len()..][..g.small.len()];
                for ((a, e), m) in got.iter().zip(&expect).zip(&magnitude) {
                    assert!((*a as f64 - e).abs() <= 1e-6 * m, "{algorithm:?}: {a} vs {e} (Σ|x||w| {m})");
                }
            }
        }
    }
}
