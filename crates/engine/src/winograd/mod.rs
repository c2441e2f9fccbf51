//! Winograd F(4×4, 3×3): stride-1 3×3 "same" convolutions with a quarter of the multiplications.
//!
//! A 6×6 input tile `d` and a 3×3 kernel `g` give a 4×4 output tile `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`
//! (Lavin & Gray 2016, interpolation points 0, ±1, ±2, ∞). Summed over input channels, the
//! element-wise product is 36 independent GEMMs, one per tile point, with 36 multiplications per
//! 16 outputs instead of 144. Backward uses the same transforms, by linearity: with
//! `L = Σ ∂Y ⊙ Y`, `∂L/∂g = Gᵀ[(A ∂Y Aᵀ) ⊙ (Bᵀ d B)]G`, where the sum over tiles is taken in the
//! transformed domain (one GEMM per point again) before the 3×3 kernel is recovered.
//!
//! Everything here works on NHWC batches whose input and output have the same height and width
//! (stride 1, one pixel of zero padding on every side); channels are transformed 16 at a time,
//! which is where the vectorisation comes from.

use crate::aligned::AlignedVec;
use crate::lanes::{dispatch, Lane16, Lanes, LANES};
use crate::matmul::{matmul_small, MatRef};
use std::ops::Mul;
use transform::{transform_input, transform_output, transform_output_grad};

pub(crate) use filter::{filter_len, finish_kernel_grad, Filter, Kernel};

mod filter;
mod transform;

/// Output tile side.
const TILE: usize = 4;
/// Input tile side: `TILE + 3 − 1`.
const ALPHA: usize = 6;
/// Points of the transformed tile, one GEMM each.
const POINTS: usize = ALPHA * ALPHA;
/// Tiles per GEMM block: small enough that a block's transformed tiles stay in cache (32 ran
/// 3–4 % faster than 16 or 64 with the unpacked kernel; with `gemm`, 32–256 had made no difference).
const BLOCK: usize = 32;

/// The tiles covering one image, and where each tile's window starts.
#[derive(Clone, Copy)]
struct Grid {
    height: usize,
    width: usize,
    rows: usize,
    cols: usize,
}

impl Grid {
    fn new(height: usize, width: usize) -> Self {
        Self { height, width, rows: height.div_ceil(TILE), cols: width.div_ceil(TILE) }
    }

    fn per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// `(first tile, tile count)` of each block over a batch of `values` values of `channels`
    /// channels per pixel.
    fn blocks(&self, values: usize, channels: usize) -> impl Iterator<Item = (usize, usize)> {
        let tiles = values / (self.height * self.width * channels) * self.per_image();
        (0..tiles).step_by(BLOCK).map(move |first| (first, BLOCK.min(tiles - first)))
    }

    /// Image index and top-left output pixel of tile `t` of the batch.
    fn locate(&self, t: usize) -> (usize, usize, usize) {
        let (image, rest) = (t / self.per_image(), t % self.per_image());
        (image, rest / self.cols * TILE, rest % self.cols * TILE)
    }
}

/// Copies up to `LANES` values into a lane group, zero-filling the rest. The full-width case is
/// a fixed-size copy the compiler turns into one vector move instead of a `memcpy` call.
#[inline(always)]
fn copy_lanes(src: &[f32], dst: &mut Lanes) {
    match <&Lanes>::try_from(src) {
        Ok(full) => *dst = *full,
        Err(_) => {
            dst[..src.len()].copy_from_slice(src);
            dst[src.len()..].fill(0.0);
        }
    }
}

/// The first `dst.len()` (at most `LANES`) values of a lane group.
#[inline(always)]
fn store_lanes(src: &Lanes, dst: &mut [f32]) {
    match <&mut Lanes>::try_from(&mut *dst) {
        Ok(full) => *full = *src,
        Err(_) => {
            let n = dst.len();
            dst.copy_from_slice(&src[..n]);
        }
    }
}

