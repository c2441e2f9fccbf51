//! What a user changes of a preset or of a config file, and the rules that follow from a change,
//! in one place: the command line fills an [`Overrides`] from its flags and the library settles
//! the run's config, so that a program using the library gets the run `ae train` would.

use super::{BadImages, Loss, NormalClasses, SplitBy, Storage};
use super::{CodeActivation, ConfigError, DataConfig, DatasetName, ModelKind, Norm, Preset, RunConfig};
use crate::augment::Augment;
use crate::noise::Noise;
use std::path::{Path, PathBuf};

/// Where a run's config starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    Preset(Preset),
    /// A config file's contents (a run's `config.toml`), taken as written.
    File(Box<RunConfig>),
}

/// The values a user gives over the starting config; `None` keeps the start's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// A dataset's name, or a path (see [`DataConfig::point_at`]).
    pub data: Option<String>,
    pub size: Option<[usize; 2]>,
    pub storage: Option<Storage>,
    pub bad_images: Option<BadImages>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub learning_rate: Option<f64>,
    /// The code's length (a VAE's latent units).
    pub code_length: Option<usize>,
    pub linear_path: Option<bool>,
    pub code_norm: Option<Norm>,
    pub code_activation: Option<CodeActivation>,
    pub holdout: Option<f64>,
    pub seed: Option<u64>,
    pub noise: Option<Noise>,
    pub loss: Option<Loss>,
    pub sparsity: Option<f64>,
    pub split_by: Option<SplitBy>,
    /// One-class training: keep only the images of these classes ([`DataConfig::normal`]).
    pub normal: Option<Vec<u8>>,
    /// The labels file for `normal` [default: the IDX labels file beside the images].
    pub labels: Option<PathBuf>,
    pub model: Option<ModelKind>,
    pub beta: Option<f64>,
    pub kl_warmup_epochs: Option<usize>,
    pub augment: Option<Augment>,
    pub dropout: Option<f64>,
    pub early_stopping: Option<usize>,
    /// Settings without a field here, `table.key=value` as in `config.toml`
    /// ([`RunConfig::set`]), applied last and taken as written.
    pub set: Vec<String>,
}

impl DataConfig {
    /// Points the data at `data`: a dataset by name unless a file of that name exists, else a
    /// path. The presets' 32×32 is the tutorial's size for the faces; without `size` other data
    /// keep their own size.
    pub fn point_at(&mut self, data: &str, size: Option<[usize; 2]>) {
        let named =
            data.to_ascii_lowercase().parse::<DatasetName>().ok().filter(|_| !Path::new(data).exists());
        match named {
            Some(name) => {
                self.dataset = name;
                self.path = None;
            }
            None => self.path = Some(PathBuf::from(data)),
        }
        if size.is_some() {
            self.size = size;
        } else if !crate::data::is_olivetti(self) {
            self.size = None;
        }
    }
}

