//! Reader for IDX image and label files (the MNIST format), raw or gzip-compressed, with every
//! length checked.

use std::io::Read;

/// Why a buffer is not a usable IDX image file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IdxError {
    #[error("not an IDX file (magic number {0:#010x}; images are 0x00000803)")]
    Magic(u32),
    #[error("an IDX file of {0} dimension(s) holds labels, not images (expected 3: count, rows, columns)")]
    NotImages(u8),
    #[error("an IDX file of {0} dimension(s) holds images or other arrays, not labels (expected 1: count)")]
    NotLabels(u8),
    #[error("IDX element type {0:#04x} is not supported (expected 0x08, unsigned bytes)")]
    ElementType(u8),
    #[error("truncated: the header promises {expected} bytes of pixels but {found} follow")]
    Truncated { expected: usize, found: usize },
    #[error("{found} bytes follow the pixels the header promises ({expected}); the file is corrupt")]
    TrailingBytes { expected: usize, found: usize },
    #[error("gzip stream: {0}")]
    Gzip(String),
    #[error("an image of {rows}×{cols} pixels is empty or implausibly large")]
    Size { rows: usize, cols: usize },
    #[error(
        "the header promises {promised} bytes of pixels, more than the {MAX_BYTES} an IDX file may hold"
    )]
    TooLarge { promised: u64 },
}

/// `count` grayscale images of `rows × cols` bytes, row-major.
#[derive(Debug, PartialEq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// The largest decompressed file accepted (a 60 000-image MNIST file is 47 MB).
const MAX_BYTES: u64 = 1 << 32;

/// Parses an IDX image file; gzip-compressed input (magic 1f 8b) is inflated first.
pub fn parse(bytes: &[u8]) -> Result<IdxImages, IdxError> {
    let (dims, pixels) = parse_bytes(bytes, 3, IdxError::NotImages)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    Ok(IdxImages { count, rows, cols, pixels })
}

/// Parses an IDX label file (one unsigned byte per image), raw or gzip-compressed.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    Ok(parse_bytes(bytes, 1, IdxError::NotLabels)?.1)
}

/// The dimensions and body of an IDX file of unsigned bytes with `want` dimensions (else
/// `wrong(dims)`); images' sides are checked before their product is taken. A gzip stream is
/// inflated only as far as its header promises (one byte more, to notice trailing bytes), so a
/// small file cannot inflate into gigabytes.
fn parse_bytes(bytes: &[u8], want: u8, wrong: fn(u8) -> IdxError) -> Result<(Vec<usize>, Vec<u8>), IdxError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let inflate = |limit: u64| {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .take(limit)
                .read_to_end(&mut raw)
                .map_err(|e| IdxError::Gzip(e.to_string()))?;
            Ok(raw)
        };
        let head = inflate(4 + 4 * want as u64)?;
        let (_, header, expected) = within_limit(header(&head, want, wrong)?)?;
        let raw = inflate(((header + expected) as u64).saturating_add(1))?;
        return parse_bytes(&raw, want, wrong);
    }
    let (dims, header, expected) = within_limit(header(bytes, want, wrong)?)?;
    let body = &bytes[header..];
    if body.len() < expected {
        return Err(IdxError::Truncated { expected, found: body.len() });
    }
    if body.len() > expected {
        return Err(IdxError::TrailingBytes { expected, found: body.len() - expected });
    }
    Ok((dims, body.to_vec()))
}

/// A header whose body fits in [`MAX_BYTES`], refused before anything is inflated otherwise.
fn within_limit(parsed: (Vec<usize>, usize, usize)) -> Result<(Vec<usize>, usize, usize), IdxError> {
    let promised = parsed.2 as u64;
    match promised.saturating_add(parsed.1 as u64) > MAX_BYTES {
        true => Err(IdxError::TooLarge { promised }),
        false => Ok(parsed),
    }
}

/// The count, rows and columns an IDX image file's header (raw or gzip-compressed) promises, from
/// the file's first bytes alone.
pub fn image_header(prefix: &[u8]) -> Result<(usize, usize, usize), IdxError> {
    let head = if prefix.starts_with(&[0x1f, 0x8b]) {
        let mut head = Vec::new();
        flate2::read::GzDecoder::new(prefix)
            .take(16)
            .read_to_end(&mut head)
            .map_err(|e| IdxError::Gzip(e.to_string()))?;
        head
    } else {
        prefix.to_vec()
    };
    let (dims, _, _) = within_limit(header(&head, 3, IdxError::NotImages)?)?;
    Ok((dims[0], dims[1], dims[2]))
}

