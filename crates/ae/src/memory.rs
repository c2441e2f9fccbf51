//! The memory check: what a job's buffers will take, worked out from the shapes, against what the
//! machine can give, before anything large is allocated.

use crate::config::error::NamesSettings;
use std::fmt;

/// A number of bytes, shown as people read them (`6.45 GB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        match self.0 {
            0..=999_999 => write!(f, "{:.0} kB", b / 1e3),
            1_000_000..=999_999_999 => write!(f, "{:.0} MB", b / 1e6),
            _ => write!(f, "{:.2} GB", b / 1e9),
        }
    }
}

/// The process's peak resident memory so far (Linux's `VmHWM`); `None` elsewhere.
pub fn peak_resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Where the limit came from, for the message that names it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimitSource {
    /// Given by the user.
    Asked,
    /// A share of what the machine had available (Linux's `MemAvailable`, or a cgroup's limit
    /// when lower).
    Available { available: u64 },
}

/// The most a job may allocate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryLimit {
    pub bytes: u64,
    pub source: LimitSource,
}

/// The share of the available memory a job may plan to use by default: the rest is left to the
/// allocator's slack, the dataset's transient copies and the rest of the machine.
pub const AVAILABLE_SHARE: f64 = 0.8;

impl MemoryLimit {
    pub fn asked(bytes: u64) -> Self {
        Self { bytes, source: LimitSource::Asked }
    }

    /// [`AVAILABLE_SHARE`] of the memory this machine has available now; `None` where that cannot
    /// be read (not Linux), and then no check is made.
    pub fn of_machine() -> Option<Self> {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let mut available = parse_meminfo(&meminfo)?;
        if let Some(cgroup) =
            std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|s| parse_cgroup(&s))
        {
            available = available.min(cgroup);
        }
        let bytes = (available as f64 * AVAILABLE_SHARE) as u64;
        Some(Self { bytes, source: LimitSource::Available { available } })
    }

    /// Refuses `need` bytes for `what` past the limit, with `advice` on what to change.
    pub fn check(&self, what: &str, need: &MemoryNeed, advice: impl Into<Advice>) -> Result<(), MemoryError> {
        if need.total() <= self.bytes {
            return Ok(());
        }
        let limit = match self.source {
            LimitSource::Asked => Bytes(self.bytes).to_string(),
            LimitSource::Available { available } => format!(
                "{} ({:.0} % of the {} available)",
                Bytes(self.bytes),
                AVAILABLE_SHARE * 100.0,
                Bytes(available)
            ),
        };
        Err(MemoryError { what: what.into(), need: *need, limit, advice: advice.into() })
    }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// A cgroup v2 `memory.max`: a number of bytes, or `max` for none.
fn parse_cgroup(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// What a job's buffers take, in bytes, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryNeed {
    /// The parameters, and in training their gradients and Adam's two moments.
    pub parameters: u64,
    /// Every layer's output for a batch, and in training their gradients.
    pub activations: u64,
    /// The kernels' scratch.
    pub scratch: u64,
    /// The images the job holds.
    pub data: u64,
    /// The process itself: its code, libraries, thread stacks and the allocator's slack
    /// ([`PROCESS`] for every job), and copies made while files are written.
    pub other: u64,
}

/// What a job holds beyond the buffers the check itemises: the process itself (`ae` refusing a
/// job at once peaks at 8 MB; threads and allocator arenas add more) and transient copies it
/// does not model. Set from `bench/memory.sh`'s matrix, whose largest gap between the itemised
/// figure and the measured peak was 52 MB (MNIST with the `deep` preset).
pub const PROCESS: u64 = 56_000_000;

/// Two needs held at once: each kind's sum.
impl std::ops::Add for MemoryNeed {
    type Output = MemoryNeed;
    fn add(self, o: MemoryNeed) -> MemoryNeed {
        MemoryNeed {
            parameters: self.parameters.saturating_add(o.parameters),
            activations: self.activations.saturating_add(o.activations),
            scratch: self.scratch.saturating_add(o.scratch),
            data: self.data.saturating_add(o.data),
            other: self.other.saturating_add(o.other),
        }
    }
}

/// The peak of a job whose `phases` follow one another (each freeing what the next does not
/// hold): the largest of them.
pub fn peak(phases: impl IntoIterator<Item = MemoryNeed>) -> MemoryNeed {
    phases.into_iter().max_by_key(MemoryNeed::total).unwrap_or_default()
}

impl MemoryNeed {
    pub fn total(&self) -> u64 {
        self.parameters
            .saturating_add(self.activations)
            .saturating_add(self.scratch)
            .saturating_add(self.data)
            .saturating_add(self.other)
    }
}

impl fmt::Display for MemoryNeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "parameters {}, activations {}, scratch {}, images {}, the process and copies {}",
            Bytes(self.parameters),
            Bytes(self.activations),
            Bytes(self.scratch),
            Bytes(self.data),
            Bytes(self.other)
        )
    }
}

/// The setting a memory error names besides its advice's: the limit itself.
pub const MEMORY_LIMIT: &str = "memory limit";

/// What to change when a job does not fit: the words, and the settings they name (config keys),
/// so that a front end can point at its own names for them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Advice {
    pub text: &'static str,
    pub settings: &'static [&'static str],
}

impl From<&'static str> for Advice {
    fn from(text: &'static str) -> Self {
        Self { text, settings: &[] }
    }
}

/// A job that would not fit, with the figure and what to change.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{what} needs about {} ({need}) but the memory limit is {limit}; {}", Bytes(need.total()), advice.text)]
pub struct MemoryError {
    pub what: String,
    pub need: MemoryNeed,
    pub limit: String,
    pub advice: Advice,
}

impl NamesSettings for MemoryError {
    fn settings(&self) -> Vec<&str> {
        [MEMORY_LIMIT].into_iter().chain(self.advice.settings.iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(Bytes(677_000_000).to_string(), "677 MB");
        assert_eq!(Bytes(6_450_000_000).to_string(), "6.45 GB");
        assert_eq!(Bytes(12_345).to_string(), "12 kB");
    }

    #[test]
    fn the_machine_s_figures_are_parsed() {
        let meminfo = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some(20_000_000 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_cgroup("max\n"), None);
        assert_eq!(parse_cgroup("4294967296\n"), Some(1 << 32));
    }

    #[test]
    fn a_need_past_the_limit_is_refused_with_its_figures() {
        let need = MemoryNeed { parameters: 1_000_000, activations: 5_000_000_000, ..MemoryNeed::default() };
        let limit = MemoryLimit::asked(2_000_000_000);
        let err = limit.check("training", &need, "lower training.batch_size").unwrap_err().to_string();
        assert!(
            err.starts_with("training needs about 5.00 GB (parameters 1 MB, activations 5.00 GB"),
            "{err}"
        );
        assert!(err.contains("but the memory limit is 2.00 GB; lower training.batch_size"), "{err}");
        assert!(MemoryLimit::asked(5_001_000_000).check("training", &need, "").is_ok());
        // Exactly at the limit fits.
        assert!(MemoryLimit::asked(need.total()).check("training", &need, "").is_ok());
    }
}
