//! The network's description: layers, code and normalisation. What it means for a given input
//! (the stages it adds, the code's function, the plan of layers) is decided in `model::arch`.

use super::choice::choices;
use super::training::is_zero_f64;
use ae_engine::Padding;
use serde::{Deserialize, Serialize};

/// Padding of the "same" convolutions, serialisable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaddingMode {
    /// TensorFlow: a stride-2 layer pads only bottom/right.
    TfSame,
    /// PyTorch's `padding=1` (with `output_padding=1` on a stride-2 transposed conv).
    Symmetric,
}

impl From<PaddingMode> for Padding {
    fn from(p: PaddingMode) -> Self {
        match p {
            PaddingMode::TfSame => Padding::TfSame,
            PaddingMode::Symmetric => Padding::Symmetric,
        }
    }
}

/// What normalises a layer's pre-activations before its activation (the code's, or the hidden
/// convolutions').
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// Nothing: the tutorial's `sigmoid(x·W + b)` for the code, which can saturate within a few steps.
    #[default]
    None,
    /// Batch normalisation (`NAME.weight`/`bias`/`running_mean`/`running_var`, PyTorch's
    /// `BatchNorm1d` on the code, `BatchNorm2d` on a feature map): batch statistics in training,
    /// running estimates at inference.
    Batch,
}

impl Norm {
    fn is_none(&self) -> bool {
        *self == Norm::None
    }
}

/// The function that makes an autoencoder's code from its (normalised) pre-activations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeActivation {
    /// The tutorial's: every unit in (0, 1).
    #[default]
    Sigmoid,
    /// None: a linear code, as PCA's coefficients are; nothing to saturate.
    Identity,
    /// The default preset's: the sigmoid where the decoder reads the code as its first feature
    /// map (the tutorial's reshape), identity where a dense layer projects it there (other
    /// lengths and sizes, e.g. MNIST). Measured: a linear projected code gains 1.7-5 dB held-out
    /// (faces at code 32, MNIST at 32 and 256), a linear reshaped code loses 0.5 dB on the faces
    /// (bench/results/code.md). A new run's `config.toml` records which ([`ModelConfig::settle`]).
    Auto,
}

impl CodeActivation {
    fn is_sigmoid(&self) -> bool {
        *self == CodeActivation::Sigmoid
    }
}

/// What the code is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A deterministic code, `sigmoid(x·W + b)` (normalised or not).
    #[default]
    Autoencoder,
    /// A variational autoencoder: the code layer gives μ and log σ² of a Gaussian code of
    /// `code_length` units, sampled in training (`z = μ + σ·ε`) and its mean at inference; the loss
    /// adds β·KL(q(z|x) ‖ N(0, I)).
    Vae,
}

impl ModelKind {
    fn is_autoencoder(&self) -> bool {
        *self == ModelKind::Autoencoder
    }
}

/// One convolution of the encoder or decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    pub filters: usize,
    pub stride: usize,
}

