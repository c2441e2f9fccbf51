//! The shapes and index arithmetic every convolution path shares: [`Shape`], [`Padding`],
//! [`ConvGeometry`] (a convolution maps its *big* side to its *small* side, a transposed
//! convolution the adjoint), the choice of [`Algorithm`] and the gradients a backward pass writes.

use crate::lanes::LANES;
use crate::winograd;

/// The most small-side channels the direct loops (`direct.rs`) are chosen for.
pub(crate) const MAX_SMALL_CHANNELS: usize = 4;

/// Height, width and channels of one NHWC image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Shape {
    pub fn new(height: usize, width: usize, channels: usize) -> Self {
        Self { height, width, channels }
    }

    /// Number of values in one image.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn pixels(&self) -> usize {
        self.height * self.width
    }
}

/// Where a "same" convolution puts its zero padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// TensorFlow's "same": the odd extra row/column goes at the bottom/right (for stride 2 and a
    /// 3×3 kernel: nothing on top, one row below).
    TfSame,
    /// `(kernel − 1) / 2` on top/left, as PyTorch's `padding=1` (and `output_padding=stride−1` on a
    /// transposed convolution).
    Symmetric,
}

/// How a layer's products are computed. Both give the same results up to f32 rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// im2col/col2im plus one GEMM per image: any kernel, stride and padding.
    Im2col,
    /// Winograd F(4×4, 3×3) (see `winograd/`): 3×3 kernels at stride 1 only, with 4× fewer
    /// multiplications.
    Winograd,
    /// Direct loops over the kernel taps (see `direct.rs`): at most four small-side channels.
    Direct,
    /// Loops for one big-side channel (see `one_channel.rs`): 3×3 at stride 1, the small side's
    /// channels a multiple of sixteen.
    OneChannel,
}

/// Most rows (small-side pixels) of an im2col product made of several images; maps this large
/// or larger are multiplied an image at a time.
const STACK_ROWS: usize = 256;

/// Fewest channels on either side for which Winograd is chosen: below it the GEMMs are too thin
/// for the transforms to pay off.
const WINOGRAD_MIN_CHANNELS: usize = 8;

/// The index arithmetic of one convolution; see the module docs for the big/small convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub big: Shape,
    pub small: Shape,
    pub kernel: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub algorithm: Algorithm,
}

fn same_padding_before(big: usize, small: usize, kernel: usize, stride: usize, padding: Padding) -> usize {
    match padding {
        Padding::TfSame => ((small - 1) * stride + kernel).saturating_sub(big) / 2,
        Padding::Symmetric => (kernel - 1) / 2,
    }
}

impl ConvGeometry {
    /// A "same" convolution over `big`: the small side is `ceil(big / stride)` with `small_channels`.
    pub fn same(big: Shape, small_channels: usize, kernel: usize, stride: usize, padding: Padding) -> Self {
        assert!(kernel > 0 && stride > 0 && !big.is_empty() && small_channels > 0, "empty convolution");
        let small = Shape::new(big.height.div_ceil(stride), big.width.div_ceil(stride), small_channels);
        let geometry = Self {
            big,
            small,
            kernel,
            stride,
            pad_top: same_padding_before(big.height, small.height, kernel, stride, padding),
            pad_left: same_padding_before(big.width, small.width, kernel, stride, padding),
            algorithm: Algorithm::Im2col,
        };
        let wide = big.channels.min(small_channels) >= WINOGRAD_MIN_CHANNELS;
        if geometry.supports_winograd() && wide {
            geometry.with_algorithm(Algorithm::Winograd)
        } else if geometry.suits_one_channel() {
            geometry.with_algorithm(Algorithm::OneChannel)
        } else if small_channels <= MAX_SMALL_CHANNELS && big.channels >= WINOGRAD_MIN_CHANNELS {
            geometry.with_algorithm(Algorithm::Direct)
        } else {
            geometry
        }
    }

    /// 3×3 at stride 1, which "same" pads by one pixel on every side under either padding.
    pub fn supports_winograd(&self) -> bool {
        self.kernel == 3 && self.stride == 1 && self.pad_top == 1 && self.pad_left == 1
    }

