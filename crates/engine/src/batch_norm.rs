//! Batch normalisation over the channels of a row-major `rows × channels` block (a dense layer's
//! `batch × units`, or a feature map's `batch·H·W × C`), with PyTorch's semantics: training
//! normalises by the batch's mean and biased variance, inference by running estimates that
//! training keeps (momentum 0.1, unbiased variance), then `y = act(γ·x̂ + β)`.
//!
//! Sums are taken in f64: the blocks are small (the code layer's 50 × 256), and the backward
//! pass subtracts sums of similar size.

use crate::activation::Activation;
use crate::geometry::ParamGrads;
use multiversion::multiversion;
use rayon::prelude::*;

/// Added to the variance before the square root (PyTorch's default).
pub const EPSILON: f64 = 1e-5;
/// Weight of the newest batch in the running estimates (PyTorch's default).
pub const MOMENTUM: f64 = 0.1;

/// The running estimates used at inference.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningStats {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    /// Batches folded in so far (PyTorch's `num_batches_tracked`).
    pub batches: u64,
}

impl RunningStats {
    /// PyTorch's starting point: mean 0, variance 1.
    pub fn new(channels: usize) -> Self {
        Self { mean: vec![0.0; channels], var: vec![1.0; channels], batches: 0 }
    }

    /// Folds in the statistics of one training batch of `rows` rows.
    pub fn update(&mut self, batch: &BatchStats) {
        let m = batch.rows as f64;
        // PyTorch keeps the unbiased variance; a single row has none to add.
        let unbias = if batch.rows > 1 { m / (m - 1.0) } else { 1.0 };
        for ((rm, rv), (&mean, &var)) in
            self.mean.iter_mut().zip(&mut self.var).zip(batch.mean.iter().zip(&batch.var))
        {
            *rm = ((1.0 - MOMENTUM) * *rm as f64 + MOMENTUM * mean) as f32;
            *rv = ((1.0 - MOMENTUM) * *rv as f64 + MOMENTUM * var * unbias) as f32;
        }
        self.batches += 1;
    }
}

/// One training batch's per-channel mean and biased variance, kept for the backward pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchStats {
    pub rows: usize,
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
}

/// Rows of `input` with one value per channel of `gamma`, checking `output` and, when given, `beta`.
fn rows(input: &[f32], output: &[f32], gamma: &[f32], beta: Option<&[f32]>) -> usize {
    let channels = gamma.len();
    assert!(channels > 0, "batch norm over no channels");
    assert_eq!(input.len() % channels, 0, "input is not a whole number of rows");
    assert_eq!(output.len(), input.len(), "output does not match the input");
    assert!(beta.is_none_or(|b| b.len() == channels), "γ and β need one value per channel");
    input.len() / channels
}

/// Rows a block holds: the sums are taken block by block in parallel and the blocks' partial
/// sums added in order, so the result depends on the batch alone, not on the thread count.
const BLOCK_ROWS: usize = 2048;

/// One f64 sum a channel over the rows of `data`: `block(rows, sums)` adds one block's rows to
/// zeroed sums; blocks run in parallel and their sums are added in order.
fn channel_sums(data: &[f32], channels: usize, block: impl Fn(&[f32], &mut [f64]) + Sync) -> Vec<f64> {
    let partials = data.par_chunks(BLOCK_ROWS * channels).map(|rows| {
        let mut sums = vec![0.0f64; channels];
        block(rows, &mut sums);
        sums
    });
    add_in_order(partials.collect())
}

/// The blocks' partial sums added in the blocks' order.
fn add_in_order(partials: Vec<Vec<f64>>) -> Vec<f64> {
    let mut sums = vec![0.0f64; partials.first().map_or(0, Vec::len)];
    for part in &partials {
        sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
    }
    sums
}

