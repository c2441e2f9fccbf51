//! The F(4×4, 3×3) transforms: `Bᵀ d B` of input tiles, `Aᵀ m A` back to outputs, `A y Aᵀ` of
//! output gradients and `G g Gᵀ` of kernels, written out so that a tile stays in registers.

use crate::lanes::Lane16;
use std::ops::{Add, Mul, Sub};

/// `Bᵀ d` for one column of six input values.
#[inline(always)]
pub(super) fn input_1d<T: Copy + Add<Output = T> + Sub<Output = T>>(d: [T; 6]) -> [T; 6]
where
    f32: Mul<T, Output = T>,
{
    [
        4.0 * d[0] - 5.0 * d[2] + d[4],
        -4.0 * (d[1] + d[2]) + d[3] + d[4],
        4.0 * (d[1] - d[2]) - d[3] + d[4],
        2.0 * (d[3] - d[1]) - d[2] + d[4],
        2.0 * (d[1] - d[3]) - d[2] + d[4],
        4.0 * d[1] - 5.0 * d[3] + d[5],
    ]
}

/// `Aᵀ m`: six transformed values back to four outputs.
#[inline(always)]
pub(super) fn output_1d<T: Copy + Add<Output = T> + Sub<Output = T>>(m: [T; 6]) -> [T; 4]
where
    f32: Mul<T, Output = T>,
{
    let (p12, m12) = (m[1] + m[2], m[1] - m[2]);
    let (p34, m34) = (m[3] + m[4], m[3] - m[4]);
    [m[0] + p12 + p34, m12 + 2.0 * m34, p12 + 4.0 * p34, m12 + 8.0 * m34 + m[5]]
}

/// `A y`: the transpose of [`output_1d`], four output gradients to six transformed values.
#[inline(always)]
pub(super) fn output_grad_1d<T: Copy + Add<Output = T> + Sub<Output = T>>(y: [T; 4]) -> [T; 6]
where
    f32: Mul<T, Output = T>,
{
    let (even, odd) = (y[0] + y[2], y[1] + y[3]);
    let (even4, odd8) = (y[0] + 4.0 * y[2], 2.0 * y[1] + 8.0 * y[3]);
    [y[0], even + odd, even - odd, even4 + odd8, even4 - odd8, y[3]]
}

/// `G g` in f64: a 3-tap kernel to six transformed values.
pub(super) fn filter_1d(g: [f64; 3]) -> [f64; 6] {
    [
        g[0] / 4.0,
        -(g[0] + g[1] + g[2]) / 6.0,
        -(g[0] - g[1] + g[2]) / 6.0,
        g[0] / 24.0 + g[1] / 12.0 + g[2] / 6.0,
        g[0] / 24.0 - g[1] / 12.0 + g[2] / 6.0,
        g[2],
    ]
}

/// Applies a 1-D transform `f` along columns, then along rows, of a square tile of lane groups
/// (`T x Tᵀ`), reading the tile through `read(row, column)` and handing each result to
/// `write(row, column, lanes)`, so that callers read and write memory in place. Written out in
/// full for literal index lists: with no loop or closure in between, LLVM keeps the whole tile
/// in registers (as generic loops over the sizes it spilled them to the stack).
macro_rules! transform_2d {
    ($read:ident, $write:ident, $f:path, $inputs:tt, $outputs:tt) => {{
        let columns = transform_2d!(@columns $read, $f, $inputs, $inputs);
        transform_2d!(@rows $write, $f, columns, $inputs, $outputs, $outputs);
    }};
    (@rows $write:ident, $f:path, $columns:ident, $inputs:tt, $outputs:tt, [$($r:tt)*]) => {
        $( transform_2d!(@row $write, $f, $columns, $r, $inputs, $outputs); )*
    };
    (@columns $read:ident, $f:path, $rows:tt, [$($x:tt)*]) => {
        [$( transform_2d!(@column $read, $f, $x, $rows) ),*]
    };
    (@column $read:ident, $f:path, $x:tt, [$($y:tt)*]) => {
        $f([$( $read($y, $x) ),*])
    };
    (@row $write:ident, $f:path, $columns:ident, $r:tt, [$($x:tt)*], [$($p:tt)*]) => {{
        let row = $f([$( $columns[$x][$r] ),*]);
        $( $write($r, $p, row[$p]); )*
    }};
}

/// `Bᵀ d B` of a 6×6 tile.
#[inline(always)]
pub(super) fn transform_input<L: Lane16>(
    read: impl Fn(usize, usize) -> L,
    mut write: impl FnMut(usize, usize, L),
) where
    f32: Mul<L, Output = L>,
{
    transform_2d!(read, write, input_1d, [0 1 2 3 4 5], [0 1 2 3 4 5]);
}

/// `Aᵀ m A`: a 6×6 transformed tile to 4×4 outputs.
#[inline(always)]
pub(super) fn transform_output<L: Lane16>(
    read: impl Fn(usize, usize) -> L,
    mut write: impl FnMut(usize, usize, L),
) where
    f32: Mul<L, Output = L>,
{
    transform_2d!(read, write, output_1d, [0 1 2 3 4 5], [0 1 2 3]);
}

/// `A y Aᵀ`: a 4×4 output-gradient tile to 6×6 transformed values.
#[inline(always)]
pub(super) fn transform_output_grad<L: Lane16>(
    read: impl Fn(usize, usize) -> L,
    mut write: impl FnMut(usize, usize, L),
) where
    f32: Mul<L, Output = L>,
{
    transform_2d!(read, write, output_grad_1d, [0 1 2 3], [0 1 2 3 4 5]);
}