/// Reads lane group `c0..` of the `S×S` pixels starting at `(top, left)` (which may lie in the
/// padding), zeros outside the image or past `channels`: the general path, for tiles on the border
/// or channel counts that are not whole lane groups.
#[inline(always)]
fn load<const S: usize>(
    image: &[f32],
    grid: Grid,
    channels: usize,
    c0: usize,
    top: isize,
    left: isize,
    tile: &mut [[Lanes; S]; S],
) {
    let lanes = LANES.min(channels - c0);
    for (dy, row) in tile.iter_mut().enumerate() {
        let y = top + dy as isize;
        for (dx, px) in row.iter_mut().enumerate() {
            let x = left + dx as isize;
            if y < 0 || x < 0 || y >= grid.height as isize || x >= grid.width as isize {
                *px = [0.0; LANES];
            } else {
                let at = (y as usize * grid.width + x as usize) * channels + c0;
                copy_lanes(&image[at..at + lanes], px);
            }
        }
    }
}

/// Where point `p` of tile `t` starts in a block of transformed tiles. The layout is tile-major,
/// `[tile][point][channel]`, so a tile is written to one contiguous run; the GEMM of point `p`
/// reads its rows [`tile_stride`] apart. (Point-major blocks put the 36 writes of a tile a
/// power-of-two stride apart, into one cache set, and ran the transforms 2× slower.)
#[inline(always)]
fn at(t: usize, p: usize, channels: usize) -> usize {
    t * tile_stride(channels) + p * channels
}

/// Distance between consecutive tiles in a block: their points plus one unused cache line, so
/// that a GEMM's rows (one per tile) do not all fall into the same few cache sets, as they did
/// at `POINTS × channels` (9 KB for 64 channels: the 64 rows of a block shared 16 of the 64
/// sets of the level-1 cache).
#[inline(always)]
fn tile_stride(channels: usize) -> usize {
    POINTS * channels + LANES
}

/// Writes a transformed tile's lane group `c0..` into a block of transformed tiles.
#[inline(always)]
fn scatter_points(tile: &[[Lanes; ALPHA]; ALPHA], dst: &mut [f32], t: usize, channels: usize, c0: usize) {
    let lanes = LANES.min(channels - c0);
    let out = &mut dst[at(t, 0, channels) + c0..][..(POINTS - 1) * channels + lanes];
    for (p, v) in tile.iter().flatten().enumerate() {
        store_lanes(v, &mut out[p * channels..p * channels + lanes]);
    }
}

/// The full lane group at `at`.
#[inline(always)]
fn lanes_at(src: &[f32], at: usize) -> &Lanes {
    <&Lanes>::try_from(&src[at..at + LANES]).expect("LANES values")
}

/// The full lane group at `at`, to write.
#[inline(always)]
fn lanes_at_mut(dst: &mut [f32], at: usize) -> &mut Lanes {
    <&mut Lanes>::try_from(&mut dst[at..at + LANES]).expect("LANES values")
}

/// Point `p` of a block of `count` transformed tiles, as a `count × channels` matrix.
fn point_matrix(block: &[f32], p: usize, count: usize, channels: usize) -> MatRef<'_> {
    MatRef::strided(&block[p * channels..], count, channels, tile_stride(channels), 1)
}

dispatch! {
    /// `Bᵀ d B` of the 6×6 input windows of tiles `first..first + count` into `dst`.
    fn transform_inputs(input: &[f32], grid: Grid, channels: usize, span: (usize, usize), dst: &mut [f32])
        => transform_inputs_with
}