impl RunConfig {
    /// The run `start` and `overrides` make, with the rules that follow from them, validated.
    pub fn resolve(start: Start, o: &Overrides) -> Result<RunConfig, ConfigError> {
        let (mut config, preset) = match start {
            Start::Preset(preset) => (RunConfig::preset(preset), Some(preset)),
            Start::File(config) => (*config, None),
        };
        if let Some(data) = &o.data {
            config.data.point_at(data, o.size);
        }
        let (data, model, training) = (&mut config.data, &mut config.model, &mut config.training);
        set(&mut data.size, o.size.map(Some));
        set(&mut data.storage, o.storage);
        set(&mut data.bad_images, o.bad_images);
        set(&mut training.epochs, o.epochs);
        set(&mut training.batch_size, o.batch_size);
        set(&mut training.learning_rate, o.learning_rate);
        set(&mut model.code_length, o.code_length);
        // Before the code's own values, so that a said code overrides the one the path brings.
        match o.linear_path {
            Some(true) => model.add_linear_path(),
            Some(false) => model.linear_path = false,
            None => {}
        }
        set(&mut model.code_norm, o.code_norm);
        set(&mut model.code_activation, o.code_activation);
        set(&mut data.holdout, o.holdout);
        set(&mut training.seed, o.seed);
        set(&mut config.noise, o.noise);
        set(&mut training.loss, o.loss);
        if let Some(v) = o.sparsity {
            training.sparsity = v;
            // On a linear code an L1 penalty only shrinks the code's scale, which the decoder undoes;
            // a sigmoid code without normalisation saturates on some seeds (docs/code.md).
            if v != 0.0 && o.code_activation.is_none() && model.code_activation != CodeActivation::Sigmoid {
                model.code_activation = CodeActivation::Sigmoid;
                model.code_norm = o.code_norm.unwrap_or(Norm::Batch);
            }
        }
        set(&mut data.split, o.split_by);
        // Recorded absolute, as the images' path is, so the run finds it from anywhere.
        let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        match (&o.normal, o.labels.clone().map(absolute)) {
            (Some(classes), labels) => {
                let beside = || data.path.as_deref().and_then(crate::data::labels_beside).map(absolute);
                let Some(labels) = labels.or_else(beside) else {
                    return Err(ConfigError::new(
                        "data.normal",
                        "needs a labels file with one label per image",
                    )
                    .mentioning(&["data.normal.labels"]));
                };
                data.normal = Some(NormalClasses { labels, classes: classes.clone() });
            }
            (None, labels) if data.normal.is_some() => {
                // A config file's classes are labelled for its own images.
                if o.data.is_some() && labels.is_none() {
                    return Err(ConfigError::new(
                        "data.normal",
                        "the config's classes are labelled for its own images: give --normal (and --labels) with other data",
                    ));
                }
                if let (Some(normal), Some(labels)) = (data.normal.as_mut(), labels) {
                    normal.labels = labels;
                }
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "data.normal.labels",
                    "names the classes' labels: give the classes too",
                )
                .mentioning(&["data.normal"]));
            }
            (None, None) => {}
        }
        if let Some(kind) = o.model {
            model.kind = kind;
            if kind == ModelKind::Vae {
                // The presets' code is the tutorial's; a VAE's is a small Gaussian.
                model.code_length = o.code_length.unwrap_or(16);
                model.code_norm = o.code_norm.unwrap_or(Norm::None);
                // A VAE's code is its sampled Gaussian; the autoencoder's code function does not apply.
                model.code_activation = CodeActivation::Sigmoid;
            }
        }
        set(&mut training.beta, o.beta);
        set(&mut training.kl_warmup_epochs, o.kl_warmup_epochs);
        // A preset's augmentation by data (a said `--augment` is set just below). Its flips are
        // the faces': digits are not mirror images of digits (flips with shifts cost MNIST 1.6 dB
        // at code 256 with the tutorial's network), while shifts alone gave the default network
        // +1.3 dB there (bench/results/quality.md, deep.md), so other data keep the shifts only.
        // A one-class run models its normal images as tightly as it can: shifted copies teach it
        // the other digits too (`bench/anomaly.sh`: the error's mean AUROC 94.03 with shifts,
        // 96.77 without, PCA's 95.69), so it is not augmented.
        if preset.is_some() {
            if data.normal.is_some() {
                training.augment = Augment::default();
            } else if !crate::data::is_olivetti(data) {
                training.augment.flip = false;
            }
        }
        set(&mut training.augment, o.augment);
        set(&mut model.dropout, o.dropout);
        set(&mut training.early_stopping, o.early_stopping);
        // A preset's linear path goes where the run asks for what the path cannot carry (another
        // loss, a VAE, a sparse or dropped-out or non-linear code): the network then learns alone.
        // Said outright (`--linear-path`), it stays, and the model refuses what it cannot carry.
        if preset.is_some() && o.linear_path.is_none() && !config.model.carries_linear_path(&config.training)
        {
            config.model.linear_path = false;
        }
        for assignment in &o.set {
            config.set(assignment)?;
        }
        config.validate()?;
        Ok(config)
    }
}

