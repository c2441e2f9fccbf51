//! What a run leaves behind: the run directory, `metrics.jsonl` and `.npy` arrays here; image
//! grids and files in `images.rs`; charts (the loss curve, a latent scatter) in `charts.rs`.

mod charts;
mod images;

pub use charts::{save_latent_scatter, save_loss_curve};
pub use images::{save_grid, save_images};

use crate::training::EpochStats;
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
    fn npy_files_carry_their_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        save_npy(&path, &[2, 3], &[1., 2., 3., 4., 5., 6.]).unwrap();
        let back: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&path).unwrap();
        assert_eq!(back.shape(), [2, 3]);
        assert!(save_npy(&path, &[4, 3], &[0.0; 6]).is_err());
    }
}
