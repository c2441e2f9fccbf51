//! The kernel's side of Winograd F(4×4, 3×3): `G g Gᵀ` of every channel pair (the transformed
//! kernel each point's GEMM reads) and `Gᵀ m G` of an accumulated gradient (back to the 3×3 taps).

use super::transform::filter_1d;
use super::{ALPHA, POINTS};
use crate::lanes::{dispatch, Lane16, LANES};
use crate::matmul::MatRef;
use rayon::prelude::*;
use std::ops::Mul;

/// Length of a transformed kernel of `a × b` channel pairs.
pub(crate) fn filter_len(a: usize, b: usize) -> usize {
    POINTS * a * b
}

/// How a stored `[3][3][a][b]` weight is read as a correlation kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// `a` inputs, `b` outputs, taps as stored: a convolution's forward pass.
    AsStored,
    /// `b` inputs, `a` outputs, taps rotated 180°: what a transposed convolution's forward pass
    /// (and a convolution's input gradient) correlates with.
    Rotated,
}

impl Kernel {
    /// The stored tap (`kh · 3 + kw`) this reading puts at `tap`: a rotated kernel reads
    /// `(kh, kw)` from `(2 − kh, 2 − kw)`.
    fn source(self, tap: usize) -> usize {
        match self {
            Kernel::AsStored => tap,
            Kernel::Rotated => 8 - tap,
        }
    }
}

/// `coefficients()[p][tap]`: the weight of kernel tap `(kh, kw)` in point `p = (r, c)` of
/// `G g Gᵀ`, i.e. `G[r][kh] · G[c][kw]`. The same numbers take a transformed gradient back to
/// taps (`Gᵀ m G`), read the other way round.
fn coefficients() -> [[f32; 9]; POINTS] {
    let unit = |k: usize| std::array::from_fn(|j| if j == k { 1.0 } else { 0.0 });
    let columns: [[f64; ALPHA]; 3] = std::array::from_fn(|k| filter_1d(unit(k)));
    std::array::from_fn(|p| {
        std::array::from_fn(|tap| (columns[tap / 3][p / ALPHA] * columns[tap % 3][p % ALPHA]) as f32)
    })
}

/// Lane groups of `dst` a [`weighted_sum`] keeps in registers while it runs through the terms.
const SUM_GROUPS: usize = 4;

dispatch! {
    /// `dst = Σ w · src` over `terms` in order, starting from 0: each value gets the bits that
    /// zeroing `dst` and adding one `w · src` pass after another gives, in one pass over `dst`
    /// instead of one per term.
    fn weighted_sum(dst: &mut [f32], terms: &[(f32, &[f32])]) => weighted_sum_with
}

/// [`weighted_sum`] on explicit lane groups: written as plain loops over an array of sums, the
/// sums went through memory for every term (6 % of an MNIST training step at about a sixth of
/// the arithmetic's speed).
#[inline(always)]
fn weighted_sum_with<L: Lane16>(dst: &mut [f32], terms: &[(f32, &[f32])])
where
    f32: Mul<L, Output = L>,
{
    let n = dst.len();
    assert!(terms.iter().all(|(_, src)| src.len() >= n), "a term shorter than the sum");
    const BLOCK: usize = SUM_GROUPS * LANES;
    let whole = n / BLOCK * BLOCK;
    for (at, out) in (0..whole).step_by(BLOCK).zip(dst.chunks_exact_mut(BLOCK)) {
        let mut sums = [L::zero(); SUM_GROUPS];
        for &(w, src) in terms {
            let src = &src[at..at + BLOCK];
            for (sum, group) in sums.iter_mut().zip(src.chunks_exact(LANES)) {
                *sum = *sum + w * L::load(group.try_into().unwrap());
            }
        }
        for (sum, group) in sums.iter().zip(out.chunks_exact_mut(LANES)) {
            sum.store(group.try_into().unwrap());
        }
    }
    sum_values(&mut dst[whole..], terms, whole);
}

/// [`weighted_sum`]'s values from `from` on, one at a time.
fn sum_values(dst: &mut [f32], terms: &[(f32, &[f32])], from: usize) {
    for (i, out) in dst.iter_mut().enumerate() {
        let mut sum = 0.0f32;
        for &(w, src) in terms {
            sum += w * src[from + i];
        }
        *out = sum;
    }
}

/// A weight transformed by [`Filter::transform`]: `G g Gᵀ` of every channel pair, stored
/// `[POINTS][inputs][outputs]`, ready to be each point's GEMM operand.
pub(crate) struct Filter<'a> {
    data: &'a [f32],
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    pub(crate) kernel: Kernel,
}

impl<'a> Filter<'a> {
    /// Room [`transform`](Self::transform) needs for `a × b` channel pairs: the transformed kernel
    /// and a transposed copy of the weight.
    pub(crate) fn buffer_len(a: usize, b: usize) -> usize {
        (POINTS + 9) * a * b
    }

