//! The convolutional autoencoder: layers derived and checked from a [`ModelConfig`], Glorot-uniform
//! weights, and forward/backward passes over reusable buffers. Each layer kind is a [`Part`] in a
//! module of its own (see `layer.rs`).

mod arch;
mod batch_norm;
mod conv;
mod dense;
mod describe;
mod dropout;
mod layer;
mod objective;
mod sample;

pub use arch::plan;
pub use batch_norm::BatchNorm;
pub use conv::Conv;
pub use dense::Dense;
pub use describe::{ActivationName, Description, Op, Order, Step};
pub use dropout::Dropout;
pub use layer::{Backward, Cache, Forward, Layer, LayerKind, Mode, Part, TensorLayout, PARAM_NAMES};
pub use objective::{objective, CodeSums, Deterministic, Objective, Variational};
pub use sample::Sample;

use crate::config::{ConfigError, ModelConfig, ModelKind};
use crate::memory::MemoryNeed;
use ae_engine::{
    dense_backward_adam, Activation, AdamStep, AlignedVec, ParamGrads, RunningStats, Shape, Workspace,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The network and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoencoder {
    pub config: ModelConfig,
    pub layers: Vec<Layer>,
    /// Weight then bias of each layer, in the engine's layouts (see `checkpoint` for PyTorch's).
    pub params: Vec<Vec<f32>>,
    /// Index of the dense code layer.
    pub code_layer: usize,
    /// The running estimates of each batch-normalisation layer (`None` for other layers).
    pub running: Vec<Option<RunningStats>>,
    /// How many of `layers` run in sequence from the input to the output; the rest are the
    /// linear path beside them (`linear.encode`, `linear.decode`; see `ModelConfig::linear_path`).
    pub chain: usize,
}

impl Autoencoder {
    /// A freshly initialised model: Glorot-uniform weights and zero biases (TensorFlow's defaults).
    pub fn new(config: &ModelConfig, seed: u64) -> Result<Self, ConfigError> {
        let mut model = Self::zeros(config)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for (layer, weight) in model.layers.iter().zip(model.params.iter_mut().step_by(2)) {
            layer.part().init(weight, &mut rng);
        }
        if model.linear_path().is_some() {
            // The network starts silent, so the model starts as its linear path (PCA, once
            // `start_linear_path` has set it) and trains the network as a correction.
            let last = model.chain - 1;
            for layer in [model.code_layer, last] {
                model.params[2 * layer].fill(0.0);
            }
        }
        Ok(model)
    }

    /// The indices of `linear.encode` and `linear.decode`, when the model has the linear path.
    pub fn linear_path(&self) -> Option<(usize, usize)> {
        (self.chain < self.layers.len()).then_some((self.chain, self.chain + 1))
    }

    /// Starts the linear path at a PCA of `directions` directions (`basis(i, j)`: value `i` of
    /// direction `j`, pixels in the engine's H, W, C order): the code gains
    /// `x·direction_j − start.offsets[j]` and the output `mean + Σ_j start.gains[j]·code_j·direction_j`;
    /// code units past `directions` get nothing.
    pub fn start_linear_path(
        &mut self,
        mean: &[f64],
        directions: usize,
        basis: impl Fn(usize, usize) -> f64,
        start: &crate::baseline::LinearStart,
    ) {
        let Some((encode, decode)) = self.linear_path() else { return };
        let (d, k) = (self.input_len(), self.config.code_length);
        assert_eq!(mean.len(), d, "a PCA of other images");
        let value = |i: usize, j: usize| if j < directions { basis(i, j) } else { 0.0 };
        let per_unit = |v: &[f64], j: usize| if j < directions { v[j] } else { 0.0 };
        // The engine's dense weights are `[inputs, outputs]`, row-major.
        let pairs = |rows: usize, cols: usize| (0..rows).flat_map(move |r| (0..cols).map(move |c| (r, c)));
        self.params[2 * encode] = pairs(d, k).map(|(i, j)| value(i, j) as f32).collect();
        self.params[2 * encode + 1] = (0..k).map(|j| -per_unit(&start.offsets, j) as f32).collect();
        self.params[2 * decode] =
            pairs(k, d).map(|(j, i)| (per_unit(&start.gains, j) * value(i, j)) as f32).collect();
        self.params[2 * decode + 1] = mean.iter().map(|&m| m as f32).collect();
    }

    /// What the output layer's values become.
    pub fn output(&self) -> Output {
        if self.config.linear_path {
            Output::Clipped
        } else {
            Output::Sigmoid
        }
    }

    /// The reconstruction for the output layer's values `logits` (see [`Output`]).
    pub fn output_into(&self, logits: &[f32], out: &mut [f32]) {
        match self.output() {
            Output::Sigmoid => Activation::Sigmoid.apply_into(logits, out),
            Output::Clipped => out.iter_mut().zip(logits).for_each(|(o, &l)| *o = l.clamp(0.0, 1.0)),
        }
    }

    /// What a model of `config` and its buffers for batches of `batch` images will take, worked
    /// out from the shapes alone: with `training`, the gradients, Adam's moments and the output
    /// gradients too; the kernels' scratch for a workspace of `parts` parts (threads).
    pub fn memory_need(
        config: &ModelConfig,
        batch: usize,
        parts: usize,
        training: bool,
    ) -> Result<MemoryNeed, ConfigError> {
        let (layers, _) = plan(config)?;
        let f32s = |values: u64| values.saturating_mul(4);
        let params: u64 = layers
            .iter()
            .flat_map(|l| l.part().tensors())
            .map(|t| t.values() as u64)
            .fold(0, u64::saturating_add);
        let image = config.input.iter().fold(1u64, |n, &d| n.saturating_mul(d as u64));
        // Each layer's output, and the reconstruction.
        let outputs = layers.iter().map(|l| l.output_len() as u64).fold(image, u64::saturating_add);
        // Training: their gradients too, and the linear path's share of the code's.
        let outputs = match training {
            true => outputs
                .saturating_mul(2)
                .saturating_add(config.linear_path as u64 * config.code_length as u64),
            false => outputs,
        };
        let activations = outputs.saturating_mul(batch as u64);
        let scratch = layers.iter().map(|l| l.part().scratch(batch, parts) as u64).max().unwrap_or(0);
        let copies = if training { 4 } else { 1 };
        Ok(MemoryNeed {
            parameters: f32s(params.saturating_mul(copies)),
            activations: f32s(activations),
            scratch: f32s(scratch),
            data: 0,
            other: 0,
        })
    }

    /// What [`Autoencoder::decode_logits`] takes for `count` codes beyond the parameters: two
    /// consecutive decoder layers' outputs at a time, and their kernels' scratch.
    pub fn decoding_need(
        config: &ModelConfig,
        count: usize,
        parts: usize,
    ) -> Result<MemoryNeed, ConfigError> {
        let (layers, code_layer) = plan(config)?;
        let skip = match layers.get(code_layer + 1).map(|l| l.kind) {
            Some(LayerKind::BatchNorm(_) | LayerKind::Sample(_)) => code_layer + 2,
            _ => code_layer + 1,
        };
        let decoder = &layers[skip.min(layers.len())..];
        let outputs = decoder.iter().map(|l| l.output_len() as u64);
        let pairs = outputs.clone().zip(outputs.skip(1)).map(|(a, b)| a + b);
        let widest = pairs.chain(decoder.iter().map(|l| l.output_len() as u64)).max().unwrap_or(0);
        let scratch = decoder.iter().map(|l| l.part().scratch(count, parts) as u64).max().unwrap_or(0);
        Ok(MemoryNeed {
            activations: widest.saturating_mul(count as u64).saturating_mul(4),
            scratch: scratch.saturating_mul(4),
            ..MemoryNeed::default()
        })
    }

    /// A model with every parameter zero, to be filled from a checkpoint.
    pub fn zeros(config: &ModelConfig) -> Result<Self, ConfigError> {
        let (layers, code_layer) = plan(config)?;
        let params = layers.iter().flat_map(|l| l.part().tensors().map(|t| vec![0.0; t.values()])).collect();
        let running = layers.iter().map(|l| l.part().running_stats()).collect();
        let chain = layers.len() - if config.linear_path { 2 } else { 0 };
        Ok(Self { config: config.clone(), layers, params, code_layer, running, chain })
    }

    /// Index of the layer whose output is the code: the code layer, its normalisation, or a VAE's
    /// sampling.
    pub fn code_output(&self) -> usize {
        match self.layers.get(self.code_layer + 1).map(|l| l.kind) {
            Some(LayerKind::BatchNorm(_) | LayerKind::Sample(_)) => self.code_layer + 1,
            _ => self.code_layer,
        }
    }

    /// Whether the code is a VAE's sampled Gaussian.
    pub fn is_variational(&self) -> bool {
        self.config.kind == ModelKind::Vae
    }

    /// Whether a batch of one image can be trained (batch normalisation needs two or more).
    pub fn trains_on_single_images(&self) -> bool {
        self.running.iter().all(Option::is_none)
    }

    /// Folds the batch statistics of the last training-mode forward pass into the running estimates.
    pub fn track_running_stats(&mut self, acts: &Activations) {
        for (running, cache) in self.running.iter_mut().zip(&acts.caches) {
            if let Some(running) = running {
                running.update(&cache.stats);
            }
        }
    }

    pub fn input_shape(&self) -> Shape {
        let [h, w, c] = self.config.input;
        Shape::new(h, w, c)
    }

    pub fn input_len(&self) -> usize {
        self.input_shape().len()
    }

    /// Every parameter's name in the model file (`encoder.conv0.weight`, …), in `params` order.
    pub fn param_names(&self) -> Vec<String> {
        self.layers.iter().flat_map(|l| PARAM_NAMES.map(|p| format!("{}.{p}", l.name))).collect()
    }

    /// For each parameter tensor (as in [`param_names`](Self::param_names)), whether weight
    /// decay applies to it.
    pub fn decays(&self) -> Vec<bool> {
        self.layers.iter().flat_map(|l| [l.part().weight_decays(), false]).collect()
    }

    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(Vec::len).sum()
    }

    /// Multiply-adds of one image's forward pass.
    pub fn macs_per_image(&self) -> usize {
        self.layers.iter().map(Layer::macs).sum()
    }

    /// Runs every layer on `input` (a batch of up to `acts.capacity` images). With `train`,
    /// normalisations use the batch's statistics (kept in `acts` for the backward pass and for
    /// [`track_running_stats`](Self::track_running_stats)); without, their running estimates.
    pub fn forward(&self, input: &[f32], acts: &mut Activations, ws: &mut Workspace, train: bool) {
        let n = self.batch_len(input, acts.capacity);
        acts.batch = n;
        let linear = self.linear_path();
        let mut folded = false;
        for (i, layer) in self.layers[..self.chain].iter().enumerate() {
            if std::mem::take(&mut folded) {
                continue;
            }
            let (before, rest) = acts.outputs.split_at_mut(i);
            let x = if i == 0 { input } else { &before[i - 1][..n * self.layers[i - 1].output_len()] };
            if !train {
                if let [_, next, ..] = rest {
                    // The layer's output (`rest[0]`) is not written: only the norm's is read.
                    folded = self.forward_folding_norm(i, x, next, n, ws);
                    if folded {
                        continue;
                    }
                }
            }
            let y = &mut rest[0][..n * layer.output_len()];
            let cache = train.then_some(&mut acts.caches[i]);
            self.layer_forward(i, layer.activation, x, y, ws, cache);
            if let (Some((encode, _)), true) = (linear, i == self.code_layer) {
                // The code is linear and not normalised (`plan`): the sum is the code.
                let (chain, side) = acts.outputs.split_at_mut(self.chain);
                self.add_linear(encode, input, &mut side[0], &mut chain[i], n, ws);
            }
        }
        let last = self.chain - 1;
        if let Some((_, decode)) = linear {
            let (chain, side) = acts.outputs.split_at_mut(self.chain);
            let (before, logits) = chain.split_at_mut(last);
            let code = &before[self.code_layer][..n * self.config.code_length];
            self.add_linear(decode, code, &mut side[1], &mut logits[0], n, ws);
        }
        let logits = &acts.outputs[last][..n * self.input_len()];
        self.output_into(logits, &mut acts.reconstruction[..n * self.input_len()]);
    }

    /// Runs the linear path's layer `i` on the `n` images of `x` into `own` and adds that to `to`.
    fn add_linear(&self, i: usize, x: &[f32], own: &mut [f32], to: &mut [f32], n: usize, ws: &mut Workspace) {
        let len = n * self.layers[i].output_len();
        self.layer_forward(i, Activation::Identity, x, &mut own[..len], ws, None);
        to[..len].iter_mut().zip(&own[..len]).for_each(|(t, &v)| *t += v);
    }

    /// In inference mode, layer `i` on the `n` images of `x` and the batch norm after it in one
    /// pass, into `next_y` (the norm's output buffer): where the layer has no activation of its own,
    /// can fold the norm in (a convolution) and neither is the code. The same bits as the two
    /// passes, one less pass over memory. `false`, touching nothing, where it does not apply.
    fn forward_folding_norm(
        &self,
        i: usize,
        x: &[f32],
        next_y: &mut [f32],
        n: usize,
        ws: &mut Workspace,
    ) -> bool {
        let (layer, next) = (&self.layers[i], &self.layers[i + 1]);
        let (LayerKind::BatchNorm(_), Some(running)) = (&next.kind, &self.running[i + 1]) else {
            return false;
        };
        if layer.activation != Activation::Identity || self.code_layer == i || self.code_layer == i + 1 {
            return false;
        }
        let (gamma, beta) = (&self.params[2 * i + 2], &self.params[2 * i + 3]);
        let (scale, shift) = ae_engine::inference_affine(gamma, beta, running);
        let (w, b) = (&self.params[2 * i], &self.params[2 * i + 1]);
        let y = &mut next_y[..n * layer.output_len()];
        layer.part().forward_normalised(w, b, x, y, (&scale, &shift), next.activation, ws)
    }

    /// Layer `i` on `x` into `y` with activation `act`: in training mode when given the layer's
    /// cache, else in inference mode.
    fn layer_forward(
        &self,
        i: usize,
        act: Activation,
        x: &[f32],
        y: &mut [f32],
        ws: &mut Workspace,
        cache: Option<&mut Cache>,
    ) {
        let (w, b) = (&self.params[2 * i], &self.params[2 * i + 1]);
        let mode = match cache {
            Some(cache) => Mode::Train(cache),
            None => Mode::Eval(self.running[i].as_ref()),
        };
        self.layers[i].part().forward(w, b, Forward { x, act, y, mode }, ws)
    }

    /// The output sigmoid's inputs for codes `z` (`images × code_length`): the decoder alone, in
    /// inference mode.
    pub fn decode_logits(&self, z: &[f32], ws: &mut Workspace) -> Vec<f32> {
        let mut x = z.to_vec();
        for (i, layer) in self.layers[..self.chain].iter().enumerate().skip(self.code_output() + 1) {
            let mut y = vec![0.0; x.len() / layer.input_len() * layer.output_len()];
            self.layer_forward(i, layer.activation, &x, &mut y, ws, None);
            x = y;
        }
        if let Some((_, decode)) = self.linear_path() {
            let mut own = vec![0.0; x.len()];
            self.add_linear(decode, z, &mut own, &mut x, z.len() / self.config.code_length, ws);
        }
        x
    }

    /// The code layer's pre-activations `x·W + b` for `input` (`images × code_length`), before any
    /// normalisation or sigmoid: what saturates when the code collapses. Inference-mode layers.
    pub fn code_preactivations(&self, input: &[f32], ws: &mut Workspace) -> Vec<f32> {
        let n = self.batch_len(input, usize::MAX);
        let mut x = input.to_vec();
        for (i, layer) in self.layers.iter().enumerate().take(self.code_layer + 1) {
            let act = if i == self.code_layer { Activation::Identity } else { layer.activation };
            let mut y = vec![0.0; n * layer.output_len()];
            self.layer_forward(i, act, &x, &mut y, ws, None);
            x = y;
        }
        if let Some((encode, _)) = self.linear_path() {
            let mut own = vec![0.0; x.len()];
            self.add_linear(encode, input, &mut own, &mut x, n, ws);
        }
        x
    }

    /// Back-propagates `grads.output_mut(..)` (∂L/∂logits of the output sigmoid, set by the loss)
    /// through the layers of the last training-mode [`forward`](Self::forward) on the same `input`.
    /// `terms` add the gradients of the code's penalties: an L1 penalty `l1 · Σ|code|` on the
    /// (positive) code, and a VAE's `kl · KL(q(z|x) ‖ N(0, I))`.
    /// With `code_update`, the code layer's weight is updated by Adam during the pass (see
    /// [`dense_backward_adam`]) and its gradient is not stored; every other gradient is.
    pub fn backward(
        &mut self,
        input: &[f32],
        acts: &Activations,
        grads: &mut Gradients,
        ws: &mut Workspace,
        terms: CodeTerms,
        mut code_update: Option<AdamStep<'_>>,
    ) {
        let n = acts.batch;
        assert_eq!(input.len(), n * self.input_len(), "backward on a different batch than forward");
        let code_output = self.code_output();
        let linear = self.linear_path();
        if let Some((_, decode)) = linear {
            // The output's gradient reaches the code through the linear decoder too.
            let k = n * self.config.code_length;
            let dy = &mut grads.outputs[self.chain - 1][..n * self.input_len()];
            let code = &acts.outputs[code_output][..k];
            let dx = Some(&mut grads.linear_code[..k]);
            self.linear_backward(decode, code, acts, dy, dx, &mut grads.params, ws);
        }
        for (i, layer) in self.layers[..self.chain].iter().enumerate().rev() {
            if i == code_output && terms.l1 != 0.0 {
                let code = &acts.outputs[i][..n * self.config.code_length];
                crate::loss::sparsity::add_l1_gradient(
                    code,
                    terms.l1,
                    &mut grads.outputs[i][..n * self.config.code_length],
                );
            }
            if let (Some((encode, _)), true) = (linear, i == code_output) {
                let k = n * self.config.code_length;
                let dy = &mut grads.outputs[i][..k];
                dy.iter_mut().zip(&grads.linear_code[..k]).for_each(|(g, &d)| *g += d);
                self.linear_backward(encode, input, acts, dy, None, &mut grads.params, ws);
            }
            let x = if i == 0 { input } else { &acts.outputs[i - 1][..n * self.layers[i - 1].output_len()] };
            let y = &acts.outputs[i][..n * layer.output_len()];
            let (before, rest) = grads.outputs.split_at_mut(i);
            let dy = &mut rest[0][..n * layer.output_len()];
            let dx = (i > 0).then(|| &mut before[i - 1][..n * self.layers[i - 1].output_len()]);
            let (dw, db) = grads.params.split_at_mut(2 * i + 1);
            let act = layer.activation;
            if let (LayerKind::Dense(d), true) = (layer.kind, i == self.code_layer) {
                if let Some(update) = code_update.take() {
                    let w = &mut self.params[2 * i];
                    dense_backward_adam(&d.shape(), x, w, act, y, dy, dx, &mut db[0], update, ws);
                    continue;
                }
            }
            let pg = ParamGrads { weight: &mut dw[2 * i], bias: &mut db[0] };
            let w = &self.params[2 * i];
            let pass = Backward { x, act, y, dy, dx, cache: &acts.caches[i] };
            layer.part().backward(w, pass, pg, ws);
            if let (LayerKind::Sample(s), true) = (layer.kind, terms.kl != 0.0) {
                crate::loss::kl::add_kl_gradient(
                    x,
                    s.latent,
                    terms.kl,
                    &mut grads.outputs[i - 1][..n * 2 * s.latent],
                );
            }
        }
        assert!(code_update.is_none(), "the code layer is dense and takes the update");
    }

    /// The backward pass of the linear path's layer `i` (the twin of `add_linear`): its
    /// parameters' gradients into `params`, and its input's into `dx` when asked.
    #[allow(clippy::too_many_arguments)]
    fn linear_backward(
        &self,
        i: usize,
        x: &[f32],
        acts: &Activations,
        dy: &mut [f32],
        dx: Option<&mut [f32]>,
        params: &mut [Vec<f32>],
        ws: &mut Workspace,
    ) {
        let y = &acts.outputs[i][..dy.len()];
        let (dw, db) = params.split_at_mut(2 * i + 1);
        let pass = Backward { x, act: Activation::Identity, y, dy, dx, cache: &acts.caches[i] };
        let pg = ParamGrads { weight: &mut dw[2 * i], bias: &mut db[0] };
        self.layers[i].part().backward(&self.params[2 * i], pass, pg, ws);
    }

    fn batch_len(&self, input: &[f32], capacity: usize) -> usize {
        let n = input.len() / self.input_len();
        assert_eq!(input.len(), n * self.input_len(), "input is not a whole number of images");
        assert!(n <= capacity, "batch of {n} exceeds the buffers' capacity of {capacity}");
        n
    }
}

