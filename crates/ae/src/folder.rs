//! A folder of PNG/JPEG images, searched recursively and decoded in parallel.

use crate::config::BadImages;
use crate::data::{Images, Pixels};
use ae_engine::Shape;
use anyhow::{bail, Context, Result};
use image::imageops::FilterType;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The image files under `dir`, in a stable (sorted) order.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.with_context(|| format!("cannot read folder {}", dir.display()))?;
        let ext = entry.path().extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if entry.file_type().is_file() && matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("{} holds no PNG or JPEG images", dir.display());
    }
    Ok(files)
}

/// One decoded image: 8-bit samples, `channels` per pixel.
struct Decoded {
    width: usize,
    height: usize,
    samples: Vec<u8>,
}

fn decode(path: &Path, channels: usize, size: Option<[usize; 2]>, filter: FilterType) -> Result<Decoded> {
    let img = image::open(path).map_err(|e| anyhow::anyhow!("cannot decode {}: {e}", path.display()))?;
    let img = match size {
        Some([h, w]) if (img.height() as usize, img.width() as usize) != (h, w) => {
            img.resize_exact(w as u32, h as u32, filter)
        }
        _ => img,
    };
    let (width, height) = (img.width() as usize, img.height() as usize);
    let samples = if channels == 1 { img.to_luma8().into_raw() } else { img.to_rgb8().into_raw() };
    Ok(Decoded { width, height, samples })
}

/// Whether an image file has colour, judged from its header and pixels' color type.
fn has_colour(path: &Path) -> Result<bool> {
    let img = image::open(path).map_err(|e| anyhow::anyhow!("cannot decode {}: {e}", path.display()))?;
    Ok(img.color().has_color())
}

/// Loads every image under `dir` as 8-bit samples. Images must all have the size of the first
/// unless `size` is given, in which case each is resized to it (`filter`). `channels` defaults to
/// 3 when the first image has colour, else 1. Undecodable files fail the load or are skipped
/// with a warning on stderr, as `bad` says.
pub fn load(
    dir: &Path,
    channels: Option<usize>,
    size: Option<[usize; 2]>,
    filter: FilterType,
    bad: BadImages,
) -> Result<Pixels> {
    let files = image_files(dir)?;
    let channels = match channels {
        Some(c) => c,
        None => {
            if has_colour(&files[0])? {
                3
            } else {
                1
            }
        }
    };
    let decoded: Vec<(&PathBuf, Result<Decoded>)> =
        files.par_iter().map(|path| (path, decode(path, channels, size, filter))).collect();
    let mut shape: Option<Shape> = None;
    let mut samples = Vec::new();
    let mut skipped = 0;
    for (path, result) in decoded {
        let img = match (result, bad) {
            (Ok(img), _) => img,
            (Err(e), BadImages::Fail) => {
                return Err(
                    e.context("set data.bad_images = \"skip\" (--bad-images skip) to leave such files out")
                )
            }
            (Err(e), BadImages::Skip) => {
                eprintln!("warning: skipping {e:#}");
                skipped += 1;
                continue;
            }
        };
        let this = Shape::new(img.height, img.width, channels);
        match shape {
            None => shape = Some(this),
            Some(first) if first != this => bail!(
                "{} is {}×{} but the folder's first image is {}×{}; give a size to resize them all (--size H W)",
                path.display(),
                img.width,
                img.height,
                first.width,
                first.height
            ),
            _ => {}
        }
        samples.extend_from_slice(&img.samples);
    }
    let Some(shape) = shape else {
        bail!("none of the {} images in {} could be decoded", files.len(), dir.display());
    };
    if skipped > 0 {
        eprintln!("warning: skipped {skipped} of {} image files in {}", files.len(), dir.display());
    }
    Ok(Pixels::Bytes { shape, data: samples })
}

/// Reads one PNG/JPEG file as a single image with `channels` channels (1: luma, 3: RGB), values in [0, 1].
pub fn read_image(path: &Path, channels: usize) -> Result<Images> {
    let img = decode(path, channels, None, FilterType::Triangle)?;
    let data = img.samples.iter().map(|&v| v as f32 / 255.0).collect();
    Ok(Images::new(Shape::new(img.height, img.width, channels), data))
}
