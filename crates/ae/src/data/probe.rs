//! A dataset's size read from its headers alone, so a job that would not fit is refused before
//! anything is inflated or decoded: an IDX header promising 10⁹ images, a 3 MB PNG of
//! 16000×16000 pixels.

use super::npy::parse_npy_header;
use super::{cifar, folder, format_of, idx, DataError, Format, OLIVETTI_COUNT, OLIVETTI_SIDE};
use crate::config::{DataConfig, DatasetName, Storage};
use ae_engine::Shape;
use std::io::Read;
use std::path::Path;

/// What loading a dataset holds, worked out from its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetSize {
    pub count: usize,
    /// One image as the model gets it (after `data.size`).
    pub shape: Shape,
    /// The loaded dataset in its storage (1 or 4 bytes a value).
    pub bytes: u64,
    /// The most the load holds at once: the file's bytes, decoded images, their copies and the
    /// conversion to the storage.
    pub loading: u64,
}

/// The first bytes of a file: enough for any header this reads (an IDX header inflated from its
/// gzip stream, an `.npy` header, an image's).
const PREFIX: u64 = 1 << 16;

fn prefix(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |cause| DataError::Io { path: path.into(), cause };
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(io)?.take(PREFIX).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

fn file_len(path: &Path) -> Result<u64, DataError> {
    Ok(std::fs::metadata(path).map_err(|cause| DataError::Io { path: path.into(), cause })?.len())
}

/// The size of the dataset `data` names, from its headers. A named dataset's is known; `data.size`
/// and `data.storage` are applied as [`super::load_dataset`] applies them.
pub fn probe(data: &DataConfig) -> Result<DatasetSize, DataError> {
    let threads = rayon::current_num_threads() as u64;
    let value = |storage: Storage| match storage {
        Storage::F32 => 4u64,
        Storage::U8 => 1,
    };
    let (count, source, bytes_per_value, loading) = match data.path.as_deref() {
        None => match data.dataset {
            DatasetName::Olivetti => olivetti(),
            // 60 000 images of 28×28, gzip-compressed (about 10 MB).
            DatasetName::Mnist | DatasetName::FashionMnist => {
                let (count, shape) = (60_000, Shape::new(28, 28, 1));
                (count, shape, value(data.storage), 10_000_000 + 2 * (count * shape.len()) as u64)
            }
        },
        Some(path) => match format_of(path)? {
            Format::Mat => olivetti(),
            Format::Idx => {
                let (count, rows, cols) = idx::image_header(&prefix(path)?)
                    .map_err(|cause| DataError::Idx { path: path.into(), cause })?;
                let shape = Shape::new(rows, cols, 1);
                // The file, the inflated stream and the pixels copied out of it.
                let pixels = (count as u64).saturating_mul(shape.len() as u64);
                (count, shape, value(data.storage), file_len(path)?.saturating_add(pixels.saturating_mul(2)))
            }
            Format::Npy => {
                let (dims, item, _) = parse_npy_header(&prefix(path)?)
                    .map_err(|problem| DataError::Npy { path: path.into(), problem })?;
                let shape = match dims[..] {
                    [_, h, w] => Shape::new(h, w, 1),
                    [_, h, w, c] => Shape::new(h, w, c),
                    _ => {
                        return Err(DataError::Npy {
                            path: path.into(),
                            problem: format!("shape {dims:?} is not a stack of images"),
                        })
                    }
                };
                let count = dims.first().copied().unwrap_or(0);
                // Floats stay floats; bytes take the storage's size.
                let per_value = if item == 4 { 4 } else { value(data.storage) };
                let values = (count as u64).saturating_mul(shape.len() as u64);
                // The file, the array read from it and its values collected.
                (
                    count,
                    shape,
                    per_value,
                    file_len(path)?.saturating_add(values.saturating_mul(2 * item as u64)),
                )
            }
            Format::Cifar => {
                let len = file_len(path)?;
                let count =
                    cifar::count(len).map_err(|problem| DataError::Values { path: path.into(), problem })?;
                // The file, and the pixels copied out of it.
                (count, cifar::shape(), value(data.storage), len.saturating_mul(2))
            }
            Format::Folder => {
                let headers = folder::headers(path, data.channels, data.size, data.bad_images)?;
                let shape = match data.size {
                    Some([h, w]) => Shape::new(h, w, headers.channels),
                    None => Shape::new(headers.first[0], headers.first[1], headers.channels),
                };
                let samples = (headers.count as u64).saturating_mul(shape.len() as u64);
                // Each thread holds one image decoded whole (and its conversion); the decoded
                // samples are gathered into one buffer (two copies at the end).
                let decoding = threads.saturating_mul(headers.largest_decode);
                (
                    headers.count,
                    shape,
                    value(data.storage),
                    decoding.saturating_add(samples.saturating_mul(2)),
                )
            }
        },
    };
    let shape = match data.size {
        Some([h, w]) => Shape::new(h, w, source.channels),
        None => source,
    };
    let values = (count as u64).saturating_mul(shape.len() as u64);
    let bytes = values.saturating_mul(bytes_per_value);
    // Resizing (other than a folder's, done image by image) and the conversion to floats hold
    // the images twice, as floats.
    let converting = if data.size.is_some_and(|[h, w]| (h, w) != (source.height, source.width)) {
        (count as u64).saturating_mul(source.len() as u64).saturating_mul(4).saturating_add(bytes)
    } else {
        values.saturating_add(bytes)
    };
    Ok(DatasetSize { count, shape, bytes, loading: loading.max(converting) })
}

/// The Olivetti faces: 400 images of 64×64 as floats; the file's matrix is read as doubles.
fn olivetti() -> (usize, Shape, u64, u64) {
    let values = (OLIVETTI_COUNT * OLIVETTI_SIDE * OLIVETTI_SIDE) as u64;
    (OLIVETTI_COUNT, Shape::new(OLIVETTI_SIDE, OLIVETTI_SIDE, 1), 4, 8 * values + 3 * 4 * values)
}