/// How the output layer's values ("logits") become the reconstruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Their sigmoid (the tutorial's).
    Sigmoid,
    /// The values themselves, clipped to [0, 1] in the reconstruction; the loss reads them
    /// unclipped (a model with the linear path, which must be able to start as PCA).
    Clipped,
}

/// Penalties on the code whose gradients [`Autoencoder::backward`] adds (zero: none).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CodeTerms {
    /// Weight of `Σ|code|` (a sparse autoencoder).
    pub l1: f32,
    /// Weight of a VAE's KL term.
    pub kl: f32,
}

/// Every layer's output for one batch, allocated once for up to `capacity` images.
pub struct Activations {
    capacity: usize,
    batch: usize,
    /// Each layer's output; the last one holds the logits of the output sigmoid. Aligned to
    /// cache lines, as the engine's vector loads prefer.
    outputs: Vec<AlignedVec>,
    reconstruction: Vec<f32>,
    /// What each layer kept from the last training-mode pass (a normalisation's batch
    /// statistics, a sampling's draws), and its random stream.
    caches: Vec<Cache>,
    /// Which output holds the logits (the chain's last; the linear path's come after it).
    last: usize,
}

impl Activations {
    pub fn new(model: &Autoencoder, capacity: usize) -> Self {
        assert!(capacity > 0, "buffers for an empty batch");
        let outputs = model.layers.iter().map(|l| AlignedVec::zeros(capacity * l.output_len())).collect();
        Self {
            capacity,
            batch: 0,
            outputs,
            reconstruction: vec![0.0; capacity * model.input_len()],
            caches: (0..model.layers.len()).map(|i| Cache::new(i as u64)).collect(),
            last: model.chain - 1,
        }
    }

