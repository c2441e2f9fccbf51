//! Architecture decisions: what a [`ModelConfig`] means for its input. A new run's config is
//! settled (stride-2 stages added for large images, the code's function and the decoder's first
//! map decided), then [`plan`] derives and checks every layer's shapes.

use super::batch_norm::BatchNorm;
use super::conv::Conv;
use super::dense::Dense;
use super::dropout::Dropout;
use super::layer::{Layer, LayerKind};
use super::sample::Sample;
use crate::config::{strides, CodeActivation, ConfigError, ConvSpec, ModelConfig, ModelKind, Norm};
use ae_engine::{Activation, ConvGeometry, Shape};

impl ModelConfig {
    /// The channels a new run's `decoder.project` gives the decoder's first feature map. With one
    /// channel the decoder started from 196 values whatever the code's length: MNIST at code 256
    /// reached 22.1 dB held-out, 23.2 with 16 channels; at code 32 (seed 0) 20.2 and 21.5 dB
    /// (bench/results/mnist.md). 16 channels start slower (2 epochs at code 32: 14.9 dB against 16.5).
    pub const PROJECT_CHANNELS: usize = 16;

    /// Settles for a new run what `decoder_input_channels = None` leaves to the input's shape: a
    /// code that does not reshape to the decoder's first feature map gets
    /// [`PROJECT_CHANNELS`](Self::PROJECT_CHANNELS), written into the run's files (where `None`
    /// keeps its older meaning, one channel).
    pub fn settle(&mut self) {
        self.fit_to_input();
        if self.decoder_input_channels.is_none() && self.projects_code() {
            self.decoder_input_channels = Some(Self::PROJECT_CHANNELS);
        }
        self.code_activation = self.code_function();
    }

    /// Whether a dense layer (`decoder.project`) maps the code to the decoder's first feature
    /// map, rather than the code being reshaped into it.
    pub fn projects_code(&self) -> bool {
        let (h0, w0) = self.decoder_start();
        self.decoder_input_channels.is_some() || !self.code_length.is_multiple_of((h0 * w0).max(1))
    }

    /// The code's function, [`CodeActivation::Auto`] resolved for this network.
    pub fn code_function(&self) -> CodeActivation {
        match self.code_activation {
            CodeActivation::Auto if self.projects_code() => CodeActivation::Identity,
            CodeActivation::Auto => CodeActivation::Sigmoid,
            other => other,
        }
    }

    /// Adds stride-2 stages while the encoder's last map is wider than
    /// [`max_code_map_side`](Self::max_code_map_side): the first stride-1 layer of the encoder and
    /// of the decoder becomes stride 2, or, when none is left, a layer as wide as the last is
    /// appended. The decoder must rebuild the input exactly from whole maps, so a stage is added
    /// only while the input's sides divide by the decoder's new upscale. Settled lists stay as they are.
    ///
    /// Stages the input's sides cannot rebuild go first: while the decoder's upscale does not
    /// divide them and it has more than one stride-2 stage, its first (coarsest) stage and the
    /// encoder's last become stride 1 (the `deep` preset's four stages on 28×28 MNIST: two).
    fn fit_to_input(&mut self) {
        let Some(side) = self.max_code_map_side else { return };
        let product = |specs: &[ConvSpec]| strides(specs).max(1);
        let [height, width, _] = self.input;
        // Whether the decoder can rebuild the input from whole maps at this upscale.
        let rebuilds = |up: usize| height.is_multiple_of(up) && width.is_multiple_of(up);
        let stages = |specs: &[ConvSpec]| specs.iter().filter(|s| s.stride == 2).count();
        while !rebuilds(product(&self.decoder)) && stages(&self.decoder) > 1 && stages(&self.encoder) > 1 {
            if let Some(spec) = self.decoder.iter_mut().find(|s| s.stride == 2) {
                spec.stride = 1;
            }
            if let Some(spec) = self.encoder.iter_mut().rev().find(|s| s.stride == 2) {
                spec.stride = 1;
            }
        }
        loop {
            let down = product(&self.encoder);
            if height.div_ceil(down).max(width.div_ceil(down)) <= side.max(1) {
                return;
            }
            if !rebuilds(product(&self.decoder).saturating_mul(2)) {
                return;
            }
            for specs in [&mut self.encoder, &mut self.decoder] {
                match specs.iter_mut().find(|s| s.stride == 1) {
                    Some(spec) => spec.stride = 2,
                    None => {
                        let filters = specs.last().map_or(16, |s| s.filters);
                        specs.push(ConvSpec { filters, stride: 2 });
                    }
                }
            }
        }
    }

