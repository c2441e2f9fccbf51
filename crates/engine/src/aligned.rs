//! `f32` buffers that start on a cache line, and large ones on huge pages.
//!
//! `Vec<f32>` data is only 16-byte aligned (a large one sits 16 bytes past a page boundary), so
//! every other 64-byte vector load or store of it straddles two cache lines, which costs about
//! twice as much. The engine's big scratch buffers and the activations use this instead.
//!
//! The Winograd transforms read 6×6 windows whose rows lie a whole image row apart (16 KB in the
//! decoder), so a block of tiles touches hundreds of 4 KB pages and the TLB misses often. On
//! Linux, buffers of 2 MB or more are therefore advised onto transparent huge pages before their
//! first write; where the kernel has them off (`/sys/kernel/mm/transparent_hugepage/enabled`
//! set to `never`), nothing changes.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Bytes per cache line.
const LINE_BYTES: usize = 64;

/// Size of a transparent huge page on x86-64 and most aarch64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Buffers of at least this many bytes start on a huge page, and all their whole huge pages are
/// advised (the activations and gradients of the big layers); the last, partial one is not, so
/// no memory is spent on rounding up.
const HUGE_FROM: usize = HUGE_PAGE;

/// A zero-initialised, growable `f32` buffer whose first value starts a 64-byte cache line (a
/// 2 MB huge page when it is that large).
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

    /// Moves the values into an allocation for at least `len` values.
    fn reallocate(&mut self, len: usize) {
        let cap = capacity_for(len);
        let room = layout(cap);
        // SAFETY: `room` has a non-zero size (`len > self.cap >= 0`, so `cap >= 1`).
        let fresh = unsafe { alloc(room) }.cast::<f32>();
        let Some(fresh) = NonNull::new(fresh) else { handle_alloc_error(room) };
        if room.align() == HUGE_PAGE {
            // Before the first write: the advice only takes for pages not yet touched.
            advise_huge_pages(fresh.as_ptr().cast(), room.size() / HUGE_PAGE * HUGE_PAGE);
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

/// The capacity allocated for `len` values: whole cache lines.
fn capacity_for(len: usize) -> usize {
    let bytes = len * size_of::<f32>();
    bytes.next_multiple_of(LINE_BYTES) / size_of::<f32>()
}

/// The allocation of `cap` values (a result of [`capacity_for`]).
fn layout(cap: usize) -> Layout {
    let bytes = cap * size_of::<f32>();
    let align = if bytes >= HUGE_FROM { HUGE_PAGE } else { LINE_BYTES };
    Layout::from_size_align(bytes, align).expect("buffer size fits the address space")
}

/// Asks the kernel to back `bytes` from `start` (a huge-page boundary; whole huge pages) with
/// huge pages. Advice only: a kernel without them, or any error, leaves ordinary pages.
#[cfg(target_os = "linux")]
fn advise_huge_pages(start: *mut u8, bytes: usize) {
    // SAFETY: the range is an allocation this buffer owns; MADV_HUGEPAGE changes how its pages
    // are backed, never their contents.
    unsafe { libc::madvise(start.cast(), bytes, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *mut u8, _bytes: usize) {}

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
