//! `ae train`: the run's configuration from a preset or a file and the flags, then the library's
//! training job, with a progress bar, Ctrl-C as a checkpoint and the figures printed at the end.

use crate::flags::choice;
use crate::limits::memory_limit;
use crate::outputs::{baseline_line, describe};
use crate::signals::interrupts;
use ae::config::{
    BadImages, CodeActivation, Loss, ModelKind, Norm, Overrides, Preset, RunConfig, SplitBy, Start, Storage,
};
use ae::noise::Noise;
use ae::report::partial_of;
use ae::training::{resume, train, Event, Job};
use anyhow::{bail, Result};
use clap::{Args, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// Starting configuration: `default` is the best recipe measured (a deep network started at
    /// PCA: +1.0 dB over PCA at code 256 on the faces); `tutorial-net` the tutorial's network
    /// trained properly; `seed` the tutorial literally, `seed-denoise` its denoising run (docs/presets.md).
    #[arg(long, value_parser = choice::<Preset>(), default_value_t = Preset::Default)]
    pub(crate) preset: Preset,
    /// A TOML run configuration (e.g. a run's config.toml) used instead of --preset; the flags below override it.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// The images: olivetti, mnist or fashion-mnist (found in $AE_OLIVETTI / $AE_MNIST /
    /// $AE_FASHION_MNIST, else the cache ($AE_CACHE_DIR or the user cache dir), else downloaded),
    /// or a path: olivettifaces.mat, an IDX file (*-ubyte, .gz or raw), a .npy array (N×H×W[×C],
    /// u8 or f32), a CIFAR-10 binary batch (.bin) or a folder of PNG/JPEG images [default: olivetti].
    #[arg(long)]
    pub(crate) data: Option<String>,
    /// Resize the images to H W [default: 32 32 for the Olivetti faces, else the images' own size].
    #[arg(long, num_args = 2, value_names = ["H", "W"])]
    pub(crate) size: Option<Vec<usize>>,
    /// Keep the images as 8-bit (u8, a quarter of the memory; 8-bit sources) or 32-bit floats [default: f32].
    #[arg(long, value_parser = choice::<Storage>())]
    pub(crate) storage: Option<Storage>,
    /// An image in a folder that cannot be decoded: fail, or skip it with a warning [default: fail].
    #[arg(long, value_parser = choice::<BadImages>())]
    pub(crate) bad_images: Option<BadImages>,
    /// Run directory to create; must not exist [default: runs/<preset>-<UTC time>].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Go on with an interrupted run (its DIR.partial) or train a finished one further (with a
    /// larger --epochs), from its checkpoint and with its own config.toml.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "config"])]
    pub(crate) resume: Option<PathBuf>,
    /// Write the checkpoint once this many seconds have passed since the last one, after that
    /// step, inside an epoch too (0: at every epoch's end instead); it is also written at the last
    /// epoch and on Ctrl-C.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) checkpoint_seconds: f64,
    /// Passes over the training images; the default passes PCA at code 256 on the faces after
    /// 30–45 and still gains past 1400 (code 32, seed 0: PCA + 1.46 dB at 1000, + 1.61 at 1500)
    /// [default: 1500; 600 with the other presets].
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// Images per Adam step [default: 50].
    #[arg(long)]
    pub(crate) batch_size: Option<usize>,
    /// Adam learning rate; 0.001 cost the default 0.66 dB on MNIST at code 256 [default: 0.003;
    /// 0.001 with --preset seed and seed-denoise].
    #[arg(long)]
    pub(crate) learning_rate: Option<f64>,
    /// Units in the code [default: 256]. A length that does not reshape to the decoder's first
    /// feature map (16×16 for 32×32 images) gets a dense projection to it.
    #[arg(long)]
    pub(crate) code_length: Option<usize>,
    /// Normalise the code's pre-activations before its function: batch (batch normalisation) or
    /// none; without it a sigmoid code saturates on some seeds (faces, seed 0: 17 dB held out)
    /// [default: none; batch with --preset tutorial-net and for a sparse code].
    #[arg(long, value_parser = choice::<Norm>())]
    pub(crate) code_norm: Option<Norm>,
    /// The code's function (MNIST at code 32: linear 23.4 dB, sigmoid 21.5, tutorial-net): sigmoid
    /// (every unit in (0, 1)), identity (a linear code), or auto (the
    /// sigmoid where the code is reshaped into the decoder's first map, as at code 256 on 32×32
    /// faces; identity where a dense layer projects it there, as at any other length or on MNIST)
    /// [default: identity; auto with --preset tutorial-net; sigmoid with --preset seed, seed-denoise
    /// and with --sparsity].
    #[arg(long, value_parser = choice::<CodeActivation>())]
    pub(crate) code_activation: Option<CodeActivation>,
    /// A linear encoder and decoder beside the network, started at PCA of the training images:
    /// the model starts as PCA at the code's length and trains the network as a correction
    /// (faces, code 256: PCA + 0.9 to 1.4 dB with it, 3.1 to 3.7 dB below PCA without). Its
    /// code is linear (--code-activation identity and --code-norm none unless said), its output
    /// linear and clipped to [0, 1], so not for --loss bce. `--linear-path false` removes it
    /// [default: true with the default preset where the run can carry it (an autoencoder with a
    /// linear code: not with --loss bce, --sparsity, --dropout, --model vae or another code);
    /// false with the other presets].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) linear_path: Option<bool>,
    /// Fraction of images held out of training and evaluated every epoch [default: 0.1; 0 with --preset seed].
    #[arg(long)]
    pub(crate) holdout: Option<f64>,
    /// Seed for the weights, the split, the shuffles and the noise [default: 0].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Corrupt the training inputs (a denoising autoencoder): none, gaussian:SIGMA (clipped to [0, 1]),
    /// hetero:MIN:MAX (a σ per pixel drawn from [MIN, MAX]), salt-pepper:P, mask:P
    /// [default: none; gaussian:0.2 with --preset seed-denoise].
    #[arg(long)]
    pub(crate) noise: Option<Noise>,
    /// Training loss: l2 (0.5·Σ(x̂−x)²), bce (binary cross-entropy) or l1 (Σ|x̂−x|) [default: l2].
    #[arg(long, value_parser = choice::<Loss>())]
    pub(crate) loss: Option<Loss>,
    /// Weight λ of an L1 penalty on the code, per image λ·pixels·mean(|code|), for a sparse code
    /// (docs/denoising.md: 0.03 over 600 epochs lowers the faces' code mean to a sixth at −0.3 dB); a sparse
    /// code is a sigmoid's, normalised unless said, without the linear path [default: 0].
    #[arg(long)]
    pub(crate) sparsity: Option<f64>,
    /// Train on these classes only, e.g. 3 or 3,5 (one-class training for `ae score`): the
    /// other images are left out of training and of the held-out split [default: all images].
    #[arg(long, value_delimiter = ',', value_name = "CLASSES")]
    pub(crate) normal: Option<Vec<u8>>,
    /// The labels of --normal, an IDX labels file with one label per image [default: the
    /// *-labels-idx1-ubyte[.gz] file beside an IDX images file].
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
    /// Hold out images, or whole people (subjects) [default: images].
    #[arg(long, value_parser = choice::<SplitBy>())]
    pub(crate) split_by: Option<SplitBy>,
    /// What to train: autoencoder, or vae (a variational autoencoder: a Gaussian code sampled in
    /// training, loss + β·KL; its code is not normalised) [default: autoencoder].
    #[arg(long, value_parser = choice::<ModelKind>())]
    pub(crate) model: Option<ModelKind>,
    /// Units of a VAE's Gaussian code (its code length) [default: 16 with --model vae].
    #[arg(long, conflicts_with = "code_length")]
    pub(crate) latent_dim: Option<usize>,
    /// A VAE's weight on the KL term: 1 trains on the ELBO, others make a β-VAE [default: 1].
    #[arg(long)]
    pub(crate) beta: Option<f64>,
    /// Epochs over which a VAE's β rises linearly from 0 [default: 0, none].
    #[arg(long)]
    pub(crate) kl_warmup_epochs: Option<usize>,
    /// Change each training image as it is drawn (faces, 150 epochs: 26.9 dB held out without,
    /// 28.3 with flip,shift:2; MNIST at code 256, 20 epochs: +1.3 dB with shift:2), from the run's
    /// seed: none, flip (mirror left to right half the time), shift:K (move by up to K pixels each
    /// way) or flip,shift:K; the target is the changed image [default with --preset default and
    /// tutorial-net: flip,shift:2 for the faces, shift:2 for other data, none with --normal; none
    /// otherwise].
    #[arg(long)]
    pub(crate) augment: Option<ae::augment::Augment>,
    /// Dropout on the code in training: each unit zeroed with probability P, the rest scaled by
    /// 1/(1−P); autoencoders only (faces, P 0.1: −2.8 dB held out) [default: 0].
    #[arg(long, value_name = "P")]
    pub(crate) dropout: Option<f64>,
    /// Stop when the held-out loss has not improved for N epochs (0: never); the model is the best
    /// epoch's either way [default: 0].
    #[arg(long, value_name = "N")]
    pub(crate) early_stopping: Option<usize>,
    /// Any other setting of config.toml, KEY=VALUE, applied last and taken as written (repeatable):
    /// e.g. training.schedule=constant, training.warmup_steps=0, training.code_lr_scale=1,
    /// training.linear_lr_scale=0.1, training.weight_decay=0.05, model.conv_norm=none,
    /// model.max_code_map_side=4 (their measured effects: docs/presets.md, docs/training.md).
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

/// The values the flags give over the preset or the config file.
fn overrides(args: &TrainArgs) -> Overrides {
    Overrides {
        data: args.data.clone(),
        size: args.size.as_deref().map(|s| [s[0], s[1]]),
        storage: args.storage,
        bad_images: args.bad_images,
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        // --latent-dim is a VAE's name for it (clap refuses both at once).
        code_length: args.latent_dim.or(args.code_length),
        linear_path: args.linear_path,
        code_norm: args.code_norm,
        code_activation: args.code_activation,
        holdout: args.holdout,
        seed: args.seed,
        noise: args.noise,
        loss: args.loss,
        sparsity: args.sparsity,
        split_by: args.split_by,
        normal: args.normal.clone(),
        labels: args.labels.clone(),
        model: args.model,
        beta: args.beta,
        kl_warmup_epochs: args.kl_warmup_epochs,
        augment: args.augment,
        dropout: args.dropout,
        early_stopping: args.early_stopping,
        set: args.set.clone(),
    }
}

/// The run's config: the preset or the file, the flags over it, and the rules the library
/// applies to them.
pub(crate) fn resolve_config(args: &TrainArgs) -> Result<RunConfig> {
    let start = match &args.config {
        Some(path) => Start::File(Box::new(RunConfig::from_toml_file(path)?)),
        None => Start::Preset(args.preset),
    };
    if args.latent_dim.is_some() {
        let kind = match &start {
            Start::Preset(preset) => RunConfig::preset(*preset).model.kind,
            Start::File(config) => config.model.kind,
        };
        if args.model.unwrap_or(kind) != ModelKind::Vae {
            bail!("--latent-dim is a VAE's code length: give it with --model vae, or use --code-length");
        }
    }
    Ok(RunConfig::resolve(start, &overrides(args))?)
}

pub(crate) fn default_run_dir(preset: Preset) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp = now.trim_end_matches('Z').replace([':', '-'], "").replace('T', "-");
    // Two runs started in the same second get -2, -3, … rather than a refusal.
    let free = |p: &Path| !p.exists() && !partial_of(p).exists();
    let base = PathBuf::from("runs").join(format!("{preset}-{stamp}"));
    (1..)
        .map(|k| if k == 1 { base.clone() } else { PathBuf::from(format!("{}-{k}", base.display())) })
        .find(|p| free(p))
        .expect("some suffix is free")
}

