//! The epoch loop's small decisions, each in one place: when a checkpoint is due, when a run has
//! diverged, and when the code's saturation is worth a word. The kept epoch and early stopping
//! are in `selection.rs`.

use crate::record::EpochStats;
use std::cell::Cell;
use std::time::Instant;

/// Above this fraction of saturated code values the run says so.
pub const SATURATION_NOTE: f64 = 0.95;

/// When the next checkpoint is due: `seconds` after the last one (0: only at epochs' ends).
pub(super) struct CheckpointTimer {
    seconds: f64,
    last: Cell<Instant>,
}

impl CheckpointTimer {
    pub(super) fn new(seconds: f64) -> Self {
        Self { seconds, last: Cell::new(Instant::now()) }
    }

    /// Inside an epoch a checkpoint is due on the timer only (never with 0).
    pub(super) fn due_within_epoch(&self) -> bool {
        self.seconds > 0.0 && self.elapsed() >= self.seconds
    }

    /// At an epoch's end it is due once the time has passed (always with 0).
    pub(super) fn due_at_epoch_end(&self) -> bool {
        self.elapsed() >= self.seconds
    }

    /// A checkpoint was just written.
    pub(super) fn reset(&self) {
        self.last.set(Instant::now());
    }

    fn elapsed(&self) -> f64 {
        self.last.get().elapsed().as_secs_f64()
    }
}

/// Whether the epoch's loss left the finite numbers: the run stops, keeping the last checkpoint.
pub(super) fn diverged(stats: &EpochStats) -> bool {
    !stats.loss_per_sample.is_finite()
}

/// Whether the saturation of a code that can saturate crossed [`SATURATION_NOTE`] (up from
/// `saturated = false`, or back down) in this epoch.
pub(super) fn saturation_crossed(can_saturate: bool, stats: &EpochStats, saturated: bool) -> bool {
    can_saturate && (stats.code_saturated >= SATURATION_NOTE) != saturated
}
