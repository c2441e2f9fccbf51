//! Large buffers on transparent huge pages (2 MB) instead of 4 KB pages.
//!
//! A training step sweeps a few hundred megabytes: weights and Adam moments (the code layer's
//! 33.5 MB three times over), activations and gradients of up to 26 MB, and the Winograd
//! transforms read 6×6 windows whose rows lie 16 KB apart. On 4 KB pages that is tens of
//! thousands of pages per step and the TLB misses all the time; on 2 MB pages, a few hundred.
//! Linux backs memory with huge pages where a program advises it (`madvise(MADV_HUGEPAGE)`,
//! the default `madvise` mode of `/sys/kernel/mm/transparent_hugepage/enabled`) before the
//! pages are first touched. [`HugePageAllocator`] does that for every allocation of 2 MB or
//! more; `ae` installs it as the global allocator. Elsewhere, or with huge pages turned off,
//! nothing changes.

#[cfg(target_os = "linux")]
use std::alloc::System;
use std::alloc::{GlobalAlloc, Layout};

/// Size of a transparent huge page on x86-64 and most aarch64 kernels.
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back `bytes` from `start` (a huge-page boundary; whole huge pages) with
/// huge pages. Advice only: a kernel without them, or any error, leaves ordinary pages.
#[cfg(target_os = "linux")]
pub(crate) fn advise(start: *mut u8, bytes: usize) {
    if bytes > 0 {
        // SAFETY: the caller owns the range; MADV_HUGEPAGE changes how its pages are backed,
        // never their contents.
        unsafe { libc::madvise(start.cast(), bytes, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn advise(_start: *mut u8, _bytes: usize) {}

/// The system allocator, except that allocations of 2 MB or more are mapped on their own, start
/// on a huge page and have their whole huge pages advised before anything touches them. The
/// last, partial huge page is not advised, so no memory is spent on rounding up.
pub struct HugePageAllocator;

/// Whether `layout` is served by its own huge-page-aligned mapping.
#[cfg(target_os = "linux")]
fn mapped(layout: &Layout) -> bool {
    layout.size() >= HUGE_PAGE && layout.align() <= HUGE_PAGE
}

/// Length of the mapping for `size` bytes: whole huge pages (so whole pages of any base size).
#[cfg(target_os = "linux")]
fn mapping_len(size: usize) -> usize {
    size.next_multiple_of(HUGE_PAGE)
}

/// A fresh zeroed mapping for `size` bytes that starts on a huge page, or null.
///
/// # Safety
/// `size` must be at least [`HUGE_PAGE`]; the result is freed with [`unmap`].
#[cfg(target_os = "linux")]
unsafe fn map(size: usize) -> *mut u8 {
    let len = mapping_len(size);
    // Map one huge page more than needed and trim both ends to the aligned part.
    let total = len + HUGE_PAGE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: an anonymous private mapping has no preconditions.
    let raw =
        unsafe { libc::mmap(std::ptr::null_mut(), total, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    if raw == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let start = (raw as usize).next_multiple_of(HUGE_PAGE);
    let head = start - raw as usize;
    // SAFETY: both trimmed ranges lie inside the mapping just made and hold nothing.
    unsafe {
        if head > 0 {
            libc::munmap(raw, head);
        }
        if total - head > len {
            libc::munmap((start + len) as *mut libc::c_void, total - head - len);
        }
    }
    advise(start as *mut u8, size / HUGE_PAGE * HUGE_PAGE);
    start as *mut u8
}

/// Frees a mapping made by [`map`] for `size` bytes.
///
/// # Safety
/// `ptr` must come from `map(size)` and not be used afterwards.
#[cfg(target_os = "linux")]
unsafe fn unmap(ptr: *mut u8, size: usize) {
    // SAFETY: the caller passes a live mapping of `mapping_len(size)` bytes.
    unsafe { libc::munmap(ptr.cast(), mapping_len(size)) };
}

#[cfg(target_os = "linux")]
// SAFETY: small or over-aligned layouts go to the system allocator unchanged; the others get
// their own mapping of at least `size` bytes aligned to 2 MB (≥ their alignment), zeroed by the
// kernel, and are unmapped with the same length they were mapped with.
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mapped(&layout) {
            // SAFETY: `mapped` checked the size.
            unsafe { map(layout.size()) }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(&layout) {
            // SAFETY: as in `alloc`; fresh anonymous mappings read as zeros.
            unsafe { map(layout.size()) }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(&layout) {
            // SAFETY: `alloc` mapped this layout with `map(layout.size())`.
            unsafe { unmap(ptr, layout.size()) }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded to the alignment, fits `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !mapped(&layout) && !mapped(&new_layout) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: a fresh block for the new layout, the old one's values copied over (as many
        // as both hold), then the old one freed as it was allocated.
        unsafe {
            let fresh = self.alloc(new_layout);
            if !fresh.is_null() {
                std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            fresh
        }
    }
}

#[cfg(not(target_os = "linux"))]
// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large blocks start on a huge page, read as zeros, keep their values when grown, shrunk
    /// or moved back under the mapping size, and free cleanly; small ones pass through.
    #[test]
    fn large_blocks_are_aligned_zeroed_and_survive_reallocation() {
        let a = HugePageAllocator;
        let big = Layout::from_size_align(5 << 20, 64).unwrap();
        // SAFETY: every pointer is checked non-null, used within its layout and freed once
        // with the layout it has at that moment.
        unsafe {
            let p = a.alloc_zeroed(big);
            assert!(!p.is_null());
            #[cfg(target_os = "linux")]
            assert_eq!(p as usize % HUGE_PAGE, 0);
            let values = std::slice::from_raw_parts_mut(p, big.size());
            assert!(values.iter().all(|&b| b == 0));
            values.iter_mut().enumerate().for_each(|(i, b)| *b = (i % 251) as u8);
            let grown = a.realloc(p, big, 9 << 20);
            assert!(!grown.is_null());
            let grown_values = std::slice::from_raw_parts(grown, big.size());
            assert!(grown_values.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
            let small = a.realloc(grown, Layout::from_size_align(9 << 20, 64).unwrap(), 1000);
            assert!(!small.is_null());
            assert!(std::slice::from_raw_parts(small, 1000)
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (i % 251) as u8));
            a.dealloc(small, Layout::from_size_align(1000, 64).unwrap());
        }
    }
}
