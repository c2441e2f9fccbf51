//! NumPy `.npy` arrays of images: N×H×W or N×H×W×C (C = 1 or 3), u8 (0–255) or f32 (0–1), the
//! header checked against the bytes that follow before any size in it is trusted.

use super::{DataError, Images, Pixels};
use ae_engine::Shape;
use std::path::Path;

/// An `.npy` array of N×H×W or N×H×W×C (C = 1 or 3), u8 (0–255) or f32 (0–1).
pub(super) fn load_npy(path: &Path) -> Result<Pixels, DataError> {
    let bytes = std::fs::read(path).map_err(|cause| DataError::Io { path: path.into(), cause })?;
    parse_npy(&bytes).map_err(|problem| DataError::Npy { path: path.into(), problem })
}

/// Checks an `.npy` header against the bytes that follow it before any reader trusts its sizes
/// (a corrupt header could otherwise ask for gigabytes). Returns nothing on success.
fn check_npy_header(bytes: &[u8]) -> Result<(), String> {
    let (dims, item, start) = parse_npy_header(bytes)?;
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_mul(item))
        .ok_or("corrupt shape in header")?;
    let body = bytes.len() - start;
    if body != count {
        return Err(format!("the header promises {count} bytes of data but {body} follow"));
    }
    Ok(())
}

/// An `.npy` header at the start of `bytes`: the array's dimensions, the bytes of one value (1 or
/// 4) and where the data start.
pub(super) fn parse_npy_header(bytes: &[u8]) -> Result<(Vec<usize>, usize, usize), String> {
    if bytes.len() < 10 || !bytes.starts_with(b"\x93NUMPY") {
        return Err("not an .npy file".into());
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12),
        v => return Err(format!("npy format version {v} is not supported")),
    };
    let header = bytes.get(start..start.saturating_add(len)).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "corrupt header")?;
    let item = if header.contains("'descr': '|u1'") || header.contains("'descr': '<u1'") {
        1
    } else if header.contains("'descr': '<f4'") {
        4
    } else {
        let descr = header.split("'descr': ").nth(1).and_then(|r| r.split(',').next()).unwrap_or("?");
        return Err(format!("dtype {} is not supported", descr.trim()));
    };
    let dims = header
        .split("'shape': (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .ok_or("no shape in header")?;
    let dims = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().map_err(|_| "corrupt shape in header"))
        .collect::<Result<Vec<usize>, _>>()?;
    Ok((dims, item, start + len))
}

/// The bytes of an `.npy` file as images; see [`load_npy`].
pub fn parse_npy(bytes: &[u8]) -> Result<Pixels, String> {
    use ndarray_npy::ReadNpyExt;
    check_npy_header(bytes)?;
    let shape_of = |dims: &[usize]| -> Result<Shape, String> {
        match *dims {
            [n, h, w] if n > 0 && h > 0 && w > 0 => Ok(Shape::new(h, w, 1)),
            [n, h, w, c] if n > 0 && h > 0 && w > 0 && (c == 1 || c == 3) => Ok(Shape::new(h, w, c)),
            _ => Err(format!("shape {dims:?} is not a stack of images")),
        }
    };
    match ndarray::ArrayD::<u8>::read_npy(bytes) {
        Ok(array) => {
            let shape = shape_of(array.shape())?;
            return Ok(Pixels::Bytes { shape, data: array.as_standard_layout().iter().copied().collect() });
        }
        Err(ndarray_npy::ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(e.to_string()),
    }
    let array = ndarray::ArrayD::<f32>::read_npy(bytes).map_err(|e| e.to_string())?;
    let shape = shape_of(array.shape())?;
    let data: Vec<f32> = array.as_standard_layout().iter().copied().collect();
    if let Some(v) = data.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(format!("value {v} is outside [0, 1]"));
    }
    Ok(Pixels::Floats(Images::new(shape, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_headers_that_promise_more_than_the_file_holds_are_refused() {
        // Found by the npy fuzz target: a v3 header claiming 4 GiB of header text.
        let mut huge = b"\x93NUMPY\x03\x00\xff\xff\xff\xff".to_vec();
        huge.extend(b"{'descr': '|u1'}");
        assert_eq!(parse_npy(&huge).unwrap_err(), "truncated header");
        // A valid header whose shape asks for far more data than follows.
        let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 1000, 1000), }";
        let mut big = b"\x93NUMPY\x01\x00".to_vec();
        big.extend((header.len() as u16).to_le_bytes());
        big.extend(header.as_bytes());
        big.extend([0u8; 16]);
        assert!(parse_npy(&big).unwrap_err().contains("promises 100000000000 bytes"));
    }
}
