//! The error of a configuration value that does not make sense, named by its key, and the trait
//! by which every error says which settings its message names, so that a front end can point at
//! its own names for them (the command line at its flags) without reading the message.

/// An error whose message names settings: config keys such as `data.size`, or a job's
/// [`OUTPUT_DIRECTORY`] and [`MEMORY_LIMIT`](crate::memory::MEMORY_LIMIT).
pub trait NamesSettings {
    /// The settings the message names, in its order; each appears in the message as written.
    fn settings(&self) -> Vec<&str>;
}

/// The setting a message about where a job writes names.
pub const OUTPUT_DIRECTORY: &str = "output directory";

/// A configuration value that does not make sense, named by its key.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
    /// Other settings the problem names (what to change instead, say).
    pub mentions: Vec<&'static str>,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { key: key.into(), problem: problem.into(), mentions: Vec::new() }
    }

    /// The error with `settings` named in its problem.
    pub fn mentioning(self, settings: &[&'static str]) -> Self {
        Self { mentions: settings.to_vec(), ..self }
    }
}

impl NamesSettings for ConfigError {
    fn settings(&self) -> Vec<&str> {
        [self.key.as_str()].into_iter().chain(self.mentions.iter().copied()).collect()
    }
}
