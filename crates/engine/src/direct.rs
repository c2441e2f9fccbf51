//! Direct loops for convolutions whose small side has very few channels, such as the decoder's
//! first transposed convolution (a 16×16×1 map to 32×32×128). There im2col turns into rank-1
//! GEMMs over column buffers of megabytes for a few hundred thousand multiply-adds; walking the
//! kernel taps directly touches each big-side value once per tap and nothing else.
//!
//! The three products below are the whole layer: [`scatter`] is a transposed convolution's
//! forward pass (and a convolution's input gradient), [`gather`] its adjoint, and
//! [`kernel_grad`] the weight gradient of both, with the weight read as `[tap][big][small]`.
//! Each is compiled for AVX-512 and AVX2 as well as the baseline, picked at run time.

use crate::geometry::ConvGeometry;
use crate::lanes::{dispatch, reduce, Lane16, LANES};
use multiversion::multiversion;

/// Calls `f(small_pixel, big_pixel, tap)` for every kernel tap that lands inside the big image.
#[inline(always)]
fn for_each_tap(g: &ConvGeometry, mut f: impl FnMut(usize, usize, usize)) {
    let k = g.kernel;
    for sy in 0..g.small.height {
        for kh in 0..k {
            let Some(by) = g.source(sy, kh, g.pad_top, g.big.height) else {
                continue;
            };
            for sx in 0..g.small.width {
                for kw in 0..k {
                    let Some(bx) = g.source(sx, kw, g.pad_left, g.big.width) else {
                        continue;
                    };
                    f(sy * g.small.width + sx, by * g.big.width + bx, kh * k + kw);
                }
            }
        }
    }
}

/// `big[p] += W[tap] · small[s]` for every tap of one image; `big` must start zeroed.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
pub(crate) fn scatter(g: &ConvGeometry, small: &[f32], weight: &[f32], big: &mut [f32]) {
    match g.small.channels {
        1 => scatter_n::<1>(g, small, weight, big),
        2 => scatter_n::<2>(g, small, weight, big),
        3 => scatter_n::<3>(g, small, weight, big),
        4 => scatter_n::<4>(g, small, weight, big),
        c => unreachable!("direct loops chosen for {c} small-side channels"),
    }
}

#[inline(always)]
fn scatter_n<const S: usize>(g: &ConvGeometry, small: &[f32], weight: &[f32], big: &mut [f32]) {
    let b = g.big.channels;
    for_each_tap(g, |s, p, tap| {
        let x: &[f32; S] = small[s * S..][..S].try_into().expect("S values");
        let taps = &weight[tap * b * S..][..b * S];
        for (y, w) in big[p * b..][..b].iter_mut().zip(taps.chunks_exact(S)) {
            *y += (0..S).map(|i| w[i] * x[i]).sum::<f32>();
        }
    });
}

/// The weight as [`gather`] reads it: each small-side channel's weights of a tap as one
/// contiguous row, `[tap][small][big]`. Made once per layer call, not per image.
pub(crate) fn gather_rows(g: &ConvGeometry, weight: &[f32]) -> Vec<f32> {
    let (b, s) = (g.big.channels, g.small.channels);
    let mut rows = vec![0.0; weight.len()];
    for (dst, src) in rows.chunks_exact_mut(b * s).zip(weight.chunks_exact(b * s)) {
        for (i, taps) in src.chunks_exact(s).enumerate() {
            for (o, &w) in taps.iter().enumerate() {
                dst[o * b + i] = w;
            }
        }
    }
    rows
}

dispatch! {
    /// `small[s] += W[tap]ᵀ · big[p]` for every tap of one image, the weight laid out by
    /// [`gather_rows`]; `small` must start zeroed.
    pub(crate) fn gather(g: &ConvGeometry, big: &[f32], rows: &[f32], small: &mut [f32]) => gather_with
}

#[inline(always)]
fn gather_with<L: Lane16>(g: &ConvGeometry, big: &[f32], rows: &[f32], small: &mut [f32]) {
    match g.small.channels {
        1 => gather_n::<L, 1>(g, big, rows, small),
        2 => gather_n::<L, 2>(g, big, rows, small),
        3 => gather_n::<L, 3>(g, big, rows, small),
        4 => gather_n::<L, 4>(g, big, rows, small),
        c => unreachable!("direct loops chosen for {c} small-side channels"),
    }
}

/// Each small-side pixel's whole window summed in one lane group per channel and reduced once.
/// Reduced tap by tap (sixteen dependent adds each) and left to the compiler (which made 128-bit
/// multiplies and adds of it), the seed network's first decoder layer ran at 10 % of the GEMM peak.
#[inline(always)]
fn gather_n<L: Lane16, const S: usize>(g: &ConvGeometry, big: &[f32], rows: &[f32], small: &mut [f32]) {
    let (b, k) = (g.big.channels, g.kernel);
    let whole = b / LANES * LANES;
    for sy in 0..g.small.height {
        for sx in 0..g.small.width {
            let (mut acc, mut tail) = ([L::zero(); S], [0.0f32; S]);
            for kh in 0..k {
                let Some(by) = g.source(sy, kh, g.pad_top, g.big.height) else {
                    continue;
                };
                for kw in 0..k {
                    let Some(bx) = g.source(sx, kw, g.pad_left, g.big.width) else {
                        continue;
                    };
                    let pixel = &big[(by * g.big.width + bx) * b..][..b];
                    let taps = &rows[(kh * k + kw) * S * b..][..S * b];
                    for ((sum, tail), row) in acc.iter_mut().zip(&mut tail).zip(taps.chunks_exact(b)) {
                        for (x, w) in pixel[..whole].chunks_exact(LANES).zip(row.chunks_exact(LANES)) {
                            let (x, w) = (L::load(x.try_into().unwrap()), L::load(w.try_into().unwrap()));
                            *sum = *sum + x.times(w);
                        }
                        for (x, w) in pixel[whole..].iter().zip(&row[whole..]) {
                            *tail += x * w;
                        }
                    }
                }
            }
            let at = (sy * g.small.width + sx) * S;
            for ((y, sum), tail) in small[at..][..S].iter_mut().zip(acc).zip(tail) {
                *y += reduce(sum) + tail;
            }
        }
    }
}

/// `dW[tap] += big[p] ⊗ small[s]` for every tap of one image.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
pub(crate) fn kernel_grad(g: &ConvGeometry, big: &[f32], small: &[f32], grad: &mut [f32]) {
    match g.small.channels {
        1 => kernel_grad_n::<1>(g, big, small, grad),
        2 => kernel_grad_n::<2>(g, big, small, grad),
        3 => kernel_grad_n::<3>(g, big, small, grad),
        4 => kernel_grad_n::<4>(g, big, small, grad),
        c => unreachable!("direct loops chosen for {c} small-side channels"),
    }
}

#[inline(always)]
fn kernel_grad_n<const S: usize>(g: &ConvGeometry, big: &[f32], small: &[f32], grad: &mut [f32]) {
    let b = g.big.channels;
    for_each_tap(g, |s, p, tap| {
        let x: &[f32; S] = small[s * S..][..S].try_into().expect("S values");
        let rows = grad[tap * b * S..][..b * S].chunks_exact_mut(S);
        for (row, &v) in rows.zip(&big[p * b..][..b]) {
            for i in 0..S {
                row[i] += v * x[i];
            }
        }
    });
}
