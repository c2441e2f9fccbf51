//! Datasets: the Olivetti faces, image batches in NHWC order, resizing and the held-out split.

pub mod cifar;
pub mod download;
pub mod folder;
pub mod idx;
pub mod mat;
pub mod npy;
pub mod probe;

use crate::config::{
    ConfigError, DataConfig, DatasetName, NamesSettings, NormalClasses, Resize, SplitBy, Storage,
};
use ae_engine::Shape;
use download::DownloadError;
use idx::IdxError;
use mat::{MatClass, MatError};
use npy::load_npy;
pub use npy::parse_npy;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Why a dataset could not be loaded, always naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path} is not a usable Olivetti faces file: {cause}")]
    Mat { path: PathBuf, cause: MatError },
    #[error("{path}: variable `faces` is {found}; expected a uint8 (or double) matrix of 4096×400")]
    FacesShape { path: PathBuf, found: String },
    #[error("{path}: {problem}")]
    Values { path: PathBuf, problem: String },
    #[error("{path} does not exist")]
    Missing { path: PathBuf },
    #[error(
        "cannot tell the format of {path}: expected a .mat file, an IDX file (*-ubyte[.gz]), a .npy file, a CIFAR-10 batch (.bin) or a folder of images"
    )]
    UnknownFormat { path: PathBuf },
    #[error("{path} is not a usable IDX file: {cause}")]
    Idx { path: PathBuf, cause: IdxError },
    #[error("{path}: {problem}; expected u8 or f32 of shape N×H×W or N×H×W×C (C 1 or 3)")]
    Npy { path: PathBuf, problem: String },
    #[error("cannot read folder {path}: {cause}")]
    Folder { path: PathBuf, cause: walkdir::Error },
    #[error("{path} holds no PNG or JPEG images")]
    NoImages { path: PathBuf },
    #[error("cannot decode {path}: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("cannot decode {path}: {reason}; set data.bad_images = \"skip\" to leave such files out")]
    BadImage { path: PathBuf, reason: String },
    #[error("none of the {count} images in {path} could be decoded")]
    NoneDecoded { path: PathBuf, count: usize },
    #[error("{path} is {}×{} but the folder's first image is {}×{}; set data.size to resize them all", found[1], found[0], first[1], first[0])]
    MixedSizes { path: PathBuf, found: [usize; 2], first: [usize; 2] },
    #[error("{path} is {}×{}; this model takes {}×{} images or a whole multiple of that size", found[1], found[0], wanted[1], wanted[0])]
    WrongSize { path: PathBuf, found: [usize; 2], wanted: [usize; 2] },
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl NamesSettings for DataError {
    fn settings(&self) -> Vec<&str> {
        match self {
            DataError::BadImage { .. } => vec!["data.bad_images"],
            DataError::MixedSizes { .. } => vec!["data.size"],
            DataError::Download(e) => e.settings(),
            DataError::Config(e) => e.settings(),
            _ => Vec::new(),
        }
    }
}

/// A batch of images, NHWC, values in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub shape: Shape,
    pub data: Vec<f32>,
}