#[inline(always)]
fn transform_inputs_with<L: Lane16>(
    input: &[f32],
    grid: Grid,
    channels: usize,
    (first, count): (usize, usize),
    dst: &mut [f32],
) where
    f32: Mul<L, Output = L>,
{
    let image_len = grid.height * grid.width * channels;
    let (mut d, mut v) = ([[[0.0; LANES]; ALPHA]; ALPHA], [[[0.0; LANES]; ALPHA]; ALPHA]);
    let row_len = grid.width * channels;
    for t in 0..count {
        let (image, top, left) = grid.locate(first + t);
        let image = &input[image * image_len..][..image_len];
        let inside = top >= 1 && left >= 1 && top + TILE < grid.height && left + TILE < grid.width;
        if inside && channels.is_multiple_of(LANES) {
            // The common case: read the window's rows and write the tile's points in place. The
            // window is read transposed (rows transformed first), which gives the transpose of
            // `Bᵀ d B`, written back transposed.
            let start = ((top - 1) * grid.width + left - 1) * channels;
            let window = &image[start..][..(ALPHA - 1) * (row_len + channels) + channels];
            let points = &mut dst[at(t, 0, channels)..][..POINTS * channels];
            for c0 in (0..channels).step_by(LANES) {
                transform_input::<L>(
                    |r, c| L::load(lanes_at(window, c * row_len + r * channels + c0)),
                    |r, c, v| v.store(lanes_at_mut(points, (c * ALPHA + r) * channels + c0)),
                );
            }
            continue;
        }
        if channels.is_multiple_of(LANES) {
            // A tile on the border (44 % of them at 32×32, 75 % at 16×16): the same in-register
            // transform, with zeros for the pixels in the padding. `top − 1` and `left − 1` wrap
            // to huge values at the first row and column, which the bounds test also rejects.
            let (y0, x0) = (top.wrapping_sub(1), left.wrapping_sub(1));
            let points = &mut dst[at(t, 0, channels)..][..POINTS * channels];
            for c0 in (0..channels).step_by(LANES) {
                transform_input::<L>(
                    |r, c| {
                        let (y, x) = (y0.wrapping_add(r), x0.wrapping_add(c));
                        if y < grid.height && x < grid.width {
                            L::load(lanes_at(image, (y * grid.width + x) * channels + c0))
                        } else {
                            L::zero()
                        }
                    },
                    |r, c, v| v.store(lanes_at_mut(points, (r * ALPHA + c) * channels + c0)),
                );
            }
            continue;
        }
        for c0 in (0..channels).step_by(LANES) {
            load(image, grid, channels, c0, top as isize - 1, left as isize - 1, &mut d);
            transform_input::<L>(|y, x| L::load(&d[y][x]), |o, p, w| w.store(&mut v[o][p]));
            scatter_points(&v, dst, t, channels, c0);
        }
    }
}

dispatch! {
    /// `A y Aᵀ` of the 4×4 output-gradient tiles `first..first + count` into `dst`.
    fn transform_output_grads(grads: &[f32], grid: Grid, channels: usize, span: (usize, usize), dst: &mut [f32])
        => transform_output_grads_with
}

#[inline(always)]
fn transform_output_grads_with<L: Lane16>(
    grads: &[f32],
    grid: Grid,
    channels: usize,
    (first, count): (usize, usize),
    dst: &mut [f32],
) where
    f32: Mul<L, Output = L>,
{
    let image_len = grid.height * grid.width * channels;
    let row_len = grid.width * channels;
    let (mut y, mut v) = ([[[0.0; LANES]; TILE]; TILE], [[[0.0; LANES]; ALPHA]; ALPHA]);
    for t in 0..count {
        let (image, top, left) = grid.locate(first + t);
        let image = &grads[image * image_len..][..image_len];
        if top + TILE <= grid.height && left + TILE <= grid.width && channels.is_multiple_of(LANES) {
            // The common case: read the tile's rows and write its points in place.
            let start = (top * grid.width + left) * channels;
            let window = &image[start..][..(TILE - 1) * (row_len + channels) + channels];
            let points = &mut dst[at(t, 0, channels)..][..POINTS * channels];
            for c0 in (0..channels).step_by(LANES) {
                transform_output_grad::<L>(
                    |r, c| L::load(lanes_at(window, r * row_len + c * channels + c0)),
                    |r, c, v| v.store(lanes_at_mut(points, (r * ALPHA + c) * channels + c0)),
                );
            }
            continue;
        }
        for c0 in (0..channels).step_by(LANES) {
            load(image, grid, channels, c0, top as isize, left as isize, &mut y);
            transform_output_grad::<L>(|r, c| L::load(&y[r][c]), |o, p, w| w.store(&mut v[o][p]));
            scatter_points(&v, dst, t, channels, c0);
        }
    }
}

dispatch! {
    /// `Aᵀ m A` of tiles `first..first + count` from a block of transformed tiles, into `output`;
    /// with `stream`, through stores that bypass the caches where `output` allows it.
    fn transform_outputs(src: &[f32], grid: Grid, channels: usize, span: (usize, usize), output: &mut [f32], stream: bool)
        => transform_outputs_with
}