    /// The reconstructions of the last forward pass (after the output sigmoid).
    pub fn reconstruction(&self) -> &[f32] {
        &self.reconstruction[..self.batch * (self.reconstruction.len() / self.capacity)]
    }

    /// The output sigmoid's inputs for the last forward pass.
    pub fn logits(&self) -> &[f32] {
        let last = &self.outputs[self.last];
        &last[..self.batch * (last.len() / self.capacity)]
    }

    /// Seeds the random streams of the layers that draw (a VAE's sampling) from `seed`.
    /// Each layer's random stream (a checkpoint saves them to resume the same draws).
    pub fn streams(&self) -> impl Iterator<Item = &ChaCha8Rng> {
        self.caches.iter().map(|c| &c.rng)
    }

    pub fn streams_mut(&mut self) -> impl Iterator<Item = &mut ChaCha8Rng> {
        self.caches.iter_mut().map(|c| &mut c.rng)
    }

    pub fn seed_draws(&mut self, seed: u64) {
        for (i, cache) in self.caches.iter_mut().enumerate() {
            *cache = Cache::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
    }

    /// A VAE's `[μ, log σ²]` rows of the last forward pass (`batch × 2·code_length`).
    pub fn distribution(&self, model: &Autoencoder) -> &[f32] {
        &self.outputs[model.code_layer][..self.batch * 2 * model.config.code_length]
    }

    /// The codes of the last forward pass (`batch × code_length`).
    pub fn code(&self, model: &Autoencoder) -> &[f32] {
        &self.outputs[model.code_output()][..self.batch * model.config.code_length]
    }
}

/// Parameter gradients and per-layer output gradients, allocated once.
pub struct Gradients {
    pub params: Vec<Vec<f32>>,
    outputs: Vec<AlignedVec>,
    /// The linear path's share of the code's gradient (empty without one).
    linear_code: AlignedVec,
    image_len: usize,
    last: usize,
}

impl Gradients {
    pub fn new(model: &Autoencoder, capacity: usize) -> Self {
        Self {
            params: model.params.iter().map(|p| vec![0.0; p.len()]).collect(),
            outputs: model.layers.iter().map(|l| AlignedVec::zeros(capacity * l.output_len())).collect(),
            linear_code: AlignedVec::zeros(if model.linear_path().is_some() {
                capacity * model.config.code_length
            } else {
                0
            }),
            image_len: model.input_len(),
            last: model.chain - 1,
        }
    }