impl Images {
    pub fn new(shape: Shape, data: Vec<f32>) -> Self {
        assert_eq!(data.len() % shape.len(), 0, "image data is not a whole number of images");
        Self { shape, data }
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.shape.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn image(&self, i: usize) -> &[f32] {
        &self.data[i * self.shape.len()..][..self.shape.len()]
    }

    /// The images in PyTorch's and ONNX's `[N, C, H, W]` order (they are kept as `[N, H, W, C]`).
    pub fn to_nchw(&self) -> Vec<f32> {
        let (h, w, c) = (self.shape.height, self.shape.width, self.shape.channels);
        let mut out = vec![0.0; self.data.len()];
        for (image, to) in self.data.chunks_exact(h * w * c).zip(out.chunks_exact_mut(h * w * c)) {
            for (i, &v) in image.iter().enumerate() {
                let (pixel, ch) = (i / c, i % c);
                to[ch * h * w + pixel] = v;
            }
        }
        out
    }

    /// Images of `shape` from values in `[N, C, H, W]` order.
    pub fn from_nchw(shape: Shape, values: &[f32]) -> Images {
        let (hw, c) = (shape.height * shape.width, shape.channels);
        let mut data = vec![0.0; values.len()];
        for (image, to) in values.chunks_exact(hw * c).zip(data.chunks_exact_mut(hw * c)) {
            for (i, &v) in image.iter().enumerate() {
                let (ch, pixel) = (i / hw, i % hw);
                to[pixel * c + ch] = v;
            }
        }
        Images::new(shape, data)
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Images {
        let mut data = Vec::with_capacity(indices.len() * self.shape.len());
        for &i in indices {
            data.extend_from_slice(self.image(i));
        }
        Images::new(self.shape, data)
    }

    /// Shrinks every image to `height × width` by an integer factor.
    pub fn downscale(&self, height: usize, width: usize, mode: Resize) -> Result<Images, String> {
        let s = self.shape;
        if (height, width) == (s.height, s.width) {
            return Ok(self.clone());
        }
        // A side of 0 is refused here too: no image side is a multiple of 0.
        if !s.height.is_multiple_of(height)
            || !s.width.is_multiple_of(width)
            || s.height / height != s.width / width
        {
            return Err(format!(
                "cannot resize {}×{} images to {height}×{width}: only an equal whole-number factor is supported",
                s.height, s.width
            ));
        }
        let f = s.height / height;
        let out_shape = Shape::new(height, width, s.channels);
        let mut data = Vec::with_capacity(self.len() * out_shape.len());
        for i in 0..self.len() {
            let img = self.image(i);
            for y in 0..height {
                for x in 0..width {
                    for c in 0..s.channels {
                        let at = |dy: usize, dx: usize| {
                            img[((y * f + dy) * s.width + x * f + dx) * s.channels + c]
                        };
                        data.push(match mode {
                            Resize::Subsample => at(0, 0),
                            Resize::Area => {
                                let sum: f32 = (0..f)
                                    .flat_map(|dy| (0..f).map(move |dx| (dy, dx)))
                                    .map(|(dy, dx)| at(dy, dx))
                                    .sum();
                                sum / (f * f) as f32
                            }
                        });
                    }
                }
            }
        }
        Ok(Images::new(out_shape, data))
    }
}

/// The Olivetti faces: 400 grayscale 64×64 images of 40 people, ten each.
pub const OLIVETTI_COUNT: usize = 400;
pub const OLIVETTI_SIDE: usize = 64;
pub const OLIVETTI_PER_PERSON: usize = 10;

/// Loads `olivettifaces.mat`, normalised exactly as scikit-learn's `fetch_olivetti_faces`:
/// `x = faces.T as f32; x -= x.min(); x /= x.max()`, each image transposed to row-major.
pub fn load_olivetti(path: &Path) -> Result<Images, DataError> {
    let bytes = std::fs::read(path).map_err(|cause| DataError::Io { path: path.into(), cause })?;
    let faces =
        mat::read_variable(&bytes, "faces").map_err(|cause| DataError::Mat { path: path.into(), cause })?;
    let pixels = OLIVETTI_SIDE * OLIVETTI_SIDE;
    let numeric = matches!(faces.class, MatClass::Uint8 | MatClass::Double);
    if !numeric || faces.dims != [pixels, OLIVETTI_COUNT] {
        let dims: Vec<String> = faces.dims.iter().map(|d| d.to_string()).collect();
        let found = format!("a {} array of {}", faces.class.name(), dims.join("×"));
        return Err(DataError::FacesShape { path: path.into(), found });
    }
    let mut values = faces.values;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(DataError::Values {
            path: path.into(),
            problem: "`faces` holds NaN or infinite values".into(),
        });
    }
    let min = values.iter().copied().fold(f32::INFINITY, f32::min);
    values.iter_mut().for_each(|v| *v -= min);
    let max = values.iter().copied().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return Err(DataError::Values { path: path.into(), problem: "`faces` is constant".into() });
    }
    values.iter_mut().for_each(|v| *v /= max);
    // Column j of the column-major 4096×400 matrix is image j, stored column-major: transpose it.
    let mut data = vec![0.0; values.len()];
    for (img, src) in data.chunks_exact_mut(pixels).zip(values.chunks_exact(pixels)) {
        for r in 0..OLIVETTI_SIDE {
            for c in 0..OLIVETTI_SIDE {
                img[r * OLIVETTI_SIDE + c] = src[c * OLIVETTI_SIDE + r];
            }
        }
    }
    Ok(Images::new(Shape::new(OLIVETTI_SIDE, OLIVETTI_SIDE, 1), data))
}

