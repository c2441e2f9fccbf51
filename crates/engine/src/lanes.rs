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