    /// Transforms `weight` (`[3][3][a][b]`) into `buf`, a block of channel pairs per thread-pool
    /// task ([`by_pair_blocks`]): each point is a sum of the nine taps' matrices, so the work is
    /// whole-vector multiply-adds. A rotated kernel swaps the channel roles, so its taps are
    /// transposed first.
    pub(crate) fn transform(weight: &[f32], a: usize, b: usize, kernel: Kernel, buf: &'a mut [f32]) -> Self {
        let pairs = a * b;
        assert_eq!(weight.len(), 9 * pairs, "a 3×3 kernel of {a}×{b} channels");
        let (buf, transposed) = buf[..Self::buffer_len(a, b)].split_at_mut(POINTS * pairs);
        let (taps, inputs, outputs): (&[f32], _, _) = match kernel {
            Kernel::AsStored => (weight, a, b),
            Kernel::Rotated => {
                transposed.par_chunks_mut(pairs).zip(weight.par_chunks(pairs)).for_each(|(dst, src)| {
                    for (o, row) in src.chunks_exact(b).enumerate() {
                        for (i, &v) in row.iter().enumerate() {
                            dst[i * a + o] = v;
                        }
                    }
                });
                (transposed, b, a)
            }
        };
        let coefficients = coefficients();
        by_pair_blocks(buf, POINTS, pairs, |p, at, dst| {
            let taps = (0..9).map(|tap| (coefficients[p][tap], &taps[kernel.source(tap) * pairs + at..]));
            sum_nonzero(dst, taps);
        });
        Self { data: buf, inputs, outputs, kernel }
    }

    /// Point `p` as an `inputs × outputs` matrix.
    pub(super) fn point(&self, p: usize) -> MatRef<'_> {
        MatRef::new(&self.data[p * self.inputs * self.outputs..], self.inputs, self.outputs)
    }
}

/// `Gᵀ m G` of an accumulated transformed gradient: the `[3][3][a][b]` kernel gradient, each
/// tap a sum of the points' `a × b` matrices. `kernel` is how the accumulated pairs read the
/// taps: a gradient accumulated with the roles of the two sides swapped (a convolution's, see
/// [`backward`](super::backward)) holds them rotated 180°.
pub(crate) fn finish_kernel_grad(acc: &[f32], a: usize, b: usize, kernel: Kernel, grad: &mut [f32]) {
    let pairs = a * b;
    let coefficients = coefficients();
    by_pair_blocks(&mut grad[..9 * pairs], 9, pairs, |tap, at, dst| {
        sum_nonzero(dst, (0..POINTS).map(|p| (coefficients[p][kernel.source(tap)], &acc[p * pairs + at..])));
    });
}

/// [`weighted_sum`] of the terms (at most [`POINTS`]) whose weight is not zero, in order, without
/// allocating: it runs for every block of pairs of every point or tap.
fn sum_nonzero<'s>(dst: &mut [f32], terms: impl Iterator<Item = (f32, &'s [f32])>) {
    let mut kept = [(0.0, &[][..]); POINTS];
    let mut count = 0;
    for (w, src) in terms.filter(|(w, _)| *w != 0.0) {
        kept[count] = (w, &src[..dst.len()]);
        count += 1;
    }
    weighted_sum(dst, &kept[..count]);
}

/// Channel pairs a task of [`by_pair_blocks`] covers: its sources (9 taps or 36 points of 256
/// values) stay in the level-1 or level-2 cache while it makes every row's values of them.
const PAIR_BLOCK: usize = 256;

