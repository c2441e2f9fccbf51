//! Reader for the numeric matrices of a MATLAB v5 `.mat` file (little-endian, optionally
//! zlib-compressed elements): just what the Olivetti faces file needs, with every length checked.

use std::io::Read;

/// Why a buffer is not a usable MAT v5 file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MatError {
    #[error("not a MATLAB v5 .mat file (no 128-byte v5 header)")]
    NotMat,
    #[error("big-endian .mat files are not supported")]
    BigEndian,
    #[error("truncated: {what} at byte {offset} runs past the end of the data")]
    Truncated { what: &'static str, offset: usize },
    #[error("corrupt: {0}")]
    Corrupt(String),
    #[error("no variable `{name}` (found: {found})")]
    Missing { name: String, found: String },
}

/// MATLAB array classes (`mxCLASS`) this reader can turn into numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatClass {
    Double,
    Single,
    Int8,
    Uint8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    /// Any other class (cell, struct, char, sparse, 64-bit integers …), by its code.
    Other(u8),
}

impl MatClass {
    fn from_code(code: u8) -> Self {
        match code {
            6 => MatClass::Double,
            7 => MatClass::Single,
            8 => MatClass::Int8,
            9 => MatClass::Uint8,
            10 => MatClass::Int16,
            11 => MatClass::Uint16,
            12 => MatClass::Int32,
            13 => MatClass::Uint32,
            other => MatClass::Other(other),
        }
    }

    pub fn name(&self) -> String {
        match self {
            MatClass::Double => "double".into(),
            MatClass::Single => "single".into(),
            MatClass::Int8 => "int8".into(),
            MatClass::Uint8 => "uint8".into(),
            MatClass::Int16 => "int16".into(),
            MatClass::Uint16 => "uint16".into(),
            MatClass::Int32 => "int32".into(),
            MatClass::Uint32 => "uint32".into(),
            MatClass::Other(1) => "cell".into(),
            MatClass::Other(2) => "struct".into(),
            MatClass::Other(4) => "char".into(),
            MatClass::Other(5) => "sparse".into(),
            MatClass::Other(code) => format!("class {code}"),
        }
    }
}

/// One variable: its dimensions (column-major, as MATLAB stores them) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct MatArray {
    pub name: String,
    pub class: MatClass,
    pub dims: Vec<usize>,
    /// Column-major values; empty for classes other than the numeric ones above.
    pub values: Vec<f32>,
}

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
/// A decompressed element larger than this is treated as corrupt rather than exhausting memory.
const MAX_DECOMPRESSED: u64 = 1 << 30;

struct Element<'a> {
    kind: u32,
    data: &'a [u8],
}

fn u32_at(buf: &[u8], offset: usize, what: &'static str) -> Result<u32, MatError> {
    buf.get(offset..offset + 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .ok_or(MatError::Truncated { what, offset })
}

/// Reads the data element at `offset`; returns it and the offset of the next one.
fn element(buf: &[u8], offset: usize) -> Result<(Element<'_>, usize), MatError> {
    let first = u32_at(buf, offset, "element tag")?;
    if first >> 16 != 0 {
        // Small data element: type and size share the first word, data sits in the next four bytes.
        let (kind, len) = (first & 0xFFFF, (first >> 16) as usize);
        if len > 4 {
            return Err(MatError::Corrupt(format!("small element at byte {offset} claims {len} bytes")));
        }
        let data =
            buf.get(offset + 4..offset + 4 + len).ok_or(MatError::Truncated { what: "element", offset })?;
        return Ok((Element { kind, data }, offset + 8));
    }
    let len = u32_at(buf, offset + 4, "element size")? as usize;
    let start = offset + 8;
    let data = buf
        .get(start..start.checked_add(len).ok_or(MatError::Truncated { what: "element", offset })?)
        .ok_or(MatError::Truncated { what: "element", offset })?;
    // Compressed elements are not padded; all others end on an 8-byte boundary.
    let next = if first == MI_COMPRESSED { start + len } else { start + len.div_ceil(8) * 8 };
    Ok((Element { kind: first, data }, next.min(buf.len())))
}

fn numbers(e: &Element<'_>) -> Result<Vec<f32>, MatError> {
    fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f32) -> Result<Vec<f32>, MatError> {
        if !data.len().is_multiple_of(N) {
            return Err(MatError::Corrupt(format!(
                "{} bytes is not a whole number of {N}-byte values",
                data.len()
            )));
        }
        Ok(data.chunks_exact(N).map(|c| f(c.try_into().unwrap())).collect())
    }
    match e.kind {
        MI_INT8 => each::<1>(e.data, |b| i8::from_le_bytes(b) as f32),
        MI_UINT8 => each::<1>(e.data, |b| b[0] as f32),
        MI_INT16 => each::<2>(e.data, |b| i16::from_le_bytes(b) as f32),
        MI_UINT16 => each::<2>(e.data, |b| u16::from_le_bytes(b) as f32),
        MI_INT32 => each::<4>(e.data, |b| i32::from_le_bytes(b) as f32),
        MI_UINT32 => each::<4>(e.data, |b| u32::from_le_bytes(b) as f32),
        MI_SINGLE => each::<4>(e.data, f32::from_le_bytes),
        MI_DOUBLE => each::<8>(e.data, |b| f64::from_le_bytes(b) as f32),
        other => Err(MatError::Corrupt(format!("unsupported numeric data type {other}"))),
    }
}

