//! A safe front to the `gemm` crate: strided row-major views, bounds checked once per call.

use gemm::Parallelism;

/// A read-only matrix view over a slice: element `(r, c)` lives at `r * row_stride + c * col_stride`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A `rows × cols` row-major matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// The transpose of a `rows × cols` row-major matrix, i.e. a `cols × rows` view without copying.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, cols, rows, 1, cols)
    }

    /// A general strided view: element `(r, c)` at `r * row_stride + c * col_stride`.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        let view = Self { data, rows, cols, row_stride, col_stride };
        assert!(view.fits(), "matrix view {rows}×{cols} exceeds a slice of {}", data.len());
        view
    }

    /// The same elements read as the transposed matrix.
    pub fn transpose(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }
}

/// How a GEMM may use threads: `Serial` inside batch-parallel loops, `Threads` for one big product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    Serial,
    Pool,
}

/// `dst (a.rows × b.cols, row-major) = a · b`, or `dst += a · b` when `accumulate`.
pub fn matmul(dst: &mut [f32], a: MatRef<'_>, b: MatRef<'_>, accumulate: bool, threads: Threads) {
    matmul_strided(dst, b.cols, a, b, accumulate, threads);
}

/// [`matmul`] into a destination whose rows lie `dst_row_stride` apart.
pub fn matmul_strided(
    dst: &mut [f32],
    dst_row_stride: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    threads: Threads,
) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(dst_row_stride >= n, "destination rows of {n} overlap at stride {dst_row_stride}");
    assert!(
        m == 0 || dst.len() >= (m - 1) * dst_row_stride + n,
        "destination of {} is smaller than {m}×{n} at stride {dst_row_stride}",
        dst.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_row_stride).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    let parallelism = match threads {
        Threads::Serial => Parallelism::None,
        Threads::Pool => match rayon::current_num_threads() {
            0 | 1 => Parallelism::None,
            t => Parallelism::Rayon(t),
        },
    };
    // SAFETY: every view was checked to lie inside its slice, `dst` holds m×n row-major elements,
    // and `dst` cannot alias `a` or `b` because it is borrowed mutably.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn plain_transposed_and_accumulated_products_match_naive() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let expect = naive(&a, &b, m, k, n);

        let mut c = vec![0.0; m * n];
        matmul(&mut c, MatRef::new(&a, m, k), MatRef::new(&b, k, n), false, Threads::Pool);
        for (x, y) in c.iter().zip(&expect) {
            assert!((x - y).abs() < 1e-5);
        }

        // aᵀ stored as k×m, viewed transposed, gives the same product; accumulating doubles it.
        let mut at = vec![0.0; k * m];
        for i in 0..m {
            for p in 0..k {
                at[p * m + i] = a[i * k + p];
            }
        }
        matmul(&mut c, MatRef::transposed(&at, k, m), MatRef::new(&b, k, n), true, Threads::Serial);
        for (x, y) in c.iter().zip(&expect) {
            assert!((x - 2.0 * y).abs() < 1e-5);
        }
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn a_view_larger_than_its_slice_is_refused() {
        let v = vec![0.0; 5];
        let _ = MatRef::new(&v, 2, 3);
    }
}
