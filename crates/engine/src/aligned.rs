//! `f32` buffers that start on a cache line, and large ones on huge pages.
//!
//! `Vec<f32>` data is only 16-byte aligned (a large one sits 16 bytes past a page boundary), so
//! every other 64-byte vector load or store of it straddles two cache lines, which costs about
//! twice as much. The engine's big scratch buffers and the activations use this instead.
//!
//! The Winograd transforms read 6×6 windows whose rows lie a whole image row apart (16 KB in the
//! decoder), so a block of tiles touches hundreds of 4 KB pages and the TLB misses often.
//! Buffers of 256 KB or more therefore start on a huge page and are advised onto transparent
//! huge pages before their first write (see [`crate::huge_pages`], which does the same for every
//! allocation of 2 MB or more when installed as the global allocator).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::huge_pages::{advise, HUGE_PAGE};

/// Bytes per cache line.
const LINE_BYTES: usize = 64;

/// Buffers of at least this many bytes start on a huge page and have their whole huge pages
/// advised. Those smaller than one huge page (the Winograd tile blocks, transformed kernels and
/// kernel-gradient accumulators, 295 KB to 1.2 MB) are rounded up to one, which is where most of
/// the gain lies; larger ones are not rounded (their last, partial huge page stays on 4 KB pages),
/// so that the activations cost no more memory.
const HUGE_FROM: usize = 256 << 10;

/// A zero-initialised, growable `f32` buffer whose first value starts a 64-byte cache line (a
/// 2 MB huge page from 256 KB on).
pub struct AlignedVec {
    ptr: NonNull<f32>,
    len: usize,
    /// Values the allocation holds; 0 when nothing is allocated.
    cap: usize,
}

// SAFETY: an `AlignedVec` owns its values like a `Vec<f32>`; shared access is read-only.
unsafe impl Send for AlignedVec {}
// SAFETY: as above.
unsafe impl Sync for AlignedVec {}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let mut v = Self::default();
        v.resize(len);
        v
    }

    /// Grows or shrinks to `len` values; new values are zero.
    pub fn resize(&mut self, len: usize) {
        if len > self.cap {
            self.reallocate(len);
        }
        if len > self.len {
            // SAFETY: `len <= cap`; the values past `self.len` are ours to write.
            unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, len - self.len) };
        }
        self.len = len;
    }

    /// Grows to at least `len` values (new ones zero); never shrinks, so reused scratch keeps
    /// the largest size asked of it.
    pub fn grow_to(&mut self, len: usize) {
        if self.len < len {
            self.resize(len);
        }
    }

    /// Moves the values into an allocation for at least `len` values.
    fn reallocate(&mut self, len: usize) {
        let cap = capacity_for(len);
        let room = layout(cap);
        // SAFETY: `room` has a non-zero size (`len > self.cap >= 0`, so `cap >= 1`).
        let fresh = unsafe { alloc(room) }.cast::<f32>();
        let Some(fresh) = NonNull::new(fresh) else { handle_alloc_error(room) };
        if room.align() == HUGE_PAGE {
            // Before the first write: the advice only takes for pages not yet touched.
            advise(fresh.as_ptr().cast(), room.size() / HUGE_PAGE * HUGE_PAGE);
        }
        if self.cap > 0 {
            // SAFETY: the old allocation holds `self.len` initialised values and the new one
            // room for more; they do not overlap. The old one was made with `layout(self.cap)`.
            unsafe {
                std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), fresh.as_ptr(), self.len);
                dealloc(self.ptr.as_ptr().cast(), layout(self.cap));
            }
        }
        self.ptr = fresh;
        self.cap = cap;
    }
}

/// The capacity allocated for `len` values: one whole huge page for the mid-sized buffers (see
/// [`HUGE_FROM`]), whole cache lines otherwise.
fn capacity_for(len: usize) -> usize {
    let fits = "buffer size fits the address space";
    // Whole lines first, then the test `layout` makes on the same bytes: a length just under
    // `HUGE_FROM` that rounds up to it is aligned to a huge page there, so it is rounded here too.
    let lines = len.checked_mul(size_of::<f32>()).and_then(|b| b.checked_next_multiple_of(LINE_BYTES));
    let bytes = lines.expect(fits);
    let bytes = if (HUGE_FROM..HUGE_PAGE).contains(&bytes) { HUGE_PAGE } else { bytes };
    bytes / size_of::<f32>()
}

/// The allocation of `cap` values (a result of [`capacity_for`]).
fn layout(cap: usize) -> Layout {
    let bytes = cap * size_of::<f32>();
    let align = if bytes >= HUGE_FROM { HUGE_PAGE } else { LINE_BYTES };
    Layout::from_size_align(bytes, align).expect("buffer size fits the address space")
}

impl Default for AlignedVec {
    fn default() -> Self {
        Self { ptr: NonNull::dangling(), len: 0, cap: 0 }
    }
}

impl Drop for AlignedVec {
    fn drop(&mut self) {
        if self.cap > 0 {
            // SAFETY: allocated by `reallocate` with `layout(self.cap)`.
            unsafe { dealloc(self.ptr.as_ptr().cast(), layout(self.cap)) };
        }
    }
}

impl Clone for AlignedVec {
    fn clone(&self) -> Self {
        let mut copy = Self::zeros(self.len);
        copy.copy_from_slice(self);
        copy
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: the first `len` values of the allocation are initialised (zeroed by `resize`
        // or written since); `ptr` is dangling but aligned when `len` is 0.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, borrowed mutably through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
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

    #[test]
    fn large_buffers_start_on_a_huge_page_and_keep_their_values_when_grown() {
        let mut v = AlignedVec::zeros(100_000);
        assert_eq!(v.as_ptr() as usize % HUGE_PAGE, 0, "400 KB start on a huge page");
        assert_eq!(AlignedVec::zeros(60_000).as_ptr() as usize % 64, 0);
        v.iter_mut().enumerate().for_each(|(i, x)| *x = i as f32);
        v.resize(1_000_000);
        assert_eq!(v.as_ptr() as usize % HUGE_PAGE, 0, "4 MB start on a huge page");
        assert!(v[..100_000].iter().enumerate().all(|(i, &x)| x == i as f32));
        assert!(v[100_000..].iter().all(|&x| x == 0.0));
        let copy = v.clone();
        assert_eq!(&copy[..], &v[..]);
        assert_eq!(copy.as_ptr() as usize % HUGE_PAGE, 0);
        v.resize(10);
        v.resize(600_000);
        assert!(v[10..].iter().all(|&x| x == 0.0), "values dropped by a shrink come back as zeros");
    }
}