/// Indices of the training and held-out images: a seeded `fraction` of `n` is held out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub holdout: Vec<usize>,
}

impl Split {
    /// Holds out a seeded `fraction` of the `n` images.
    pub fn new(n: usize, fraction: f64, seed: u64) -> Self {
        Self::grouped(n, 1, fraction, seed)
    }

    /// Holds out a seeded `fraction` of the groups of `group` consecutive images (e.g. people).
    pub fn grouped(n: usize, group: usize, fraction: f64, seed: u64) -> Self {
        let groups = n.div_ceil(group.max(1));
        let mut count = (groups as f64 * fraction).round() as usize;
        if fraction > 0.0 {
            count = count.clamp(1, groups.saturating_sub(1));
        }
        let mut order: Vec<usize> = (0..groups).collect();
        // A stream of its own, so the split does not depend on how the weights were drawn.
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5917_u64));
        let members = |gs: &[usize]| {
            let mut v: Vec<usize> = gs.iter().flat_map(|g| g * group..((g + 1) * group).min(n)).collect();
            v.sort_unstable();
            v
        };
        Self { holdout: members(&order[..count]), train: members(&order[count..]) }
    }

    /// The split a config asks for on the Olivetti faces (10 images per person).
    pub fn olivetti(n: usize, fraction: f64, seed: u64, by: SplitBy) -> Self {
        match by {
            SplitBy::Images => Self::new(n, fraction, seed),
            SplitBy::Subjects => Self::grouped(n, OLIVETTI_PER_PERSON, fraction, seed),
        }
    }
}

/// A dataset in memory: 32-bit floats, or the 8-bit samples of an 8-bit source converted batch
/// by batch (a quarter of the memory).
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    Floats(Images),
    Bytes { shape: Shape, data: Vec<u8> },
}

impl Pixels {
    /// The bytes its values take (4 per value as floats, 1 as bytes).
    pub fn bytes(&self) -> u64 {
        match self {
            Pixels::Floats(images) => 4 * images.data.len() as u64,
            Pixels::Bytes { data, .. } => data.len() as u64,
        }
    }

    pub fn shape(&self) -> Shape {
        match self {
            Pixels::Floats(images) => images.shape,
            Pixels::Bytes { shape, .. } => *shape,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Pixels::Floats(images) => images.len(),
            Pixels::Bytes { shape, data } => data.len() / shape.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends image `i`, as floats in [0, 1], to `out`.
    pub fn push_image(&self, i: usize, out: &mut Vec<f32>) {
        match self {
            Pixels::Floats(images) => out.extend_from_slice(images.image(i)),
            Pixels::Bytes { shape, data } => {
                out.extend(data[i * shape.len()..][..shape.len()].iter().map(|&v| v as f32 / 255.0))
            }
        }
    }

    /// The images at `indices`, in that order, in the same storage.
    pub fn select(&self, indices: &[usize]) -> Pixels {
        match self {
            Pixels::Floats(images) => Pixels::Floats(images.select(indices)),
            Pixels::Bytes { shape, data } => Pixels::Bytes {
                shape: *shape,
                data: indices
                    .iter()
                    .flat_map(|&i| &data[i * shape.len()..][..shape.len()])
                    .copied()
                    .collect(),
            },
        }
    }

    /// All images as floats.
    pub fn to_images(&self) -> Images {
        match self {
            Pixels::Floats(images) => images.clone(),
            Pixels::Bytes { shape, data } => {
                Images::new(*shape, data.iter().map(|&v| v as f32 / 255.0).collect())
            }
        }
    }
}

/// The kinds of dataset file `ae` reads, told apart by their path.
enum Format {
    Cifar,
    Mat,
    Idx,
    Npy,
    Folder,
}

fn format_of(path: &Path) -> Result<Format, DataError> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    Ok(if path.is_dir() {
        Format::Folder
    } else if name.ends_with(".mat") {
        Format::Mat
    } else if name.ends_with(".npy") {
        Format::Npy
    } else if name.ends_with(".bin") {
        Format::Cifar
    } else if name.contains("ubyte") || name.contains(".idx") {
        Format::Idx
    } else if !path.exists() {
        return Err(DataError::Missing { path: path.into() });
    } else {
        return Err(DataError::UnknownFormat { path: path.into() });
    })
}

/// One label per image from an IDX label file (MNIST's `*-labels-idx1-ubyte`, raw or gzip).
/// The IDX labels file that sits beside an IDX images file, as MNIST ships them
/// (`t10k-images-idx3-ubyte[.gz]` → `t10k-labels-idx1-ubyte[.gz]`), if there is one.
pub fn labels_beside(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    let labels = stem.replace("-images-idx3-", "-labels-idx1-").replace("-images.idx3-", "-labels.idx1-");
    if labels == stem {
        return None;
    }
    [labels.clone(), format!("{labels}.gz")]
        .into_iter()
        .map(|n| images.with_file_name(n))
        .find(|p| p.is_file())
}

pub fn load_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|cause| DataError::Io { path: path.into(), cause })?;
    idx::parse_labels(&bytes).map_err(|cause| DataError::Idx { path: path.into(), cause })
}