/// `y = act(γ·(x − μ)/√(σ² + ε) + β)` with `μ`, `σ²` from the batch; they are written to `stats`.
pub fn batch_norm_forward_train(
    input: &[f32],
    gamma: &[f32],
    beta: &[f32],
    act: Activation,
    output: &mut [f32],
    stats: &mut BatchStats,
) {
    let channels = gamma.len();
    let rows = rows(input, output, gamma, Some(beta));
    assert!(rows > 0, "batch norm of an empty batch");
    stats.rows = rows;
    let m = rows as f64;
    stats.mean = channel_sums(input, channels, add_rows);
    stats.mean.iter_mut().for_each(|s| *s /= m);
    let mean = &stats.mean;
    stats.var = channel_sums(input, channels, |rows, sums| add_squared_deviations(rows, mean, sums));
    stats.var.iter_mut().for_each(|v| *v /= m);
    let (scale, shift) = affine(gamma, beta, &stats.mean, &stats.var);
    normalise(input, &scale, &shift, act, output);
}

/// The same with the running estimates in place of the batch's: what inference computes.
pub fn batch_norm_forward_eval(
    input: &[f32],
    gamma: &[f32],
    beta: &[f32],
    running: &RunningStats,
    act: Activation,
    output: &mut [f32],
) {
    rows(input, output, gamma, Some(beta));
    let (scale, shift) = inference_affine(gamma, beta, running);
    normalise(input, &scale, &shift, act, output);
}

/// The per-channel `(scale, shift)` with which inference normalises, `x·scale + shift`: what a
/// layer before the norm folds into its own pass ([`crate::activation::Epilogue`]).
pub fn inference_affine(gamma: &[f32], beta: &[f32], running: &RunningStats) -> (Vec<f32>, Vec<f32>) {
    let mean: Vec<f64> = running.mean.iter().map(|&m| m as f64).collect();
    let var: Vec<f64> = running.var.iter().map(|&v| v as f64).collect();
    affine(gamma, beta, &mean, &var)
}

/// `y = x·scale + shift` per channel for a mean and variance.
fn affine(gamma: &[f32], beta: &[f32], mean: &[f64], var: &[f64]) -> (Vec<f32>, Vec<f32>) {
    let scale: Vec<f32> =
        gamma.iter().zip(var).map(|(&g, &v)| (g as f64 / (v + EPSILON).sqrt()) as f32).collect();
    let shift: Vec<f32> =
        beta.iter().zip(mean).zip(&scale).map(|((&b, &m), &s)| (b as f64 - m * s as f64) as f32).collect();
    (scale, shift)
}

fn normalise(input: &[f32], scale: &[f32], shift: &[f32], act: Activation, output: &mut [f32]) {
    let block = BLOCK_ROWS * scale.len();
    output
        .par_chunks_mut(block)
        .zip(input.par_chunks(block))
        .for_each(|(output, input)| normalise_rows(act, input, scale, shift, output));
}