/// `*field = value` where a value is given.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(start: Start, overrides: Overrides) -> RunConfig {
        RunConfig::resolve(start, &overrides).unwrap()
    }

    #[test]
    fn a_library_user_gets_the_rules_the_command_line_applies() {
        let default = || Start::Preset(Preset::Default);
        // The default's linear path stays for a denoiser and goes where the run cannot carry it;
        // a config file stays as written.
        let noisy = || Overrides { noise: Some(Noise::Gaussian { sigma: 0.2 }), ..Default::default() };
        let denoiser = resolved(default(), noisy());
        assert!(denoiser.model.linear_path && denoiser.model.code_activation == CodeActivation::Identity);
        let bce = resolved(default(), Overrides { loss: Some(Loss::Bce), ..noisy() });
        assert!(!bce.model.linear_path);
        let file = || Start::File(Box::new(RunConfig::preset(Preset::Default)));
        let err = RunConfig::resolve(file(), &Overrides { loss: Some(Loss::Bce), ..noisy() }).unwrap_err();
        assert_eq!(err.key, "training.loss");
        assert!(!resolved(Start::Preset(Preset::TutorialNet), noisy()).model.linear_path);
        // Other data keep their size and the preset's shifts but are not flipped, unless said.
        let mnist = resolved(default(), Overrides { data: Some("MNIST".into()), ..Default::default() });
        assert_eq!(
            (mnist.data.dataset, mnist.data.path.clone(), mnist.data.size),
            (DatasetName::Mnist, None, None)
        );
        assert_eq!(mnist.training.augment, Augment { flip: false, shift: 2 });
        assert_eq!(
            resolved(default(), Overrides::default()).training.augment,
            Augment { flip: true, shift: 2 }
        );
        let seed = resolved(
            Start::Preset(Preset::Seed),
            Overrides { data: Some("mnist".into()), ..Default::default() },
        );
        assert!(seed.training.augment.is_none(), "the literal presets augment nothing");
        // A one-class run is not augmented unless said.
        let one_class = |augment| Overrides {
            data: Some("mnist".into()),
            normal: Some(vec![3]),
            labels: Some("/a/labels".into()),
            augment,
            ..Default::default()
        };
        assert!(resolved(default(), one_class(None)).training.augment.is_none());
        let shifts = Augment { flip: false, shift: 1 };
        assert_eq!(resolved(default(), one_class(Some(shifts))).training.augment, shifts);
        let said = Augment { flip: true, shift: 0 };
        let augmented = Overrides { data: Some("mnist".into()), augment: Some(said), ..Default::default() };
        assert_eq!(resolved(default(), augmented).training.augment, said);
        // A VAE's code is 16 units and not normalised unless said, without the path; a sparse
        // code is a normalised sigmoid's.
        let vae = resolved(default(), Overrides { model: Some(ModelKind::Vae), ..Default::default() });
        assert_eq!(
            (vae.model.code_length, vae.model.code_norm, vae.model.linear_path),
            (16, Norm::None, false)
        );
        let sparse = resolved(default(), Overrides { sparsity: Some(0.01), ..Default::default() });
        assert_eq!(
            (sparse.model.code_activation, sparse.model.code_norm, sparse.model.linear_path),
            (CodeActivation::Sigmoid, Norm::Batch, false)
        );
        // And the result is validated, by key.
        let err =
            RunConfig::resolve(default(), &Overrides { epochs: Some(0), ..Default::default() }).unwrap_err();
        assert_eq!(err.key, "training.epochs");
        // A config file's classes go with its own images: other data must say theirs; new labels
        // for the same classes are taken.
        let mut one_class = RunConfig::preset(Preset::Default);
        one_class.data.normal = Some(NormalClasses { labels: "/a/labels".into(), classes: vec![3] });
        let file = || Start::File(Box::new(one_class.clone()));
        let other = Overrides { data: Some("/b/images.npy".into()), ..Default::default() };
        assert_eq!(RunConfig::resolve(file(), &other).unwrap_err().key, "data.normal");
        let relabelled =
            resolved(file(), Overrides { labels: Some("/c/labels".into()), ..Default::default() });
        assert_eq!(
            relabelled.data.normal.unwrap(),
            NormalClasses { labels: "/c/labels".into(), classes: vec![3] }
        );
        // A seed TOML cannot write, and a sparsity penalty on the path's code, are refused by key
        // (through `--set` too, which writes the config as TOML).
        let huge = Overrides { seed: Some(u64::MAX), ..Default::default() };
        assert_eq!(RunConfig::resolve(default(), &huge).unwrap_err().key, "training.seed");
        let set =
            Overrides { seed: Some(u64::MAX), set: vec!["training.epochs=5".into()], ..Default::default() };
        assert_eq!(RunConfig::resolve(default(), &set).unwrap_err().key, "training.epochs");
        let sparse = Overrides { set: vec!["training.sparsity=0.01".into()], ..Default::default() };
        assert_eq!(RunConfig::resolve(default(), &sparse).unwrap_err().key, "training.sparsity");
    }
}
