//! Sixteen `f32` lanes as one value, for code written once and compiled for AVX-512, AVX2 and
//! plain Rust, picked at run time ([`dispatch!`]).
//!
//! Only addition, subtraction and multiplication (by a constant, `f32 * lanes`, or lane by lane,
//! [`times`](Lane16::times)) are offered, each an exact IEEE operation per lane, so every
//! implementation gives the same bits.

use std::ops::{Add, Mul, Sub};

/// Values per lane group.
pub(crate) const LANES: usize = 16;

/// A lane group in memory.
pub(crate) type Lanes = [f32; LANES];

/// Sixteen lanes in registers.
pub(crate) trait Lane16: Copy + Add<Output = Self> + Sub<Output = Self> {
    fn zero() -> Self;
    fn load(src: &Lanes) -> Self;
    fn store(self, dst: &mut Lanes);
    /// The lane-by-lane product.
    fn times(self, o: Self) -> Self;
    /// A store that bypasses the caches where the CPU has one, for results nobody reads soon;
    /// `dst` must start a cache line. Finish a run of them with [`fence`](Self::fence).
    #[inline(always)]
    fn stream(self, dst: &mut Lanes) {
        self.store(dst);
    }
    /// Orders earlier [`stream`](Self::stream)s before later stores.
    #[inline(always)]
    fn fence() {}
    /// Lane `i` of the result is the sum of `rows[i]`'s lanes, added as [`reduce`] adds them, in
    /// every implementation.
    #[inline(always)]
    fn transpose_sum(rows: [Self; LANES]) -> Self {
        Self::load(&rows.map(reduce))
    }
}

/// The sum of a lane group's values, halving it (lane `l` plus lane `l + 8`, then `l + 4`, `l + 2`,
/// `l + 1`): a short tree of adds rather than fifteen dependent ones.
#[inline(always)]
pub(crate) fn reduce<L: Lane16>(v: L) -> f32 {
    let mut lanes = [0.0; LANES];
    v.store(&mut lanes);
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
    }
    lanes[0]
}

/// Plain Rust, for CPUs without AVX2.
#[derive(Clone, Copy)]
pub(crate) struct Portable(Lanes);

impl Add for Portable {
    type Output = Self;
    #[inline(always)]
    fn add(mut self, o: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
        self
    }
}

impl Sub for Portable {
    type Output = Self;
    #[inline(always)]
    fn sub(mut self, o: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a -= b;
        }
        self
    }
}

impl Lane16 for Portable {
    #[inline(always)]
    fn zero() -> Self {
        Self([0.0; LANES])
    }
    #[inline(always)]
    fn load(src: &Lanes) -> Self {
        Self(*src)
    }
    #[inline(always)]
    fn store(self, dst: &mut Lanes) {
        *dst = self.0;
    }
    #[inline(always)]
    fn times(mut self, o: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a *= b;
        }
        self
    }
}