/// Backward of a training-mode forward pass. `output_grad` (∂L/∂output) becomes ∂L/∂(γ·x̂ + β) in
/// place; `grads.weight` gets ∂L/∂γ, `grads.bias` ∂L/∂β and `input_grad`, if given, ∂L/∂x:
/// `∂x = γ/σ · (∂ŷ − mean(∂ŷ) − x̂·mean(∂ŷ·x̂))`, the batch statistics depending on every row.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(
    input: &[f32],
    gamma: &[f32],
    act: Activation,
    output: &[f32],
    output_grad: &mut [f32],
    stats: &BatchStats,
    input_grad: Option<&mut [f32]>,
    grads: ParamGrads<'_>,
) {
    let channels = gamma.len();
    let rows = rows(input, output, gamma, None);
    assert_eq!(output_grad.len(), output.len(), "output gradient does not match the output");
    assert_eq!(stats.rows, rows, "backward on a different batch than forward");
    assert_eq!(
        (grads.weight.len(), grads.bias.len()),
        (channels, channels),
        "one γ and β gradient per channel"
    );
    let inv_std: Vec<f64> = stats.var.iter().map(|&v| 1.0 / (v + EPSILON).sqrt()).collect();
    // The activation's derivative and ∑∂ŷ, ∑∂ŷ·x̂ side by side, block by block while the block
    // is in cache.
    let block = BLOCK_ROWS * channels;
    let partials =
        output_grad.par_chunks_mut(block).zip(output.par_chunks(block)).zip(input.par_chunks(block));
    let partials = partials.map(|((dy, y), x)| {
        act.backprop(y, dy);
        let mut sums = vec![0.0f64; 2 * channels];
        add_gradient_sums(dy, x, &stats.mean, &inv_std, &mut sums);
        sums
    });
    let sums = add_in_order(partials.collect());
    let (sum_dy, sum_dy_xhat) = sums.split_at(channels);
    for c in 0..channels {
        grads.weight[c] = sum_dy_xhat[c] as f32;
        grads.bias[c] = sum_dy[c] as f32;
    }
    let Some(dx) = input_grad else { return };
    assert_eq!(dx.len(), input.len(), "input gradient does not match the input");
    let m = rows as f64;
    // Per channel the terms that do not depend on the row, each the value the formula computed
    // in the rows' loop before (the same operations in the same order: the same bits).
    let terms = InputGradTerms {
        mean: &stats.mean,
        inv_std: &inv_std,
        mean_dy: &sum_dy.iter().map(|&s| s / m).collect::<Vec<_>>(),
        sum_dy_xhat,
        rows: m,
        scale: &gamma.iter().zip(&inv_std).map(|(&g, &inv)| g as f64 * inv).collect::<Vec<_>>(),
    };
    let dy = &*output_grad;
    dx.par_chunks_mut(block)
        .zip(dy.par_chunks(block))
        .zip(input.par_chunks(block))
        .for_each(|((dx, dy), x)| input_grad_rows(&terms, dy, x, dx));
}

// The passes over a block's rows, compiled for AVX-512 and AVX2 as well as the baseline and picked
// at run time. They vectorise across a row's channels: each channel's sum stays in its own lane,
// added row by row, and Rust never fuses a multiply with an add, so every version gives the bits
// of the plain loop. Each slice is cut to the channel count first, so that the loops carry no
// bounds checks.

/// `sums[c] += Σ_rows x[c]`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn add_rows(block: &[f32], sums: &mut [f64]) {
    let channels = sums.len();
    for row in block.chunks_exact(channels) {
        let row = &row[..channels];
        for c in 0..channels {
            sums[c] += row[c] as f64;
        }
    }
}

/// `sums[c] += Σ_rows (x[c] − mean[c])²`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn add_squared_deviations(block: &[f32], mean: &[f64], sums: &mut [f64]) {
    let channels = sums.len();
    let mean = &mean[..channels];
    for row in block.chunks_exact(channels) {
        let row = &row[..channels];
        for c in 0..channels {
            let d = row[c] as f64 - mean[c];
            sums[c] += d * d;
        }
    }
}

/// `y = act(x·scale + shift)` per channel, rounded to f32 after the product and after the sum.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn normalise_rows(act: Activation, input: &[f32], scale: &[f32], shift: &[f32], output: &mut [f32]) {
    // One loop per activation, so that each vectorises on its own.
    match act {
        Activation::Identity => scale_shift_rows(input, scale, shift, output, |v| v),
        Activation::Relu => scale_shift_rows(input, scale, shift, output, |v| v.max(0.0)),
        Activation::Sigmoid => scale_shift_rows(input, scale, shift, output, |v| 1.0 / (1.0 + (-v).exp())),
    }
}

#[inline(always)]
fn scale_shift_rows(input: &[f32], scale: &[f32], shift: &[f32], output: &mut [f32], f: impl Fn(f32) -> f32) {
    let channels = scale.len();
    let shift = &shift[..channels];
    for (y_row, x_row) in output.chunks_exact_mut(channels).zip(input.chunks_exact(channels)) {
        let (y_row, x_row) = (&mut y_row[..channels], &x_row[..channels]);
        for c in 0..channels {
            y_row[c] = f(x_row[c] * scale[c] + shift[c]);
        }
    }
}