    /// Height and width of the decoder's first feature map: the input's over the product of the
    /// decoder's strides (`model::plan` refuses strides that do not divide the input).
    pub fn decoder_start(&self) -> (usize, usize) {
        let upscale = strides(&self.decoder).max(1);
        (self.input[0] / upscale, self.input[1] / upscale)
    }
}

fn model_err(key: &str, problem: String) -> ConfigError {
    ConfigError::new(format!("model.{key}"), problem)
}

/// Derives every layer's shapes from the config, or says which value does not fit.
/// Bounds on a model's shape values, far above any model this CPU tool can train, so that every
/// size worked out from them fits in 64 bits (a config or a model file's metadata can say anything).
const MAX_SIDE: usize = 1 << 15;

const MAX_KERNEL: usize = 31;

const MAX_STRIDE: usize = 64;

const MAX_FILTERS: usize = 1 << 16;

const MAX_CODE: usize = 1 << 20;

const MAX_LAYERS: usize = 64;

pub fn plan(config: &ModelConfig) -> Result<(Vec<Layer>, usize), ConfigError> {
    let [height, width, channels] = config.input;
    if !(1..=MAX_SIDE).contains(&height) || !(1..=MAX_SIDE).contains(&width) || !(1..=4).contains(&channels) {
        return Err(model_err(
            "input",
            format!(
                "{height}×{width}×{channels} is not an image shape (sides 1 to {MAX_SIDE}, 1 to 4 channels)"
            ),
        ));
    }
    if config.kernel == 0 || config.kernel.is_multiple_of(2) || config.kernel > MAX_KERNEL {
        return Err(model_err(
            "kernel",
            format!("must be odd and at most {MAX_KERNEL}, got {}", config.kernel),
        ));
    }
    if config.encoder.is_empty() {
        return Err(model_err("encoder", "needs at least one layer".into()));
    }
    if !(1..=MAX_CODE).contains(&config.code_length) {
        return Err(model_err("code_length", format!("must be 1 to {MAX_CODE}, got {}", config.code_length)));
    }
    for (part, specs) in [("encoder", &config.encoder), ("decoder", &config.decoder)] {
        if specs.len() > MAX_LAYERS {
            return Err(model_err(part, format!("{} layers; at most {MAX_LAYERS}", specs.len())));
        }
        let wrong =
            |s: &ConvSpec| !(1..=MAX_FILTERS).contains(&s.filters) || !(1..=MAX_STRIDE).contains(&s.stride);
        if let Some((i, s)) = specs.iter().enumerate().find(|(_, s)| wrong(s)) {
            return Err(model_err(
                &format!("{part}[{i}]"),
                format!("filters must be 1 to {MAX_FILTERS} and stride 1 to {MAX_STRIDE}, got {s:?}"),
            ));
        }
    }
    if let Some(c) = config.decoder_input_channels.filter(|&c| !(1..=MAX_FILTERS).contains(&c)) {
        return Err(model_err("decoder_input_channels", format!("must be 1 to {MAX_FILTERS}, got {c}")));
    }
    if config.linear_path && !config.has_plain_linear_code() {
        return Err(model_err(
            "linear_path",
            "needs an autoencoder with a linear code: code_activation = \"identity\", code_norm = \"none\", dropout = 0 (or model.linear_path = false)".into(),
        ));
    }
    let padding = config.padding.into();
    let mut layers = Vec::new();
    // A hidden convolution's ReLU moves to its normalisation when it has one.
    let conv_norm = config.conv_norm == Norm::Batch;
    let hidden = if conv_norm { Activation::Identity } else { Activation::Relu };
    let normalise = |layers: &mut Vec<Layer>, name: String, map: Shape| {
        if conv_norm {
            let norm = BatchNorm { channels: map.channels, map: Some((map.height, map.width)) };
            layers.push(Layer { name, kind: LayerKind::BatchNorm(norm), activation: Activation::Relu });
        }
    };
    let mut shape = Shape::new(height, width, channels);
    for (i, spec) in config.encoder.iter().enumerate() {
        let g = ConvGeometry::same(shape, spec.filters, config.kernel, spec.stride, padding);
        layers.push(Layer {
            name: format!("encoder.conv{i}"),
            kind: LayerKind::Conv(Conv { geometry: g, transposed: false }),
            activation: hidden,
        });
        shape = g.small;
        normalise(&mut layers, format!("encoder.norm{i}"), shape);
    }
    let code_layer = layers.len();
    // The code is a vector; when it is reshaped for the decoder, it is in the engine's H, W, C order
    // (TensorFlow's), so the model file keeps its units in that order.
    let latent = config.code_length;
    if config.kind == ModelKind::Vae {
        // Two heads in one layer: per image μ (units 0..L) then log σ² (L..2L), then the sampling.
        let heads = Dense { input: shape, output: Shape::new(1, 1, 2 * latent) };
        layers.push(Layer {
            name: "code".into(),
            kind: LayerKind::Dense(heads),
            activation: Activation::Identity,
        });
        let sample = LayerKind::Sample(Sample { latent });
        layers.push(Layer { name: "sample".into(), kind: sample, activation: Activation::Identity });
    } else {
        let dense = Dense { input: shape, output: Shape::new(1, 1, latent) };
        let code = LayerKind::Dense(dense);
        let activation = match config.code_function() {
            CodeActivation::Identity => Activation::Identity,
            CodeActivation::Sigmoid | CodeActivation::Auto => Activation::Sigmoid,
        };
        if config.code_norm == Norm::Batch {
            // sigmoid(BN(x·W + b)): with a normalisation the code's function moves to it.
            layers.push(Layer { name: "code".into(), kind: code, activation: Activation::Identity });
            let norm = LayerKind::BatchNorm(BatchNorm { channels: latent, map: None });
            layers.push(Layer { name: "code_norm".into(), kind: norm, activation });
        } else {
            layers.push(Layer { name: "code".into(), kind: code, activation });
        }
    }
    if config.dropout != 0.0 {
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(model_err("dropout", format!("must be in [0, 1), got {}", config.dropout)));
        }
        if config.kind == ModelKind::Vae {
            return Err(model_err("dropout", "a VAE's code is sampled already: use 0".into()));
        }
        // On the code, after its sigmoid: the decoder learns not to lean on any one unit.
        let dropout = Dropout { len: config.code_length, p: config.dropout as f32 };
        layers.push(Layer {
            name: "code_dropout".into(),
            kind: LayerKind::Dropout(dropout),
            activation: Activation::Identity,
        });
    }

    // The decoder starts from the code reshaped to C×(H/P)×(W/P), P the product of its strides.
    let upscale = crate::config::strides(&config.decoder);
    if height % upscale != 0 || width % upscale != 0 {
        return Err(model_err(
            "decoder",
            format!("strides multiply to {upscale}, which does not divide the {height}×{width} input"),
        ));
    }
    let (h0, w0) = config.decoder_start();
    let mut shape = match config.decoder_input_channels {
        // The tutorial reshapes the code itself into the decoder's first feature map.
        None if config.code_length.is_multiple_of(h0 * w0) => {
            Shape::new(h0, w0, config.code_length / (h0 * w0))
        }
        // Otherwise a dense ReLU layer maps the code to a C×h0×w0 feature map (C = 1: older
        // files; new runs record theirs, see `ModelConfig::settle`).
        channels => {
            let start = Shape::new(h0, w0, channels.unwrap_or(1));
            if start.channels == 0 {
                return Err(model_err("decoder_input_channels", "must be at least 1".into()));
            }
            let project = Dense { input: Shape::new(1, 1, config.code_length), output: start };
            layers.push(Layer {
                name: "decoder.project".into(),
                kind: LayerKind::Dense(project),
                activation: Activation::Relu,
            });
            start
        }
    };
    let last = config.decoder.len();
    let outputs =
        config.decoder.iter().copied().chain([crate::config::ConvSpec { filters: channels, stride: 1 }]);
    for (i, spec) in outputs.enumerate() {
        let big = Shape::new(shape.height * spec.stride, shape.width * spec.stride, spec.filters);
        let g = ConvGeometry::same(big, shape.channels, config.kernel, spec.stride, padding);
        debug_assert_eq!(g.small, shape);
        // The output sigmoid is applied by the model, fused with the loss (see `Activations`).
        let activation = if i == last { Activation::Identity } else { hidden };
        layers.push(Layer {
            name: format!("decoder.convt{i}"),
            kind: LayerKind::Conv(Conv { geometry: g, transposed: true }),
            activation,
        });
        shape = big;
        if i != last {
            normalise(&mut layers, format!("decoder.norm{i}"), shape);
        }
    }
    debug_assert_eq!(shape, Shape::new(height, width, channels));
    if config.linear_path {
        // Beside the chain, after it in the list (see `Autoencoder::chain`).
        let (image, code) = (shape, Shape::new(1, 1, latent));
        for (name, input, output) in [("linear.encode", image, code), ("linear.decode", code, image)] {
            let kind = LayerKind::Dense(Dense { input, output });
            layers.push(Layer { name: name.into(), kind, activation: Activation::Identity });
        }
    }
    Ok((layers, code_layer))
}
