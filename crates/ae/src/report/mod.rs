//! What a run leaves behind: the run directory, `metrics.jsonl` and `.npy` arrays here; image
//! grids and files in `images.rs`; charts (the loss curve, a latent scatter) in `charts.rs`;
//! `report.html` and the page comparing runs in `html.rs`, with their SVG charts from `svg.rs`.

mod anomaly;
mod charts;
mod html;
mod images;
mod svg;

pub use anomaly::{score_report, ScoreFigures};
pub use charts::{save_latent_scatter, save_loss_curve, save_quality_curve};
pub use html::{compare_runs, run_report, save_run_report, RunFiles, REPORT};
pub use images::{save_grid, save_images};

use crate::config::{NamesSettings, OUTPUT_DIRECTORY};
use crate::fs::write_atomic;
use crate::fs::TEMPORARY_PREFIX;
use crate::record::{EpochStats, CHECKPOINT};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a run's files could not be written, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("output directory {0} already exists; choose another or remove it")]
    Exists(PathBuf),
    #[error("{0} is left from an unfinished run; resume it, remove it or choose another output directory")]
    Unfinished(PathBuf),
    #[error(
        "{0} is left from a run stopped before its first checkpoint (no checkpoint to resume from); remove it or choose another output directory"
    )]
    UnfinishedWithoutCheckpoint(PathBuf),
    #[error("{0} is not a run directory (no such directory)")]
    NotARun(PathBuf),
    #[error("cannot {action} {path}: {cause}")]
    Io { action: &'static str, path: PathBuf, cause: std::io::Error },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

impl NamesSettings for ReportError {
    fn settings(&self) -> Vec<&str> {
        match self {
            ReportError::Exists(_)
            | ReportError::Unfinished(_)
            | ReportError::UnfinishedWithoutCheckpoint(_) => {
                vec![OUTPUT_DIRECTORY]
            }
            _ => Vec::new(),
        }
    }
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

/// `path` without a trailing separator or `.` parts (`runs/x/` → `runs/x`), as shell completion
/// writes it, so that `<name>.partial` sits beside `<name>`, not inside it.
fn normalise(path: &Path) -> PathBuf {
    path.components().collect()
}

/// Where the run `target` is written until it finishes: `<target>.partial`.
pub fn partial_of(target: &Path) -> PathBuf {
    let mut partial = normalise(target).into_os_string();
    partial.push(".partial");
    PathBuf::from(partial)
}

impl RunDir {
    /// Refuses a `target` that exists, finished or not: the check [`create`](Self::create) makes,
    /// for a job to make before its long work (`create` still makes it, against a race).
    pub fn check_free(target: &Path) -> Result<()> {
        let target = &normalise(target);
        if target.exists() {
            return Err(ReportError::Exists(target.into()));
        }
        let partial = partial_of(target);
        if partial.exists() {
            return Err(match partial.join(CHECKPOINT).exists() {
                true => ReportError::Unfinished(partial),
                false => ReportError::UnfinishedWithoutCheckpoint(partial),
            });
        }
        Ok(())
    }

    pub fn create(target: &Path) -> Result<Self> {
        Self::check_free(target)?;
        let target = &normalise(target);
        let partial = partial_of(target);
        if let Some(parent) = partial.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io("create output directory", &partial))?;
        }
        // `create_dir`, not `_all`: of two runs racing for one name, the second is refused.
        std::fs::create_dir(&partial).map_err(|cause| match cause.kind() {
            std::io::ErrorKind::AlreadyExists => ReportError::Unfinished(partial.clone()),
            _ => ReportError::Io { action: "create output directory", path: partial.clone(), cause },
        })?;
        Ok(Self { target: target.to_path_buf(), partial })
    }

    /// An existing run to go on with: its `<name>.partial` directory as it is, or a finished
    /// `<name>`, which becomes `<name>.partial` again until the run finishes.
    pub fn reopen(dir: &Path) -> Result<Self> {
        let dir = normalise(dir);
        if !dir.is_dir() {
            return Err(ReportError::NotARun(dir));
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (target, partial) = match name.strip_suffix(".partial") {
            Some(stem) => {
                let target = dir.with_file_name(stem);
                if target.exists() {
                    return Err(ReportError::Exists(target));
                }
                (target, dir)
            }
            None => {
                let partial = partial_of(&dir);
                if partial.exists() {
                    return Err(ReportError::Unfinished(partial));
                }
                std::fs::rename(&dir, &partial).map_err(io("rename to its unfinished name", &dir))?;
                (dir, partial)
            }
        };
        remove_unfinished_writes(&partial)?;
        Ok(Self { target, partial })
    }

    /// The run's name: its final directory's.
    pub fn name(&self) -> String {
        self.target
            .file_name()
            .map_or_else(|| self.target.display().to_string(), |n| n.to_string_lossy().into_owned())
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

    /// The log of `history` alone (atomically), to append to: a resumed run drops any epoch that
    /// was logged after its checkpoint.
    pub fn rewrite(path: &Path, history: &[EpochStats]) -> Result<Self> {
        let lines: String = history
            .iter()
            .map(|s| serde_json::to_string(s).expect("epoch statistics always serialise") + "\n")
            .collect();
        write_atomic(path, lines.as_bytes()).map_err(io("write", path))?;
        let file = std::fs::OpenOptions::new().append(true).open(path).map_err(io("open", path))?;
        Ok(Self { file, path: path.to_path_buf() })
    }

    pub fn append(&mut self, stats: &EpochStats) -> Result<()> {
        let line = serde_json::to_string(stats).expect("epoch statistics always serialise");
        writeln!(self.file, "{line}").map_err(io("write", &self.path))
    }
}

/// Removes what writes cut short by a kill left in `dir`: temporary files, never outputs.
fn remove_unfinished_writes(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(io("read", dir))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMPORARY_PREFIX) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io("remove the unfinished write", &path))?;
        }
    }
    Ok(())
}

