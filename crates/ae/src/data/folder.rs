//! A folder of PNG/JPEG images, searched recursively and decoded in parallel.

use crate::config::BadImages;
use crate::data::{DataError, Images, Pixels};
use ae_engine::Shape;
use image::imageops::FilterType;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The image files under `dir`, in a stable (sorted) order.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.map_err(|cause| DataError::Folder { path: dir.into(), cause })?;
        let ext = entry.path().extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if entry.file_type().is_file() && matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::NoImages { path: dir.into() });
    }
    Ok(files)
}

/// One decoded image: 8-bit samples, `channels` per pixel.
struct Decoded {
    width: usize,
    height: usize,
    samples: Vec<u8>,
}

/// Why `path` could not be decoded.
fn undecodable(path: &Path, e: image::ImageError) -> DataError {
    DataError::Decode { path: path.into(), reason: e.to_string() }
}

/// The largest image side decoded, and the most memory one decode may take: checked from the
/// file's header before its pixels are decoded.
const MAX_SIDE: u32 = 1 << 14;
const MAX_DECODE_BYTES: u64 = 1 << 30;

/// Decodes `path` within [`MAX_SIDE`] and [`MAX_DECODE_BYTES`].
fn open(path: &Path) -> Result<image::DynamicImage, DataError> {
    let io = |e| undecodable(path, image::ImageError::IoError(e));
    if std::fs::metadata(path).map_err(io)?.len() > MAX_DECODE_BYTES {
        let reason = format!("the file is larger than the {MAX_DECODE_BYTES} bytes an image may take");
        return Err(DataError::Decode { path: path.into(), reason });
    }
    from_bytes(&std::fs::read(path).map_err(io)?).map_err(|e| undecodable(path, e))
}

/// Decodes a PNG or JPEG file's bytes within [`MAX_SIDE`] and [`MAX_DECODE_BYTES`], checked from
/// its header before the pixels are decoded.
pub fn from_bytes(bytes: &[u8]) -> Result<image::DynamicImage, image::ImageError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let format = reader.format();
    contained(format, || reader.decode())
}

thread_local! {
    /// Set while this thread runs a decoder inside [`contained`].
    static DECODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside an image decoder whose panics [`contained`] turns into errors:
/// a program's panic hook can stay silent for such a panic (the `ae` binary's does), so that its
/// user sees the one-line error alone. The library installs no hook itself.
pub fn decoding_on_this_thread() -> bool {
    DECODING.with(std::cell::Cell::get)
}

/// Runs `decode`, turning a panic inside the decoder into an error. The JPEG decoder the `image`
/// crate uses (zune-jpeg 0.5.15, the newest release) panics on some corrupt files — found by
/// `fuzz/`'s `image` target (`tests/fixtures/zune-jpeg-idct-panic.jpg`), known upstream
/// (zune-image issue #409).
fn contained<T>(
    format: Option<image::ImageFormat>,
    decode: impl FnOnce() -> image::ImageResult<T>,
) -> image::ImageResult<T> {
    DECODING.with(|d| d.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    DECODING.with(|d| d.set(false));
    result.unwrap_or_else(|_| {
        let hint =
            format.map_or(image::error::ImageFormatHint::Unknown, image::error::ImageFormatHint::Exact);
        Err(image::ImageError::Decoding(image::error::DecodingError::new(
            hint,
            "the decoder failed on corrupt data",
        )))
    })
}

fn decode(
    path: &Path,
    channels: usize,
    size: Option<[usize; 2]>,
    filter: FilterType,
) -> Result<Decoded, DataError> {
    let img = open(path)?;
    let img = match size {
        Some([h, w]) if (img.height() as usize, img.width() as usize) != (h, w) => {
            img.resize_exact(w as u32, h as u32, filter)
        }
        _ => img,
    };
    let (width, height) = (img.width() as usize, img.height() as usize);
    // `into_`: an image already in the wanted type is not copied.
    let samples = if channels == 1 { img.into_luma8().into_raw() } else { img.into_rgb8().into_raw() };
    Ok(Decoded { width, height, samples })
}

/// What an image file's header says: its sides, whether it has colour, and the bytes its pixels
/// take decoded whole. Nothing is decoded.
fn header(path: &Path) -> Result<Header, DataError> {
    let io = |e| undecodable(path, image::ImageError::IoError(e));
    let reader = image::ImageReader::open(path).map_err(io)?.with_guessed_format().map_err(io)?;
    header_of(reader).map_err(|reason| DataError::Decode { path: path.into(), reason })
}

/// The header of an image file's bytes: `[height, width]` and the bytes its pixels take decoded
/// whole. Decodes nothing (the fuzz target `image_header`).
pub fn header_of_bytes(bytes: &[u8]) -> Result<([usize; 2], u64), String> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    header_of(reader).map(|h| (h.sides, h.bytes))
}

fn header_of<R: std::io::BufRead + std::io::Seek>(reader: image::ImageReader<R>) -> Result<Header, String> {
    use image::ImageDecoder;
    let format = reader.format();
    let decoder = contained(format, || reader.into_decoder()).map_err(|e| e.to_string())?;
    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("{width}×{height} is past the limit of {MAX_SIDE} pixels a side"));
    }
    Ok(Header {
        sides: [height as usize, width as usize],
        colour: decoder.color_type(),
        bytes: decoder.total_bytes(),
    })
}