impl Mul<Portable> for f32 {
    type Output = Portable;
    #[inline(always)]
    fn mul(self, mut v: Portable) -> Portable {
        for a in &mut v.0 {
            *a *= self;
        }
        v
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

/// The x86-64 implementations. Their methods use vector instructions the baseline target lacks:
/// they are only ever called (inlined) inside the `#[target_feature]` functions that
/// [`dispatch!`] enters after checking the CPU, which is what makes the `unsafe` blocks sound.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Lane16, Lanes};
    use std::arch::x86_64::*;
    use std::ops::{Add, Mul, Sub};

    /// One 512-bit register.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(__m512);

    /// Two 256-bit registers.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256, __m256);

    impl Add for Avx512 {
        type Output = Self;
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm512_add_ps(self.0, o.0)) }
        }
    }

    impl Sub for Avx512 {
        type Output = Self;
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm512_sub_ps(self.0, o.0)) }
        }
    }

    impl Lane16 for Avx512 {
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm512_setzero_ps()) }
        }
        #[inline(always)]
        fn load(src: &Lanes) -> Self {
            // SAFETY: see the module comment; `src` holds 16 values.
            unsafe { Self(_mm512_loadu_ps(src.as_ptr())) }
        }
        #[inline(always)]
        fn store(self, dst: &mut Lanes) {
            // SAFETY: see the module comment; `dst` holds 16 values.
            unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn times(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm512_mul_ps(self.0, o.0)) }
        }
        #[inline(always)]
        fn stream(self, dst: &mut Lanes) {
            debug_assert_eq!(dst.as_ptr() as usize % 64, 0, "streamed stores start a cache line");
            // SAFETY: see the module comment; `dst` holds 16 values and starts a cache line.
            unsafe { _mm512_stream_ps(dst.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn fence() {
            // SAFETY: see the module comment.
            unsafe { _mm_sfence() }
        }
        /// Four rounds of shuffles and adds, each halving what is left of every row: 15 adds
        /// where row by row would take 240.
        #[inline(always)]
        fn transpose_sum(rows: [Self; 16]) -> Self {
            // SAFETY: see the module comment.
            unsafe {
                // Lane l plus lane l + 8: two rows' eight sums a register.
                let halves: [__m512; 8] = std::array::from_fn(|m| {
                    let (a, b) = (rows[2 * m].0, rows[2 * m + 1].0);
                    _mm512_add_ps(_mm512_shuffle_f32x4::<0x44>(a, b), _mm512_shuffle_f32x4::<0xEE>(a, b))
                });
                // Plus l + 4: four rows' four sums, row j of the four in quarter j.
                let quarters: [__m512; 4] = std::array::from_fn(|m| {
                    let (a, b) = (halves[2 * m], halves[2 * m + 1]);
                    _mm512_add_ps(_mm512_shuffle_f32x4::<0x88>(a, b), _mm512_shuffle_f32x4::<0xDD>(a, b))
                });
                // Plus l + 2, within each quarter.
                let pairs: [__m512; 2] = std::array::from_fn(|m| {
                    let (a, b) = (quarters[2 * m], quarters[2 * m + 1]);
                    _mm512_add_ps(_mm512_shuffle_ps::<0x44>(a, b), _mm512_shuffle_ps::<0xEE>(a, b))
                });
                // Plus l + 1: lane 4j + m holds row 4m + j's sum.
                let (a, b) = (pairs[0], pairs[1]);
                let sums = _mm512_add_ps(_mm512_shuffle_ps::<0x88>(a, b), _mm512_shuffle_ps::<0xDD>(a, b));
                let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
                Self(_mm512_permutexvar_ps(order, sums))
            }
        }
    }

    impl Mul<Avx512> for f32 {
        type Output = Avx512;
        #[inline(always)]
        fn mul(self, v: Avx512) -> Avx512 {
            // SAFETY: see the module comment.
            unsafe { Avx512(_mm512_mul_ps(_mm512_set1_ps(self), v.0)) }
        }
    }

    impl Add for Avx2 {
        type Output = Self;
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm256_add_ps(self.0, o.0), _mm256_add_ps(self.1, o.1)) }
        }
    }

    impl Sub for Avx2 {
        type Output = Self;
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm256_sub_ps(self.0, o.0), _mm256_sub_ps(self.1, o.1)) }
        }
    }

    impl Lane16 for Avx2 {
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm256_setzero_ps(), _mm256_setzero_ps()) }
        }
        #[inline(always)]
        fn load(src: &Lanes) -> Self {
            // SAFETY: see the module comment; `src` holds 16 values.
            unsafe { Self(_mm256_loadu_ps(src.as_ptr()), _mm256_loadu_ps(src.as_ptr().add(8))) }
        }
        #[inline(always)]
        fn store(self, dst: &mut Lanes) {
            // SAFETY: see the module comment; `dst` holds 16 values.
            unsafe {
                _mm256_storeu_ps(dst.as_mut_ptr(), self.0);
                _mm256_storeu_ps(dst.as_mut_ptr().add(8), self.1);
            }
        }
        #[inline(always)]
        fn times(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            unsafe { Self(_mm256_mul_ps(self.0, o.0), _mm256_mul_ps(self.1, o.1)) }
        }
        /// As [`Avx512`]'s, eight lanes a register.
        #[inline(always)]
        fn transpose_sum(rows: [Self; 16]) -> Self {
            // SAFETY: see the module comment.
            unsafe {
                // Lane l plus lane l + 8: each row's eight sums in one register.
                let eights: [__m256; 16] = std::array::from_fn(|i| _mm256_add_ps(rows[i].0, rows[i].1));
                // Plus l + 4: two rows' four sums a register.
                let fours: [__m256; 8] = std::array::from_fn(|m| {
                    let (a, b) = (eights[2 * m], eights[2 * m + 1]);
                    _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(a, b), _mm256_permute2f128_ps::<0x31>(a, b))
                });
                // Plus l + 2, within each half.
                let twos: [__m256; 4] = std::array::from_fn(|m| {
                    let (a, b) = (fours[2 * m], fours[2 * m + 1]);
                    _mm256_add_ps(_mm256_shuffle_ps::<0x44>(a, b), _mm256_shuffle_ps::<0xEE>(a, b))
                });
                // Plus l + 1: lane 4h + q of register r holds row 8r + 2q + h's sum.
                let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
                let [lo, hi]: [__m256; 2] = std::array::from_fn(|m| {
                    let (a, b) = (twos[2 * m], twos[2 * m + 1]);
                    let sums =
                        _mm256_add_ps(_mm256_shuffle_ps::<0x88>(a, b), _mm256_shuffle_ps::<0xDD>(a, b));
                    _mm256_permutevar8x32_ps(sums, order)
                });
                Self(lo, hi)
            }
        }
    }

    impl Mul<Avx2> for f32 {
        type Output = Avx2;
        #[inline(always)]
        fn mul(self, v: Avx2) -> Avx2 {
            // SAFETY: see the module comment.
            unsafe {
                let k = _mm256_set1_ps(self);
                Avx2(_mm256_mul_ps(k, v.0), _mm256_mul_ps(k, v.1))
            }
        }
    }
}