    /// Where the loss writes ∂L/∂logits (of the output sigmoid) for a batch of `n`.
    pub fn output_mut(&mut self, n: usize) -> &mut [f32] {
        let len = n * self.image_len;
        &mut self.outputs[self.last][..len]
    }
}

/// The tutorial's layers on 8×8 images with `filters` per convolution and a code of 16: a model
/// the tests can check by finite differences in milliseconds.
#[cfg(test)]
pub(crate) fn tiny(padding: crate::config::PaddingMode, filters: usize) -> ModelConfig {
    let mut config = ModelConfig::tutorial(padding);
    config.input = [8, 8, 1];
    config.encoder.iter_mut().chain(&mut config.decoder).for_each(|s| s.filters = filters);
    config.code_length = 16;
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CodeActivation, ModelConfig, Norm, PaddingMode};

    #[test]
    fn absurd_shapes_are_refused_by_key_not_overflowed() {
        let base = crate::config::RunConfig::preset(crate::config::Preset::TutorialNet).model;
        let refused = |change: &dyn Fn(&mut ModelConfig), key: &str| {
            let mut config = base.clone();
            change(&mut config);
            config.settle();
            let err = Autoencoder::memory_need(&config, 50, 2, true).unwrap_err().to_string();
            assert!(err.starts_with(&format!("model.{key}")), "{err}");
        };
        refused(&|c| c.encoder[0].filters = 100_000_000_000, "encoder[0]");
        refused(&|c| c.kernel = 99, "kernel");
        refused(&|c| c.decoder[1].stride = 1 << 32, "decoder[1]");
        refused(&|c| c.input = [1 << 20, 32, 1], "input");
        refused(&|c| c.code_length = usize::MAX, "code_length");
        refused(&|c| c.encoder = vec![c.encoder[0]; 65], "encoder");
    }

