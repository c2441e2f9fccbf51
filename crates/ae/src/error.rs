//! The library's error: what failed and where, naming the file or the config key (never a
//! command-line flag; the `ae` binary adds those).

use crate::checkpoint::CheckpointError;
use crate::config::{ConfigError, NamesSettings};
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

impl NamesSettings for Error {
    fn settings(&self) -> Vec<&str> {
        match self {
            Error::Config(e) => e.settings(),
            Error::Data(e) => e.settings(),
            Error::Report(e) => e.settings(),
            Error::Memory(e) => e.settings(),
            Error::Checkpoint(_) | Error::Diverged { .. } | Error::Interrupted { .. } => Vec::new(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::download::DownloadError;
    use crate::memory::{Advice, MemoryLimit, MemoryNeed};

    /// Every error that names settings, each at least once, as the library raises it.
    fn naming_errors() -> Vec<Error> {
        let need = MemoryNeed { data: 2_000_000, ..Default::default() };
        let advice = Advice {
            text: "lower training.batch_size or data.size",
            settings: &["training.batch_size", "data.size"],
        };
        let path = PathBuf::from("x");
        vec![
            ConfigError::new("training.early_stopping", "set data.holdout above 0")
                .mentioning(&["data.holdout"])
                .into(),
            DataError::BadImage { path: path.clone(), reason: "truncated".into() }.into(),
            DataError::MixedSizes { path: path.clone(), found: [2, 3], first: [3, 2] }.into(),
            DataError::from(DownloadError::Missing { path: path.clone(), origin: "data.path".into() }).into(),
            DataError::from(DownloadError::Fetch {
                url: "u".into(),
                reason: "r".into(),
                env_var: "AE_MNIST",
            })
            .into(),
            ReportError::Exists(path.clone()).into(),
            ReportError::Unfinished(path.clone()).into(),
            ReportError::UnfinishedWithoutCheckpoint(path).into(),
            MemoryLimit::asked(1_000_000).check("training", &need, advice).unwrap_err().into(),
        ]
    }

    #[test]
    fn the_settings_an_error_names_are_in_its_message_as_written() {
        for error in naming_errors() {
            let (message, settings) = (error.to_string(), error.settings());
            assert!(!settings.is_empty(), "{message}: names no setting");
            for setting in settings {
                assert!(message.contains(setting), "{message:?} does not name {setting:?}");
            }
        }
        let memory = naming_errors().pop().unwrap();
        assert_eq!(memory.settings(), ["memory limit", "training.batch_size", "data.size"]);
    }
}