/// Defines `fn $name(args)` that runs `$body::<L>(args)` with the widest [`Lane16`] this CPU
/// supports, compiled for that instruction set. `$body` must be `#[inline(always)]`.
macro_rules! dispatch {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    $body::<$crate::lanes::Avx512>($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    $body::<$crate::lanes::Avx2>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the instructions `avx512` was compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body::<$crate::lanes::Portable>($($arg),*)
        }
    };
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    /// Sixteen rows of values of mixed signs and magnitudes, whose sums depend on the order.
    fn rows() -> [Lanes; LANES] {
        std::array::from_fn(|i| {
            std::array::from_fn(|l| ((i * 16 + l) as f32 * 0.731).sin() * 10f32.powi((l % 5) as i32 - 2))
        })
    }

    /// Lane `i` is row `i`'s sum in the halving order, written out.
    fn halving_sums(rows: &[Lanes; LANES]) -> Lanes {
        std::array::from_fn(|i| {
            let r = &rows[i];
            let h: [f32; 8] = std::array::from_fn(|l| r[l] + r[l + 8]);
            let q: [f32; 4] = std::array::from_fn(|l| h[l] + h[l + 4]);
            let p: [f32; 2] = std::array::from_fn(|l| q[l] + q[l + 2]);
            p[0] + p[1]
        })
    }

    fn sums_of<L: Lane16>(rows: &[Lanes; LANES]) -> Lanes {
        let mut out = [0.0; LANES];
        L::transpose_sum(std::array::from_fn(|i| L::load(&rows[i]))).store(&mut out);
        out
    }

    #[test]
    fn transpose_sums_have_the_same_bits_everywhere() {
        let rows = rows();
        let want = halving_sums(&rows).map(f32::to_bits);
        assert_eq!(sums_of::<Portable>(&rows).map(f32::to_bits), want, "portable");
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            fn avx512(rows: &[Lanes; LANES]) -> Lanes {
                sums_of::<Avx512>(rows)
            }
            #[target_feature(enable = "avx2")]
            fn avx2(rows: &[Lanes; LANES]) -> Lanes {
                sums_of::<Avx2>(rows)
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the instructions.
                assert_eq!(unsafe { avx512(&rows) }.map(f32::to_bits), want, "AVX-512");
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                assert_eq!(unsafe { avx2(&rows) }.map(f32::to_bits), want, "AVX2");
            }
        }
    }
}