/// `sums[..C] += Σ_rows ∂ŷ[c]`, `sums[C..] += Σ_rows ∂ŷ[c]·x̂[c]` with `x̂ = (x − mean)·inv_std`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn add_gradient_sums(dy: &[f32], x: &[f32], mean: &[f64], inv_std: &[f64], sums: &mut [f64]) {
    let channels = mean.len();
    let (sum_dy, sum_dy_xhat) = sums.split_at_mut(channels);
    let (sum_dy_xhat, inv_std) = (&mut sum_dy_xhat[..channels], &inv_std[..channels]);
    for (dy_row, x_row) in dy.chunks_exact(channels).zip(x.chunks_exact(channels)) {
        let (dy_row, x_row) = (&dy_row[..channels], &x_row[..channels]);
        for c in 0..channels {
            sum_dy[c] += dy_row[c] as f64;
            sum_dy_xhat[c] += dy_row[c] as f64 * ((x_row[c] as f64 - mean[c]) * inv_std[c]);
        }
    }
}

/// What the input gradient's rows share, one value per channel.
struct InputGradTerms<'a> {
    mean: &'a [f64],
    inv_std: &'a [f64],
    /// `Σ∂ŷ / m`.
    mean_dy: &'a [f64],
    sum_dy_xhat: &'a [f64],
    /// `m`, the batch's rows.
    rows: f64,
    /// `γ / σ`.
    scale: &'a [f64],
}