pub(crate) fn run(args: TrainArgs) -> Result<()> {
    let config = resolve_config(&args)?;
    let out = args.out.clone().unwrap_or_else(|| default_run_dir(config.preset));
    let bar = if std::io::stdout().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("  step {pos}/{len} {bar:30} {elapsed}").expect("a valid template"),
    );
    let on_event = |event: Event<'_>| {
        match event {
        Event::Start(config) => bar.suspend(|| println!("{}", config.summary_line())),
        Event::Step { done, total } => {
            if done == 1 {
                bar.reset();
                bar.set_length(total as u64);
            }
            bar.set_position(done as u64);
        }
        Event::Epoch(stats) => bar.suspend(|| println!("{}", stats.line())),
        Event::Saturation { epoch, fraction, saturated } => bar.suspend(|| {
            let percent = 100.0 * fraction;
            if saturated {
                eprintln!(
                    "note: epoch {epoch}: {percent:.0} % of the code is saturated at 0 or 1, so the encoder gets almost no \
                     gradient and the loss may stall; it may recover (see docs/code.md), or normalise the code (--code-norm batch)"
                )
            } else {
                eprintln!("note: epoch {epoch}: the code is no longer saturated ({percent:.0} %)")
            }
        }),
    }
    };
    let signal = interrupts()?;
    let stop = || signal.load(Ordering::Relaxed) != 0;
    if !(args.checkpoint_seconds.is_finite() && args.checkpoint_seconds >= 0.0) {
        bail!("--checkpoint-seconds must be 0 or more, got {}", args.checkpoint_seconds);
    }
    let job = Job { limit: memory_limit(), checkpoint_seconds: args.checkpoint_seconds, stop: &stop };
    let result = match &args.resume {
        // The resumed run's data were found (and downloaded) when it started.
        Some(dir) => train_resume(&args, dir, &job, on_event),
        None => crate::progress::fetch(&config.data).and_then(|()| Ok(train(&config, &out, &job, on_event)?)),
    };
    if let Err(e) = &result {
        if let Some(ae::Error::Interrupted { checkpoint, .. }) = e.downcast_ref::<ae::Error>() {
            bar.finish_and_clear();
            let partial = checkpoint.parent().unwrap_or(Path::new("."));
            eprintln!("{e}; resume with: ae train --resume {}", partial.display());
            std::process::exit(128 + signal.load(Ordering::Relaxed) as i32);
        }
    }
    let summary = result?;
    bar.finish_and_clear();
    let q = &summary.quality;
    println!(
        "Trained {} epochs ({} steps) in {:.1} s, {:.0} ms per step. {} {} images: {}.",
        summary.history.len(),
        summary.steps,
        summary.train_seconds,
        1000.0 * summary.train_seconds / summary.steps.max(1) as f64,
        if config.data.holdout > 0.0 { "Held-out" } else { "Training" },
        q.images,
        describe(q)
    );
    if let Some(noisy) = &summary.noisy_quality {
        println!("Denoising: noisy inputs {}; denoised {}.", describe(noisy), describe(q));
    }
    if let Some(b) = &summary.baseline {
        println!("{}", baseline_line(b, q));
    }
    if summary.baseline.is_some() && config.data.holdout > 0.0 {
        let at = |m: &Option<ae::record::Milestone>| {
            m.as_ref().map_or("not reached".into(), |m| {
                format!("reached at epoch {} ({:.1} s of training)", m.epoch, m.seconds)
            })
        };
        println!(
            "Held-out PSNR: PCA's {}; PCA's + 1 dB {}.",
            at(&summary.reached_pca),
            at(&summary.reached_pca_plus_1db)
        );
    }
    if let Some(t) = &summary.train_quality {
        println!(
            "Training images ({}, without augmentation): {}, loss per sample {:.4}.",
            t.images,
            describe(t),
            t.loss_per_sample
        );
    }
    if let Some(best) = &summary.best {
        let last = summary.history.last().map_or(0, |s| s.epoch);
        if summary.stopped_early {
            println!(
                "Stopped early after epoch {last}: no held-out improvement for {} epochs.",
                last - best.epoch
            );
        }
        println!(
            "Kept the model of epoch {} (lowest held-out loss per sample {:.4}; PSNR {}, SSIM {:.4}); \
             epoch {last}'s is {}.",
            best.epoch,
            best.holdout_loss,
            ae::evaluation::psnr_text(best.holdout_psnr_db),
            best.holdout_ssim,
            ae::record::LAST_MODEL
        );
    }
    // Notes scroll past in a long run: a code that ended saturated is said once more beside the
    // figures it explains.
    if let Some(last) = summary.history.last().filter(|s| s.code_saturated >= ae::training::SATURATION_NOTE) {
        let since = summary
            .history
            .iter()
            .rev()
            .take_while(|s| s.code_saturated >= ae::training::SATURATION_NOTE)
            .last()
            .map_or(last.epoch, |s| s.epoch);
        println!(
            "The code ended {:.0} % saturated at 0 or 1 (since epoch {since}): the encoder then learns almost \
             nothing, so these figures are those of a stalled model. Normalise the code (--code-norm batch), as \
             --preset tutorial-net does.",
            100.0 * last.code_saturated
        );
    }
    println!(
        "Run directory: {} (open {} in a browser)",
        summary.run_dir.display(),
        summary.run_dir.join(ae::report::REPORT).display()
    );
    Ok(())
}