/// One image file's header.
struct Header {
    sides: [usize; 2],
    colour: image::ColorType,
    /// Its pixels decoded whole.
    bytes: u64,
}

impl Header {
    /// The most bytes its decode into `channels` 8-bit samples holds: the image decoded whole,
    /// and its conversion where the decoder gives another type (resized first with `size`, the
    /// conversion is of the small image).
    fn decode_peak(&self, channels: usize, resized: bool) -> u64 {
        let native =
            matches!((self.colour, channels), (image::ColorType::L8, 1) | (image::ColorType::Rgb8, 3));
        let [h, w] = self.sides;
        let converted = if native || resized { 0 } else { (h * w * channels) as u64 };
        self.bytes.saturating_add(converted)
    }
}

fn has_colour(path: &Path) -> Result<bool, DataError> {
    Ok(header(path)?.colour.has_color())
}

/// One file's result as `bad` treats a failure: with `fail` the error (an undecodable file named
/// as such); with `skip` the failure to pass over (`Ok(Err(..))`).
fn kept_or_skipped<T>(
    result: Result<T, DataError>,
    bad: BadImages,
) -> Result<Result<T, DataError>, DataError> {
    match (result, bad) {
        (Ok(v), _) => Ok(Ok(v)),
        (Err(DataError::Decode { path, reason }), BadImages::Fail) => {
            Err(DataError::BadImage { path, reason })
        }
        (Err(e), BadImages::Fail) => Err(e),
        (Err(e), BadImages::Skip) => Ok(Err(e)),
    }
}

/// A folder's images as their headers describe them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderHeaders {
    /// Images whose header reads (with `skip`, the others are left out).
    pub count: usize,
    /// As [`load`] chooses them.
    pub channels: usize,
    /// The first image's `[height, width]`.
    pub first: [usize; 2],
    /// The most bytes one image's decode holds (see [`load`]: each thread decodes one at a time).
    pub largest_decode: u64,
}

/// Reads the header of every image under `dir`, as [`load`] would take them (resized to `size`
/// if given); decodes nothing.
pub fn headers(
    dir: &Path,
    channels: Option<usize>,
    size: Option<[usize; 2]>,
    bad: BadImages,
) -> Result<FolderHeaders, DataError> {
    let files = image_files(dir)?;
    let read: Vec<Result<Header, DataError>> = files.par_iter().map(|f| header(f)).collect();
    let mut out: Option<FolderHeaders> = None;
    for result in read {
        // Skipped files are said once, when `load` meets them.
        let Ok(header) = kept_or_skipped(result, bad)? else { continue };
        let h = out.get_or_insert(FolderHeaders {
            count: 0,
            channels: channels.unwrap_or(if header.colour.has_color() { 3 } else { 1 }),
            first: header.sides,
            largest_decode: 0,
        });
        h.count += 1;
        h.largest_decode = h.largest_decode.max(header.decode_peak(h.channels, size.is_some()));
    }
    out.ok_or_else(|| DataError::NoneDecoded { path: dir.into(), count: files.len() })
}

