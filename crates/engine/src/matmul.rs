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

/// Checks that `dst` (rows `dst_row_stride` apart) can hold `a · b`.
fn check_product(dst: &[f32], dst_row_stride: usize, a: &MatRef<'_>, b: &MatRef<'_>) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    let (m, n) = (a.rows, b.cols);
    assert!(dst_row_stride >= n, "destination rows of {n} overlap at stride {dst_row_stride}");
    assert!(
        m == 0 || dst.len() >= (m - 1) * dst_row_stride + n,
        "destination of {} is smaller than {m}×{n} at stride {dst_row_stride}",
        dst.len()
    );
}

/// [`matmul_strided`] on the calling thread, for products small enough to stay in cache (the
/// Winograd blocks: 64 tiles by up to 128 × 128). On CPUs with AVX-512, when `b`'s rows are
/// contiguous whole 16-lane groups, a register-blocked kernel reads `a` and `b` where they lie:
/// `gemm` packs an operand on every call, which cost 8 % of a training step. Otherwise `gemm`.
pub(crate) fn matmul_small(
    dst: &mut [f32],
    dst_row_stride: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
) {
    check_product(dst, dst_row_stride, &a, &b);
    #[cfg(target_arch = "x86_64")]
    if b.col_stride == 1 && b.cols.is_multiple_of(16) && std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; both views lie inside their slices (`MatRef::fits`) and
        // `dst` holds the product (`check_product`).
        unsafe { avx512::product(dst, dst_row_stride, a, b, accumulate) };
        return;
    }
    matmul_strided(dst, dst_row_stride, a, b, accumulate, Threads::Serial);
}

/// The unpacked kernel of [`matmul_small`].
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::MatRef;
    use std::arch::x86_64::*;

    /// `dst = a · b` (or `+=`), `b.cols` a multiple of 16 with unit column stride: panels of up
    /// to 64 columns, each swept by tiles of rows with all partial sums in registers.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, the views must lie inside their slices and `dst` must hold
    /// `a.rows` rows of `b.cols` values, `dst_row_stride` apart.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        dst: &mut [f32],
        dst_row_stride: usize,
        a: MatRef<'_>,
        b: MatRef<'_>,
        accumulate: bool,
    ) {
        let (m, n, k) = (a.rows, b.cols, a.cols);
        if m == 0 || n == 0 {
            return;
        }
        let mut j = 0;
        while j < n {
            let vectors = ((n - j) / 16).min(4);
            let b_panel = b.data.as_ptr().add(j);
            let c_panel = dst.as_mut_ptr().add(j);
            let (a_ptr, a_rs, a_cs, b_rs) = (a.data.as_ptr(), a.row_stride, a.col_stride, b.row_stride);
            let panel = Panel {
                m,
                k,
                a: a_ptr,
                a_rs,
                a_cs,
                b: b_panel,
                b_rs,
                c: c_panel,
                c_rs: dst_row_stride,
                accumulate,
            };
            // Rows per tile: as many as leave room for the partial sums, the row of `b` and a
            // broadcast in the 32 registers.
            match vectors {
                4 => panel.sweep::<6, 4>(),
                3 => panel.sweep::<8, 3>(),
                2 => panel.sweep::<12, 2>(),
                _ => panel.sweep::<12, 1>(),
            }
            j += 16 * vectors;
        }
    }

    /// One panel of the product: raw pointers to its first elements and the strides.
    struct Panel {
        m: usize,
        k: usize,
        a: *const f32,
        a_rs: usize,
        a_cs: usize,
        b: *const f32,
        b_rs: usize,
        c: *mut f32,
        c_rs: usize,
        accumulate: bool,
    }

    impl Panel {
        /// All rows, `R` at a time, then the rest with a tile of their exact height.
        #[target_feature(enable = "avx512f")]
        unsafe fn sweep<const R: usize, const NV: usize>(&self) {
            let mut i = 0;
            while i + R <= self.m {
                self.tile::<R, NV>(i);
                i += R;
            }
            macro_rules! rest {
                ($($rows:literal)*) => {
                    match self.m - i {
                        $($rows => self.tile::<$rows, NV>(i),)*
                        _ => {}
                    }
                };
            }
            rest!(1 2 3 4 5 6 7 8 9 10 11);
        }

        /// Rows `i..i + R` of the panel: `R × NV` registers of sums over the whole inner dimension.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn tile<const R: usize, const NV: usize>(&self, i: usize) {
            let mut acc = [[_mm512_setzero_ps(); NV]; R];
            let a = self.a.add(i * self.a_rs);
            for p in 0..self.k {
                let b = self.b.add(p * self.b_rs);
                let mut row = [_mm512_setzero_ps(); NV];
                for (v, lanes) in row.iter_mut().enumerate() {
                    *lanes = _mm512_loadu_ps(b.add(16 * v));
                }
                let a = a.add(p * self.a_cs);
                for (r, sums) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*a.add(r * self.a_rs));
                    for (sum, lanes) in sums.iter_mut().zip(&row) {
                        *sum = _mm512_fmadd_ps(x, *lanes, *sum);
                    }
                }
            }
            let c = self.c.add(i * self.c_rs);
            for (r, sums) in acc.iter().enumerate() {
                for (v, sum) in sums.iter().enumerate() {
                    let at = c.add(r * self.c_rs + 16 * v);
                    let value = if self.accumulate { _mm512_add_ps(_mm512_loadu_ps(at), *sum) } else { *sum };
                    _mm512_storeu_ps(at, value);
                }
            }
        }
    }
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
    check_product(dst, dst_row_stride, &a, &b);
    let (m, n, k) = (a.rows, b.cols, a.cols);
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

    /// The unpacked kernel (or its `gemm` fallback) on every panel width, remainder rows,
    /// strided and transposed operands, a strided destination, accumulating or not.
    #[test]
    fn small_products_match_naive() {
        for (m, k, n) in [(64, 128, 64), (13, 7, 16), (25, 9, 48), (7, 64, 128), (1, 3, 80), (30, 5, 24)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let expect = naive(&a, &b, m, k, n);
            // `a` stored transposed, `b` with rows 5 values apart, `dst` rows 3 values apart.
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let mut b_wide = vec![0.0; k * (n + 5)];
            for p in 0..k {
                b_wide[p * (n + 5)..][..n].copy_from_slice(&b[p * n..][..n]);
            }
            let b_view = MatRef::strided(&b_wide, k, n, n + 5, 1);
            let mut c = vec![1.0; m * (n + 3)];
            matmul_small(&mut c, n + 3, MatRef::transposed(&at, k, m), b_view, false);
            matmul_small(&mut c, n + 3, MatRef::new(&a, m, k), b_view, true);
            for i in 0..m {
                for j in 0..n + 3 {
                    let got = c[i * (n + 3) + j];
                    let want = if j < n { 2.0 * expect[i * n + j] } else { 1.0 };
                    assert!((got - want).abs() < 1e-4, "{m}×{k}×{n}: ({i}, {j}) = {got}, expected {want}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn a_view_larger_than_its_slice_is_refused() {
        let v = vec![0.0; 5];
        let _ = MatRef::new(&v, 2, 3);
    }
}