fn matrix(data: &[u8]) -> Result<MatArray, MatError> {
    let (flags, at) = element(data, 0)?;
    if flags.kind != MI_UINT32 || flags.data.len() < 4 {
        return Err(MatError::Corrupt("matrix without array flags".into()));
    }
    let class = MatClass::from_code(flags.data[0]);
    let (dims, at) = element(data, at)?;
    if dims.kind != MI_INT32 || dims.data.is_empty() || dims.data.len() % 4 != 0 {
        return Err(MatError::Corrupt("matrix without dimensions".into()));
    }
    let dims: Vec<usize> = dims
        .data
        .chunks_exact(4)
        .map(|c| usize::try_from(i32::from_le_bytes(c.try_into().unwrap())))
        .collect::<Result<_, _>>()
        .map_err(|_| MatError::Corrupt("negative dimension".into()))?;
    let (name, at) = element(data, at)?;
    let name = String::from_utf8_lossy(name.data).into_owned();
    let values = match class {
        MatClass::Other(_) => Vec::new(),
        _ => {
            let (real, _) = element(data, at)?;
            let values = numbers(&real)?;
            let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            if expected != Some(values.len()) {
                return Err(MatError::Corrupt(format!(
                    "`{name}` has dimensions {dims:?} but {} values",
                    values.len()
                )));
            }
            values
        }
    };
    Ok(MatArray { name, class, dims, values })
}

/// Finds the variable `name` in the bytes of a `.mat` file.
pub fn read_variable(buf: &[u8], name: &str) -> Result<MatArray, MatError> {
    if buf.len() < 128 || !buf.starts_with(b"MATLAB") {
        return Err(MatError::NotMat);
    }
    match &buf[126..128] {
        b"IM" => {}
        b"MI" => return Err(MatError::BigEndian),
        _ => return Err(MatError::NotMat),
    }
    let mut found = Vec::new();
    let mut offset = 128;
    while offset < buf.len() {
        let (e, next) = element(buf, offset)?;
        let array = match e.kind {
            MI_MATRIX => matrix(e.data)?,
            MI_COMPRESSED => {
                let mut inflated = Vec::new();
                flate2::read::ZlibDecoder::new(e.data)
                    .take(MAX_DECOMPRESSED)
                    .read_to_end(&mut inflated)
                    .map_err(|err| {
                        MatError::Corrupt(format!("compressed element at byte {offset}: {err}"))
                    })?;
                let (inner, _) = element(&inflated, 0)?;
                if inner.kind != MI_MATRIX {
                    return Err(MatError::Corrupt(format!(
                        "compressed element at byte {offset} holds no matrix"
                    )));
                }
                matrix(inner.data)?
            }
            _ => {
                offset = next;
                continue;
            }
        };
        if array.name == name {
            return Ok(array);
        }
        found.push(array.name);
        offset = next;
    }
    let found = if found.is_empty() { "nothing".to_string() } else { found.join(", ") };
    Err(MatError::Missing { name: name.to_string(), found })
}

/// Writes a minimal uncompressed MAT v5 file holding one matrix; used by tests to make fixtures.
pub fn write_matrix(name: &str, class_code: u8, dims: &[usize], data_type: u32, bytes: &[u8]) -> Vec<u8> {
    fn push_element(out: &mut Vec<u8>, kind: u32, data: &[u8]) {
        out.extend(kind.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out.resize(out.len().div_ceil(8) * 8, 0);
    }
    let mut body = Vec::new();
    push_element(&mut body, MI_UINT32, &[class_code, 0, 0, 0, 0, 0, 0, 0]);
    let dims: Vec<u8> = dims.iter().flat_map(|&d| (d as i32).to_le_bytes()).collect();
    push_element(&mut body, MI_INT32, &dims);
    push_element(&mut body, MI_INT8, name.as_bytes());
    push_element(&mut body, data_type, bytes);
    let mut out = format!("{:<116}", "MATLAB 5.0 MAT-file, written by ae tests").into_bytes();
    out.extend([0u8; 8]);
    out.extend(0x0100u16.to_le_bytes());
    out.extend(b"IM");
    push_element(&mut out, MI_MATRIX, &body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        write_matrix("faces", 9, &[2, 3], MI_UINT8, &[1, 2, 3, 4, 5, 6])
    }

    #[test]
    fn reads_an_uncompressed_uint8_matrix() {
        let a = read_variable(&fixture(), "faces").unwrap();
        assert_eq!(
            (a.class, a.dims.as_slice(), a.values.as_slice()),
            (MatClass::Uint8, &[2, 3][..], &[1., 2., 3., 4., 5., 6.][..])
        );
    }

    #[test]
    fn names_what_it_found_when_the_variable_is_missing() {
        let err = read_variable(&fixture(), "images").unwrap_err();
        assert_eq!(err, MatError::Missing { name: "images".into(), found: "faces".into() });
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let full = fixture();
        for len in 0..full.len() - 1 {
            // Cutting inside the padding after the last value can leave a readable matrix.
            if let Ok(a) = read_variable(&full[..len], "faces") {
                assert_eq!(a.values.len(), 6, "a cut at {len} produced a short matrix");
            }
        }
        assert_eq!(read_variable(b"hello", "faces"), Err(MatError::NotMat));
    }

    #[test]
    fn a_value_count_that_disagrees_with_the_dimensions_is_corrupt() {
        let bad = write_matrix("faces", 9, &[2, 4], MI_UINT8, &[1, 2, 3, 4, 5, 6]);
        assert!(matches!(read_variable(&bad, "faces"), Err(MatError::Corrupt(_))));
    }
}
