//! The library's error: what failed and where, naming the file or the config key (never a
//! command-line flag; the `ae` binary adds those).

use crate::checkpoint::CheckpointError;
use crate::config::ConfigError;
use crate::data::DataError;
use crate::memory::MemoryError;
use crate::report::ReportError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A job that would need more memory than the limit, refused before allocating.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The loss became NaN or infinite; the epochs so far are kept in the unfinished run directory.
    #[error("training diverged at epoch {epoch} (loss {loss}); the epochs so far are in {}", run.display())]
    Diverged { epoch: usize, loss: f64, run: PathBuf },
    /// Asked to stop: the run so far is in its checkpoint, from epoch `epoch` after `batch` of its
    /// batches.
    #[error("stopped in epoch {epoch} after {batch} batches; the run so far is saved in {}", checkpoint.display())]
    Interrupted { epoch: usize, batch: usize, checkpoint: PathBuf },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
