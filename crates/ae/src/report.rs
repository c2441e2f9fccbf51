//! What a run leaves behind: the run directory, `metrics.jsonl`, a reconstruction grid and a loss curve.

use crate::data::Images;
use crate::training::EpochStats;
use image::{imageops::FilterType, GrayImage, ImageBuffer, Luma, Rgb, RgbImage};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a run's files could not be written, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("output directory {0} already exists; choose another or remove it")]
    Exists(PathBuf),
    #[error("{0} is left from an unfinished run; remove it or choose another output directory")]
    Unfinished(PathBuf),
    #[error("cannot {action} {path}: {cause}")]
    Io { action: &'static str, path: PathBuf, cause: std::io::Error },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

type Result<T, E = ReportError> = std::result::Result<T, E>;

/// An I/O failure `action` (`create`, `write`, …) on `path`.
fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ReportError + 'a {
    move |cause| ReportError::Io { action, path: path.to_path_buf(), cause }
}

/// Any other failure to write `path`.
fn write_err(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Write { path: path.to_path_buf(), reason: e.to_string() }
}

/// A run directory that is written as `<name>.partial` and renamed to `<name>` only when the run
/// finished, so an interrupted run never looks complete and an existing one is never overwritten.
#[derive(Debug)]
pub struct RunDir {
    target: PathBuf,
    partial: PathBuf,
}

impl RunDir {
    pub fn create(target: &Path) -> Result<Self> {
        if target.exists() {
            return Err(ReportError::Exists(target.into()));
        }
        let mut partial = target.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        if partial.exists() {
            return Err(ReportError::Unfinished(partial));
        }
        std::fs::create_dir_all(&partial).map_err(io("create output directory", &partial))?;
        Ok(Self { target: target.to_path_buf(), partial })
    }

    /// Where files go while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Renames the directory to its final name.
    pub fn finish(self) -> Result<PathBuf> {
        std::fs::rename(&self.partial, &self.target)
            .map_err(io("rename to its final name", &self.partial))?;
        Ok(self.target)
    }
}

/// Appends one JSON object per epoch, flushed each time so a watcher sees progress.
pub struct MetricsLog {
    file: std::fs::File,
    path: PathBuf,
}

impl MetricsLog {
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(io("create", path))?;
        Ok(Self { file, path: path.to_path_buf() })
    }

    pub fn append(&mut self, stats: &EpochStats) -> Result<()> {
        let line = serde_json::to_string(stats).expect("epoch statistics always serialise");
        writeln!(self.file, "{line}").map_err(io("write", &self.path))
    }
}

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
    grid.save(path).map_err(|e| write_err(path, e))
}

/// Saves each image as its own grayscale or RGB PNG: `dir/<prefix>NNNN.png`.
pub fn save_images(dir: &Path, prefix: &str, images: &Images) -> Result<()> {
    for i in 0..images.len() {
        let path = dir.join(format!("{prefix}{i:04}.png"));
        let s = images.shape;
        let result = if s.channels == 1 {
            let img = images.image(i);
            GrayImage::from_fn(s.width as u32, s.height as u32, |x, y| {
                Luma([to_u8(img[y as usize * s.width + x as usize])])
            })
            .save(&path)
        } else {
            to_rgb(images, i).save(&path)
        };
        result.map_err(|e| write_err(&path, e))?;
    }
    Ok(())
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Embedded, so plots render the same on machines without system fonts.
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// A PNG of the loss per sample by epoch (log scale), with the held-out loss when present.
pub fn save_loss_curve(path: &Path, history: &[EpochStats]) -> Result<()> {
    use plotters::prelude::*;
    register_font();
    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let values =
            history.iter().flat_map(|s| [Some(s.loss_per_sample), s.holdout_loss_per_sample]).flatten();
        let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = (lo.max(1e-6) * 0.9, hi.max(lo * 1.01) * 1.1);
        let epochs = history.len().max(2) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("Average loss per sample", ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(1.0..epochs, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss per sample")
            .label_style(("sans-serif", 14))
            .draw()?;
        let train: Vec<(f64, f64)> = history.iter().map(|s| (s.epoch as f64, s.loss_per_sample)).collect();
        chart
            .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))?
            .label("training")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        let held: Vec<(f64, f64)> =
            history.iter().filter_map(|s| s.holdout_loss_per_sample.map(|h| (s.epoch as f64, h))).collect();
        if !held.is_empty() {
            chart
                .draw_series(LineSeries::new(held, RED.stroke_width(2)))?
                .label("held-out")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| write_err(path, e))
}

/// Writes `values` as a float32 `.npy` array of `shape`, readable by `numpy.load`.
pub fn save_npy(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    let array = ndarray::ArrayViewD::from_shape(shape, values).map_err(|e| write_err(path, e))?;
    let file = std::fs::File::create(path).map_err(io("create", path))?;
    array.write_npy(std::io::BufWriter::new(file)).map_err(|e| write_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_engine::Shape;

    #[test]
    fn run_dir_is_partial_until_finished_and_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("run");
        let run = RunDir::create(&target).unwrap();
        assert!(run.path().ends_with("run.partial") && !target.exists());
        assert!(RunDir::create(&target).is_err(), "a leftover partial directory must not be reused");
        run.finish().unwrap();
        assert!(target.is_dir());
        assert!(RunDir::create(&target).unwrap_err().to_string().contains("already exists"));
    }

    #[test]
    fn grid_and_curve_are_real_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let images = Images::new(Shape::new(4, 4, 1), (0..48).map(|v| v as f32 / 48.0).collect());
        let grid = dir.path().join("grid.png");
        save_grid(&grid, &[&images, &images], 3, 8).unwrap();
        let img = image::open(&grid).unwrap();
        assert_eq!((img.width(), img.height()), (3 * 10 + 2, 2 * 10 + 2));

        let history: Vec<EpochStats> = (1..=5)
            .map(|e| EpochStats {
                epoch: e,
                loss_per_sample: 10.0 / e as f64,
                code_mean: 0.5,
                code_below_0_1: 0.0,
                code_saturated: 0.0,
                holdout_loss_per_sample: Some(12.0 / e as f64),
                kl_per_sample: None,
                holdout_kl_per_sample: None,
                steps: 7,
                seconds: 1.0,
            })
            .collect();
        let curve = dir.path().join("loss.png");
        save_loss_curve(&curve, &history).unwrap();
        let img = image::open(&curve).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (900, 560));
        // Both series were drawn: some pixels are clearly blue, some clearly red.
        assert!(img.pixels().any(|p| p[2] > 200 && p[0] < 60));
        assert!(img.pixels().any(|p| p[0] > 200 && p[2] < 60));
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

    #[test]
    fn npy_files_carry_their_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        save_npy(&path, &[2, 3], &[1., 2., 3., 4., 5., 6.]).unwrap();
        let back: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&path).unwrap();
        assert_eq!(back.shape(), [2, 3]);
        assert!(save_npy(&path, &[4, 3], &[0.0; 6]).is_err());
    }
}