/// From an IDX header at the start of `bytes`: the dimensions, the header's length and the
/// body's.
fn header(bytes: &[u8], want: u8, wrong: fn(u8) -> IdxError) -> Result<(Vec<usize>, usize, usize), IdxError> {
    if bytes.len() < 4 {
        return Err(IdxError::Truncated { expected: 4, found: bytes.len() });
    }
    let magic = u32::from_be_bytes(bytes[..4].try_into().unwrap());
    if magic >> 16 != 0 {
        return Err(IdxError::Magic(magic));
    }
    let (kind, dims) = (bytes[2], bytes[3]);
    if kind != 0x08 {
        return Err(IdxError::ElementType(kind));
    }
    if dims != want {
        return Err(wrong(dims));
    }
    let header = 4 + 4 * dims as usize;
    if bytes.len() < header {
        return Err(IdxError::Truncated { expected: header, found: bytes.len() });
    }
    let dim = |i: usize| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize;
    let dims: Vec<usize> = (0..want as usize).map(dim).collect();
    let mut expected = dims[0];
    if let [_, rows, cols] = dims[..] {
        if rows == 0 || cols == 0 || rows > 1 << 14 || cols > 1 << 14 {
            return Err(IdxError::Size { rows, cols });
        }
        expected = expected.checked_mul(rows * cols).ok_or(IdxError::Size { rows, cols })?;
    }
    Ok((dims, header, expected))
}

/// An IDX image file's bytes, for tests and fixtures.
pub fn encode(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, 3];
    for d in [count, rows, cols] {
        out.extend((d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_raw_and_gzip() {
        let raw = encode(2, 2, 3, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let parsed = parse(&raw).unwrap();
        assert_eq!((parsed.count, parsed.rows, parsed.cols, parsed.pixels[11]), (2, 2, 3, 11));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        assert_eq!(parse(&gz.finish().unwrap()).unwrap(), parsed);
    }

    #[test]
    fn bad_headers_and_lengths_are_named() {
        let raw = encode(2, 2, 3, &[0; 12]);
        assert_eq!(parse(&raw[..raw.len() - 1]), Err(IdxError::Truncated { expected: 12, found: 11 }));
        let mut long = raw.clone();
        long.push(0);
        assert_eq!(parse(&long), Err(IdxError::TrailingBytes { expected: 12, found: 1 }));
        assert_eq!(parse(b"\x89PNG\r\n\x1a\n"), Err(IdxError::Magic(0x89504e47)));
        let labels = [0, 0, 8, 1, 0, 0, 0, 2, 7, 3];
        assert_eq!(parse(&labels), Err(IdxError::NotImages(1)));
        let mut floats = raw.clone();
        floats[2] = 0x0d;
        assert_eq!(parse(&floats), Err(IdxError::ElementType(0x0d)));
        for len in 0..raw.len() {
            assert!(parse(&raw[..len]).is_err());
        }
    }

    #[test]
    fn a_gzip_bomb_inflates_only_as_far_as_its_header_promises() {
        // A header for 2 images of 2×2, then 64 MB of zeros: compressed to about 64 kB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&encode(2, 2, 2, &[0; 8])).unwrap();
        gz.write_all(&vec![0u8; 64 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        // Inflated to the 8 promised bytes and one more: trailing bytes, not 64 MB read.
        assert_eq!(parse(&bomb), Err(IdxError::TrailingBytes { expected: 8, found: 1 }));
    }

    #[test]
    fn reads_labels_and_refuses_images_as_labels() {
        let labels = [0, 0, 8, 1, 0, 0, 0, 3, 7, 3, 9];
        assert_eq!(parse_labels(&labels), Ok(vec![7, 3, 9]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&labels).unwrap();
        assert_eq!(parse_labels(&gz.finish().unwrap()), Ok(vec![7, 3, 9]));
        assert_eq!(parse_labels(&labels[..10]), Err(IdxError::Truncated { expected: 3, found: 2 }));
        assert_eq!(parse_labels(&encode(1, 2, 2, &[0; 4])), Err(IdxError::NotLabels(3)));
    }
}