/// Loads every image under `dir` as 8-bit samples. Images must all have the size of the first
/// unless `size` is given, in which case each is resized to it (`filter`). `channels` defaults to
/// 3 when the first image has colour, else 1. Undecodable files fail the load or are skipped
/// with a warning through the `log` facade, as `bad` says.
pub fn load(
    dir: &Path,
    channels: Option<usize>,
    size: Option<[usize; 2]>,
    filter: FilterType,
    bad: BadImages,
) -> Result<Pixels, DataError> {
    let files = image_files(dir)?;
    let channels = match channels {
        Some(c) => c,
        None => {
            // Judged from the first file that decodes (with `skip`, a corrupt first file is
            // skipped here too).
            let mut colour = false;
            for file in &files {
                match has_colour(file) {
                    Ok(c) => {
                        colour = c;
                        break;
                    }
                    Err(_) if bad == BadImages::Skip => continue,
                    Err(e) => return Err(e),
                }
            }
            if colour {
                3
            } else {
                1
            }
        }
    };
    let decoded: Vec<(&PathBuf, Result<Decoded, DataError>)> =
        files.par_iter().map(|path| (path, decode(path, channels, size, filter))).collect();
    let mut shape: Option<Shape> = None;
    let mut samples = Vec::new();
    let mut skipped = 0;
    for (path, result) in decoded {
        let img = match kept_or_skipped(result, bad)? {
            Ok(img) => img,
            Err(e) => {
                log::warn!("skipping {e}");
                skipped += 1;
                continue;
            }
        };
        let this = Shape::new(img.height, img.width, channels);
        match shape {
            None => shape = Some(this),
            Some(first) if first != this => {
                return Err(DataError::MixedSizes {
                    path: path.clone(),
                    found: [img.height, img.width],
                    first: [first.height, first.width],
                })
            }
            _ => {}
        }
        samples.extend_from_slice(&img.samples);
    }
    let Some(shape) = shape else {
        return Err(DataError::NoneDecoded { path: dir.into(), count: files.len() });
    };
    if skipped > 0 {
        log::warn!("skipped {skipped} of {} image files in {}", files.len(), dir.display());
    }
    Ok(Pixels::Bytes { shape, data: samples })
}

/// Reads one PNG/JPEG file as a single image with `channels` channels (1: luma, 3: RGB), values in [0, 1].
pub fn read_image(path: &Path, channels: usize) -> Result<Images, DataError> {
    let img = decode(path, channels, None, FilterType::Triangle)?;
    let data = img.samples.iter().map(|&v| v as f32 / 255.0).collect();
    Ok(Images::new(Shape::new(img.height, img.width, channels), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_passes_over_a_corrupt_first_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a-corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        for name in ["b.png", "c.png"] {
            image::RgbImage::from_pixel(4, 4, image::Rgb([200, 10, 10])).save(dir.path().join(name)).unwrap();
        }
        let load = |bad| load(dir.path(), None, None, FilterType::Triangle, bad);
        let pixels = load(BadImages::Skip).unwrap();
        assert_eq!((pixels.len(), pixels.shape()), (2, Shape::new(4, 4, 3)));
        assert!(load(BadImages::Fail).unwrap_err().to_string().contains("a-corrupt.png"));
    }

    #[test]
    fn a_decoder_that_panics_on_a_corrupt_file_gives_an_error() {
        let bytes = include_bytes!("../../tests/fixtures/zune-jpeg-idct-panic.jpg");
        let result = from_bytes(bytes);
        // The decoder panics in its AVX2 code path; elsewhere it may read the file either way.
        if std::arch::is_x86_feature_detected!("avx2") {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("the decoder failed on corrupt data"), "{err}");
        }
        // A hook can tell a decoder's panic from any other by the flag, set only inside.
        assert!(!decoding_on_this_thread());
        let inside = contained(None, || Ok(decoding_on_this_thread())).unwrap();
        assert!(inside && !decoding_on_this_thread());
    }

    #[test]
    fn an_image_past_the_side_limit_is_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        image::GrayImage::new(20_000, 1).save(&path).unwrap();
        let err = read_image(&path, 1).unwrap_err().to_string();
        assert!(err.contains("wide.png") && err.contains("limit"), "{err}");
        let fine = dir.path().join("fine.png");
        image::GrayImage::new(300, 2).save(&fine).unwrap();
        assert_eq!(read_image(&fine, 1).unwrap().shape, Shape::new(2, 300, 1));
    }
}