#[inline(always)]
fn transform_outputs_with<L: Lane16>(
    src: &[f32],
    grid: Grid,
    channels: usize,
    (first, count): (usize, usize),
    output: &mut [f32],
    stream: bool,
) where
    f32: Mul<L, Output = L>,
{
    let image_len = grid.height * grid.width * channels;
    // Streamed stores need every lane group to start a cache line.
    let stream = stream && (output.as_ptr() as usize).is_multiple_of(64) && channels.is_multiple_of(LANES);
    let (mut m, mut y) = ([[[0.0; LANES]; ALPHA]; ALPHA], [[[0.0; LANES]; TILE]; TILE]);
    for t in 0..count {
        let (image, top, left) = grid.locate(first + t);
        let image = &mut output[image * image_len..][..image_len];
        let whole = top + TILE <= grid.height && left + TILE <= grid.width;
        if whole && channels.is_multiple_of(LANES) {
            // The common case: read the tile's points and write its pixels in place.
            let points = &src[at(t, 0, channels)..][..POINTS * channels];
            let row_len = grid.width * channels;
            let start = (top * grid.width + left) * channels;
            let window = &mut image[start..][..(TILE - 1) * (row_len + channels) + channels];
            for c0 in (0..channels).step_by(LANES) {
                let read = |r, c| L::load(lanes_at(points, (r * ALPHA + c) * channels + c0));
                if stream {
                    transform_output::<L>(read, |r, c, v| {
                        v.stream(lanes_at_mut(window, r * row_len + c * channels + c0))
                    });
                } else {
                    transform_output::<L>(read, |r, c, v| {
                        v.store(lanes_at_mut(window, r * row_len + c * channels + c0))
                    });
                }
            }
            continue;
        }
        for c0 in (0..channels).step_by(LANES) {
            let lanes = LANES.min(channels - c0);
            let points = &src[at(t, 0, channels) + c0..][..(POINTS - 1) * channels + lanes];
            for (p, v) in m.iter_mut().flatten().enumerate() {
                copy_lanes(&points[p * channels..p * channels + lanes], v);
            }
            transform_output::<L>(|r, c| L::load(&m[r][c]), |o, p, w| w.store(&mut y[o][p]));
            for (dy, row) in y.iter().enumerate().take(grid.height - top) {
                for (dx, v) in row.iter().enumerate().take(grid.width - left) {
                    let at = ((top + dy) * grid.width + left + dx) * channels + c0;
                    store_lanes(v, &mut image[at..at + lanes]);
                }
            }
        }
    }
    if stream {
        L::fence();
    }
}

/// One thread's scratch: two blocks of transformed tiles.
#[derive(Default)]
pub(crate) struct TileScratch {
    a: AlignedVec,
    b: AlignedVec,
}

impl TileScratch {
    /// Room for blocks of tiles with up to `channels` channels.
    pub(crate) fn reserve(&mut self, channels: usize) {
        for buf in [&mut self.a, &mut self.b] {
            buf.grow_to(block_len(channels));
        }
    }
}

/// Images of `(height, width)` that fill about one block of tiles: the unit in which callers
/// interleave other passes with the transforms while the data is still in cache.
pub(crate) fn images_per_block((height, width): (usize, usize)) -> usize {
    BLOCK.div_ceil(Grid::new(height, width).per_image()).max(1)
}

/// Length of a block of `channels`-wide transformed tiles.
pub(crate) fn block_len(channels: usize) -> usize {
    BLOCK * tile_stride(channels)
}

/// Stride-1, zero-padded 3×3 correlation of a batch: `output (… × outputs)` is overwritten with
/// the correlation of `input (… × inputs)` with a transformed kernel. `scratch` must have been
/// reserved for the wider of the two channel counts.
pub(crate) fn correlate(
    input: &[f32],
    output: &mut [f32],
    (height, width): (usize, usize),
    filter: &Filter<'_>,
    scratch: &mut TileScratch,
    stream: bool,
) {
    let TileScratch { a: tiles_in, b: tiles_out } = scratch;
    let grid = Grid::new(height, width);
    for span in grid.blocks(input.len(), filter.inputs) {
        transform_inputs(input, grid, filter.inputs, span, tiles_in);
        correlate_block(tiles_in, tiles_out, grid, span, filter, output, stream);
    }
}

