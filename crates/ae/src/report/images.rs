//! Images as PNG files: grids of image sets and one file per image.

use super::{write_atomic, write_err, Result};
use crate::data::Images;
use image::{imageops::FilterType, GrayImage, ImageBuffer, Luma, Rgb, RgbImage};
use std::path::Path;

/// A value in [0, 1] as an 8-bit sample.
fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// One image (values in [0, 1], 1 or 3 channels) as an 8-bit RGB image of its own size.
fn to_rgb(images: &Images, i: usize) -> RgbImage {
    let s = images.shape;
    let img = images.image(i);
    ImageBuffer::from_fn(s.width as u32, s.height as u32, |x, y| {
        let at = (y as usize * s.width + x as usize) * s.channels;
        if s.channels >= 3 {
            Rgb([to_u8(img[at]), to_u8(img[at + 1]), to_u8(img[at + 2])])
        } else {
            let v = to_u8(img[at]);
            Rgb([v, v, v])
        }
    })
}

/// A PNG grid: one row per image set (e.g. originals over reconstructions), `columns` images each,
/// every cell `side`×`side` pixels with a 2-pixel gap.
pub fn save_grid(path: &Path, rows: &[&Images], columns: usize, side: usize) -> Result<()> {
    let columns = rows.iter().map(|r| r.len()).min().unwrap_or(0).min(columns);
    if columns == 0 {
        return Err(write_err(path, "no images to draw"));
    }
    let gap = 2;
    let width = columns * (side + gap) + gap;
    let height = rows.len() * (side + gap) + gap;
    let mut grid = RgbImage::from_pixel(width as u32, height as u32, Rgb([255, 255, 255]));
    for (r, images) in rows.iter().enumerate() {
        for c in 0..columns {
            let mut cell = to_rgb(images, c);
            if (cell.width(), cell.height()) != (side as u32, side as u32) {
                // Bicubic, as the tutorial upsizes its 32×32 reconstructions to 64×64.
                cell = image::imageops::resize(&cell, side as u32, side as u32, FilterType::CatmullRom);
            }
            image::imageops::replace(
                &mut grid,
                &cell,
                (gap + c * (side + gap)) as i64,
                (gap + r * (side + gap)) as i64,
            );
        }
    }
    save_png(path, &image::DynamicImage::ImageRgb8(grid))
}

/// Encodes `img` as a PNG and writes it atomically.
pub(super) fn save_png(path: &Path, img: &image::DynamicImage) -> Result<()> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png).map_err(|e| write_err(path, e))?;
    write_atomic(path, bytes.get_ref()).map_err(|e| write_err(path, e))
}

/// Saves each image as its own grayscale or RGB PNG: `dir/<prefix>NNNN.png`.
pub fn save_images(dir: &Path, prefix: &str, images: &Images) -> Result<()> {
    for i in 0..images.len() {
        let path = dir.join(format!("{prefix}{i:04}.png"));
        let s = images.shape;
        let img = if s.channels == 1 {
            let img = images.image(i);
            image::DynamicImage::ImageLuma8(GrayImage::from_fn(s.width as u32, s.height as u32, |x, y| {
                Luma([to_u8(img[y as usize * s.width + x as usize])])
            }))
        } else {
            image::DynamicImage::ImageRgb8(to_rgb(images, i))
        };
        save_png(&path, &img)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_engine::Shape;

    #[test]
    fn grids_are_real_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let images = Images::new(Shape::new(4, 4, 1), (0..48).map(|v| v as f32 / 48.0).collect());
        let grid = dir.path().join("grid.png");
        save_grid(&grid, &[&images, &images], 3, 8).unwrap();
        let img = image::open(&grid).unwrap();
        assert_eq!((img.width(), img.height()), (3 * 10 + 2, 2 * 10 + 2));
    }

    #[test]
    fn saved_images_keep_their_size_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let images = Images::new(Shape::new(2, 3, 1), vec![0.0, 0.5, 1.0, 1.0, 0.5, 0.0]);
        save_images(dir.path(), "x-", &images).unwrap();
        let back = image::open(dir.path().join("x-0000.png")).unwrap().to_luma8();
        assert_eq!((back.width(), back.height()), (3, 2));
        assert_eq!(back.into_raw(), [0, 128, 255, 255, 128, 0]);
    }
}
