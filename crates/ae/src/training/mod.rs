//! Training a run as three stages: [`prepare`](prepare.rs) (data, split, memory check) →
//! [`fit`](fit.rs) (the epoch loop, with its policies for checkpoints, divergence, the kept epoch
//! and early stopping) → [`finish`](finish.rs) (the kept model, its quality beside PCA's, the
//! reports). `train` starts a run and `resume` goes on with one; both end in the same stages.

use crate::checkpoint::{CheckpointError, DataRecipe};
use crate::config::{ConfigError, RunConfig};
use crate::data::probe::probe;
use crate::data::{load_dataset, DataError};
use crate::memory::MemoryLimit;
use crate::model::Autoencoder;
use crate::record::{EpochStats, TrainSummary, CHECKPOINT};
use crate::report::{MetricsLog, RunDir};
use prepare::{check_memory, prepare, write_config, Prepared};
use std::path::Path;

mod finish;
mod fit;
mod optimizer;
mod policies;
mod prepare;
mod resume;
mod selection;
mod streams;
mod trainer;
pub use optimizer::Adam;
pub use policies::SATURATION_NOTE;
pub use resume::{EpochProgress, RunState, Saved, StreamState, TrainerState};
pub use streams::corrupt;
use streams::stream;
pub use trainer::{EpochEnd, HeldOut, StepSums, Trainer};

/// What the training job reports as it goes.
pub enum Event<'a> {
    /// The run starts (or goes on) with this config, settled for its data: its
    /// [`summary_line`](RunConfig::summary_line) says every automatic choice.
    Start(&'a RunConfig),
    Step {
        done: usize,
        total: usize,
    },
    Epoch(&'a EpochStats),
    /// After an epoch, the fraction of code values saturated at 0 or 1 crossed
    /// [`SATURATION_NOTE`] upwards (`saturated`) or back down: while it is saturated the encoder
    /// gets almost no gradient and the loss may stall.
    Saturation {
        epoch: usize,
        fraction: f64,
        saturated: bool,
    },
}

/// How a training job runs, beside what it trains (nothing here goes in the run's config).
pub struct Job<'a> {
    /// Refuse a run whose buffers would not fit, before the model is allocated.
    pub limit: Option<MemoryLimit>,
    /// A checkpoint is written once this many seconds have passed since the last one, after the
    /// step (inside an epoch) or the epoch's end where that happens; with 0, at every epoch's end.
    /// Also at the last epoch, and when `stop` asks.
    pub checkpoint_seconds: f64,
    /// Asked after every step: `true` ends the run with a checkpoint ([`Error::Interrupted`]).
    pub stop: &'a dyn Fn() -> bool,
}

impl Default for Job<'_> {
    fn default() -> Self {
        Self { limit: None, checkpoint_seconds: 30.0, stop: &|| false }
    }
}