fn load_idx(path: &Path) -> Result<Pixels, DataError> {
    let bytes = std::fs::read(path).map_err(|cause| DataError::Io { path: path.into(), cause })?;
    let idx = idx::parse(&bytes).map_err(|cause| DataError::Idx { path: path.into(), cause })?;
    if idx.count == 0 {
        return Err(DataError::Values { path: path.into(), problem: "the file holds no images".into() });
    }
    Ok(Pixels::Bytes { shape: Shape::new(idx.rows, idx.cols, 1), data: idx.pixels })
}

fn load_named(name: DatasetName) -> Result<Pixels, DataError> {
    // Quietly: a front end that shows downloads fetches the file first (`download::locate` with
    // its own progress), and it is found in the cache here.
    let path = download::locate(&download::Source::named(name), None, &|_| {})?;
    match name {
        DatasetName::Olivetti => Ok(Pixels::Floats(load_olivetti(&path)?)),
        DatasetName::Mnist | DatasetName::FashionMnist => load_idx(&path),
    }
}

/// Loads the dataset a config names (or `path_override`), resized to `data.size` and in the
/// storage it asks for.
pub fn load_dataset(data: &DataConfig, path_override: Option<&Path>) -> Result<Pixels, DataError> {
    let filter = match data.resize {
        Resize::Subsample => image::imageops::FilterType::Nearest,
        Resize::Area => image::imageops::FilterType::Triangle,
    };
    let pixels = match path_override.or(data.path.as_deref()) {
        None => load_named(data.dataset)?,
        Some(path) => match format_of(path)? {
            Format::Mat => Pixels::Floats(load_olivetti(path)?),
            Format::Idx => load_idx(path)?,
            Format::Npy => load_npy(path)?,
            Format::Cifar => cifar::load(path)?,
            Format::Folder => folder::load(path, data.channels, data.size, filter, data.bad_images)?,
        },
    };
    let shape = pixels.shape();
    if let Some(c) = data.channels {
        if c != shape.channels {
            let problem = format!("the images have {} channel(s), not {c}", shape.channels);
            return Err(ConfigError::new("data.channels", problem).into());
        }
    }
    let pixels = match &data.normal {
        Some(normal) => pixels.select(&normal_indices(normal, &labels_for(&normal.labels, pixels.len())?)?),
        None => pixels,
    };
    let pixels = match data.size {
        Some([h, w]) if (h, w) != (shape.height, shape.width) => Pixels::Floats(
            pixels.to_images().downscale(h, w, data.resize).map_err(|e| ConfigError::new("data.size", e))?,
        ),
        _ => pixels,
    };
    Ok(match (data.storage, pixels) {
        (Storage::F32, bytes @ Pixels::Bytes { .. }) => Pixels::Floats(bytes.to_images()),
        (_, pixels) => pixels,
    })
}

/// One label per image of a dataset of `count` images, from the IDX labels file `path`; a file
/// with another count is refused.
pub fn labels_for(path: &Path, count: usize) -> Result<Vec<u8>, DataError> {
    let labels = load_labels(path)?;
    if labels.len() != count {
        let problem =
            format!("{} labels for a dataset of {count} images; one label per image is needed", labels.len());
        return Err(DataError::Values { path: path.into(), problem });
    }
    Ok(labels)
}

