//! The run's last stage: the kept model written and read back, its quality beside PCA's, the
//! grids and curves, `summary.json` and `report.html`, and the run directory renamed into place.

use super::fit::Fitted;
use super::prepare::{Prepared, SHOWN};
use super::streams::{corrupt, stream};
use crate::assessment::assess;
use crate::checkpoint::{self, DataRecipe};
use crate::config::RunConfig;
use crate::data::{Images, Pixels};
use crate::evaluation::{ErrorSums, Quality};
use crate::fs::write_atomic;
use crate::inference::predict;
use crate::model::Autoencoder;
use crate::noise::Noise;
use crate::record::{Milestone, TrainSummary, LAST_MODEL, MODEL, SUMMARY};
use crate::report::{save_grid, save_loss_curve, save_quality_curve, ReportError, RunDir};
use std::path::PathBuf;

/// How many images the grids show.
const GRID_COLUMNS: usize = 10;

/// Writes everything a finished run leaves beside its checkpoint, and moves `run` into place.
pub(super) fn finish(
    config: &RunConfig,
    prepared: Prepared,
    holdout_inputs: Images,
    run: RunDir,
    recipe: &DataRecipe,
    fitted: Fitted,
) -> crate::Result<TrainSummary> {
    let Prepared { train_set, holdout, .. } = prepared;
    let Fitted { trainer, history, best, stopped_early, train_seconds } = fitted;
    let model_path = run.path().join(MODEL);
    let steps = trainer.steps();
    // Free the optimiser state and gradients before the reports allocate their own buffers.
    let last_model = trainer.into_model();
    let model = &if best.is_some() {
        checkpoint::save(&last_model, recipe, &run.path().join(LAST_MODEL))?;
        drop(last_model);
        // The reports are of the kept model, read back as every later command reads it.
        checkpoint::load(&model_path)?.0
    } else {
        checkpoint::save(&last_model, recipe, &model_path)?;
        last_model
    };
    // Quality is measured on the held-out images, or without them on (up to) the first thousand.
    let first_train = || train_set.select(&(0..train_set.len().min(SHOWN)).collect::<Vec<_>>()).to_images();
    let train_quality = (!holdout.is_empty()).then(|| {
        training_fit(model, &train_set, config.noise, config.training.seed, config.training.batch_size)
    });
    let (shown, noisy) = if holdout.is_empty() {
        let shown = first_train();
        let noisy = corrupt(&shown, config.noise, config.training.seed);
        (shown, noisy)
    } else {
        (holdout, holdout_inputs)
    };
    let shown = &shown;
    let first: Vec<usize> = (0..shown.len().min(GRID_COLUMNS)).collect();
    let denoiser = !config.noise.is_none();
    let assessment = assess(
        model,
        shown,
        denoiser.then_some(&noisy),
        &train_set,
        config.training.seed,
        config.training.batch_size,
    );
    save_grid(
        &run.path().join("reconstructions.png"),
        &[&shown.select(&first), &assessment.reconstructions.select(&first)],
        GRID_COLUMNS,
        64,
    )?;
    if let Some(d) = &assessment.denoising {
        let rows = [shown.select(&first), noisy.select(&first), d.denoised.select(&first)];
        save_grid(&run.path().join("denoising.png"), &[&rows[0], &rows[1], &rows[2]], GRID_COLUMNS, 64)?;
    }
    save_loss_curve(&run.path().join("loss.png"), &history)?;
    if best.is_some() {
        save_quality_curve(&run.path().join("quality.png"), &history, best.as_ref().map(|b| b.epoch))?;
    }
    let quality = assessment.quality().clone();
    let noisy_quality = assessment.denoising.as_ref().map(|d| d.noisy.clone());
    let baseline = assessment.baseline.ok();
    let reached =
        |gain: f64| baseline.as_ref().and_then(|b| Milestone::first(&history, b.quality.psnr_db + gain));
    let (reached_pca, reached_pca_plus_1db) = (reached(0.0), reached(1.0));
    let peak_memory_bytes = crate::memory::peak_resident();
    let mut summary = TrainSummary {
        run_dir: PathBuf::new(),
        history,
        steps,
        train_seconds,
        peak_memory_bytes,
        quality,
        noisy_quality,
        train_quality,
        baseline,
        best,
        stopped_early,
        reached_pca,
        reached_pca_plus_1db,
    };
    let json = serde_json::to_vec_pretty(&summary).expect("a summary serialises");
    let summary_path = run.path().join(SUMMARY);
    write_atomic(&summary_path, &json)
        .map_err(|e| ReportError::Write { path: summary_path, reason: e.to_string() })?;
    crate::report::save_run_report(run.path(), &run.name())?;
    summary.run_dir = run.finish()?;
    Ok(summary)
}

/// [`TrainSummary::train_quality`]: `model` on up to the first thousand of `train_set` as they are,
/// a batch at a time, so that large images need no more than a batch of copies; a denoiser's
/// inputs get noise drawn as [`corrupt`] draws the held-out images'.
fn training_fit(model: &Autoencoder, train_set: &Pixels, noise: Noise, seed: u64, batch: usize) -> Quality {
    let (count, batch) = (train_set.len().min(SHOWN), batch.max(1));
    let mut rng = stream(seed, 3);
    let mut sums = ErrorSums::default();
    for start in (0..count).step_by(batch) {
        let images = train_set.select(&(start..(start + batch).min(count)).collect::<Vec<_>>()).to_images();
        let mut inputs = images.data.clone();
        noise.apply(&images.data, &mut inputs, &mut rng);
        let predicted = predict(model, &Images::new(images.shape, inputs), batch).reconstructions;
        sums.add(&ErrorSums::of(&images, &predicted));
    }
    Quality::from_sums(&sums)
}