/// The whole job: load the data, train, and leave a complete run directory at `out`
/// (`config.toml`, `metrics.jsonl`, `model.safetensors`, `checkpoint.safetensors`,
/// `reconstructions.png`, `loss.png`; with held-out images `last.safetensors` and `quality.png`;
/// for a denoiser `denoising.png`).
pub fn train(
    config: &RunConfig,
    out: &Path,
    job: &Job<'_>,
    on_event: impl FnMut(Event<'_>),
) -> crate::Result<TrainSummary> {
    config.validate()?;
    // An existing run is refused before the data are read and PCA fitted.
    RunDir::check_free(out)?;
    // Sized from the headers and checked against the memory limit before anything is decoded.
    let size = probe(&config.data)?;
    let mut config = config.clone();
    config.model.input = [size.shape.height, size.shape.width, size.shape.channels];
    config.model.settle();
    check_memory(&config, &size, job)?;
    let pixels = load_dataset(&config.data, None)?;
    // Recorded absolute, so the run's model finds its data from any directory.
    if let Some(path) = &config.data.path {
        config.data.path =
            Some(std::path::absolute(path).map_err(|cause| DataError::Io { path: path.clone(), cause })?);
    }
    // The model's input is the data's shape as loaded (after `data.size`), as the headers said.
    let shape = pixels.shape();
    config.model.input = [shape.height, shape.width, shape.channels];
    config.model.settle();
    let prepared = prepare(&config, pixels)?;
    // The model and its PCA start before the run directory, so that a refusal leaves nothing.
    let mut model = Autoencoder::new(&config.model, config.training.seed)?;
    if config.model.linear_path {
        let train = &prepared.train_set;
        let k = config.model.code_length.min(train.shape().len());
        let pca = crate::baseline::Pca::fit(train, k, config.training.seed)
            .map_err(|e| ConfigError::new("model.linear_path", format!("starts at PCA: {e}")))?;
        // A denoiser's starts as the linear denoiser PCA makes (noise from a stream of its own).
        let start = match config.noise.is_none() {
            true => pca.start(),
            false => {
                let mut rng = stream(config.training.seed, 6);
                pca.denoising_start(train, |clean, noisy| config.noise.apply(clean, noisy, &mut rng))
            }
        };
        model.start_linear_path(pca.mean(), pca.components(), |i, j| pca.direction(i, j), &start);
    }
    let run = RunDir::create(out)?;
    write_config(&config, &run)?;
    let metrics = MetricsLog::create(&run.path().join("metrics.jsonl"))?;
    let trainer = Trainer::new(model, &prepared.training, config.noise);
    run_training(&config, prepared, run, trainer, metrics, None, job, on_event)
}

/// Goes on with the run in `dir` (its `.partial` directory, or a finished run to train further)
/// from its checkpoint, to `epochs` in all if given (else the run's own). With the same epochs and
/// thread count, the epochs and the weights are those of a run never interrupted, bit for bit.
pub fn resume(
    dir: &Path,
    epochs: Option<usize>,
    job: &Job<'_>,
    on_event: impl FnMut(Event<'_>),
) -> crate::Result<TrainSummary> {
    // Everything is read and checked before a finished run is renamed back to `.partial`.
    let mut config = RunConfig::from_toml_file(&dir.join("config.toml"))?;
    let own_epochs = config.training.epochs;
    if let Some(epochs) = epochs {
        config.training.epochs = epochs;
    }
    config.validate()?;
    let unfinished = dir.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".partial"));
    let checkpoint = dir.join(CHECKPOINT);
    if unfinished && !checkpoint.exists() {
        let problem = "the run stopped before its first checkpoint, so there is nothing to go on from; \
                       remove the directory and start the run again";
        return Err(CheckpointError::Invalid { path: checkpoint, problem: problem.into() }.into());
    }
    let saved = resume::load(&checkpoint)?;
    let done = saved.state.epochs_done;
    // An unfinished run whose epochs are all done (stopped while its files were being written)
    // only finishes: the reports, the baseline and the summary.
    let trained = saved.state.within.is_none() && (saved.state.stopped_early || done >= own_epochs);
    let finishing = unfinished && trained && epochs.is_none_or(|e| e <= done || saved.state.stopped_early);
    if finishing {
        config.training.epochs = own_epochs;
    } else if saved.state.stopped_early {
        let best = saved.state.best.as_ref().map_or(0, |b| b.epoch);
        let problem = format!(
            "the run stopped early after epoch {done} (no held-out improvement since epoch {best}); \
             start a new run to train longer"
        );
        return Err(ConfigError::new("training.early_stopping", problem).into());
    }
    if !finishing && done >= config.training.epochs && saved.state.within.is_none() {
        let problem = format!("the run has trained {done} epochs already; ask for more");
        return Err(ConfigError::new("training.epochs", problem).into());
    }
    let threads = rayon::current_num_threads();
    if let Some(trained) = saved.state.threads.filter(|&t| t != threads) {
        log::warn!(
            "the run trained with {trained} thread(s) and goes on with {threads}: its figures will differ from an \
             uninterrupted run's in the last digits (resume with --threads {trained} to match it bit for bit)"
        );
    }
    check_memory(&config, &probe(&config.data)?, job)?;
    let pixels = load_dataset(&config.data, None)?;
    let shape = pixels.shape();
    if [shape.height, shape.width, shape.channels] != config.model.input {
        let problem = format!("the data are {shape:?} images now, not the run's {:?}", config.model.input);
        return Err(ConfigError::new("data.path", problem).into());
    }
    let prepared = prepare(&config, pixels)?;
    let run = RunDir::reopen(dir)?;
    write_config(&config, &run)?;
    let metrics = MetricsLog::rewrite(&run.path().join("metrics.jsonl"), &saved.state.history)?;
    let mut trainer = Trainer::new(saved.model, &prepared.training, config.noise);
    trainer
        .restore(&saved.state.trainer, saved.moments)
        .map_err(|problem| CheckpointError::Invalid { path: run.path().join(CHECKPOINT), problem })?;
    run_training(&config, prepared, run, trainer, metrics, Some(saved.state), job, on_event)
}