/// The indices of the images labelled with one of `normal`'s classes (`labels`: one per image).
pub fn normal_indices(normal: &NormalClasses, labels: &[u8]) -> Result<Vec<usize>, DataError> {
    let kept: Vec<usize> = (0..labels.len()).filter(|&i| normal.classes.contains(&labels[i])).collect();
    if kept.is_empty() {
        let problem = format!("no image is labelled {:?} (data.normal.classes)", normal.classes);
        return Err(DataError::Values { path: normal.labels.clone(), problem });
    }
    Ok(kept)
}

/// Whether a config's data are the Olivetti faces.
pub fn is_olivetti(data: &DataConfig) -> bool {
    data.path.as_deref().map_or(data.dataset == DatasetName::Olivetti, |p| {
        p.extension().is_some_and(|e| e.eq_ignore_ascii_case("mat"))
    })
}

/// The held-out split a config asks for; people can only be held out of the Olivetti faces.
pub fn split_for(data: &DataConfig, n: usize, seed: u64) -> Result<Split, ConfigError> {
    match data.split {
        SplitBy::Subjects if !is_olivetti(data) => {
            Err(ConfigError::new("data.split", "holding out subjects works only for the Olivetti faces"))
        }
        // Holding out needs one image to hold out and one to train on.
        SplitBy::Images if data.holdout > 0.0 && n < 2 => Err(ConfigError::new(
            "data.holdout",
            format!("{n} image(s) cannot be split into training and held-out images; set it to 0"),
        )),
        by => Ok(Split::olivetti(n, data.holdout, seed, by)),
    }
}

