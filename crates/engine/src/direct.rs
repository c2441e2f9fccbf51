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
use multiversion::multiversion;

/// Lanes of the dot-product accumulators: one 512-bit register of `f32`.
const LANES: usize = 16;

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

/// The `S` dot products of one big-side pixel with the columns of one tap's `[big][S]` weights,
/// summed in `LANES` partial sums so that they vectorise.
#[inline(always)]
fn dot_lanes<const S: usize>(pixel: &[f32], taps: &[f32]) -> [f32; S] {
    let mut acc = [[0.0f32; LANES]; S];
    let (chunks, rest) = (pixel.chunks_exact(LANES), pixel.len() % LANES);
    for (x, w) in chunks.zip(taps.chunks_exact(LANES * S)) {
        for l in 0..LANES {
            for s in 0..S {
                acc[s][l] += x[l] * w[l * S + s];
            }
        }
    }
    let tail = pixel.len() - rest;
    std::array::from_fn(|s| {
        let tail_sum: f32 = (tail..pixel.len()).map(|c| pixel[c] * taps[c * S + s]).sum();
        acc[s].iter().sum::<f32>() + tail_sum
    })
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

/// `small[s] += W[tap]ᵀ · big[p]` for every tap of one image; `small` must start zeroed.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma+avx", "x86_64+avx2+fma+avx"))]
pub(crate) fn gather(g: &ConvGeometry, big: &[f32], weight: &[f32], small: &mut [f32]) {
    match g.small.channels {
        1 => gather_n::<1>(g, big, weight, small),
        2 => gather_n::<2>(g, big, weight, small),
        3 => gather_n::<3>(g, big, weight, small),
        4 => gather_n::<4>(g, big, weight, small),
        c => unreachable!("direct loops chosen for {c} small-side channels"),
    }
}

#[inline(always)]
fn gather_n<const S: usize>(g: &ConvGeometry, big: &[f32], weight: &[f32], small: &mut [f32]) {
    let b = g.big.channels;
    for_each_tap(g, |s, p, tap| {
        let sums = dot_lanes::<S>(&big[p * b..][..b], &weight[tap * b * S..][..b * S]);
        for (y, v) in small[s * S..][..S].iter_mut().zip(sums) {
            *y += v;
        }
    });
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