    /// What the one-channel loops (`one_channel.rs`) compute: 3×3 "same" at stride 1, one
    /// big-side channel, and whole lane groups of small-side ones.
    pub fn suits_one_channel(&self) -> bool {
        let channels = self.small.channels;
        self.big.channels == 1
            && self.kernel == 3
            && self.stride == 1
            && (self.small.height, self.small.width) == (self.big.height, self.big.width)
            && (self.pad_top, self.pad_left) == (1, 1)
            && channels >= LANES
            && channels.is_multiple_of(LANES)
    }

    /// The same geometry computed another way; panics if Winograd is asked of a geometry that
    /// [does not support it](Self::supports_winograd), the direct loops of one with more than
    /// four small-side channels, or the one-channel loops of one they do not take.
    pub fn with_algorithm(self, algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Im2col => {}
            Algorithm::Winograd => assert!(self.supports_winograd(), "Winograd needs 3×3 at stride 1"),
            Algorithm::Direct => assert!(
                self.small.channels <= MAX_SMALL_CHANNELS,
                "the direct loops take at most {} small-side channels",
                MAX_SMALL_CHANNELS
            ),
            Algorithm::OneChannel => assert!(
                self.suits_one_channel(),
                "the one-channel loops need 3×3 at stride 1, one big-side channel and 16·n small-side ones"
            ),
        }
        Self { algorithm, ..self }
    }

    /// Length of one im2col row: every big-side value a kernel window sees.
    pub fn window(&self) -> usize {
        self.kernel * self.kernel * self.big.channels
    }

    /// Number of weights (`window × small.channels`).
    pub fn weight_len(&self) -> usize {
        self.window() * self.small.channels
    }

    /// Multiply-adds for one image, forward.
    pub fn macs(&self) -> usize {
        self.small.pixels() * self.weight_len()
    }

    pub(crate) fn cols_len(&self) -> usize {
        self.small.pixels() * self.window()
    }

    /// Images whose im2col rows are stacked into one product when a part holds `per` images: as
    /// many as keep it within [`STACK_ROWS`] rows. A 2×2 map alone makes a product of 4 rows, which
    /// spends its time packing the weight rather than multiplying.
    pub(crate) fn images_per_product(&self, per: usize) -> usize {
        (STACK_ROWS / self.small.pixels()).clamp(1, per.max(1))
    }

    /// The im2col buffer of one part: [`images_per_product`](Self::images_per_product) images at most.
    pub(crate) fn stacked_cols_len(&self) -> usize {
        self.images_per_product(usize::MAX) * self.cols_len()
    }

    /// An upper bound on the scratch values this layer's passes ask of a [`Workspace`]: per part
    /// (thread) an im2col buffer, a weight and a bias gradient and Winograd's tile blocks and
    /// kernel accumulator, plus the shared transformed kernel. For the memory check that runs
    /// before anything is allocated.
    pub fn scratch_bound(&self, parts: usize) -> usize {
        let (a, b) = (self.big.channels, self.small.channels);
        let per_part = self.stacked_cols_len()
            + self.weight_len()
            + a.max(b)
            + 2 * winograd::block_len(a.max(b))
            + winograd::filter_len(a, b);
        parts * per_part + winograd::Filter::buffer_len(a, b)
    }

    /// The big-side pixel a kernel tap reads, or `None` in the padding.
    #[inline]
    pub(crate) fn source(&self, out: usize, tap: usize, pad: usize, limit: usize) -> Option<usize> {
        (out * self.stride + tap).checked_sub(pad).filter(|&i| i < limit)
    }

    /// The big-side column each `(ow, kw)` reads, `ow`-major: worked out once per call rather
    /// than once per row of windows.
    fn source_columns(&self) -> Vec<Option<usize>> {
        let (k, width) = (self.kernel, self.big.width);
        (0..self.small.width)
            .flat_map(|ow| (0..k).map(move |kw| self.source(ow, kw, self.pad_left, width)))
            .collect()
    }

    /// Gathers every kernel window of each big image in `big` into rows of `cols`
    /// (`small.pixels × window` an image, the images' rows one after another).
    pub fn im2col(&self, big: &[f32], cols: &mut [f32]) {
        assert!(big.len().is_multiple_of(self.big.len()), "big-side buffer is not a whole number of images");
        let columns = self.source_columns();
        for (big, cols) in big.chunks_exact(self.big.len()).zip(cols.chunks_exact_mut(self.cols_len())) {
            self.im2col_image(&columns, big, cols);
        }
    }

    /// The adjoint of [`im2col`](Self::im2col): adds every row of `cols` back onto its window in
    /// its image of `big`. Each big value gets its terms in the order of `(oh, ow)`, as a loop over
    /// output pixels then taps adds them.
    pub fn col2im_add(&self, cols: &[f32], big: &mut [f32]) {
        assert!(big.len().is_multiple_of(self.big.len()), "big-side buffer is not a whole number of images");
        let columns = self.source_columns();
        for (big, cols) in big.chunks_exact_mut(self.big.len()).zip(cols.chunks_exact(self.cols_len())) {
            self.col2im_add_image(&columns, cols, big);
        }
    }

    fn im2col_image(&self, columns: &[Option<usize>], big: &[f32], cols: &mut [f32]) {
        let (c, k, window) = (self.big.channels, self.kernel, self.window());
        for oh in 0..self.small.height {
            for kh in 0..k {
                let ih = self.source(oh, kh, self.pad_top, self.big.height);
                let line = ih.map(|ih| &big[ih * self.big.width * c..][..self.big.width * c]);
                for (ow, taps) in columns.chunks_exact(k).enumerate() {
                    let row = &mut cols[(oh * self.small.width + ow) * window + kh * k * c..][..k * c];
                    match line {
                        None => row.fill(0.0),
                        // One channel (a first layer's grey image, a last layer's output): one
                        // value a tap, without the per-pixel slices.
                        Some(line) if c == 1 => {
                            for (dst, &iw) in row.iter_mut().zip(taps) {
                                *dst = iw.map_or(0.0, |iw| line[iw]);
                            }
                        }
                        Some(line) => {
                            for (dst, &iw) in row.chunks_exact_mut(c).zip(taps) {
                                match iw {
                                    Some(iw) => copy_channels(dst, &line[iw * c..][..c]),
                                    None => dst.fill(0.0),
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn col2im_add_image(&self, columns: &[Option<usize>], cols: &[f32], big: &mut [f32]) {
        let (c, k, window) = (self.big.channels, self.kernel, self.window());
        for oh in 0..self.small.height {
            for kh in 0..k {
                let Some(ih) = self.source(oh, kh, self.pad_top, self.big.height) else {
                    continue;
                };
                let line = &mut big[ih * self.big.width * c..][..self.big.width * c];
                for (ow, taps) in columns.chunks_exact(k).enumerate() {
                    let row = &cols[(oh * self.small.width + ow) * window + kh * k * c..][..k * c];
                    if c == 1 {
                        for (&src, &iw) in row.iter().zip(taps) {
                            if let Some(iw) = iw {
                                line[iw] += src;
                            }
                        }
                        continue;
                    }
                    for (src, &iw) in row.chunks_exact(c).zip(taps) {
                        if let Some(iw) = iw {
                            add_channels(&mut line[iw * c..][..c], src);
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn check(
        &self,
        big: &[f32],
        small: &[f32],
        weight: &[f32],
        bias: &[f32],
        bias_len: usize,
    ) -> usize {
        let n = big.len() / self.big.len();
        assert_eq!(big.len(), n * self.big.len(), "big-side buffer is not a whole batch");
        assert_eq!(small.len(), n * self.small.len(), "small-side buffer does not match the batch");
        assert_eq!(weight.len(), self.weight_len(), "weight has the wrong length");
        assert_eq!(bias.len(), bias_len, "bias has the wrong length");
        n
    }
}

/// `dst = src` for one pixel's channels: a plain loop for the few channels of a first or last
/// layer, where a call to `memcpy` per pixel costs more than the copy.
#[inline(always)]
fn copy_channels(dst: &mut [f32], src: &[f32]) {
    if dst.len() <= 8 {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s);
    } else {
        dst.copy_from_slice(src);
    }
}

/// `dst += src` for one pixel's channels.
#[inline(always)]
fn add_channels(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
}

/// Weight and bias gradients of one layer, overwritten by each backward call.
pub struct ParamGrads<'a> {
    pub weight: &'a mut [f32],
    pub bias: &'a mut [f32],
}