/// The architecture; [`crate::model::Autoencoder::new`] derives and checks every shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// An autoencoder (absent in older files) or a VAE.
    #[serde(default, skip_serializing_if = "ModelKind::is_autoencoder")]
    pub kind: ModelKind,
    /// Input height, width and channels.
    pub input: [usize; 3],
    pub kernel: usize,
    pub padding: PaddingMode,
    /// Convolutions (ReLU) from the input down to the code.
    pub encoder: Vec<ConvSpec>,
    /// Units of the dense sigmoid code.
    pub code_length: usize,
    /// Normalisation of the code's pre-activations (absent in files written before it existed: none).
    #[serde(default)]
    pub code_norm: Norm,
    /// An autoencoder's code function (absent: the sigmoid); a VAE's code is its Gaussian sample.
    #[serde(default, skip_serializing_if = "CodeActivation::is_sigmoid")]
    pub code_activation: CodeActivation,
    /// Normalisation of every hidden convolution's output before its ReLU (`encoder.normI`,
    /// `decoder.normI`; absent: none).
    #[serde(default, skip_serializing_if = "Norm::is_none")]
    pub conv_norm: Norm,
    /// Channels of the decoder's first feature map when a dense ReLU layer ("decoder.project")
    /// maps the code to it. `None`: the code is reshaped as in the tutorial when its length is a
    /// multiple of that map's pixels, and projected otherwise: to one channel in files written
    /// before [`ModelConfig::settle`] recorded [`ModelConfig::PROJECT_CHANNELS`] in new runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder_input_channels: Option<usize>,
    /// Transposed convolutions (ReLU) from the reshaped code up; a final sigmoid layer back to the
    /// input's channels is added after them.
    pub decoder: Vec<ConvSpec>,
    /// Fits the layers to a new run's input: stride-2 stages are added to the encoder and the
    /// decoder until the map the code layer reads is at most this many pixels a side, so the code
    /// layer stops growing with the image's area (see [`ModelConfig::settle`]). Absent (the seed
    /// presets, files written before it): the layers as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_code_map_side: Option<usize>,
    /// Dropout on an autoencoder's code in training (the probability a unit is zeroed; 0: none).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub dropout: f64,
    /// A linear encoder and decoder beside the network (`linear.encode`, `linear.decode`), their
    /// outputs added to the code and to the output, which is then linear and clipped to [0, 1]
    /// rather than a sigmoid. A new run starts them at PCA of its training images with the
    /// network's last layers at zero, so it starts as PCA at the code's length and trains the
    /// network as a correction to it (absent: none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub linear_path: bool,
}

/// The product of the layers' strides, saturating (a config can ask for anything; `plan` refuses
/// what does not fit).
pub fn strides(specs: &[ConvSpec]) -> usize {
    specs.iter().fold(1usize, |p, s| p.saturating_mul(s.stride))
}

impl ModelConfig {
    /// Whether any layer normalises over the batch (a single image then has no statistics).
    pub fn has_batch_norm(&self) -> bool {
        self.code_norm == Norm::Batch || self.conv_norm == Norm::Batch
    }

    /// Whether the code is what the linear path adds to: an autoencoder's, linear, not normalised,
    /// nothing dropped (a function or normalisation after the sum would bend or rescale PCA's
    /// coordinates, and dropout would drop them).
    pub fn has_plain_linear_code(&self) -> bool {
        self.kind == ModelKind::Autoencoder
            && self.code_function() == CodeActivation::Identity
            && self.code_norm == Norm::None
            && self.dropout == 0.0
    }

    /// Whether a run of this model with `training` can keep a linear path: a plain linear code,
    /// a loss other than cross-entropy (the path's output is linear, not a sigmoid's) and no
    /// sparsity penalty (PCA's coordinates are not sparse).
    pub fn carries_linear_path(&self, training: &super::TrainingConfig) -> bool {
        self.has_plain_linear_code() && training.loss != super::Loss::Bce && training.sparsity == 0.0
    }

    /// Adds the linear path with the plain linear code it needs.
    pub fn add_linear_path(&mut self) {
        self.linear_path = true;
        self.code_activation = CodeActivation::Identity;
        self.code_norm = Norm::None;
    }

    /// The tutorial's network: conv 16/2, 32, 64, 128 → dense 256 → 1×16×16 → convT 128/2, 64, 32 → 1.
    pub fn tutorial(padding: PaddingMode) -> Self {
        let conv = |filters, stride| ConvSpec { filters, stride };
        Self {
            kind: ModelKind::Autoencoder,
            input: [32, 32, 1],
            kernel: 3,
            padding,
            encoder: vec![conv(16, 2), conv(32, 1), conv(64, 1), conv(128, 1)],
            code_length: 256,
            code_norm: Norm::None,
            code_activation: CodeActivation::Sigmoid,
            conv_norm: Norm::None,
            decoder_input_channels: None,
            decoder: vec![conv(128, 2), conv(64, 1), conv(32, 1)],
            max_code_map_side: None,
            dropout: 0.0,
            linear_path: false,
        }
    }
}

choices!(Norm: None, Batch);
choices!(CodeActivation: Sigmoid, Identity, Auto);
choices!(ModelKind: Autoencoder, Vae);
