//! What every layer kind provides, and the list of kinds.
//!
//! A kind is one module beside this one (`conv.rs`, `dense.rs`, `batch_norm.rs`, `sample.rs`,
//! `dropout.rs`) implementing [`Part`]: its shapes, initialisation, forward and backward passes
//! and the PyTorch layout of its parameters. Adding a kind means one such module and one variant
//! of [`LayerKind`] with its arm in [`LayerKind::part`]; the model, the trainer, the model file and
//! the benchmarks reach every kind through [`Part`].

pub use super::describe::Described;
use super::{BatchNorm, Conv, Dense, Dropout, Sample};
use ae_engine::{Activation, BatchStats, ParamGrads, RunningStats, Workspace};
use rand_chacha::ChaCha8Rng;

/// The names of a layer's two parameter tensors, in the model's order (`params[2i]`, `params[2i + 1]`).
pub const PARAM_NAMES: [&str; 2] = ["weight", "bias"];

/// How a tensor is laid out in the engine and in a PyTorch module.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorLayout {
    /// The engine's shape, row-major.
    pub engine: Vec<usize>,
    /// PyTorch's order of the engine's axes: its axis `i` is the engine's axis `axes[i]`.
    pub axes: Vec<usize>,
    /// The shape PyTorch gives the tensor (the permuted shape, or a flattening of it).
    pub stored: Vec<usize>,
}

impl TensorLayout {
    /// A vector, the same in both.
    pub fn vector(len: usize) -> Self {
        Self { engine: vec![len], axes: vec![0], stored: vec![len] }
    }

    /// Values in the tensor.
    pub fn values(&self) -> usize {
        self.engine.iter().product()
    }

    /// The engine's shape permuted into PyTorch's axis order.
    pub fn permuted(&self) -> Vec<usize> {
        self.axes.iter().map(|&a| self.engine[a]).collect()
    }
}

/// What a layer keeps from a training-mode forward pass for its backward pass, and the random
/// stream of a layer that draws (a VAE's sampling).
#[derive(Clone, Debug)]
pub struct Cache {
    /// A normalisation's batch statistics.
    pub stats: BatchStats,
    /// The draws of the last training-mode pass.
    pub noise: Vec<f32>,
    pub rng: ChaCha8Rng,
}

impl Cache {
    /// A cache whose random stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self { stats: BatchStats::default(), noise: Vec::new(), rng: ChaCha8Rng::seed_from_u64(seed) }
    }
}

/// Training mode keeps what the backward pass needs in the layer's cache (a normalisation's batch
/// statistics, a sampling's draws); inference uses a normalisation's running estimates and draws
/// nothing.
pub enum Mode<'a> {
    Train(&'a mut Cache),
    Eval(Option<&'a RunningStats>),
}

/// One layer kind. Activations are NHWC `f32` batches; `act` is applied to the output.
pub trait Part {
    /// Values per image going in and coming out.
    fn input_len(&self) -> usize;
    fn output_len(&self) -> usize;
    /// The layouts of the weight and the bias ([`PARAM_NAMES`]).
    fn tensors(&self) -> [TensorLayout; 2];
    /// Draws the initial weight (biases start at zero).
    fn init(&self, weight: &mut [f32], rng: &mut ChaCha8Rng);
    /// Estimates kept between batches (a normalisation's running mean and variance).
    fn running_stats(&self) -> Option<RunningStats> {
        None
    }
    /// Whether weight decay applies to its weight (a kernel; not a normalisation's scale, whose
    /// shrinking would only rescale what follows). Biases never decay.
    fn weight_decays(&self) -> bool {
        true
    }
    /// Multiply-adds of one image's forward pass.
    fn macs(&self) -> usize;
    /// At most how many scratch values its passes over `batch` images take from a `Workspace` of
    /// `parts` parts (for the memory check before allocating).
    fn scratch(&self, _batch: usize, _parts: usize) -> usize {
        0
    }
    /// The kernel that runs it, as `ae bench` reports it.
    fn kernel(&self) -> String;
    /// What it computes at inference in PyTorch's and ONNX's terms, with its input's and output's
    /// shapes (`[C, H, W]` or `[n]`): the model file's description (see `describe.rs`).
    fn describe(&self) -> Described;

    /// Runs the layer on `pass.x` into `pass.y`.
    fn forward(&self, weight: &[f32], bias: &[f32], pass: Forward<'_>, ws: &mut Workspace);

    /// In inference mode, runs the layer on `x` into `y` with the per-channel `(scale, shift)` of
    /// the batch norm after it folded into its own pass, then `act` (see [`ae_engine::Epilogue`]);
    /// `false`, touching nothing, where the layer cannot, and the two run apart.
    #[allow(clippy::too_many_arguments)]
    fn forward_normalised(
        &self,
        _weight: &[f32],
        _bias: &[f32],
        _x: &[f32],
        _y: &mut [f32],
        _norm: (&[f32], &[f32]),
        _act: Activation,
        _ws: &mut Workspace,
    ) -> bool {
        false
    }

    /// Back-propagates `pass.dy` to `pass.dx` (when asked) and the parameter gradients.
    fn backward(&self, weight: &[f32], pass: Backward<'_>, grads: ParamGrads<'_>, ws: &mut Workspace);
}

/// What a layer's forward pass reads and writes besides its parameters.
pub struct Forward<'a> {
    pub x: &'a [f32],
    /// Applied to the output.
    pub act: Activation,
    pub y: &'a mut [f32],
    pub mode: Mode<'a>,
}

/// What a layer's backward pass reads and writes besides its parameters.
pub struct Backward<'a> {
    /// The input and the output (after `act`) of the training-mode forward pass.
    pub x: &'a [f32],
    pub act: Activation,
    pub y: &'a [f32],
    /// ∂L/∂y, overwritten on the way.
    pub dy: &'a mut [f32],
    /// Where ∂L/∂x goes; `None` for the first layer.
    pub dx: Option<&'a mut [f32]>,
    /// The layer's cache from that forward pass.
    pub cache: &'a Cache,
}

/// Glorot-uniform draws in `±√(6 / fans)`, as TensorFlow initialises its kernels.
pub(super) fn glorot(weight: &mut [f32], fans: usize, rng: &mut ChaCha8Rng) {
    use rand::Rng;
    let limit = (6.0 / fans as f64).sqrt() as f32;
    weight.iter_mut().for_each(|w| *w = rng.random_range(-limit..limit));
}

/// Every layer kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerKind {
    Conv(Conv),
    Dense(Dense),
    BatchNorm(BatchNorm),
    Sample(Sample),
    Dropout(Dropout),
}

impl LayerKind {
    /// The kind's implementation.
    pub fn part(&self) -> &dyn Part {
        match self {
            LayerKind::Conv(p) => p,
            LayerKind::Dense(p) => p,
            LayerKind::BatchNorm(p) => p,
            LayerKind::Sample(p) => p,
            LayerKind::Dropout(p) => p,
        }
    }
}

/// One layer; its weight and bias are `params[2i]` and `params[2i + 1]` of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// The PyTorch-style module name, e.g. `encoder.conv0`, `code`, `decoder.convt3`.
    pub name: String,
    pub kind: LayerKind,
    pub activation: Activation,
}

impl Layer {
    pub fn part(&self) -> &dyn Part {
        self.kind.part()
    }

    pub fn input_len(&self) -> usize {
        self.part().input_len()
    }

    pub fn output_len(&self) -> usize {
        self.part().output_len()
    }

    /// Multiply-adds of one image's forward pass.
    pub fn macs(&self) -> usize {
        self.part().macs()
    }
}