/// Calls `f(row, at, dst)` for each of `rows` rows of `pairs` values in `buf` and each block of
/// [`PAIR_BLOCK`] pairs from `at`, `dst` being that row's block: blocks in parallel, a block's
/// rows in order. Made row by row, a 128 × 256 kernel's taps (1.2 MB, beyond the level-2 cache)
/// were read again for every point.
fn by_pair_blocks(buf: &mut [f32], rows: usize, pairs: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync) {
    let mut blocks: Vec<Vec<&mut [f32]>> =
        (0..pairs.div_ceil(PAIR_BLOCK)).map(|_| Vec::with_capacity(rows)).collect();
    for row in buf[..rows * pairs].chunks_exact_mut(pairs) {
        for (block, dst) in blocks.iter_mut().zip(row.chunks_mut(PAIR_BLOCK)) {
            block.push(dst);
        }
    }
    blocks.into_par_iter().enumerate().for_each(|(i, block)| {
        for (row, dst) in block.into_iter().enumerate() {
            f(row, i * PAIR_BLOCK, dst);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transformed kernel and the kernel gradient's taps: the bits of zeroing each row and
    /// adding its weighted terms one pass after another, in order (`a`·`b` pairs not a multiple
    /// of the sum's block, both kernel readings).
    #[test]
    fn one_pass_weighted_sums_give_the_bits_of_a_pass_per_term() {
        // 19 × 23 = 437 pairs: a whole block of pairs and a part of one.
        let (a, b) = (19, 23);
        let pairs = a * b;
        let weight: Vec<f32> = (0..9 * pairs).map(|i| (i as f32 * 0.37).sin()).collect();
        let coefficients = coefficients();
        let passes = |dst: &mut [f32], terms: Vec<(f32, &[f32])>| {
            dst.fill(0.0);
            for (w, src) in terms {
                dst.iter_mut().zip(src).for_each(|(d, s)| *d += w * s);
            }
        };
        for kernel in [Kernel::AsStored, Kernel::Rotated] {
            let mut buf = vec![f32::NAN; Filter::buffer_len(a, b)];
            let filter = Filter::transform(&weight, a, b, kernel, &mut buf);
            // The taps as the filter reads them: a rotated kernel's transposed and turned round.
            let taps: Vec<f32> = match kernel {
                Kernel::AsStored => weight.clone(),
                Kernel::Rotated => (0..9 * pairs)
                    .map(|k| {
                        let (tap, at) = (k / pairs, k % pairs);
                        let (i, o) = (at / a, at % a);
                        weight[(8 - tap) * pairs + o * b + i]
                    })
                    .collect(),
            };
            for (p, weights) in coefficients.iter().enumerate() {
                let mut want = vec![0.0; pairs];
                let terms =
                    (0..9).filter(|&t| weights[t] != 0.0).map(|t| (weights[t], &taps[t * pairs..][..pairs]));
                passes(&mut want, terms.collect());
                let got = &filter.data[p * pairs..][..pairs];
                assert!(
                    got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()),
                    "{kernel:?} point {p}"
                );
            }
        }
        let acc: Vec<f32> = (0..POINTS * pairs).map(|i| (i as f32 * 0.11).cos()).collect();
        for kernel in [Kernel::AsStored, Kernel::Rotated] {
            let mut grad = vec![f32::NAN; 9 * pairs];
            finish_kernel_grad(&acc, a, b, kernel, &mut grad);
            for tap in 0..9 {
                let read = if kernel == Kernel::Rotated { 8 - tap } else { tap };
                let mut want = vec![0.0; pairs];
                let terms = (0..POINTS).filter(|&p| coefficients[p][read] != 0.0);
                passes(
                    &mut want,
                    terms.map(|p| (coefficients[p][read], &acc[p * pairs..][..pairs])).collect(),
                );
                let got = &grad[tap * pairs..][..pairs];
                assert!(
                    got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()),
                    "{kernel:?} tap {tap}"
                );
            }
        }
    }

    /// A weighted sum on every lane implementation this CPU can run gives the bits of the value
    /// by value sum, in whole blocks and the rest.
    #[test]
    fn weighted_sums_agree_bit_for_bit_on_every_lane_implementation() {
        type Sum = fn(&mut [f32], &[(f32, &[f32])]);
        let mut implementations: Vec<(&str, Sum)> =
            vec![("portable", weighted_sum_with::<crate::lanes::Portable>)];
        #[cfg(target_arch = "x86_64")]
        {
            use crate::lanes::{Avx2, Avx512};
            if std::arch::is_x86_feature_detected!("avx2") {
                implementations.push(("avx2", weighted_sum_with::<Avx2>));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                implementations.push(("avx512", weighted_sum_with::<Avx512>));
            }
        }
        let n = 437;
        let sources: Vec<Vec<f32>> = (0..5)
            .map(|t| (0..n + 3).map(|i| ((i * 31 + t * 7) % 89) as f32 / 44.0 - 1.0).collect())
            .collect();
        let weights = [0.25, -1.0 / 6.0, 1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0];
        let terms: Vec<(f32, &[f32])> = weights.iter().zip(&sources).map(|(&w, s)| (w, &s[..])).collect();
        let mut want = vec![f32::NAN; n];
        sum_values(&mut want, &terms, 0);
        for (name, sum) in implementations {
            let mut got = vec![f32::NAN; n];
            sum(&mut got, &terms);
            assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "{name}");
        }
    }

    /// The per-tap coefficients give `G g Gᵀ` as the 1-D transform applied to columns and rows.
    #[test]
    fn coefficients_are_the_two_dimensional_filter_transform() {
        let g: [f64; 9] = std::array::from_fn(|i| (i as f64 * 0.7).sin());
        let columns: [[f64; ALPHA]; 3] = std::array::from_fn(|kw| filter_1d([g[kw], g[3 + kw], g[6 + kw]]));
        let coefficients = coefficients();
        for r in 0..ALPHA {
            let row = filter_1d([columns[0][r], columns[1][r], columns[2][r]]);
            for (c, expect) in row.into_iter().enumerate() {
                let got: f64 = coefficients[r * ALPHA + c].iter().zip(&g).map(|(w, v)| *w as f64 * v).sum();
                assert!((got - expect).abs() < 1e-6, "point ({r}, {c}): {got} vs {expect}");
            }
        }
    }
}
