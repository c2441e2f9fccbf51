//! Scratch memory reused across training steps, one part per thread.

use crate::aligned::AlignedVec;
use crate::winograd::TileScratch;

/// One thread's scratch: an im2col buffer, transformed Winograd tiles and partial weight/bias
/// gradients.
#[derive(Default)]
pub struct Part {
    pub(crate) cols: Vec<f32>,
    pub(crate) tiles: TileScratch,
    pub(crate) kernel_acc: AlignedVec,
    pub(crate) weight_grad: Vec<f32>,
    pub(crate) bias_grad: Vec<f32>,
}

/// Buffers grow to the largest layer on the first step and are reused afterwards, so a training
/// step allocates nothing in its inner loops.
pub struct Workspace {
    parts: Vec<Part>,
    /// A Winograd-transformed kernel, shared by every part.
    filter: AlignedVec,
}

impl Workspace {
    /// Scratch for `parts` batch slices processed in parallel (normally the thread count).
    pub fn new(parts: usize) -> Self {
        Self { parts: (0..parts.max(1)).map(|_| Part::default()).collect(), filter: AlignedVec::default() }
    }

    /// One part per thread of the current rayon pool.
    pub fn for_current_pool() -> Self {
        Self::new(rayon::current_num_threads())
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub(crate) fn parts_mut(&mut self) -> &mut [Part] {
        &mut self.parts
    }

    pub(crate) fn reserve(&mut self, cols: usize, weight_grad: usize, bias_grad: usize) {
        for part in &mut self.parts {
            grow(&mut part.cols, cols);
            grow(&mut part.weight_grad, weight_grad);
            grow(&mut part.bias_grad, bias_grad);
        }
    }

    /// Grows the Winograd buffers: the shared transformed kernel, two tile blocks and a
    /// transformed kernel-gradient accumulator per part.
    pub(crate) fn reserve_tiles(&mut self, filter: usize, channels: usize, kernel_acc: usize) {
        self.filter.grow_to(filter);
        for part in &mut self.parts {
            part.tiles.reserve(channels);
            part.kernel_acc.grow_to(kernel_acc);
        }
    }

    /// The shared transformed kernel and the parts, borrowed together.
    pub(crate) fn filter_and_parts_mut(&mut self) -> (&mut [f32], &mut [Part]) {
        (&mut self.filter, &mut self.parts)
    }
}

fn grow(buf: &mut Vec<f32>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
}

/// Images per part when `n` images are split over `parts` parts; the split depends only on
/// `n` and `parts`, which keeps results reproducible for a given thread count.
pub(crate) fn split_batch(n: usize, parts: usize) -> usize {
    n.div_ceil(parts.max(1)).max(1)
}