    #[test]
    fn the_memory_need_is_what_the_buffers_allocate() {
        let mut config = crate::config::RunConfig::preset(crate::config::Preset::TutorialNet).model;
        (config.input, config.kind, config.code_length) = ([64, 48, 3], ModelKind::Vae, 8);
        config.settle();
        let model = Autoencoder::new(&config, 0).unwrap();
        let (acts, grads) = (Activations::new(&model, 7), Gradients::new(&model, 7));
        let floats = |v: &[AlignedVec]| v.iter().map(|b| b.len() as u64).sum::<u64>();
        let params: u64 = model.params.iter().map(|p| p.len() as u64).sum();
        let outputs = floats(&acts.outputs) + acts.reconstruction.len() as u64;
        assert_eq!(floats(&grads.outputs), floats(&acts.outputs));
        // Training: weights, gradients and Adam's two moments; outputs and their gradients.
        let need = Autoencoder::memory_need(&config, 7, 2, true).unwrap();
        assert_eq!((need.parameters, need.activations), (4 * 4 * params, 4 * 2 * outputs));
        let need = Autoencoder::memory_need(&config, 7, 2, false).unwrap();
        assert_eq!((need.parameters, need.activations), (4 * params, 4 * outputs));
        // The scratch grows with the threads and, through the dense layers, with the batch.
        let scratch = |batch, parts| Autoencoder::memory_need(&config, batch, parts, true).unwrap().scratch;
        assert!(scratch(7, 4) > scratch(7, 2) && scratch(7000, 2) > scratch(7, 2));
        // Decoding codes holds two consecutive decoder layers' outputs at a time.
        let decoder = &model.layers[model.code_output() + 1..model.chain];
        let widest = decoder.windows(2).map(|w| w[0].output_len() + w[1].output_len()).max().unwrap();
        let need = Autoencoder::decoding_need(&config, 7, 2).unwrap();
        assert_eq!(need.activations, 4 * 7 * widest as u64);
        assert!(need.activations < Autoencoder::memory_need(&config, 7, 2, false).unwrap().activations);
    }

    #[test]
    fn each_layer_reads_what_the_one_before_writes_as_its_description_says() {
        // The lengths the buffers and `ae bench` size each layer by, checked for the parts without
        // parameters too (a VAE's sampling, dropout), and no multiply-adds where there is no weight.
        let mut vae = ModelConfig { kind: ModelKind::Vae, code_length: 3, ..tiny(PaddingMode::TfSame, 4) };
        vae.settle();
        let dropout = ModelConfig { dropout: 0.2, ..tiny(PaddingMode::TfSame, 4) };
        for config in [vae, dropout] {
            let model = Autoencoder::new(&config, 0).unwrap();
            let mut reads = model.input_len();
            for (i, layer) in model.layers[..model.chain].iter().enumerate() {
                let describe::Described { op, input, output } = layer.part().describe();
                assert_eq!(layer.input_len(), reads, "layer {i}, {op:?}");
                let described = (input.iter().product::<usize>(), output.iter().product::<usize>());
                assert_eq!(described, (layer.input_len(), layer.output_len()), "layer {i}, {op:?}");
                assert_eq!(layer.macs() == 0, model.params[2 * i].is_empty(), "layer {i}, {op:?}");
                reads = layer.output_len();
            }
            assert_eq!(reads, model.input_len());
        }
    }

    #[test]
    fn tutorial_shapes_and_parameter_count() {
        let model = Autoencoder::new(&ModelConfig::tutorial(PaddingMode::TfSame), 0).unwrap();
        let shapes: Vec<(usize, usize)> =
            model.layers.iter().map(|l| (l.input_len(), l.output_len())).collect();
        assert_eq!(
            shapes,
            [
                (1024, 16 * 16 * 16),
                (4096, 16 * 16 * 32),
                (8192, 16 * 16 * 64),
                (16384, 16 * 16 * 128),
                (32768, 256),
                (256, 32 * 32 * 128),
                (131072, 32 * 32 * 64),
                (65536, 32 * 32 * 32),
                (32768, 1024),
            ]
        );
        // Same count as the PyTorch peer: convs + 32768·256 + 256 dense + transposed convs.
        let expect = (9 * 16 + 16)
            + (9 * 16 * 32 + 32)
            + (9 * 32 * 64 + 64)
            + (9 * 64 * 128 + 128)
            + (32768 * 256 + 256)
            + (9 * 128 + 128)
            + (9 * 128 * 64 + 64)
            + (9 * 64 * 32 + 32)
            + (9 * 32 + 1);
        assert_eq!(model.parameter_count(), expect);
    }

    #[test]
    fn glorot_init_is_seeded_and_bounded() {
        let config = ModelConfig::tutorial(PaddingMode::Symmetric);
        let a = Autoencoder::new(&config, 1).unwrap();
        assert_eq!(a, Autoencoder::new(&config, 1).unwrap());
        assert_ne!(a, Autoencoder::new(&config, 2).unwrap());
        let limit = (6.0f32 / (32768.0 + 256.0)).sqrt();
        let dense = &a.params[2 * a.code_layer];
        assert!(dense.iter().all(|w| w.abs() <= limit));
        assert!(dense.iter().map(|w| w.abs()).fold(0.0, f32::max) > 0.9 * limit);
        assert!(a.params[2 * a.code_layer + 1].iter().all(|&b| b == 0.0));
    }