/// `ae train`'s options alone: a run's flags as parsed, without the global ones.
#[derive(Parser)]
struct Bare {
    #[command(flatten)]
    args: TrainArgs,
}

/// `ae train --resume DIR`: only `--epochs` may change the run's config.
pub(crate) fn train_resume(
    args: &TrainArgs,
    dir: &Path,
    job: &Job<'_>,
    on_event: impl FnMut(Event<'_>),
) -> Result<ae::record::TrainSummary> {
    let defaults = Bare::parse_from(["ae train"]).args;
    let plain = |a: &TrainArgs| {
        let mut c = resolve_config(a)?;
        c.training.epochs = 0;
        anyhow::Ok(c)
    };
    if args.preset != defaults.preset || plain(args)? != plain(&defaults)? {
        bail!("--resume goes on with the run's own config.toml; only --epochs may be given with it");
    }
    Ok(resume(dir, args.epochs, job, on_event)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(flags: &[&str]) -> RunConfig {
        resolve_config(&Bare::parse_from([&["ae train"], flags].concat()).args).unwrap()
    }

    #[test]
    fn linear_path_turns_on_bare_and_off_with_false() {
        let path = |flags: &[&str]| {
            let m = resolved(flags).model;
            (m.linear_path, m.code_activation, m.code_norm)
        };
        use CodeActivation::{Auto, Identity};
        let tutorial = ["--preset", "tutorial-net"];
        let on_tutorial = |flags: &[&str]| path(&[&tutorial[..], flags].concat());
        assert_eq!(on_tutorial(&[]), (false, Auto, Norm::Batch));
        assert_eq!(on_tutorial(&["--linear-path"]), (true, Identity, Norm::None));
        assert_eq!(on_tutorial(&["--linear-path", "true"]), (true, Identity, Norm::None));
        // A said code stays as said (the model then refuses it with the path, by key).
        assert_eq!(on_tutorial(&["--linear-path", "--code-norm", "batch"]), (true, Identity, Norm::Batch));
        assert_eq!(
            on_tutorial(&["--code-activation", "sigmoid", "--linear-path"]),
            (true, CodeActivation::Sigmoid, Norm::None)
        );
        assert_eq!(path(&[]), (true, Identity, Norm::None));
        // Off, the deep network keeps its own linear code.
        assert_eq!(path(&["--linear-path", "false"]), (false, Identity, Norm::None));
        assert_eq!(on_tutorial(&["--linear-path", "false"]), (false, Auto, Norm::Batch));
        let said = resolved(&["--linear-path", "false", "--code-norm", "batch"]);
        assert_eq!(said.validate(), Ok(()));
    }

    #[test]
    fn the_default_preset_keeps_its_linear_path_where_the_run_can_carry_it() {
        let path = |flags: &[&str]| {
            let config = resolved(flags);
            assert_eq!(config.validate(), Ok(()), "{flags:?}");
            let m = config.model;
            (m.linear_path, m.code_activation, m.code_norm)
        };
        use CodeActivation::{Auto, Identity, Sigmoid};
        let noise = ["--noise", "gaussian:0.2"];
        let with_noise = |flags: &[&str]| path(&[&noise[..], flags].concat());
        assert_eq!(with_noise(&[]), (true, Identity, Norm::None));
        assert_eq!(path(&["--noise", "mask:0.3"]), (true, Identity, Norm::None));
        assert_eq!(path(&["--noise", "none"]), (true, Identity, Norm::None));
        // Off where the path does not fit, or the code was said otherwise.
        assert_eq!(with_noise(&["--linear-path", "false"]), (false, Identity, Norm::None));
        assert_eq!(with_noise(&["--loss", "bce"]), (false, Identity, Norm::None));
        assert_eq!(with_noise(&["--loss", "l1"]), (true, Identity, Norm::None));
        assert_eq!(with_noise(&["--sparsity", "0.01"]), (false, Sigmoid, Norm::Batch));
        assert_eq!(with_noise(&["--dropout", "0.1"]), (false, Identity, Norm::None));
        assert_eq!(with_noise(&["--model", "vae"]), (false, Sigmoid, Norm::None));
        assert_eq!(with_noise(&["--code-norm", "batch"]), (false, Identity, Norm::Batch));
        assert_eq!(with_noise(&["--code-activation", "sigmoid"]), (false, Sigmoid, Norm::None));
        // The other presets have none; a config file stays as written.
        assert_eq!(with_noise(&["--preset", "tutorial-net"]), (false, Auto, Norm::Batch));
        assert_eq!(with_noise(&["--preset", "seed"]), (false, Sigmoid, Norm::None));
        assert_eq!(path(&["--preset", "seed-denoise"]), (false, Sigmoid, Norm::None));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, RunConfig::preset(Preset::Default).to_toml()).unwrap();
        let config = ["--config", file.to_str().unwrap(), "--loss", "bce"];
        let err = resolve_config(&Bare::parse_from([&["ae train"], &config[..]].concat()).args).unwrap_err();
        assert!(err.to_string().starts_with("training.loss: a model with model.linear_path"), "{err}");
    }

    #[test]
    fn set_gives_any_setting_last_and_as_written() {
        let config = resolved(&["--set", "training.schedule=constant", "--set", "model.conv_norm=none"]);
        assert_eq!(
            (config.training.schedule, config.model.conv_norm),
            (ae::config::Schedule::Constant, Norm::None)
        );
        // After the rules: a code said through --set keeps the path, which the model then refuses.
        let config = resolved(&["--set", "model.code_norm=batch"]);
        assert!(config.model.linear_path && config.model.code_norm == Norm::Batch);
        let bad = Bare::parse_from(["ae train", "--set", "training.warmup=0"]).args;
        let err = resolve_config(&bad).unwrap_err().to_string();
        assert_eq!(err, "training.warmup: is not a setting of config.toml");
    }

    #[test]
    fn sparsity_makes_the_code_a_normalised_sigmoid_and_keeps_a_said_one() {
        let code = |flags: &[&str]| {
            let m = resolved(flags).model;
            (m.code_activation, m.code_norm)
        };
        use CodeActivation::{Auto, Identity, Sigmoid};
        assert_eq!(code(&[]), (Identity, Norm::None));
        assert_eq!(code(&["--sparsity", "0.01"]), (Sigmoid, Norm::Batch));
        assert_eq!(code(&["--sparsity", "0"]), (Identity, Norm::None));
        assert_eq!(code(&["--code-activation", "identity", "--sparsity", "0.01"]), (Identity, Norm::None));
        assert_eq!(code(&["--code-norm", "none", "--sparsity", "0.01"]), (Sigmoid, Norm::None));
        assert_eq!(code(&["--preset", "tutorial-net", "--sparsity", "0.01"]), (Sigmoid, Norm::Batch));
        assert_eq!(code(&["--preset", "tutorial-net"]), (Auto, Norm::Batch));
        // Every flag combination above must also pass validation.
        for flags in [&["--sparsity", "0.01"][..], &["--code-activation", "identity", "--sparsity", "0.01"]] {
            assert_eq!(resolved(flags).validate(), Ok(()));
        }
    }
}
