//! The run's second stage: the epoch loop. Each epoch trains, measures the held-out images,
//! appends its line to `metrics.jsonl`, keeps the best epoch's weights and writes checkpoints as
//! the policies say; it stops at the last epoch, early, on a request or on divergence.

use super::policies::{diverged, saturation_crossed, CheckpointTimer};
use super::prepare::Prepared;
use super::resume::{self, RunState};
use super::selection;
use super::trainer::{EpochEnd, Trainer};
use super::{Event, Job};
use crate::checkpoint::{self, DataRecipe};
use crate::config::RunConfig;
use crate::data::Images;
use crate::record::{BestEpoch, EpochStats, CHECKPOINT, MODEL};
use crate::report::MetricsLog;
use crate::Error;
use std::path::Path;

/// What the epoch loop leaves for the end of the run.
pub(super) struct Fitted {
    pub trainer: Trainer,
    pub history: Vec<EpochStats>,
    pub best: Option<BestEpoch>,
    pub stopped_early: bool,
    /// Seconds of training over every session of the run.
    pub train_seconds: f64,
}

/// Trains `trainer` from `state` (a resumed run's) or from the start, in the run directory `run`.
#[allow(clippy::too_many_arguments)]
pub(super) fn fit(
    config: &RunConfig,
    prepared: &Prepared,
    holdout_inputs: &Images,
    run: &Path,
    recipe: &DataRecipe,
    mut trainer: Trainer,
    mut metrics: MetricsLog,
    state: Option<RunState>,
    job: &Job<'_>,
    on_event: &mut impl FnMut(Event<'_>),
) -> crate::Result<Fitted> {
    let Prepared { train_set, holdout, .. } = prepared;
    let checkpoint_path = run.join(CHECKPOINT);
    let model_path = run.join(MODEL);
    // A run that stopped early and is only being finished trains no more epochs.
    let mut stopped_early = state.as_ref().is_some_and(|s| s.stopped_early);
    let (mut history, mut saturated, mut within, earlier_seconds, mut best) = match state {
        Some(s) => (s.history, s.saturated, s.within, s.train_seconds, s.best),
        None => (Vec::with_capacity(config.training.epochs), false, None, 0.0, None),
    };
    let first = history.len() + 1;
    let last_epoch = if stopped_early { history.len() } else { config.training.epochs };
    let started = std::time::Instant::now();
    let timer = CheckpointTimer::new(job.checkpoint_seconds);
    let pause = || (job.stop)() || timer.due_within_epoch();
    let save = |trainer: &Trainer,
                history: &[EpochStats],
                within,
                saturated,
                best: &Option<BestEpoch>,
                stopped_early| {
        let state = RunState {
            epochs_done: history.len(),
            within,
            history: history.to_vec(),
            saturated,
            train_seconds: earlier_seconds + started.elapsed().as_secs_f64(),
            best: best.clone(),
            stopped_early,
            trainer: trainer.state(),
            threads: Some(rayon::current_num_threads()),
        };
        resume::save(trainer, recipe, &state, &checkpoint_path)
    };
    for epoch in first..=last_epoch {
        let mut stats = loop {
            let on_step = |done, total| on_event(Event::Step { done, total });
            match trainer.epoch_from(epoch, train_set, within.take(), &pause, on_step) {
                EpochEnd::Finished(stats) => break stats,
                EpochEnd::Stopped(progress) => {
                    let batch = progress.batches;
                    // A loss already NaN is left for the epoch's end to report; the last
                    // checkpoint keeps the last good weights.
                    if progress.loss.is_finite() {
                        save(&trainer, &history, Some(progress.clone()), saturated, &best, false)?;
                        timer.reset();
                    }
                    if (job.stop)() {
                        return Err(Error::Interrupted { epoch, batch, checkpoint: checkpoint_path });
                    }
                    // Only the timer: the epoch goes on from where it stands, as a resume would.
                    within = Some(progress);
                }
            }
        };
        if !holdout.is_empty() {
            let held = trainer.evaluate(holdout_inputs, holdout);
            (stats.holdout_loss_per_sample, stats.holdout_kl_per_sample) = (Some(held.loss), held.kl);
            (stats.holdout_psnr_db, stats.holdout_ssim) =
                (Some(held.quality.psnr_db), Some(held.quality.ssim));
        }
        metrics.append(&stats)?;
        on_event(Event::Epoch(&stats));
        if diverged(&stats) {
            // The last checkpoint (if any) stays: it holds the last good weights.
            return Err(Error::Diverged { epoch, loss: stats.loss_per_sample, run: run.into() });
        }
        if saturation_crossed(trainer.objective.saturates(), &stats, saturated) {
            saturated = !saturated;
            on_event(Event::Saturation { epoch, fraction: stats.code_saturated, saturated });
        }
        // The best held-out epoch's weights are the run's model, written as they improve.
        if let Some(improved) = selection::improves(best.as_ref(), &stats) {
            checkpoint::save(&trainer.model, recipe, &model_path)?;
            best = Some(improved);
        }
        history.push(stats);
        let (epochs, patience) = (config.training.epochs, config.training.early_stopping);
        stopped_early = selection::stops_early(best.as_ref(), epoch, epochs, patience);
        let last = epoch == config.training.epochs || stopped_early;
        let stopping = (job.stop)();
        if last || stopping || timer.due_at_epoch_end() {
            save(&trainer, &history, None, saturated, &best, stopped_early)?;
            timer.reset();
        }
        if stopping && !last {
            return Err(Error::Interrupted { epoch: epoch + 1, batch: 0, checkpoint: checkpoint_path });
        }
        if stopped_early {
            break;
        }
    }
    let train_seconds = earlier_seconds + started.elapsed().as_secs_f64();
    Ok(Fitted { trainer, history, best, stopped_early, train_seconds })
}