/// The stages after a trainer is set up, for a new run or a resumed one (`state`).
#[allow(clippy::too_many_arguments)]
fn run_training(
    config: &RunConfig,
    prepared: Prepared,
    run: RunDir,
    trainer: Trainer,
    metrics: MetricsLog,
    state: Option<RunState>,
    job: &Job<'_>,
    mut on_event: impl FnMut(Event<'_>),
) -> crate::Result<TrainSummary> {
    on_event(Event::Start(config));
    let recipe = DataRecipe {
        data: config.data.clone(),
        seed: config.training.seed,
        noise: config.noise,
        loss: config.training.loss,
    };
    // A denoiser's held-out inputs get their seeded noise once, the same for every epoch.
    let holdout_inputs = corrupt(&prepared.holdout, config.noise, config.training.seed);
    let fitted = fit::fit(
        config,
        &prepared,
        &holdout_inputs,
        run.path(),
        &recipe,
        trainer,
        metrics,
        state,
        job,
        &mut on_event,
    )?;
    finish::finish(config, prepared, holdout_inputs, run, &recipe, fitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::Augment;
    use crate::config::{Batching, Loss, ModelConfig, Norm, PaddingMode, Preset, TrainingConfig};
    use crate::data::{Images, Pixels};
    use crate::noise::Noise;
    use ae_engine::Shape;

    fn tiny_config() -> ModelConfig {
        crate::model::tiny(PaddingMode::TfSame, 4)
    }

    pub(super) fn blobs(n: usize) -> Pixels {
        let data =
            (0..n * 64).map(|i| (((i % 64) as f32 * 0.37 + (i / 64) as f32).sin() + 1.0) / 2.0).collect();
        Pixels::Floats(Images::new(Shape::new(8, 8, 1), data))
    }

    #[test]
    fn only_a_vae_logs_a_kl_term_and_only_a_sigmoid_code_can_saturate() {
        // What the trainer asks of each kind's objective: an epoch's KL (logged for a VAE only)
        // and whether the end of a run may say its code saturated (a sigmoid code's only).
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        (training.batch_size, training.augment) = (8, Augment::default());
        let sigmoid =
            ModelConfig { code_activation: crate::config::CodeActivation::Sigmoid, ..tiny_config() };
        let linear =
            ModelConfig { code_activation: crate::config::CodeActivation::Identity, ..tiny_config() };
        let mut vae = ModelConfig { kind: crate::config::ModelKind::Vae, code_length: 3, ..tiny_config() };
        vae.settle();
        let data = blobs(8);
        for (model, logs_kl, saturates) in
            [(sigmoid, false, true), (linear, false, false), (vae, true, false)]
        {
            let mut trainer = Trainer::new(Autoencoder::new(&model, 1).unwrap(), &training, Noise::None);
            let stats = trainer.run_epoch(1, &data, |_, _| {});
            let what = (model.kind, model.code_activation);
            assert_eq!(stats.kl_per_sample.is_some(), logs_kl, "{what:?}");
            assert_eq!(trainer.objective.saturates(), saturates, "{what:?}");
        }
    }

    #[test]
    fn training_lowers_the_loss_and_is_reproducible() {
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        training.batch_size = 8;
        training.learning_rate = 1e-2;
        let data = blobs(24);
        let run = || {
            let mut trainer =
                Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
            (1..=40).map(|e| trainer.run_epoch(e, &data, |_, _| {}).loss_per_sample).collect::<Vec<_>>()
        };
        let losses = run();
        assert!(losses[39] < 0.5 * losses[0], "{losses:?}");
        assert_eq!(losses, run());
    }

    #[test]
    fn an_l1_model_learns_below_the_median_image_s_absolute_error() {
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        // The default preset's rate: at 1e-2 the absolute error's gradients, as large near the target
        // as far from it, left this model bouncing about the median image for 200 epochs.
        (training.batch_size, training.learning_rate, training.loss) = (8, 3e-3, Loss::L1);
        let images = blobs(24).to_images();
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
        let first = trainer.evaluate(&images, &images).loss;
        for epoch in 1..=150 {
            trainer.run_epoch(epoch, &blobs(24), |_, _| {});
        }
        let fitted = trainer.evaluate(&images, &images).loss;
        // The per-pixel median image is the best constant prediction under the absolute error.
        let len = images.shape.len();
        let median: Vec<f32> = (0..len)
            .map(|p| {
                let mut column: Vec<f32> = images.data.chunks_exact(len).map(|image| image[p]).collect();
                column.sort_by(f32::total_cmp);
                column[column.len() / 2]
            })
            .collect();
        let trivial = images
            .data
            .chunks_exact(len)
            .map(|image| image.iter().zip(&median).map(|(&x, &m)| (x - m).abs() as f64).sum::<f64>());
        let trivial = trivial.sum::<f64>() / images.len() as f64;
        assert!(
            fitted < 0.8 * trivial && fitted < 0.5 * first,
            "{fitted} against the median's {trivial}, {first} at the start"
        );
    }

    #[test]
    fn tutorial_batching_skips_the_last_batch_but_divides_by_all() {
        // 24 copies of one image and a learning rate of 0: every image's loss is the same L, so
        // the epoch's figure is (images trained)·L / 24 whatever the shuffle.
        let mut training = RunConfig::preset(Preset::Seed).training;
        training.batch_size = 8;
        training.learning_rate = 0.0;
        let one = blobs(1).to_images();
        let data = Pixels::Floats(Images::new(one.shape, one.data.repeat(24)));
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
        let each = trainer.evaluate(&one, &one).loss;
        let stats = trainer.run_epoch(1, &data, |_, _| {});
        assert_eq!(stats.steps, 2);
        assert!(
            (stats.loss_per_sample - each * 16.0 / 24.0).abs() < 1e-9 * each,
            "{} vs {each}",
            stats.loss_per_sample
        );
        training.batching = Batching::All;
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
        let stats = trainer.run_epoch(1, &data, |_, _| {});
        assert_eq!(stats.steps, 3);
        assert!((stats.loss_per_sample - each).abs() < 1e-9 * each, "{} vs {each}", stats.loss_per_sample);
    }

    #[test]
    fn with_batch_norm_a_last_batch_of_one_image_waits_for_the_next_epoch() {
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        training.batch_size = 8;
        let data = blobs(17);
        let steps = |code_norm| {
            let config = ModelConfig { code_norm, ..tiny_config() };
            let mut trainer = Trainer::new(Autoencoder::new(&config, 3).unwrap(), &training, Noise::None);
            trainer.run_epoch(1, &data, |_, _| {}).steps
        };
        assert_eq!(steps(Norm::None), 3);
        assert_eq!(steps(Norm::Batch), 2);
    }

    /// How far one training step on four blobs moves each parameter tensor of `before` at most.
    fn first_step_moves(before: &Autoencoder, training: &TrainingConfig) -> impl Fn(usize) -> f64 {
        let mut trainer = Trainer::new(before.clone(), training, Noise::None);
        let images = blobs(4).to_images();
        trainer.train_step(&images.data, &images.data);
        let (after, before) = (trainer.into_model(), before.clone());
        move |p| {
            after.params[p]
                .iter()
                .zip(&before.params[p])
                .map(|(a, b)| (a - b).abs() as f64)
                .fold(0.0, f64::max)
        }
    }

    #[test]
    fn the_first_step_moves_weights_by_the_warmed_up_rate_and_the_code_layer_by_its_share() {
        // Adam's first step moves a weight by lr·g/(|g| + ε), about the rate, whatever g.
        let training = RunConfig::preset(Preset::TutorialNet).training; // 3e-3, warm-up 100, code 0.1×
        let before = Autoencoder::new(&tiny_config(), 3).unwrap();
        let largest_move = first_step_moves(&before, &training);
        let code = 2 * before.code_layer;
        let rate = 3e-3 / 100.0; // step 1 of a 100-step warm-up
        for p in [0, 2, code + 2] {
            assert!((largest_move(p) / rate - 1.0).abs() < 0.01, "param {p}: {}", largest_move(p));
        }
        assert!((largest_move(code) / (0.1 * rate) - 1.0).abs() < 0.01, "code: {}", largest_move(code));
    }

    #[test]
    fn the_linear_path_moves_at_its_own_share_of_the_rate() {
        let mut training = RunConfig::preset(Preset::TutorialNet).training; // 3e-3, warm-up 100
        (training.code_lr_scale, training.linear_lr_scale) = (0.1, 0.02);
        let config = ModelConfig {
            code_activation: crate::config::CodeActivation::Identity,
            linear_path: true,
            ..tiny_config()
        };
        let mut before = Autoencoder::new(&config, 3).unwrap();
        // Every weight non-zero, so that every one has a gradient to move by.
        for layer in [before.code_layer, before.chain - 1] {
            before.params[2 * layer]
                .iter_mut()
                .enumerate()
                .for_each(|(i, w)| *w = 0.01 * ((i % 7) as f32 - 3.0));
        }
        let largest_move = first_step_moves(&before, &training);
        let rate = 3e-3 / 100.0; // step 1 of the warm-up: Adam moves each weight by the rate
        let (encode, decode) = before.linear_path().unwrap();
        for (p, scale) in [(0, 1.0), (2 * before.code_layer, 0.1), (2 * encode, 0.02), (2 * decode + 1, 0.02)]
        {
            assert!((largest_move(p) / (scale * rate) - 1.0).abs() < 0.01, "param {p}: {}", largest_move(p));
        }
    }

    #[test]
    fn weight_decay_shrinks_kernels_by_their_rate_and_leaves_biases_and_the_normalisation() {
        // From one model and batch, the first step with and without decay sees the same gradients,
        // so the weights differ by the decay alone: −rate·λ·w (the code layer at its 0.1× rate,
        // through the fused update).
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        let config = ModelConfig { code_norm: Norm::Batch, ..tiny_config() };
        let before = Autoencoder::new(&config, 3).unwrap();
        let images = blobs(4).to_images();
        let mut step = |weight_decay| {
            training.weight_decay = weight_decay;
            let mut trainer = Trainer::new(before.clone(), &training, Noise::None);
            trainer.train_step(&images.data, &images.data);
            trainer.model
        };
        let (plain, decayed) = (step(0.0), step(0.5));
        let rate = 3e-3 / 100.0; // step 1 of the warm-up
        for (p, name) in before.param_names().iter().enumerate() {
            let scale = if p == 2 * before.code_layer { 0.1 } else { 1.0 };
            let decays = name.ends_with(".weight") && !name.starts_with("code_norm");
            for ((w, a), b) in before.params[p].iter().zip(&plain.params[p]).zip(&decayed.params[p]) {
                let want = if decays { -(scale * rate * 0.5 * *w as f64) } else { 0.0 };
                // Within the rounding of two f32 weights near w.
                let ulps = 2.0 * f32::EPSILON as f64 * (w.abs() as f64).max(1e-3);
                assert!(((b - a) as f64 - want).abs() < ulps, "{name}: {} vs {want}", b - a);
            }
        }
    }

    #[test]
    fn augmentation_changes_the_images_trained_on_and_a_flip_leaves_mirror_images_alone() {
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        training.batch_size = 4;
        let mut run = |data: &Pixels, augment: &str| {
            training.augment = augment.parse().unwrap();
            let mut trainer =
                Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
            (1..=2).map(|e| trainer.run_epoch(e, data, |_, _| {}).loss_per_sample).collect::<Vec<_>>()
        };
        let data = blobs(8);
        let plain = run(&data, "none");
        assert_ne!(run(&data, "flip"), plain);
        assert_ne!(run(&data, "shift:1"), plain);
        // Images equal to their mirror image: flipped or not, the same batches, the same bits.
        let images = data.to_images();
        let mirrored: Vec<f32> =
            images.data.chunks(8).flat_map(|row| (0..8).map(move |x| row[x.min(7 - x)])).collect();
        let symmetric = Pixels::Floats(Images::new(images.shape, mirrored));
        assert_eq!(run(&symmetric, "flip"), run(&symmetric, "none"));
    }

    #[test]
    fn the_fused_code_update_gives_the_bits_of_the_update_after_the_pass() {
        let training = RunConfig::preset(Preset::TutorialNet).training;
        let model = Autoencoder::new(&tiny_config(), 4).unwrap();
        let mut fused = Trainer::new(model.clone(), &training, Noise::None);
        let mut after = Trainer::new(model, &training, Noise::None);
        after.fuse_code_update = false;
        let images = blobs(6).to_images();
        for _ in 0..5 {
            fused.train_step(&images.data, &images.data);
            after.train_step(&images.data, &images.data);
        }
        assert_eq!(fused.optimizer, after.optimizer);
        assert_eq!((fused.steps(), after.steps()), (5, 5));
        assert_eq!(fused.model, after.model);
        let names: Vec<&str> = fused.optimizer.moments().map(|(name, _)| name).collect();
        assert_eq!(names[..3], ["encoder.conv0.weight", "encoder.conv0.bias", "encoder.conv1.weight"]);
    }

    #[test]
    fn a_vae_trains_on_its_elbo_with_its_kl_weight_warming_up() {
        let mut model = ModelConfig { kind: crate::config::ModelKind::Vae, code_length: 4, ..tiny_config() };
        model.settle();
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        (training.epochs, training.batch_size, training.loss) = (40, 8, Loss::Bce);
        (training.learning_rate, training.warmup_steps, training.kl_warmup_epochs) = (1e-2, 0, 10);
        // Sixteen 8×8 blobs to fit, as they are.
        training.augment = Augment::default();
        let data = blobs(16);
        let run = || {
            let mut trainer = Trainer::new(Autoencoder::new(&model, 1).unwrap(), &training, Noise::None);
            (1..=40).map(|e| trainer.run_epoch(e, &data, |_, _| {})).collect::<Vec<_>>()
        };
        let history = run();
        let objective = |s: &EpochStats| s.loss_per_sample + s.kl_per_sample.expect("a VAE logs its KL");
        // BCE against grey targets cannot reach 0: its floor is the targets' own entropy.
        let floor: f64 = data
            .to_images()
            .data
            .iter()
            .map(|&x| (x as f64).clamp(1e-12, 1.0 - 1e-12))
            .map(|x| -(x * x.ln() + (1.0 - x) * (1.0 - x).ln()))
            .sum::<f64>()
            / 16.0;
        let (first, last) = (objective(&history[0]) - floor, objective(&history[39]) - floor);
        assert!(last < 0.6 * first, "above the entropy {floor}: {first} → {last}");
        assert!(history[39].kl_per_sample.unwrap() > 0.0);
        // Seeded draws: the same run twice gives the same numbers.
        let again = run();
        assert_eq!(
            history.iter().map(objective).collect::<Vec<_>>(),
            again.iter().map(objective).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_trainer_weighs_the_kl_term_by_beta_as_it_warms_up() {
        // Two VAEs alike but for β (0.5 with a 4-epoch warm-up, and 0), at learning rate 0: every
        // step sees the same weights, images and draws, so their gradients differ by exactly the
        // KL term's, weighted as the trainer weighs it. At the code layer's bias that is
        // w·Σ_images ∂KL/∂[μ, log σ²] = w·Σ [μ, (σ² − 1)/2], worked out here from the draws'
        // distribution. Two batches an epoch: an epoch's last step is half an epoch before its end.
        let mut model = ModelConfig { kind: crate::config::ModelKind::Vae, code_length: 3, ..tiny_config() };
        model.settle();
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        (training.epochs, training.batch_size, training.learning_rate) = (8, 8, 0.0);
        (training.beta, training.kl_warmup_epochs, training.augment) = (0.5, 4, Augment::default());
        let trainer = |beta| {
            let training = TrainingConfig { beta, ..training.clone() };
            let mut trainer = Trainer::new(Autoencoder::new(&model, 1).unwrap(), &training, Noise::None);
            trainer.fuse_code_update = false;
            trainer
        };
        let (mut weighed, mut without) = (trainer(0.5), trainer(0.0));
        let data = blobs(16);
        let bias = 2 * weighed.model.code_layer + 1;
        for epoch in 1..=6 {
            weighed.run_epoch(epoch, &data, |_, _| {});
            without.run_epoch(epoch, &data, |_, _| {});
            let w = 0.5 * ((epoch as f64 - 0.5) / 4.0).min(1.0);
            let latent = model.code_length;
            let mut kl_gradient = vec![0.0f64; 2 * latent];
            for row in weighed.acts.distribution(&weighed.model).chunks_exact(2 * latent) {
                for j in 0..latent {
                    kl_gradient[j] += row[j] as f64;
                    kl_gradient[latent + j] += 0.5 * ((row[latent + j] as f64).exp() - 1.0);
                }
            }
            let (a, b) = (&weighed.grads.params[bias], &without.grads.params[bias]);
            for (j, g) in kl_gradient.iter().enumerate() {
                let difference = (a[j] - b[j]) as f64;
                assert!(
                    (difference - w * g).abs() < 1e-4 * (1.0 + (w * g).abs()),
                    "epoch {epoch}, unit {j}: {difference} where β's weight {w} gives {}",
                    w * g
                );
            }
            assert!(w * kl_gradient.iter().map(|g| g.abs()).sum::<f64>() > 0.01, "a KL term to see");
        }
    }

    #[test]
    fn the_sparsity_penalty_lowers_the_code_mean() {
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        training.batch_size = 8;
        training.learning_rate = 1e-2;
        let data = blobs(24);
        let code_mean = |sparsity: f64| {
            let training = TrainingConfig { sparsity, ..training.clone() };
            let mut trainer =
                Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, Noise::None);
            (1..=20).map(|e| trainer.run_epoch(e, &data, |_, _| {})).last().unwrap().code_mean
        };
        let (plain, sparse) = (code_mean(0.0), code_mean(0.5));
        assert!(sparse < 0.5 * plain, "code mean {sparse} with the penalty vs {plain} without");
    }

    #[test]
    fn a_denoiser_trains_on_noisy_inputs_against_clean_targets() {
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        training.batch_size = 8;
        let data = blobs(16);
        let first_loss = |noise| {
            let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &training, noise);
            trainer.run_epoch(1, &data, |_, _| {}).loss_per_sample
        };
        // Same weights and order; only the inputs differ, so the losses do too.
        assert_ne!(first_loss(Noise::None), first_loss(Noise::Masking { p: 0.5 }));
        // Held-out noise is fixed by the seed, differs between seeds, and has the asked spread.
        let noise = Noise::Gaussian { sigma: 0.1 };
        // Trained a little, so that its output depends on its input.
        let quick = TrainingConfig { learning_rate: 1e-2, warmup_steps: 0, ..training.clone() };
        let mut trainer = Trainer::new(Autoencoder::new(&tiny_config(), 3).unwrap(), &quick, noise);
        for epoch in 1..=40 {
            trainer.run_epoch(epoch, &data, |_, _| {});
        }
        let data = data.to_images();
        let noisy = corrupt(&data, noise, training.seed);
        assert_eq!(noisy, corrupt(&data, noise, training.seed));
        assert_ne!(noisy, corrupt(&data, noise, training.seed + 1));
        let spread = (noisy.data.iter().zip(&data.data).map(|(y, x)| ((y - x) as f64).powi(2)).sum::<f64>()
            / data.data.len() as f64)
            .sqrt();
        assert!((0.08..0.1).contains(&spread), "σ 0.1 clipped to [0, 1] gave {spread}");
        // A denoiser's held-out loss compares the reconstruction of the noisy input with the clean
        // image: 0.5·Σ(x̂(noisy) − clean)² per image, worked out here from the reconstructions.
        let loss = trainer.evaluate(&noisy, &data).loss;
        let recon = crate::inference::predict(&trainer.model, &noisy, 5).reconstructions;
        let want =
            recon.data.iter().zip(&data.data).map(|(y, x)| 0.5 * ((y - x) as f64).powi(2)).sum::<f64>()
                / data.len() as f64;
        assert!((loss - want).abs() < 1e-5 * want, "{loss} vs {want}");
        let clean = trainer.evaluate(&data, &data).loss;
        assert!((clean - loss).abs() > 1e-3 * want, "the input must matter: {clean} vs {loss}");
    }
}
