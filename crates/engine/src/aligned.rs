//! `f32` buffers that start on a cache line.
//!
//! `Vec<f32>` data is only 16-byte aligned (a large one sits 16 bytes past a page boundary), so
//! every other 64-byte vector load or store of it straddles two cache lines, which costs about
//! twice as much. The engine's big scratch buffers and the activations use this instead.

use std::ops::{Deref, DerefMut};

/// Values per cache line.
const LINE: usize = 16;

/// One cache line of values.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([f32; LINE]);

/// A zero-initialised, growable `f32` buffer whose first value starts a 64-byte cache line.
#[derive(Clone, Default)]
pub struct AlignedVec {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let mut v = Self::default();
        v.resize(len);
        v
    }

    /// Grows or shrinks to `len` values; new values are zero.
    pub fn resize(&mut self, len: usize) {
        let old = self.len;
        self.lines.resize(len.div_ceil(LINE), Line::default());
        self.len = len;
        if len > old {
            // Whole new lines start zeroed; the old last line may hold values from before a shrink.
            let end = old.next_multiple_of(LINE).min(len);
            self[old..end].fill(0.0);
        }
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: `Line` is `repr(C)` around `[f32; LINE]` with no padding (64 bytes either
        // way), so the lines are `lines.len() · LINE` contiguous initialised `f32`s, of which
        // the first `len` are ours.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, borrowed mutably through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

impl<'a> IntoIterator for &'a AlignedVec {
    type Item = &'a f32;
    type IntoIter = std::slice::Iter<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for AlignedVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line_and_grows_with_zeros() {
        let mut v = AlignedVec::zeros(5);
        assert_eq!(v.as_ptr() as usize % 64, 0);
        assert_eq!(&v[..], &[0.0; 5]);
        v.fill(2.0);
        v.resize(3);
        v.resize(40);
        assert_eq!(v.len(), 40);
        assert_eq!(&v[..3], &[2.0; 3]);
        assert!(v[3..].iter().all(|&x| x == 0.0), "{v:?}");
        assert_eq!(v.as_ptr() as usize % 64, 0);
    }
}
