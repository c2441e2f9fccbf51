//! CIFAR-10's binary batches (`data_batch_1.bin` … `test_batch.bin`): records of one label byte
//! and a 32×32 RGB image stored channel by channel (1024 red, 1024 green, 1024 blue values, each
//! plane row by row), read as 8-bit NHWC images.

use super::{DataError, Pixels};
use ae_engine::Shape;
use std::path::Path;

/// The images' side.
const SIDE: usize = 32;
/// One record: the label, then the three planes.
const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// The images' shape.
pub(super) fn shape() -> Shape {
    Shape::new(SIDE, SIDE, 3)
}

/// The number of images in a file of `len` bytes, which must hold whole records.
pub(super) fn count(len: u64) -> Result<usize, String> {
    let record = RECORD as u64;
    if len == 0 || !len.is_multiple_of(record) {
        return Err(format!("{len} bytes is not a whole number of CIFAR-10 records of {record} bytes"));
    }
    Ok((len / record) as usize)
}

/// The images of the batch at `path`.
pub(super) fn load(path: &Path) -> Result<Pixels, DataError> {
    let bytes = std::fs::read(path).map_err(|cause| DataError::Io { path: path.into(), cause })?;
    count(bytes.len() as u64).map_err(|problem| DataError::Values { path: path.into(), problem })?;
    Ok(Pixels::Bytes { shape: shape(), data: from_records(&bytes) })
}

/// The planar records as interleaved pixels, labels left out.
fn from_records(bytes: &[u8]) -> Vec<u8> {
    let plane = SIDE * SIDE;
    let mut data = Vec::with_capacity(bytes.len() / RECORD * 3 * plane);
    for record in bytes.chunks_exact(RECORD) {
        let planes = &record[1..];
        for p in 0..plane {
            data.extend([planes[p], planes[plane + p], planes[2 * plane + p]]);
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_rgb_pixels_and_a_partial_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // Three records whose values name their own place: image i, channel c, pixel p.
        let value = |i: usize, c: usize, p: usize| ((7 * i + 3 * c + p) % 251) as u8;
        let mut file = Vec::new();
        for i in 0..3 {
            file.push(9); // the label
            file.extend((0..3).flat_map(|c| (0..1024).map(move |p| value(i, c, p))));
        }
        let path = dir.path().join("data_batch_1.bin");
        std::fs::write(&path, &file).unwrap();
        let Pixels::Bytes { shape, data } = load(&path).unwrap() else { panic!("8-bit images") };
        assert_eq!((shape, data.len()), (Shape::new(32, 32, 3), 3 * 3072));
        for (i, h, w, c) in [(0, 0, 0, 0), (1, 5, 31, 2), (2, 31, 7, 1)] {
            assert_eq!(data[((i * 32 + h) * 32 + w) * 3 + c], value(i, c, h * 32 + w), "{i} {h} {w} {c}");
        }
        // Through the dataset layer: the format told by the name, the size from the file's length.
        let mut config = crate::config::RunConfig::preset(crate::config::Preset::TutorialNet).data;
        (config.path, config.size) = (Some(path.clone()), None);
        let size = super::super::probe::probe(&config).unwrap();
        assert_eq!((size.count, size.shape), (3, Shape::new(32, 32, 3)));
        assert_eq!(super::super::load_dataset(&config, None).unwrap().len(), 3);
        std::fs::write(&path, &file[..file.len() - 1]).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("data_batch_1.bin") && err.contains("9218 bytes is not a whole number"),
            "{err}"
        );
        assert_eq!(count(0).unwrap_err(), "0 bytes is not a whole number of CIFAR-10 records of 3073 bytes");
    }
}