/// The GEMMs and output transform of one block whose inputs are already transformed.
fn correlate_block(
    tiles_in: &[f32],
    tiles_out: &mut [f32],
    grid: Grid,
    span: (usize, usize),
    filter: &Filter<'_>,
    output: &mut [f32],
    stream: bool,
) {
    let (inputs, outputs) = (filter.inputs, filter.outputs);
    for p in 0..POINTS {
        let v = point_matrix(tiles_in, p, span.1, inputs);
        let m = &mut tiles_out[p * outputs..];
        matmul_small(m, tile_stride(outputs), v, filter.point(p), false);
    }
    transform_outputs(tiles_out, grid, outputs, span, output, stream);
}

/// `acc[p] += V_pᵀ · D_p` for every point of one block of transformed tiles.
fn accumulate_block(tiles_a: &[f32], tiles_b: &[f32], count: usize, (a, b): (usize, usize), acc: &mut [f32]) {
    for p in 0..POINTS {
        let va = point_matrix(tiles_a, p, count, a).transpose();
        let vb = point_matrix(tiles_b, p, count, b);
        matmul_small(&mut acc[p * a * b..], b, va, vb, true);
    }
}

/// Either layer's backward pass over a few images, whose input gradient (a correlation of `dy`
/// with `filter`, when `dx` is asked for) and kernel gradient (pairing `dy` with the input `x`)
/// start from the same transform of `dy`: it is done once. A transposed convolution's `dy` is its
/// big side, as the kernel gradient's formula wants; a convolution's is the small side, and its
/// gradient `Σ x[s + tap − 1] · dy[s]` is taken as `Σ dy[s + tap' − 1] · x[s]` with the taps
/// rotated (`filter` is then [`Kernel::Rotated`]; [`finish_kernel_grad`] turns them back). `acc`
/// is `[POINTS][a][b]`, the weight's channel order, either way.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    dy: &[f32],
    x: &[f32],
    mut dx: Option<&mut [f32]>,
    (height, width): (usize, usize),
    filter: &Filter<'_>,
    acc: &mut [f32],
    scratch: &mut TileScratch,
    stream_dx: bool,
) {
    let TileScratch { a: tiles_dy, b: tiles_other } = scratch;
    let (big, small) = (filter.inputs, filter.outputs);
    let grid = Grid::new(height, width);
    for span in grid.blocks(dy.len(), big) {
        transform_inputs(dy, grid, big, span, tiles_dy);
        if let Some(dx) = dx.as_deref_mut() {
            correlate_block(tiles_dy, tiles_other, grid, span, filter, dx, stream_dx);
        }
        transform_output_grads(x, grid, small, span, tiles_other);
        match filter.kernel {
            Kernel::AsStored => accumulate_block(tiles_dy, tiles_other, span.1, (big, small), acc),
            Kernel::Rotated => accumulate_block(tiles_other, tiles_dy, span.1, (small, big), acc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::transform::{filter_1d, input_1d, output_1d, output_grad_1d};
    use super::*;

    /// `Aᵀ[(G g) ⊙ (Bᵀ d)]` must be the 1-D correlation `y[i] = Σ_k g[k] d[i + k]`.
    #[test]
    fn one_dimensional_transforms_correlate() {
        let d = [0.3, -1.2, 0.7, 2.1, -0.4, 0.9];
        let g = [0.5, -0.25, 1.5];
        let (v, u) = (input_1d(d), filter_1d(g.map(f64::from)));
        let y = output_1d(std::array::from_fn(|j| v[j] * u[j] as f32));
        for (i, y) in y.into_iter().enumerate() {
            let expect: f32 = (0..3).map(|k| g[k] * d[i + k]).sum();
            assert!((y - expect).abs() < 1e-5, "y[{i}] = {y}, expected {expect}");
        }
    }

    fn outputs_stored<L: Lane16>(
        src: &[f32],
        grid: Grid,
        channels: usize,
        span: (usize, usize),
        out: &mut [f32],
    ) where
        f32: Mul<L, Output = L>,
    {
        transform_outputs_with::<L>(src, grid, channels, span, out, false);
    }

    /// Every lane implementation this CPU can run gives the same bits as plain Rust, on interior
    /// and border tiles, whole and partial lane groups.
    #[test]
    fn lane_implementations_agree_bit_for_bit() {
        type Transform = fn(&[f32], Grid, usize, (usize, usize), &mut [f32]);
        let mut implementations: Vec<(&str, [Transform; 3])> = vec![(
            "portable",
            [
                transform_inputs_with::<crate::lanes::Portable>,
                transform_output_grads_with::<crate::lanes::Portable>,
                outputs_stored::<crate::lanes::Portable>,
            ],
        )];
        #[cfg(target_arch = "x86_64")]
        {
            use crate::lanes::{Avx2, Avx512};
            if std::arch::is_x86_feature_detected!("avx2") {
                let avx2: [Transform; 3] = [
                    transform_inputs_with::<Avx2>,
                    transform_output_grads_with::<Avx2>,
                    outputs_stored::<Avx2>,
                ];
                implementations.push(("avx2", avx2));
            } else {
                eprintln!("lane_implementations_agree_bit_for_bit: skipped avx2 (not on this CPU)");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                let avx512: [Transform; 3] = [
                    transform_inputs_with::<Avx512>,
                    transform_output_grads_with::<Avx512>,
                    outputs_stored::<Avx512>,
                ];
                implementations.push(("avx512", avx512));
            } else {
                eprintln!("lane_implementations_agree_bit_for_bit: skipped avx512 (not on this CPU)");
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        eprintln!("lane_implementations_agree_bit_for_bit: only the portable lanes exist off x86-64");
        for (height, width, channels) in [(13, 11, 32), (9, 7, 40)] {
            let grid = Grid::new(height, width);
            let images = 2;
            let values = images * height * width * channels;
            let image: Vec<f32> = (0..values).map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * 1.3).collect();
            let tiles = images * grid.per_image();
            let points: Vec<f32> =
                (0..tiles * tile_stride(channels)).map(|i| (i * 53 % 97) as f32 / 48.0 - 1.0).collect();
            let run = |transforms: &[Transform; 3]| {
                let (mut a, mut b) = (vec![0.0; points.len()], vec![0.0; points.len()]);
                let mut c = vec![0.0; values];
                transforms[0](&image, grid, channels, (0, tiles), &mut a);
                transforms[1](&image, grid, channels, (0, tiles), &mut b);
                transforms[2](&points, grid, channels, (0, tiles), &mut c);
                [a, b, c]
            };
            let expected = run(&implementations[0].1);
            for (name, transforms) in &implementations[1..] {
                let got = run(transforms);
                for (which, (g, e)) in got.iter().zip(&expected).enumerate() {
                    let same = g.iter().zip(e).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{name}, transform {which}, {height}×{width}×{channels}");
                }
            }
        }
    }

    /// Streamed stores (into a buffer that starts a cache line) write the same values.
    #[test]
    fn streamed_outputs_match_stored_ones() {
        let (grid, channels) = (Grid::new(12, 8), 32);
        let tiles = 2 * grid.per_image();
        let points: Vec<f32> =
            (0..tiles * tile_stride(channels)).map(|i| (i * 29 % 83) as f32 / 41.0 - 1.0).collect();
        let values = 2 * 12 * 8 * channels;
        let (mut stored, mut streamed) = (AlignedVec::zeros(values), AlignedVec::zeros(values));
        transform_outputs(&points, grid, channels, (0, tiles), &mut stored, false);
        transform_outputs(&points, grid, channels, (0, tiles), &mut streamed, true);
        assert!(stored.iter().zip(streamed.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(stored.iter().any(|&v| v != 0.0));
    }

    /// The output-gradient transform is the transpose of the output transform: `<T x, y> = <x, Tᵀ y>`.
    #[test]
    fn output_gradient_transform_is_the_transpose() {
        let x = [0.3, -1.2, 0.7, 2.1, -0.4, 0.9];
        let y = [1.1, -0.6, 0.25, 0.8];
        let lhs: f32 = output_1d(x).iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(output_grad_1d(y)).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-4);
    }
}