/// Image files prepared for a model with input `[height, width, channels]`: each must be that
/// size or a whole multiple of it, and is downscaled with `resize`.
pub fn images_for_model(paths: &[PathBuf], input: [usize; 3], resize: Resize) -> Result<Images, DataError> {
    let [height, width, channels] = input;
    let mut data = Vec::with_capacity(paths.len() * height * width * channels);
    for path in paths {
        let img = folder::read_image(path, channels)?;
        let scaled = img.downscale(height, width, resize).map_err(|_| DataError::WrongSize {
            path: path.clone(),
            found: [img.shape.height, img.shape.width],
            wanted: [height, width],
        })?;
        data.extend_from_slice(&scaled.data);
    }
    Ok(Images::new(Shape::new(height, width, channels), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_puts_each_channel_in_a_plane_and_back() {
        // Two 1×2 images of three channels: pixel p, channel c holds 10·image + 3·p + c.
        let hwc: Vec<f32> = (0..2)
            .flat_map(|i| (0..2).flat_map(move |p| (0..3).map(move |c| (10 * i + 3 * p + c) as f32)))
            .collect();
        let images = Images::new(Shape::new(1, 2, 3), hwc);
        let nchw = images.to_nchw();
        assert_eq!(&nchw[..6], &[0., 3., 1., 4., 2., 5.]);
        assert_eq!(Images::from_nchw(images.shape, &nchw), images);
    }

    #[test]
    fn subsample_keeps_even_pixels_and_area_averages_blocks() {
        let img = Images::new(Shape::new(2, 4, 1), vec![0., 1., 2., 3., 4., 5., 6., 7.]);
        assert_eq!(img.downscale(1, 2, Resize::Subsample).unwrap().data, vec![0., 2.]);
        assert_eq!(img.downscale(1, 2, Resize::Area).unwrap().data, vec![2.5, 4.5]);
        assert!(img.downscale(1, 3, Resize::Area).is_err());
        // Each guard on its own: a zero side, a height or a width that does not divide, and
        // unequal factors.
        let big = Images::new(Shape::new(4, 8, 1), (0..32).map(|v| v as f32).collect());
        for (h, w) in [(0, 4), (2, 0), (3, 4), (2, 3), (2, 8)] {
            let err = big.downscale(h, w, Resize::Area).unwrap_err();
            assert!(err.contains(&format!("to {h}×{w}")), "{h}×{w}: {err}");
        }
        assert_eq!(big.downscale(2, 4, Resize::Area).unwrap().shape, Shape::new(2, 4, 1));
        // Two images of two colour channels, 4×4 → 2×2: each channel's 2×2 blocks averaged.
        let rgb: Vec<f32> = (0..2 * 16 * 2).map(|v| (v * v % 23) as f32).collect();
        let small = Images::new(Shape::new(4, 4, 2), rgb.clone()).downscale(2, 2, Resize::Area).unwrap();
        let at = |i: usize, y: usize, x: usize, c: usize| rgb[i * 32 + (y * 4 + x) * 2 + c];
        for (i, y, x, c) in [(0, 0, 0, 0), (0, 1, 1, 1), (1, 0, 1, 0), (1, 1, 0, 1)] {
            let block = at(i, 2 * y, 2 * x, c)
                + at(i, 2 * y, 2 * x + 1, c)
                + at(i, 2 * y + 1, 2 * x, c)
                + at(i, 2 * y + 1, 2 * x + 1, c);
            assert_eq!(small.image(i)[(y * 2 + x) * 2 + c], block / 4.0, "image {i} ({y}, {x}) channel {c}");
        }
        assert!(!small.is_empty() && Images::new(small.shape, vec![]).is_empty());
        // A factor of 3: nine pixels a block.
        let three = Images::new(Shape::new(3, 3, 1), (1..=9).map(|v| v as f32).collect());
        assert_eq!(three.downscale(1, 1, Resize::Area).unwrap().data, [5.0]);
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let a = Split::new(400, 0.1, 0);
        assert_eq!((a.train.len(), a.holdout.len()), (360, 40));
        assert_eq!(a, Split::new(400, 0.1, 0));
        assert_ne!(a, Split::new(400, 0.1, 1));
        let mut all: Vec<usize> = a.train.iter().chain(&a.holdout).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..400).collect::<Vec<_>>());
        assert!(Split::new(10, 0.0, 0).holdout.is_empty());
    }

    #[test]
    fn subject_split_keeps_people_together() {
        let s = Split::olivetti(400, 0.1, 3, SplitBy::Subjects);
        assert_eq!(s.holdout.len(), 40);
        let people: std::collections::BTreeSet<usize> = s.holdout.iter().map(|i| i / 10).collect();
        assert_eq!(people.len(), 4);
        assert!(s.train.iter().all(|i| !people.contains(&(i / 10))));
    }

    #[test]
    fn wrong_variable_shape_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.mat");
        std::fs::write(&path, mat::write_matrix("faces", 9, &[2, 3], 2, &[1, 2, 3, 4, 5, 6])).unwrap();
        let err = load_olivetti(&path).unwrap_err().to_string();
        assert!(err.contains("uint8 array of 2×3") && err.contains("small.mat"), "{err}");
    }

    #[test]
    fn faces_are_shifted_to_zero_scaled_to_one_and_transposed() {
        // A synthetic file whose values run from 10 to 250 (the real one starts at 0): column j
        // is image j, stored column-major.
        let values: Vec<u8> = (0..4096 * 400).map(|i| 10 + (i * 7 % 241) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faces.mat");
        std::fs::write(&path, mat::write_matrix("faces", 9, &[4096, 400], 2, &values)).unwrap();
        let faces = load_olivetti(&path).unwrap();
        for (i, r, c) in [(0, 0, 0), (0, 1, 0), (3, 5, 17), (399, 63, 62)] {
            let want = (values[i * 4096 + c * 64 + r] as f32 - 10.0) / 240.0;
            assert_eq!(faces.image(i)[r * 64 + c], want, "image {i} ({r}, {c})");
        }
    }

    #[test]
    fn byte_storage_converts_the_images_it_is_asked_for() {
        let shape = Shape::new(1, 2, 1);
        let bytes = Pixels::Bytes { shape, data: vec![0, 51, 102, 153, 204, 255] };
        let mut out = Vec::new();
        bytes.push_image(2, &mut out);
        bytes.push_image(1, &mut out);
        assert_eq!(out, [0.8, 1.0, 0.4, 0.6]);
        assert_eq!(bytes.select(&[2, 0]), Pixels::Bytes { shape, data: vec![204, 255, 0, 51] });
        assert_eq!(bytes.select(&[1]).to_images().data, [0.4, 0.6]);
    }
}