/// `∂x = γ/σ · (∂ŷ − Σ∂ŷ/m − x̂·Σ(∂ŷ·x̂)/m)` for each row.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
fn input_grad_rows<'a>(terms: &InputGradTerms<'a>, dy: &[f32], x: &[f32], dx: &mut [f32]) {
    let channels = terms.mean.len();
    let (mean, inv_std, mean_dy) =
        (&terms.mean[..channels], &terms.inv_std[..channels], &terms.mean_dy[..channels]);
    let (sum_dy_xhat, scale, m) = (&terms.sum_dy_xhat[..channels], &terms.scale[..channels], terms.rows);
    for ((dx_row, dy_row), x_row) in
        dx.chunks_exact_mut(channels).zip(dy.chunks_exact(channels)).zip(x.chunks_exact(channels))
    {
        let (dx_row, dy_row, x_row) = (&mut dx_row[..channels], &dy_row[..channels], &x_row[..channels]);
        for c in 0..channels {
            let xhat = (x_row[c] as f64 - mean[c]) * inv_std[c];
            let d = dy_row[c] as f64 - mean_dy[c] - xhat * sum_dy_xhat[c] / m;
            dx_row[c] = (scale[c] * d) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_output_has_zero_mean_and_unit_variance_per_channel() {
        let input: Vec<f32> = (0..40).map(|i| (i as f32 * 0.7).sin() * 5.0 + (i % 4) as f32 * 10.0).collect();
        let (gamma, beta) = (vec![1.0; 4], vec![0.0; 4]);
        let mut out = vec![0.0; 40];
        let mut stats = BatchStats::default();
        batch_norm_forward_train(&input, &gamma, &beta, Activation::Identity, &mut out, &mut stats);
        for c in 0..4 {
            let col: Vec<f64> = out.iter().skip(c).step_by(4).map(|&v| v as f64).collect();
            let mean = col.iter().sum::<f64>() / 10.0;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 10.0;
            assert!(mean.abs() < 1e-6, "channel {c}: mean {mean}");
            assert!((var - 1.0).abs() < 1e-3, "channel {c}: variance {var}");
        }
    }

    /// Several blocks of rows (the last one partial): the statistics and gradients against one
    /// sequential f64 pass, and the same bits from a pool of one thread and of three.
    #[test]
    fn blocks_of_rows_match_one_pass_and_any_thread_count() {
        let (rows, channels) = (2 * BLOCK_ROWS + 37, 3);
        let x: Vec<f32> =
            (0..rows * channels).map(|i| (i as f32 * 0.37).sin() * 3.0 + (i % 3) as f32).collect();
        let r: Vec<f32> = (0..rows * channels).map(|i| (i as f32 * 0.11).cos()).collect();
        let (gamma, beta) = (vec![1.5, 0.5, -2.0], vec![0.1, 0.0, -0.3]);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let (mut y, mut stats) = (vec![0.0; x.len()], BatchStats::default());
                batch_norm_forward_train(&x, &gamma, &beta, Activation::Identity, &mut y, &mut stats);
                let (mut dy, mut dx) = (r.clone(), vec![0.0; x.len()]);
                let (mut dg, mut db) = (vec![0.0; channels], vec![0.0; channels]);
                let grads = ParamGrads { weight: &mut dg, bias: &mut db };
                batch_norm_backward(
                    &x,
                    &gamma,
                    Activation::Identity,
                    &y,
                    &mut dy,
                    &stats,
                    Some(&mut dx),
                    grads,
                );
                (stats, y, dx, dg, db)
            })
        };
        let one = run(1);
        assert_eq!(one, run(3), "a thread count changed the bits");
        let (stats, y, dx, dg, db) = one;
        let m = rows as f64;
        for c in 0..channels {
            let col = |v: &[f32]| v.iter().skip(c).step_by(channels).map(|&v| v as f64).collect::<Vec<_>>();
            let (xc, rc) = (col(&x), col(&r));
            let mean = xc.iter().sum::<f64>() / m;
            let var = xc.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m;
            assert!(
                (stats.mean[c] - mean).abs() < 1e-12 && (stats.var[c] - var).abs() < 1e-12,
                "channel {c}"
            );
            let inv = 1.0 / (var + EPSILON).sqrt();
            let xhat: Vec<f64> = xc.iter().map(|v| (v - mean) * inv).collect();
            let (sum_dy, sum_dy_xhat) =
                (rc.iter().sum::<f64>(), rc.iter().zip(&xhat).map(|(d, h)| d * h).sum::<f64>());
            assert!(
                (db[c] as f64 - sum_dy).abs() < 1e-3 && (dg[c] as f64 - sum_dy_xhat).abs() < 1e-3,
                "channel {c}"
            );
            for (i, (h, d)) in xhat.iter().zip(&rc).enumerate() {
                let want_y = gamma[c] as f64 * h + beta[c] as f64;
                let want_dx = gamma[c] as f64 * inv * (d - sum_dy / m - h * sum_dy_xhat / m);
                assert!((y[i * channels + c] as f64 - want_y).abs() < 1e-5, "y row {i} channel {c}");
                assert!((dx[i * channels + c] as f64 - want_dx).abs() < 1e-5, "dx row {i} channel {c}");
            }
        }
    }

    /// The vectorised passes against the formulas as plain scalar loops, block by block in the
    /// same order, bit for bit, for a ReLU with channel counts that fill no whole vector.
    #[test]
    fn the_vectorised_passes_give_the_plain_loops_bits() {
        for channels in [3, 16, 37] {
            let rows = 2 * BLOCK_ROWS + 101;
            let n = rows * channels;
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 3.0 + (i % 5) as f32).collect();
            let r: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let gamma: Vec<f32> = (0..channels).map(|c| 0.5 + c as f32 * 0.1).collect();
            let beta: Vec<f32> = (0..channels).map(|c| c as f32 * 0.05 - 0.4).collect();
            let (mut y, mut stats) = (vec![0.0; n], BatchStats::default());
            batch_norm_forward_train(&x, &gamma, &beta, Activation::Relu, &mut y, &mut stats);
            let (mut dy, mut dx) = (r.clone(), vec![0.0; n]);
            let (mut dg, mut db) = (vec![0.0; channels], vec![0.0; channels]);
            let grads = ParamGrads { weight: &mut dg, bias: &mut db };
            batch_norm_backward(&x, &gamma, Activation::Relu, &y, &mut dy, &stats, Some(&mut dx), grads);

            // Per-block f64 sums added in order, then every element by its formula.
            let blocks = |f: &dyn Fn(usize, usize) -> f64| -> Vec<f64> {
                let mut total = vec![0.0f64; channels];
                for b in 0..rows.div_ceil(BLOCK_ROWS) {
                    let mut part = vec![0.0f64; channels];
                    for row in b * BLOCK_ROWS..rows.min((b + 1) * BLOCK_ROWS) {
                        (0..channels).for_each(|c| part[c] += f(row, c));
                    }
                    (0..channels).for_each(|c| total[c] += part[c]);
                }
                total
            };
            let m = rows as f64;
            let mean: Vec<f64> = blocks(&|p, c| x[p * channels + c] as f64).iter().map(|s| s / m).collect();
            let var: Vec<f64> = blocks(&|p, c| {
                (x[p * channels + c] as f64 - mean[c]) * (x[p * channels + c] as f64 - mean[c])
            })
            .iter()
            .map(|s| s / m)
            .collect();
            assert_eq!((&stats.mean, &stats.var), (&mean, &var), "{channels} channels");
            let scale: Vec<f32> =
                (0..channels).map(|c| (gamma[c] as f64 / (var[c] + EPSILON).sqrt()) as f32).collect();
            let shift: Vec<f32> =
                (0..channels).map(|c| (beta[c] as f64 - mean[c] * scale[c] as f64) as f32).collect();
            let want_y: Vec<f32> =
                (0..n).map(|i| (x[i] * scale[i % channels] + shift[i % channels]).max(0.0)).collect();
            assert_eq!(y, want_y, "{channels} channels: the output");
            let g: Vec<f32> = (0..n).map(|i| if want_y[i] <= 0.0 { 0.0 } else { r[i] }).collect();
            assert_eq!(dy, g, "{channels} channels: the ReLU's derivative");
            let inv: Vec<f64> = var.iter().map(|&v| 1.0 / (v + EPSILON).sqrt()).collect();
            let sum_dy = blocks(&|p, c| g[p * channels + c] as f64);
            let sum_dy_xhat = blocks(&|p, c| {
                g[p * channels + c] as f64 * ((x[p * channels + c] as f64 - mean[c]) * inv[c])
            });
            let want_dg: Vec<f32> = sum_dy_xhat.iter().map(|&s| s as f32).collect();
            let want_db: Vec<f32> = sum_dy.iter().map(|&s| s as f32).collect();
            assert_eq!((dg, db), (want_dg, want_db), "{channels} channels: γ's and β's gradients");
            let want_dx: Vec<f32> = (0..n)
                .map(|i| {
                    let c = i % channels;
                    let xhat = (x[i] as f64 - mean[c]) * inv[c];
                    let d = g[i] as f64 - sum_dy[c] / m - xhat * sum_dy_xhat[c] / m;
                    (gamma[c] as f64 * inv[c] * d) as f32
                })
                .collect();
            assert_eq!(dx, want_dx, "{channels} channels: the input's gradient");
        }
    }

    #[test]
    fn running_stats_follow_pytorch() {
        // torch.nn.BatchNorm1d(1) on [1, 2, 3, 4] in training mode: running_mean 0.25,
        // running_var 0.9 + 0.1·(5/3) = 1.0666…, num_batches_tracked 1.
        let mut stats = BatchStats::default();
        let mut out = vec![0.0; 4];
        batch_norm_forward_train(
            &[1.0, 2.0, 3.0, 4.0],
            &[1.0],
            &[0.0],
            Activation::Identity,
            &mut out,
            &mut stats,
        );
        let mut running = RunningStats::new(1);
        running.update(&stats);
        assert!((running.mean[0] - 0.25).abs() < 1e-7);
        assert!((running.var[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
        assert_eq!(running.batches, 1);
        // Inference with those estimates.
        let mut y = [0.0];
        batch_norm_forward_eval(&[2.0], &[2.0], &[0.5], &running, Activation::Identity, &mut y);
        let want = 2.0 * (2.0 - 0.25) / (running.var[0] as f64 + EPSILON).sqrt() + 0.5;
        assert!((y[0] as f64 - want).abs() < 1e-5, "{} vs {want}", y[0]);
    }
}
