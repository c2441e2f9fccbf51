//! Loops for a 3×3 convolution at stride 1 whose big side is one channel and whose small side a
//! multiple of sixteen, such as the default decoder's last layer (16 channels to the grey image).
//! im2col makes it a product with a single column (15–25 % of the GEMM peak) over a window buffer
//! nine times the small side; here each small-side pixel's channels are whole lane groups and the
//! one big-side value a scalar beside them.
//!
//! [`spread`] is the convolution's forward pass (and the transposed convolution's input
//! gradient), [`collect`] its adjoint, and [`kernel_grad`] the weight gradient of both, the weight
//! read as `[tap][small]`. Each runs on AVX-512, AVX2 or plain Rust with the same bits.

use crate::geometry::ConvGeometry;
use crate::lanes::{dispatch, Lane16, Lanes, LANES};
use std::ops::Mul;

const KERNEL: usize = 3;
const TAPS: usize = KERNEL * KERNEL;

/// The lane group of `values` that starts at `at`.
#[inline(always)]
fn lanes(values: &[f32], at: usize) -> &Lanes {
    values[at..][..LANES].try_into().expect("a lane group")
}

/// `f(0)`, `f(1)`, …, `f(15)`, written out: with constant indices a block's sixteen sums stay in
/// registers, where a loop (which the compiler left rolled) kept them in memory, each add waiting
/// on the store before it.
#[inline(always)]
fn each_pixel(mut f: impl FnMut(usize)) {
    f(0);
    f(1);
    f(2);
    f(3);
    f(4);
    f(5);
    f(6);
    f(7);
    f(8);
    f(9);
    f(10);
    f(11);
    f(12);
    f(13);
    f(14);
    f(15);
}

dispatch! {
    /// `small[s] = Σ W[tap] · big[p]` over the taps of each small-side pixel, for one image:
    /// sixteen pixels of a row at a time, each its own chain of adds.
    pub(crate) fn spread(g: &ConvGeometry, big: &[f32], weight: &[f32], small: &mut [f32]) => spread_with
}

#[inline(always)]
fn spread_with<L: Lane16>(g: &ConvGeometry, big: &[f32], weight: &[f32], small: &mut [f32])
where
    f32: Mul<L, Output = L>,
{
    let (c, width) = (g.small.channels, g.small.width);
    for sy in 0..g.small.height {
        for x0 in (0..width).step_by(LANES) {
            let n = LANES.min(width - x0);
            for group in 0..c / LANES {
                let mut sums = [L::zero(); LANES];
                for kh in 0..KERNEL {
                    let Some(by) = g.source(sy, kh, g.pad_top, g.big.height) else {
                        continue;
                    };
                    let row = &big[by * g.big.width..][..g.big.width];
                    for kw in 0..KERNEL {
                        let w = L::load(lanes(weight, (kh * KERNEL + kw) * c + group * LANES));
                        each_pixel(|j| {
                            let v = g.source(x0 + j, kw, g.pad_left, g.big.width).map_or(0.0, |bx| row[bx]);
                            sums[j] = sums[j] + v * w;
                        });
                    }
                }
                for (j, sum) in sums.into_iter().enumerate().take(n) {
                    let at = ((sy * width + x0 + j) * c + group * LANES)..;
                    sum.store((&mut small[at][..LANES]).try_into().expect("a lane group"));
                }
            }
        }
    }
}

dispatch! {
    /// `big[p] = Σ W[tap] · small[s]` over the taps and channels of each big-side pixel, for one
    /// image: sixteen pixels of a row at a time, each summed lane by lane and the sixteen reduced
    /// together. `padded` is scratch for the small side framed in zeros.
    pub(crate) fn collect(g: &ConvGeometry, small: &[f32], weight: &[f32], big: &mut [f32], padded: &mut Vec<f32>) => collect_with
}

#[inline(always)]
fn collect_with<L: Lane16>(
    g: &ConvGeometry,
    small: &[f32],
    weight: &[f32],
    big: &mut [f32],
    padded: &mut Vec<f32>,
) {
    let (c, width) = (g.small.channels, g.big.width);
    // A frame of one pixel, and zeros to the end of the last block of sixteen, so that every
    // pixel of a block reads its taps at the same offsets.
    let line = (width.div_ceil(LANES) * LANES + 2) * c;
    if padded.len() != (g.small.height + 2) * line {
        padded.clear();
        padded.resize((g.small.height + 2) * line, 0.0);
    }
    for (src, dst) in small.chunks_exact(width * c).zip(padded.chunks_exact_mut(line).skip(1)) {
        dst[c..][..width * c].copy_from_slice(src);
    }
    let padded = &padded[..];
    for py in 0..g.big.height {
        for x0 in (0..width).step_by(LANES) {
            let mut sums = [L::zero(); LANES];
            for kh in 0..KERNEL {
                // Small-side row `py + 1 − kh`, one row down in the frame.
                let row = &padded[(py + 2 - kh) * line..][..line];
                for kw in 0..KERNEL {
                    let block = &row[(x0 + 2 - kw) * c..][..LANES * c];
                    for group in 0..c / LANES {
                        let w = L::load(lanes(weight, (kh * KERNEL + kw) * c + group * LANES));
                        each_pixel(|j| {
                            sums[j] = sums[j] + L::load(lanes(block, j * c + group * LANES)).times(w)
                        });
                    }
                }
            }
            let mut out = [0.0; LANES];
            L::transpose_sum(sums).store(&mut out);
            let n = LANES.min(width - x0);
            big[py * width + x0..][..n].copy_from_slice(&out[..n]);
        }
    }
}

dispatch! {
    /// `dW[tap] += Σ big[p] · small[s]` over the pixel pairs of each tap, for one image.
    pub(crate) fn kernel_grad(g: &ConvGeometry, big: &[f32], small: &[f32], grad: &mut [f32]) => kernel_grad_with
}

/// Nine sums a lane group, one a tap, each over the pixels in order.
#[inline(always)]
fn kernel_grad_with<L: Lane16>(g: &ConvGeometry, big: &[f32], small: &[f32], grad: &mut [f32])
where
    f32: Mul<L, Output = L>,
{
    let c = g.small.channels;
    for group in 0..c / LANES {
        let mut sums = [L::zero(); TAPS];
        for sy in 0..g.small.height {
            for sx in 0..g.small.width {
                let x = L::load(lanes(small, (sy * g.small.width + sx) * c + group * LANES));
                for kh in 0..KERNEL {
                    let Some(by) = g.source(sy, kh, g.pad_top, g.big.height) else {
                        continue;
                    };
                    for kw in 0..KERNEL {
                        let Some(bx) = g.source(sx, kw, g.pad_left, g.big.width) else {
                            continue;
                        };
                        let sum = &mut sums[kh * KERNEL + kw];
                        *sum = *sum + big[by * g.big.width + bx] * x;
                    }
                }
            }
        }
        for (tap, sum) in sums.into_iter().enumerate() {
            let dst: &mut Lanes =
                (&mut grad[tap * c + group * LANES..][..LANES]).try_into().expect("a lane group");
            (L::load(dst) + sum).store(dst);
        }
    }
}