    #[test]
    fn codes_that_do_not_reshape_get_a_projection() {
        let mut config = ModelConfig::tutorial(PaddingMode::TfSame);
        config.code_length = 300;
        let model = Autoencoder::new(&config, 0).unwrap();
        let project = &model.layers[model.code_layer + 1];
        assert_eq!(project.name, "decoder.project");
        let start = Shape::new(16, 16, 1);
        assert_eq!(project.kind, LayerKind::Dense(Dense { input: Shape::new(1, 1, 300), output: start }));
        config.code_length = 256;
        config.decoder_input_channels = Some(4);
        let model = Autoencoder::new(&config, 0).unwrap();
        assert_eq!(model.layers[model.code_layer + 1].output_len(), 4 * 256);
        // A new run records its projection's channels; a code that reshapes stays reshaped.
        let mut settled = ModelConfig { code_length: 300, decoder_input_channels: None, ..config.clone() };
        settled.settle();
        assert_eq!(settled.decoder_input_channels, Some(ModelConfig::PROJECT_CHANNELS));
        let mut tutorial = ModelConfig::tutorial(PaddingMode::TfSame);
        tutorial.settle();
        assert_eq!(tutorial, ModelConfig::tutorial(PaddingMode::TfSame));
    }

    #[test]
    fn mnist_and_larger_inputs_build() {
        for input in [[28, 28, 1], [32, 32, 3], [64, 64, 1]] {
            let mut config = ModelConfig::tutorial(PaddingMode::Symmetric);
            config.input = input;
            config.code_length = 32;
            let model = Autoencoder::new(&config, 0).unwrap();
            assert_eq!(
                model.layers.last().unwrap().output_len(),
                input.iter().product::<usize>(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn the_default_network_reads_a_16_by_16_map_at_any_size_that_halves() {
        for input in [[64, 64, 1], [128, 128, 3], [512, 512, 3]] {
            let mut config = crate::config::RunConfig::preset(crate::config::Preset::TutorialNet).model;
            config.input = input;
            config.settle();
            let model = Autoencoder::zeros(&config).unwrap();
            assert_eq!(model.layers[model.code_layer].input_len(), 16 * 16 * 128, "{input:?}");
            assert_eq!(model.layers.last().unwrap().output_len(), input.iter().product::<usize>());
        }
    }

    #[test]
    fn shape_mismatches_are_named() {
        let mut config = ModelConfig::tutorial(PaddingMode::TfSame);
        config.decoder[1].stride = 3;
        assert_eq!(Autoencoder::new(&config, 0).unwrap_err().key, "model.decoder");
        config.kernel = 4;
        assert_eq!(Autoencoder::new(&config, 0).unwrap_err().key, "model.kernel");
    }

    #[test]
    fn longer_codes_reshape_to_more_channels() {
        let mut config = ModelConfig::tutorial(PaddingMode::TfSame);
        config.code_length = 512;
        let model = Autoencoder::new(&config, 0).unwrap();
        match model.layers[model.code_layer + 1].kind {
            LayerKind::Conv(c) => assert!(c.transposed && c.geometry.small == Shape::new(16, 16, 2)),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_normalised_code_has_its_own_layer_with_running_estimates() {
        let mut config = ModelConfig::tutorial(PaddingMode::Symmetric);
        config.code_norm = Norm::Batch;
        let model = Autoencoder::new(&config, 0).unwrap();
        let (code, norm) = (&model.layers[model.code_layer], &model.layers[model.code_output()]);
        assert_eq!((code.name.as_str(), code.activation), ("code", Activation::Identity));
        assert_eq!(norm.name, "code_norm");
        assert_eq!(
            (norm.kind, norm.activation),
            (LayerKind::BatchNorm(BatchNorm { channels: 256, map: None }), Activation::Sigmoid)
        );
        // γ = 1, β = 0, running mean 0 and variance 1 (PyTorch's start); the weights before it are
        // drawn as without the normalisation.
        let i = model.code_output();
        assert!(
            model.params[2 * i].iter().all(|&g| g == 1.0)
                && model.params[2 * i + 1].iter().all(|&b| b == 0.0)
        );
        assert_eq!(model.running[i], Some(RunningStats::new(256)));
        let plain = Autoencoder::new(&ModelConfig::tutorial(PaddingMode::Symmetric), 0).unwrap();
        assert_eq!(model.params[..2 * i], plain.params[..2 * i]);
        assert_eq!(model.params[2 * i + 2..], plain.params[2 * i..]);
        assert!(!model.trains_on_single_images() && plain.trains_on_single_images());
    }

    #[test]
    fn training_mode_uses_batch_statistics_and_inference_the_running_ones() {
        let mut config = tiny_config();
        config.code_norm = Norm::Batch;
        let mut model = Autoencoder::new(&config, 2).unwrap();
        let n = 4;
        let input: Vec<f32> = (0..n * 64).map(|i| ((i as f32 * 0.37).sin() + 1.0) / 2.0).collect();
        let mut ws = Workspace::new(2);
        let mut acts = Activations::new(&model, n);
        model.forward(&input, &mut acts, &mut ws, true);
        // The kept pre-activations are what `code_preactivations` recomputes.
        let z = model.code_preactivations(&input, &mut ws);
        assert_eq!(&acts.outputs[model.code_layer][..n * 16], &z[..]);
        // Over the batch every normalised unit has mean 0, so the sigmoid code averages near 0.5.
        let code = acts.code(&model).to_vec();
        let mean = code.iter().sum::<f32>() / code.len() as f32;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        model.track_running_stats(&acts);
        let running = model.running[model.code_output()].as_ref().unwrap();
        assert_eq!(running.batches, 1);
        let unit0: Vec<f64> = z.iter().step_by(16).map(|&v| v as f64).collect();
        let want = 0.1 * unit0.iter().sum::<f64>() / n as f64;
        assert!((running.mean[0] as f64 - want).abs() < 1e-6, "{} vs {want}", running.mean[0]);
        // Inference normalises by the running estimates instead: a different code.
        model.forward(&input, &mut acts, &mut ws, false);
        assert_ne!(acts.code(&model), &code[..]);
    }

    fn tiny_config() -> ModelConfig {
        tiny(PaddingMode::TfSame, 3)
    }

    const AE: ModelKind = ModelKind::Autoencoder;

    #[test]
    fn whole_model_gradients_match_finite_differences() {
        check_whole_model_gradients(AE, Norm::None, CodeTerms::default());
    }

    #[test]
    fn whole_model_gradients_with_the_sparsity_penalty_match_finite_differences() {
        let terms = CodeTerms { l1: 0.7, kl: 0.0 };
        check_whole_model_gradients(AE, Norm::None, terms);
        check_whole_model_gradients(AE, Norm::Batch, terms);
    }

    #[test]
    fn whole_model_gradients_match_finite_differences_with_a_normalised_code() {
        check_whole_model_gradients(AE, Norm::Batch, CodeTerms::default());
    }

    #[test]
    fn whole_model_gradients_of_a_vae_match_finite_differences_for_fixed_draws() {
        check_whole_model_gradients(ModelKind::Vae, Norm::None, CodeTerms { l1: 0.0, kl: 0.8 });
    }

    #[test]
    fn whole_model_gradients_with_dropout_on_the_code_match_finite_differences_for_fixed_draws() {
        for code_norm in [Norm::None, Norm::Batch] {
            let config = ModelConfig { code_norm, dropout: 0.3, ..tiny_config() };
            let (layers, code) = plan(&config).unwrap();
            let after = code + 1 + (code_norm == Norm::Batch) as usize;
            assert!(matches!(layers[after].kind, LayerKind::Dropout(_)), "{:?}", layers[after]);
            check_gradients_of(config, CodeTerms { l1: 0.5, kl: 0.0 });
        }
        let vae = ModelConfig { kind: ModelKind::Vae, dropout: 0.3, ..tiny_config() };
        assert!(plan(&vae).unwrap_err().to_string().contains("dropout"));
        assert!(plan(&ModelConfig { dropout: 1.0, ..tiny_config() }).is_err());
    }

    #[test]
    fn whole_model_gradients_match_finite_differences_with_normalised_convolutions_and_a_linear_code() {
        for code_norm in [Norm::None, Norm::Batch] {
            let config = ModelConfig {
                conv_norm: Norm::Batch,
                code_norm,
                code_activation: CodeActivation::Identity,
                ..tiny_config()
            };
            let (layers, _) = plan(&config).unwrap();
            let maps = layers.iter().filter(|l| matches!(l.kind, LayerKind::BatchNorm(b) if b.map.is_some()));
            // After each of the four encoder and three hidden decoder convolutions.
            assert_eq!(maps.count(), 7);
            // The L1 penalty's gradient at a linear code is its sign.
            check_gradients_of(config, CodeTerms { l1: 0.5, kl: 0.0 });
        }
    }

    /// Inference folds each convolution's batch norm into the convolution's pass; the model's
    /// output and code must be the bits of running the layers one after another, with norms whose
    /// running estimates, γ and β are far from their starting values, on 28×28 (the default
    /// network's im2col and Winograd stages).
    #[test]
    fn inference_with_folded_norms_gives_the_bits_of_the_layers_one_by_one() {
        let mut config = crate::config::RunConfig::preset(crate::config::Preset::Default).model;
        (config.input, config.code_length, config.linear_path) = ([28, 28, 1], 32, false);
        config.settle();
        let mut model = Autoencoder::new(&config, 3).unwrap();
        let folds = (0..model.chain - 1)
            .filter(|&i| {
                let (layer, next) = (&model.layers[i], &model.layers[i + 1]);
                matches!((&layer.kind, &next.kind), (LayerKind::Conv(_), LayerKind::BatchNorm(_)))
                    && layer.activation == Activation::Identity
            })
            .count();
        assert_eq!(folds, 8, "every convolution but the last is followed by its norm");
        let wave = |len: usize, k: f32| (0..len).map(|j| (j as f32 * k).sin()).collect::<Vec<f32>>();
        for i in 0..model.layers.len() {
            if let Some(running) = model.running[i].as_mut() {
                let c = running.mean.len();
                running.mean = wave(c, 0.7);
                running.var = wave(c, 0.3).iter().map(|v| 0.2 + v * v).collect();
                model.params[2 * i] = wave(c, 0.9).iter().map(|v| 1.0 + 0.5 * v).collect();
                model.params[2 * i + 1] = wave(c, 1.3);
            }
        }
        let n = 5;
        let input: Vec<f32> = wave(n * model.input_len(), 0.01).iter().map(|v| 0.5 + 0.5 * v).collect();
        let mut ws = Workspace::new(2);
        let mut acts = Activations::new(&model, n);
        model.forward(&input, &mut acts, &mut ws, false);
        let mut x = input.clone();
        let mut code = Vec::new();
        for (i, layer) in model.layers[..model.chain].iter().enumerate() {
            let mut y = vec![0.0; n * layer.output_len()];
            model.layer_forward(i, layer.activation, &x, &mut y, &mut ws, None);
            if i == model.code_output() {
                code = y.clone();
            }
            x = y;
        }
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(acts.logits()), bits(&x), "logits");
        assert_eq!(bits(acts.code(&model)), bits(&code), "code");
    }

    #[test]
    fn whole_model_gradients_with_the_linear_path_match_finite_differences() {
        let config =
            ModelConfig { code_activation: CodeActivation::Identity, linear_path: true, ..tiny_config() };
        check_gradients_of(config.clone(), CodeTerms::default());
        check_gradients_of(config, CodeTerms { l1: 0.5, kl: 0.0 });
    }

    #[test]
    fn the_linear_path_needs_a_plain_linear_code() {
        let linear =
            ModelConfig { code_activation: CodeActivation::Identity, linear_path: true, ..tiny_config() };
        assert!(plan(&linear).is_ok());
        for config in [
            ModelConfig { code_activation: CodeActivation::Sigmoid, ..linear.clone() },
            ModelConfig { code_norm: Norm::Batch, ..linear.clone() },
            ModelConfig { dropout: 0.2, ..linear.clone() },
            ModelConfig { kind: ModelKind::Vae, ..linear.clone() },
        ] {
            assert_eq!(plan(&config).unwrap_err().key, "model.linear_path", "{config:?}");
        }
    }

    #[test]
    fn a_model_started_at_pca_reconstructs_as_pca_until_it_trains() {
        use crate::baseline::Pca;
        use crate::data::{Images, Pixels};
        let config =
            ModelConfig { code_activation: CodeActivation::Identity, linear_path: true, ..tiny_config() };
        // 40 images of 64 pixels in [0.1, 0.9], 16 components.
        let data: Vec<f32> =
            (0..40 * 64).map(|i| 0.5 + 0.4 * ((i as f32 * 0.731).sin() * (i as f32 * 0.017).cos())).collect();
        let images = Images::new(Shape::new(8, 8, 1), data);
        let pca = Pca::fit(&Pixels::Floats(images.clone()), 16, 0).unwrap();
        let mut model = Autoencoder::new(&config, 5).unwrap();
        model.start_linear_path(pca.mean(), pca.components(), |i, j| pca.direction(i, j), &pca.start());
        let mut ws = Workspace::new(2);
        let mut acts = Activations::new(&model, 40);
        for train in [false, true] {
            model.forward(&images.data, &mut acts, &mut ws, train);
            let want = pca.reconstruct(&images);
            let worst =
                acts.reconstruction().iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-5, "{worst}");
        }
        // The code is the images' PCA coordinates: decoding it alone gives the same images.
        let code = model.code_preactivations(&images.data, &mut ws);
        let mut decoded = vec![0.0; images.data.len()];
        model.output_into(&model.decode_logits(&code, &mut ws), &mut decoded);
        let worst = decoded.iter().zip(acts.reconstruction()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-6, "{worst}");
    }

    /// The loss here is a weighted sum of the reconstruction plus `terms.l1 · Σ|code|` (the
    /// sparsity penalty's form, see `Trainer::train_step`) plus a VAE's `terms.kl · KL`; a VAE
    /// draws the same ε for every evaluation.
    fn check_whole_model_gradients(kind: ModelKind, code_norm: Norm, terms: CodeTerms) {
        check_gradients_of(ModelConfig { kind, code_norm, ..tiny_config() }, terms);
    }

    fn check_gradients_of(config: ModelConfig, terms: CodeTerms) {
        let (kind, code_norm, dropout) = (config.kind, config.code_norm, config.dropout);
        let conv_norm = config.conv_norm;
        // The layers are checked one by one in the engine; this checks how the model wires them.
        let mut model = Autoencoder::new(&config, 9).unwrap();
        // Non-zero biases, so bias gradients are not trivially checked at a symmetric point.
        for bias in model.params.iter_mut().skip(1).step_by(2) {
            bias.iter_mut().enumerate().for_each(|(i, b)| *b = 0.05 * ((i % 5) as f32 - 2.0));
        }
        // The weights a linear path's model starts at zero, so that every gradient is checked.
        let drawn = Autoencoder::new(&ModelConfig { linear_path: false, ..config.clone() }, 9).unwrap();
        for layer in [model.code_layer, model.chain - 1] {
            model.params[2 * layer].clone_from(&drawn.params[2 * layer]);
        }
        let linear_output = model.output() == Output::Clipped;
        // Three images: batch statistics of two would normalise every unit to ±1.
        let n = 3;
        let input: Vec<f32> = (0..n * 64).map(|i| ((i as f32 * 0.61).sin() + 1.0) / 2.0).collect();
        let weights: Vec<f32> = (0..n * 64).map(|i| (i as f32 * 0.37).cos()).collect();
        let mut ws = Workspace::new(2);
        let mut acts = Activations::new(&model, n);
        // The loss, and which ReLU outputs are positive: a difference that flips one straddles a kink.
        let loss = |model: &Autoencoder, acts: &mut Activations, ws: &mut Workspace| {
            acts.seed_draws(3);
            model.forward(&input, acts, ws, true);
            let kl = if kind == ModelKind::Vae {
                crate::loss::kl::kl_divergence(acts.distribution(model), 16)
            } else {
                0.0
            };
            // A linear output's loss reads it unclipped (see `Output::Clipped`).
            let output = if linear_output { acts.logits() } else { acts.reconstruction() };
            let value = output.iter().zip(&weights).map(|(y, r)| (*y as f64) * (*r as f64)).sum::<f64>()
                + terms.l1 as f64 * acts.code(model).iter().map(|&c| (c as f64).abs()).sum::<f64>()
                + terms.kl as f64 * kl;
            let relu =
                acts.outputs.iter().zip(&model.layers).filter(|(_, l)| l.activation == Activation::Relu);
            let pattern: Vec<bool> = relu.flat_map(|(o, _)| o.iter()).map(|v| *v > 0.0).collect();
            (value, pattern)
        };
        loss(&model, &mut acts, &mut ws);
        let mut grads = Gradients::new(&model, n);
        let recon = acts.reconstruction().to_vec();
        for ((g, r), y) in grads.output_mut(n).iter_mut().zip(&weights).zip(&recon) {
            // Through the output sigmoid, or straight from a linear output.
            *g = if linear_output { *r } else { r * y * (1.0 - y) };
        }
        model.backward(&input, &acts, &mut grads, &mut ws, terms, None);

        let h = 1e-2f32;
        let mut checked = 0;
        // Normalised feature maps centre the ReLUs' inputs on their kinks, where many differences
        // are skipped: more are drawn.
        let (samples, enough) = if conv_norm == Norm::Batch { (40, 40) } else { (9, 60) };
        for p in 0..model.params.len() {
            let len = model.params[p].len();
            for i in (0..len).step_by((len / samples).max(1)) {
                let keep = model.params[p][i];
                model.params[p][i] = keep + h;
                let (up, up_pattern) = loss(&model, &mut acts, &mut ws);
                model.params[p][i] = keep - h;
                let (down, down_pattern) = loss(&model, &mut acts, &mut ws);
                model.params[p][i] = keep;
                if up_pattern != down_pattern {
                    continue;
                }
                let numeric = (up - down) / (2.0 * h as f64);
                let analytic = grads.params[p][i] as f64;
                let normalised =
                    model.layers.get(p / 2 + 1).is_some_and(|l| matches!(l.kind, LayerKind::BatchNorm(_)));
                if p % 2 == 1 && normalised {
                    // A bias the next layer's normalisation subtracts again: its gradient is zero,
                    // and the difference quotient is f32 rounding.
                    assert!(analytic.abs() < 1e-4, "param {p} [{i}]: {analytic}");
                    continue;
                }
                checked += 1;
                let err = (numeric - analytic).abs() / (numeric.abs() + analytic.abs() + 1e-3);
                assert!(
                    err < 0.02,
                    "{kind:?}, {code_norm:?}, dropout {dropout}, {terms:?}: param {p} ({}) [{i}]: analytic {analytic} vs numeric {numeric}",
                    model.layers[p / 2].name
                );
            }
        }
        assert!(checked >= enough, "only {checked} differences away from ReLU kinks");
    }
}