/// Writes `values` as an `.npy` array of `shape` (float32 for `f32`, int64 for `i64`, …), readable
/// by `numpy.load`, atomically.
pub fn save_npy<T: ndarray_npy::WritableElement>(path: &Path, shape: &[usize], values: &[T]) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    let array = ndarray::ArrayViewD::from_shape(shape, values).map_err(|e| write_err(path, e))?;
    let mut bytes = Vec::with_capacity(4 * values.len() + 128);
    array.write_npy(&mut bytes).map_err(|e| write_err(path, e))?;
    write_atomic(path, &bytes).map_err(io("write", path))
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
    fn atomic_writes_replace_whole_files_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // No temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }

    #[test]
    fn a_reopened_run_loses_the_writes_a_kill_cut_short_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(&dir.path().join("run")).unwrap();
        write_atomic(&run.path().join("checkpoint.safetensors"), b"whole").unwrap();
        // What a SIGKILL inside `write_atomic` leaves: its temporary file, half written.
        let mut cut = tempfile::Builder::new().prefix(TEMPORARY_PREFIX).tempfile_in(run.path()).unwrap();
        cut.write_all(b"wh").unwrap();
        let (_, cut) = cut.keep().unwrap();
        std::fs::write(run.path().join("notes.txt"), b"the user's").unwrap();
        let run = RunDir::reopen(run.path()).unwrap();
        assert!(!cut.exists());
        let mut left: Vec<_> = std::fs::read_dir(run.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["checkpoint.safetensors", "notes.txt"]);
    }

    #[test]
    fn npy_files_carry_their_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        save_npy(&path, &[2, 3], &[1f32, 2., 3., 4., 5., 6.]).unwrap();
        let back: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&path).unwrap();
        assert_eq!(back.shape(), [2, 3]);
        assert!(save_npy(&path, &[4, 3], &[0f32; 6]).is_err());
    }
}
