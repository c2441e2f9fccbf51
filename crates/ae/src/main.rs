//! `ae`: the command-line front of the library. Each command parses its options, calls one
//! library function and prints; every failure is one line on stderr and exit code 1.

use ae::checkpoint::{self, DataRecipe};
use ae::config::{
    BadImages, CodeActivation, DatasetName, Loss, ModelKind, Norm, Preset, RunConfig, Schedule, SplitBy,
    Storage,
};
use ae::data::{images_for_model, is_olivetti, load_dataset, load_labels, split_for, Images};
use ae::evaluation::{quality, Quality};
use ae::inference::{interpolate, manifold, predict, sample_prior, traverse, vae_terms};
use ae::memory::{MemoryLimit, MemoryNeed, PROCESS};
use ae::noise::Noise;
use ae::report::{partial_of, save_grid, save_images, save_latent_scatter, save_npy, RunDir};
use ae::training::{corrupt, resume, train, Event, Job};
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

#[derive(Parser)]
#[command(name = "ae", version, about = "Train, evaluate and use convolutional autoencoders on the CPU")]
struct Cli {
    /// Worker threads for the numeric kernels [default: all cores]. Results are identical for a
    /// given thread count.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// The most memory a job may plan to use, e.g. 4G, 500M or a number of bytes; a job whose
    /// model, buffers and images need more is refused before it allocates them [default: 80 % of
    /// the memory available].
    #[arg(long, global = true, value_parser = parse_bytes)]
    max_memory: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an autoencoder on the Olivetti faces and write a run directory.
    Train(Box<TrainArgs>),
    /// Reconstruct images with a trained model: a PNG grid (originals over reconstructions) and .npy arrays.
    Reconstruct(ReconstructArgs),
    /// Encode images with a trained model: the codes as a float32 .npy array (images × code length).
    Encode(EncodeArgs),
    /// Evaluate a trained model: MSE, PSNR, SSIM and loss per sample; for a denoiser also the noisy
    /// inputs' and the denoised images' quality.
    Eval(EvalArgs),
    /// Denoise image files with a trained denoiser, or show it a held-out grid: clean / noisy / denoised.
    Denoise(DenoiseArgs),
    /// Time training steps, forward passes and each layer of the tutorial's model on random images.
    Bench(BenchArgs),
    /// Draw codes from a VAE's prior N(0, I) and decode them: a PNG grid and .npy arrays.
    Sample(SampleArgs),
    /// Decode the straight line between the codes of two images: a PNG row and .npy arrays.
    Interpolate(InterpolateArgs),
    /// Vary one code unit at a time around an image's code: a PNG grid (a row per unit) and .npy arrays.
    Traverse(TraverseArgs),
    /// Picture the code space: a scatter of the images' codes (a VAE's means), coloured by label
    /// with --labels, and for a VAE with a 2-D code the decoded manifold grid.
    Latent(LatentArgs),
    /// Export a trained model for other engines: an ONNX graph (ONNX Runtime, tract, …) or a
    /// PyTorch module with a script that carries on training it under torchrun.
    Export(ExportArgs),
    /// Write a run's report.html again, or with several runs a page comparing them side by side.
    Report(ReportArgs),
    /// PCA, the best linear autoencoder, with K components: fitted on a dataset's training images
    /// and measured on its held-out ones, split as `ae train` splits them.
    Baseline(BaselineArgs),
}

#[derive(Args)]
struct BaselineArgs {
    /// A dataset file or folder, or a dataset name (olivetti, mnist, fashion-mnist).
    #[arg(long)]
    data: String,
    /// Principal components: the code length it stands beside.
    #[arg(long)]
    components: usize,
    /// The preset whose data settings (size, held-out share, split) apply.
    #[arg(long, value_enum, default_value_t = Preset::Default)]
    preset: Preset,
    /// The split's seed, as `ae train --seed`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Resize images to HEIGHT WIDTH, as `ae train --size`.
    #[arg(long, num_args = 2, value_names = ["HEIGHT", "WIDTH"])]
    size: Option<Vec<usize>>,
    /// Noise on the held-out inputs (PCA as a denoiser), as `ae train --noise`.
    #[arg(long)]
    noise: Option<Noise>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// Run directories.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The page to write; must not exist [default: RUN/report.html for one run (rewritten), else
    /// compare.html].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// model.onnx (encoder.onnx, decoder.onnx with --part), opset 17.
    Onnx,
    /// A directory with model.py, train.py, model.safetensors and the prepared images.
    Pytorch,
}

#[derive(Args)]
struct ExportArgs {
    /// A model file (model.safetensors) or a run directory holding one.
    model: PathBuf,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// With onnx: the whole network (images to reconstructions and codes), the encoder (images to
    /// codes) or the decoder (codes to images).
    #[arg(long, value_enum, default_value_t = ae::export::Part::All)]
    part: ae::export::Part,
    /// Output file (onnx) or directory (pytorch) to create; must not exist [default: model.onnx,
    /// encoder.onnx, decoder.onnx or pytorch/ beside the model].
    #[arg(long)]
    out: Option<PathBuf>,
    /// With pytorch: the dataset to prepare train.npy and holdout.npy from [default: the one the
    /// model was trained on].
    #[arg(long)]
    data: Option<PathBuf>,
    /// With pytorch: leave the prepared images out.
    #[arg(long)]
    no_data: bool,
}

#[derive(Args)]
struct LatentArgs {
    #[command(flatten)]
    input: ModelInput,
    /// One label per image of the dataset, to colour the scatter: an IDX label file (MNIST's
    /// t10k-labels-idx1-ubyte, raw or .gz).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// The two code units on the scatter's axes.
    #[arg(long, num_args = 2, value_names = ["X", "Y"], default_values_t = [0, 1])]
    units: Vec<usize>,
    /// The manifold grid covers [−RANGE, RANGE]² of a 2-D VAE's code.
    #[arg(long, default_value_t = 2.0)]
    range: f32,
    /// Codes per side of the manifold grid.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Output directory to create; must not exist [default: latent-<split> beside the model].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct TraverseArgs {
    #[command(flatten)]
    input: ModelInput,
    /// Index of the image in the chosen split whose code (a VAE's mean) the rows start from.
    #[arg(long, default_value_t = 0)]
    image: usize,
    /// Each unit runs over [−RANGE, RANGE] (a VAE's prior has σ 1).
    #[arg(long, default_value_t = 3.0)]
    range: f32,
    /// Values per unit.
    #[arg(long, default_value_t = 9)]
    steps: usize,
    /// Output directory to create; must not exist [default: traverse-IMAGE beside the model].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct SampleArgs {
    /// A VAE's model file or run directory.
    model: PathBuf,
    /// Codes to draw.
    #[arg(long, default_value_t = 64)]
    count: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory to create; must not exist [default: samples beside the model].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct InterpolateArgs {
    #[command(flatten)]
    input: ModelInput,
    /// Index of the first image in the chosen split.
    #[arg(long)]
    from: usize,
    /// Index of the last image in the chosen split.
    #[arg(long)]
    to: usize,
    /// Images on the line, both ends included.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Output directory to create; must not exist [default: interpolate-FROM-TO beside the model].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct TrainArgs {
    /// Starting configuration: `seed` is the tutorial literally, `seed-denoise` its denoising run;
    /// `default` fixes the tutorial's quirks; `deep` is the default run with a network that beats
    /// PCA at short and long codes (it has --linear-path); `residual` trains the default's network as
    /// a correction to PCA (--linear-path), as the default does for a denoiser (see docs/presets.md).
    #[arg(long, value_enum, default_value_t = Preset::Default)]
    preset: Preset,
    /// A TOML run configuration (e.g. a run's config.toml) used instead of --preset; the flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The images: olivetti, mnist or fashion-mnist (found in $AE_OLIVETTI / $AE_MNIST /
    /// $AE_FASHION_MNIST, else the cache ($AE_CACHE_DIR or the user cache dir), else downloaded),
    /// or a path: olivettifaces.mat, an IDX file (*-ubyte, .gz or raw), a .npy array (N×H×W[×C],
    /// u8 or f32) or a folder of PNG/JPEG images [default: olivetti].
    #[arg(long)]
    data: Option<String>,
    /// Resize the images to H W [default: 32 32 for the Olivetti faces, else the images' own size].
    #[arg(long, num_args = 2, value_names = ["H", "W"])]
    size: Option<Vec<usize>>,
    /// Keep the images as 8-bit (u8, a quarter of the memory; 8-bit sources) or 32-bit floats [default: f32].
    #[arg(long, value_enum)]
    storage: Option<Storage>,
    /// An image in a folder that cannot be decoded: fail, or skip it with a warning [default: fail].
    #[arg(long, value_enum)]
    bad_images: Option<BadImages>,
    /// Run directory to create; must not exist [default: runs/<preset>-<UTC time>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Go on with an interrupted run (its DIR.partial) or train a finished one further (with a
    /// larger --epochs), from its checkpoint and with its own config.toml.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "config"])]
    resume: Option<PathBuf>,
    /// Write the checkpoint once this many seconds have passed since the last one, after that
    /// step, inside an epoch too (0: at every epoch's end instead); it is also written at the last
    /// epoch and on Ctrl-C.
    #[arg(long, default_value_t = 30.0)]
    checkpoint_seconds: f64,
    /// Passes over the training images [default: 600; 1000 with --preset deep].
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per Adam step [default: 50].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate [default: 0.003; 0.001 with --preset seed and seed-denoise].
    #[arg(long)]
    learning_rate: Option<f64>,
    /// The learning rate's course: constant, or cosine (down to zero at the last epoch)
    /// [default: cosine; constant with --preset seed and seed-denoise].
    #[arg(long, value_enum)]
    schedule: Option<Schedule>,
    /// Multiplies the learning rate of the code layer's weight [default: 0.1; 1 with --preset seed
    /// and seed-denoise].
    #[arg(long)]
    code_lr_scale: Option<f64>,
    /// Multiplies the learning rate of the linear path's tensors (--linear-path) [default: 0.01].
    #[arg(long)]
    linear_lr_scale: Option<f64>,
    /// Steps over which the learning rate rises linearly to its full value [default: 100; 0 with
    /// --preset seed and seed-denoise].
    #[arg(long)]
    warmup_steps: Option<u64>,
    /// Units in the code [default: 256]. A length that does not reshape to the decoder's first
    /// feature map (16×16 for 32×32 images) gets a dense projection to it.
    #[arg(long)]
    code_length: Option<usize>,
    /// Normalise the code's pre-activations before its function: batch (batch normalisation) or none
    /// [default: batch; none with --preset seed, seed-denoise and deep].
    #[arg(long, value_enum)]
    code_norm: Option<Norm>,
    /// The code's function: sigmoid (every unit in (0, 1)), identity (a linear code), or auto (the
    /// sigmoid where the code is reshaped into the decoder's first map, as at code 256 on 32×32
    /// faces; identity where a dense layer projects it there, as at any other length or on MNIST)
    /// [default: auto; sigmoid with --preset seed, seed-denoise and with --sparsity; identity with
    /// --preset deep].
    #[arg(long, value_enum)]
    code_activation: Option<CodeActivation>,
    /// Normalise every hidden convolution's output before its ReLU: batch or none [default: none;
    /// batch with --preset deep].
    #[arg(long, value_enum)]
    conv_norm: Option<Norm>,
    /// A linear encoder and decoder beside the network, started at PCA of the training images:
    /// the model starts as PCA at the code's length and trains the network as a correction. Its
    /// code is linear (--code-activation identity and --code-norm none unless said), its output
    /// linear and clipped to [0, 1]; the loss must be l2. `--linear-path false` removes it
    /// [default: false; true with --preset deep and residual, and for a denoiser (--noise) of the
    /// default preset with the l2 loss and no --sparsity, --dropout, --code-norm or --code-activation].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    linear_path: Option<bool>,
    /// Add stride-2 stages until the map the code layer reads is at most N pixels a side, so the
    /// model of a large image stays small [default: 16; 2 with --preset deep; the layers as
    /// written with --preset seed and seed-denoise].
    #[arg(long)]
    max_code_map_side: Option<usize>,
    /// Fraction of images held out of training and evaluated every epoch [default: 0.1; 0 with --preset seed].
    #[arg(long)]
    holdout: Option<f64>,
    /// Seed for the weights, the split, the shuffles and the noise [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Corrupt the training inputs (a denoising autoencoder): none, gaussian:SIGMA (clipped to [0, 1]),
    /// hetero:MIN:MAX (a σ per pixel drawn from [MIN, MAX]), salt-pepper:P, mask:P; the default
    /// preset's denoiser also gets --linear-path [default: none; gaussian:0.2 with --preset seed-denoise].
    #[arg(long)]
    noise: Option<Noise>,
    /// Training loss: l2 (0.5·Σ(x̂−x)²) or bce (binary cross-entropy) [default: l2].
    #[arg(long, value_enum)]
    loss: Option<Loss>,
    /// Weight λ of an L1 penalty on the code, per image λ·pixels·mean(|code|), for a sparse code
    /// (docs/denoising.md: 0.03 over 600 epochs lowers the faces' code mean to a sixth at −0.3 dB); a sparse
    /// code is a sigmoid's, so an auto code becomes the sigmoid [default: 0].
    #[arg(long)]
    sparsity: Option<f64>,
    /// Hold out images, or whole people (subjects) [default: images].
    #[arg(long, value_enum)]
    split_by: Option<SplitBy>,
    /// What to train: autoencoder, or vae (a variational autoencoder: a Gaussian code sampled in
    /// training, loss + β·KL; its code is not normalised) [default: autoencoder].
    #[arg(long, value_enum)]
    model: Option<ModelKind>,
    /// Units of a VAE's Gaussian code (its code length) [default: 16 with --model vae].
    #[arg(long, conflicts_with = "code_length")]
    latent_dim: Option<usize>,
    /// A VAE's weight on the KL term: 1 trains on the ELBO, others make a β-VAE [default: 1].
    #[arg(long)]
    beta: Option<f64>,
    /// Epochs over which a VAE's β rises linearly from 0 [default: 0, none].
    #[arg(long)]
    kl_warmup_epochs: Option<usize>,
    /// Decoupled weight decay λ on the convolution and dense weights (AdamW) [default: 0].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Change each training image as it is drawn, from the run's seed: none, flip (mirror left to
    /// right half the time), shift:K (move by up to K pixels each way) or flip,shift:K; the target
    /// is the changed image [default: flip,shift:2 for the faces with --preset default and deep;
    /// none otherwise].
    #[arg(long)]
    augment: Option<ae::augment::Augment>,
    /// Dropout on the code in training: each unit zeroed with probability P, the rest scaled by
    /// 1/(1−P); autoencoders only [default: 0].
    #[arg(long, value_name = "P")]
    dropout: Option<f64>,
    /// Stop when the held-out loss has not improved for N epochs (0: never); the model is the best
    /// epoch's either way [default: 0].
    #[arg(long, value_name = "N")]
    early_stopping: Option<usize>,
}

/// Which images of the dataset a command works on.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SplitChoice {
    /// The images held out of training (the model file records the split).
    Holdout,
    /// The images the model was trained on.
    Train,
    /// All images.
    All,
}

#[derive(Args)]
struct ModelInput {
    /// A model file (model.safetensors) or a run directory holding one.
    model: PathBuf,
    /// The dataset file or folder [default: the one the model was trained on].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Which images to use [default: holdout when the model has a held-out split, else all].
    #[arg(long, value_enum)]
    split: Option<SplitChoice>,
    /// Images per forward pass [default: 50].
    #[arg(long, default_value_t = 50)]
    batch_size: usize,
}

#[derive(Args)]
struct ReconstructArgs {
    #[command(flatten)]
    input: ModelInput,
    /// Output directory to create; must not exist [default: reconstruct-<split> beside the model].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Images shown in the grid [default: 10].
    #[arg(long, default_value_t = 10)]
    columns: usize,
}

#[derive(Args)]
struct EncodeArgs {
    #[command(flatten)]
    input: ModelInput,
    /// Output .npy file; must not exist [default: codes-<split>.npy beside the model]. Beside it,
    /// NAME-indices.npy (each code's image index in the dataset, int64) and, where the dataset
    /// has labels, NAME-labels.npy (uint8).
    #[arg(long)]
    out: Option<PathBuf>,
    /// One label per image of the dataset: an IDX label file [default: the labels file beside
    /// an IDX images file, e.g. MNIST's t10k-labels-idx1-ubyte next to t10k-images-idx3-ubyte].
    #[arg(long)]
    labels: Option<PathBuf>,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    input: ModelInput,
    /// Also evaluate denoising under this noise [default: the noise the model was trained with, if any].
    #[arg(long)]
    noise: Option<Noise>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// A VAE's importance samples per image for its negative log-likelihood [default: 200].
    #[arg(long, default_value_t = 200)]
    nll_samples: usize,
}

#[derive(Args)]
struct DenoiseArgs {
    #[command(flatten)]
    input: ModelInput,
    /// Noisy PNG/JPEG files to denoise, at the model's input size or a whole multiple of it.
    /// Without files: the chosen faces with the model's noise added, as a clean/noisy/denoised grid.
    images: Vec<PathBuf>,
    /// Output directory to create; must not exist [default: denoise-<split> or denoised beside the model].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Images shown in the grid [default: 10].
    #[arg(long, default_value_t = 10)]
    columns: usize,
}

#[derive(Args)]
struct BenchArgs {
    /// Which preset's model to time (seed and default differ only in padding; deep is another network).
    #[arg(long, value_enum, default_value_t = Preset::Seed)]
    preset: Preset,
    /// Timed repetitions; the median is reported.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Untimed repetitions first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Images per step.
    #[arg(long, default_value_t = 50)]
    batch_size: usize,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Buffers of 2 MB or more on transparent huge pages: a training step took about 4 % less time
/// than on 4 KB pages (see `ae_engine::huge_pages` and bench/README.md).
#[global_allocator]
static ALLOCATOR: ae_engine::huge_pages::HugePageAllocator = ae_engine::huge_pages::HugePageAllocator;

/// Prints the library's warnings (`log::warn!`, e.g. a skipped image file) on stderr.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("warning: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// A progress bar on stderr (when it is a terminal) for the library's downloads.
fn download_bar() -> impl Fn(&ae::data::download::Progress<'_>) + Send + Sync {
    let bar = std::sync::Mutex::new(None::<ProgressBar>);
    move |p| {
        let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
        let shown = bar.get_or_insert_with(|| {
            let bar = if std::io::stderr().is_terminal() {
                ProgressBar::new(p.total.unwrap_or(0))
            } else {
                ProgressBar::hidden()
            };
            bar.set_style(
                ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} ({eta})")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(format!("downloading {}", p.file_name));
            bar
        });
        shown.set_position(p.done);
        if p.finished {
            shown.finish_and_clear();
            *bar = None;
        }
    }
}

fn main() {
    if log::set_logger(&StderrLog).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    ae::data::download::observe_progress(download_bar());
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {}", with_flags(&format!("{e:#}")));
        std::process::exit(1);
    }
}

/// The library's messages name config keys; on the command line the same values are flags.
const FLAGS: &[(&str, &str)] = &[
    ("data.path", "--data"),
    ("data.size", "--size"),
    ("data.bad_images", "--bad-images"),
    ("data.storage", "--storage"),
    ("data.split", "--split-by"),
    ("data.holdout", "--holdout"),
    ("training.batch_size", "--batch-size"),
    ("training.epochs", "--epochs"),
    ("training.early_stopping", "--early-stopping"),
    ("training.weight_decay", "--weight-decay"),
    ("model.max_code_map_side", "--max-code-map-side"),
    ("output directory", "--out"),
    ("the limit", "--max-memory"),
];

/// `message` with the flag of each config key it names, e.g. `… set data.size (--size) …`.
fn with_flags(message: &str) -> String {
    FLAGS.iter().fold(message.to_string(), |m, (key, flag)| {
        if m.contains(key) && !m.contains(flag) {
            m.replacen(key, &format!("{key} ({flag})"), 1)
        } else {
            m
        }
    })
}

/// A size as `--max-memory` takes it: bytes, or a number with K, M, G or T (powers of 1000,
/// an optional B).
fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches('B');
    let (number, scale) = match digits.char_indices().last() {
        Some((i, 'K')) => (&digits[..i], 1e3),
        Some((i, 'M')) => (&digits[..i], 1e6),
        Some((i, 'G')) => (&digits[..i], 1e9),
        Some((i, 'T')) => (&digits[..i], 1e12),
        _ => (digits, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * scale < 1e19 => Ok((v * scale) as u64),
        _ => Err(format!("expected a size such as 4G, 500M or 1000000, got {text:?}")),
    }
}

/// The memory limit of this invocation (set once in `run`).
static MEMORY_LIMIT: std::sync::OnceLock<Option<MemoryLimit>> = std::sync::OnceLock::new();

fn memory_limit() -> Option<MemoryLimit> {
    MEMORY_LIMIT.get().copied().flatten()
}

/// What to change when a job over images does not fit.
const BATCH_ADVICE: &str = "use fewer images or a smaller --batch-size";

/// `--steps` as given: a line from one end to the other needs both ends.
fn steps_of(steps: usize) -> Result<usize> {
    if steps < 2 {
        bail!("--steps {steps}: at least 2 (both ends of the line)");
    }
    Ok(steps)
}

/// Refuses running `model` over `images` images in batches of `batch` (and keeping `outputs`
/// decoded images) past the memory limit.
fn check_inference(
    model: &ae::model::Autoencoder,
    images: usize,
    batch: usize,
    outputs: usize,
    advice: &str,
) -> Result<()> {
    if let Some(limit) = memory_limit() {
        let need = ae::inference::memory_need(&model.config, images, batch, outputs)?;
        limit.check("this job", &need, advice)?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    if cli.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(threads) = cli.threads.filter(|&t| t > 4 * cores) {
        // More threads than that only add switching (and thousands look like a hang).
        bail!("--threads {threads}: at most {} (4 × the {cores} cores)", 4 * cores);
    }
    let limit = cli.max_memory.map(MemoryLimit::asked).or_else(MemoryLimit::of_machine);
    MEMORY_LIMIT.set(limit).expect("run is called once");
    ae_engine::threads::init_global_pool(cli.threads).context("cannot start the thread pool")?;
    ae_engine::threads::flushing_denormals(|| match cli.command {
        Command::Train(args) => train_command(*args),
        Command::Reconstruct(args) => reconstruct_command(args),
        Command::Encode(args) => encode_command(args),
        Command::Eval(args) => eval_command(args),
        Command::Denoise(args) => denoise_command(args),
        Command::Bench(args) => bench_command(args),
        Command::Sample(args) => sample_command(args),
        Command::Interpolate(args) => interpolate_command(args),
        Command::Traverse(args) => traverse_command(args),
        Command::Latent(args) => latent_command(args),
        Command::Export(args) => export_command(args),
        Command::Report(args) => report_command(args),
        Command::Baseline(args) => baseline_command(args),
    })
}

/// Points `config` at `data` as `--data` says: a dataset by name unless a file of that name exists,
/// else a path. The presets' 32×32 is the tutorial's size for the faces; without `--size` (`size`)
/// other data keep their own size.
fn use_data(config: &mut RunConfig, data: &str, size: Option<&[usize]>) {
    let named = DatasetName::from_str(data, true).ok().filter(|_| !Path::new(data).exists());
    match named {
        Some(name) => {
            config.data.dataset = name;
            config.data.path = None;
        }
        None => config.data.path = Some(PathBuf::from(data)),
    }
    if let Some(size) = size {
        config.data.size = Some([size[0], size[1]]);
    } else if !is_olivetti(&config.data) {
        config.data.size = None;
    }
}

fn resolve_config(args: &TrainArgs) -> Result<RunConfig> {
    let mut config = match &args.config {
        Some(path) => RunConfig::from_toml_file(path)?,
        None => RunConfig::preset(args.preset),
    };
    if let Some(data) = &args.data {
        use_data(&mut config, data, args.size.as_deref());
        // The default preset's flips and shifts were measured on the faces; on MNIST they cost
        // 1.6 dB held out at code 256 (bench/README.md), so other data start from their images as
        // they are.
        if !is_olivetti(&config.data) && args.config.is_none() && args.augment.is_none() {
            config.training.augment = ae::augment::Augment::default();
        }
    }
    if let Some(size) = &args.size {
        config.data.size = Some([size[0], size[1]]);
    }
    if let Some(v) = args.storage {
        config.data.storage = v;
    }
    if let Some(v) = args.bad_images {
        config.data.bad_images = v;
    }
    if let Some(v) = args.epochs {
        config.training.epochs = v;
    }
    if let Some(v) = args.batch_size {
        config.training.batch_size = v;
    }
    if let Some(v) = args.learning_rate {
        config.training.learning_rate = v;
    }
    if let Some(v) = args.schedule {
        config.training.schedule = v;
    }
    if let Some(v) = args.code_lr_scale {
        config.training.code_lr_scale = v;
    }
    if let Some(v) = args.linear_lr_scale {
        config.training.linear_lr_scale = v;
    }
    if let Some(v) = args.warmup_steps {
        config.training.warmup_steps = v;
    }
    if let Some(v) = args.code_length {
        config.model.code_length = v;
    }
    // Before the code's own flags, so that a said code overrides the one the path brings.
    match args.linear_path {
        Some(true) => config.model.add_linear_path(),
        Some(false) => config.model.linear_path = false,
        None => {}
    }
    if let Some(v) = args.code_norm {
        config.model.code_norm = v;
    }
    if let Some(v) = args.code_activation {
        config.model.code_activation = v;
    }
    if let Some(v) = args.conv_norm {
        config.model.conv_norm = v;
    }
    if let Some(v) = args.max_code_map_side {
        config.model.max_code_map_side = Some(v);
    }
    if let Some(v) = args.holdout {
        config.data.holdout = v;
    }
    if let Some(v) = args.seed {
        config.training.seed = v;
    }
    if let Some(v) = args.noise {
        config.noise = v;
    }
    if let Some(v) = args.loss {
        config.training.loss = v;
    }
    if let Some(v) = args.sparsity {
        config.training.sparsity = v;
        // On a linear code an L1 penalty only shrinks the code's scale, which the decoder undoes.
        if v != 0.0 && config.model.code_activation == CodeActivation::Auto {
            config.model.code_activation = CodeActivation::Sigmoid;
        }
    }
    if let Some(v) = args.split_by {
        config.data.split = v;
    }
    if let Some(kind) = args.model {
        config.model.kind = kind;
        if kind == ModelKind::Vae {
            // The presets' code is the tutorial's; a VAE's is a small Gaussian.
            config.model.code_length = args.code_length.unwrap_or(16);
            config.model.code_norm = args.code_norm.unwrap_or(Norm::None);
            // A VAE's code is its sampled Gaussian; the autoencoder's code function does not apply.
            config.model.code_activation = CodeActivation::Sigmoid;
        }
    }
    if let Some(v) = args.latent_dim {
        if config.model.kind != ModelKind::Vae {
            bail!("--latent-dim is a VAE's code length: give it with --model vae, or use --code-length");
        }
        config.model.code_length = v;
    }
    if let Some(v) = args.beta {
        config.training.beta = v;
    }
    if let Some(v) = args.kl_warmup_epochs {
        config.training.kl_warmup_epochs = v;
    }
    if let Some(v) = args.weight_decay {
        config.training.weight_decay = v;
    }
    if let Some(v) = args.augment {
        config.training.augment = v;
    }
    if let Some(v) = args.dropout {
        config.model.dropout = v;
    }
    if let Some(v) = args.early_stopping {
        config.training.early_stopping = v;
    }
    // The default preset's denoiser learns as a correction to PCA's linear denoiser, unless the
    // code was said: its network alone stays below that linear filter (docs/presets.md).
    let code_said = args.linear_path.is_some() || args.code_activation.is_some() || args.code_norm.is_some();
    if args.config.is_none()
        && args.preset == Preset::Default
        && !code_said
        && config.is_denoiser_for_linear_path()
    {
        config.model.add_linear_path();
    }
    config.validate()?;
    Ok(config)
}

fn default_run_dir(preset: Preset) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp = now.trim_end_matches('Z').replace([':', '-'], "").replace('T', "-");
    let name = match preset {
        Preset::Seed => "seed",
        Preset::Default => "default",
        Preset::SeedDenoise => "seed-denoise",
        Preset::Deep => "deep",
        Preset::Residual => "residual",
    };
    // Two runs started in the same second get -2, -3, … rather than a refusal.
    let free = |p: &Path| !p.exists() && !partial_of(p).exists();
    let base = PathBuf::from("runs").join(format!("{name}-{stamp}"));
    (1..)
        .map(|k| if k == 1 { base.clone() } else { PathBuf::from(format!("{}-{k}", base.display())) })
        .find(|p| free(p))
        .expect("some suffix is free")
}

fn train_command(args: TrainArgs) -> Result<()> {
    let config = resolve_config(&args)?;
    let out = args.out.clone().unwrap_or_else(|| default_run_dir(config.preset));
    let bar = if std::io::stdout().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("  step {pos}/{len} {bar:30} {elapsed}").expect("a valid template"),
    );
    let on_event = |event: Event<'_>| {
        match event {
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
        Some(dir) => train_resume(&args, dir, &job, on_event),
        None => train(&config, &out, &job, on_event).map_err(Into::into),
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
            ae::training::LAST_MODEL
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
             the default preset does.",
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

/// `ae train --resume DIR`: only `--epochs` may change the run's config.
fn train_resume(
    args: &TrainArgs,
    dir: &Path,
    job: &Job<'_>,
    on_event: impl FnMut(Event<'_>),
) -> Result<ae::training::TrainSummary> {
    let Command::Train(defaults) = Cli::parse_from(["ae", "train"]).command else {
        unreachable!("parsed as the train command")
    };
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

/// How long the first SIGINT or SIGTERM waits for the run to stop on its own before the process
/// exits anyway: longer than a step, shorter than a service manager's grace before SIGKILL.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The signal that asked training to stop (0: none yet). The first SIGINT or SIGTERM sets it and
/// the run stops after its current step with a checkpoint; a second one, or [`STOP_GRACE`]
/// without the run stopping (a step or a finishing stage that does not end), exits at once. The
/// run's files are written atomically, so an exit leaves the last checkpoint to resume from.
fn interrupts() -> Result<std::sync::Arc<std::sync::atomic::AtomicUsize>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::{atomic::AtomicBool, Arc};
    let (asked, which) = (Arc::new(AtomicBool::new(false)), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    for signal in [SIGINT, SIGTERM] {
        // Registered before the flag, the shutdown sees it set only on the second signal.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&asked))?;
        signal_hook::flag::register(signal, Arc::clone(&asked))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)?;
    }
    let seen = Arc::clone(&which);
    std::thread::spawn(move || {
        let tick = std::time::Duration::from_millis(50);
        while seen.load(Ordering::Relaxed) == 0 {
            std::thread::sleep(tick);
        }
        std::thread::sleep(STOP_GRACE);
        eprintln!(
            "error: the run did not stop within {} s of the signal; exiting (the last checkpoint stays: resume with --resume)",
            STOP_GRACE.as_secs()
        );
        std::process::exit(128 + seen.load(Ordering::Relaxed) as i32);
    });
    Ok(which)
}

fn describe(q: &Quality) -> String {
    format!("MSE {:.5}, PSNR {}, SSIM {:.4}", q.mse, ae::evaluation::psnr_text(q.psnr_db), q.ssim)
}

/// PCA's figures beside the model's `q`.
fn baseline_line(b: &ae::baseline::Baseline, q: &Quality) -> String {
    format!(
        "PCA baseline, {} components ({}, {:.1} s): {}; the model is {}.",
        b.components,
        b.method,
        b.seconds,
        describe(&b.quality),
        ae::evaluation::psnr_gap_text(q.psnr_db, b.quality.psnr_db)
    )
}

/// The model, its recipe and the chosen images, prepared as in training.
fn load_inputs(input: &ModelInput) -> Result<(ae::model::Autoencoder, DataRecipe, Images, &'static str)> {
    let (model, recipe, images, split, _, _) = load_indexed_inputs(input)?;
    Ok((model, recipe, images, split))
}

/// [`load_inputs`], the chosen images' indices in the whole dataset (to match a labels file) and
/// the whole dataset's count.
#[allow(clippy::type_complexity)]
fn load_indexed_inputs(
    input: &ModelInput,
) -> Result<(ae::model::Autoencoder, DataRecipe, Images, &'static str, Vec<usize>, usize)> {
    let (model, recipe, images, name, indices, _, total) = load_inputs_and_training(input, None)?;
    Ok((model, recipe, images, name, indices, total))
}

/// [`load_indexed_inputs`], the model's training images (for the PCA baseline) and the dataset's
/// count; `eval` (its importance samples) sizes `eval`'s own steps into the memory check.
#[allow(clippy::type_complexity)]
fn load_inputs_and_training(
    input: &ModelInput,
    eval: Option<usize>,
) -> Result<(ae::model::Autoencoder, DataRecipe, Images, &'static str, Vec<usize>, ae::data::Pixels, usize)> {
    check_batch(input.batch_size)?;
    let header = checkpoint::header(&input.model)?;
    let mut data = header.recipe.data.clone();
    if let Some(path) = &input.data {
        data.path = Some(path.clone());
    }
    let choice =
        input.split.unwrap_or(if data.holdout > 0.0 { SplitChoice::Holdout } else { SplitChoice::All });
    // Sized from the headers first: a job too large for the limit is refused before any loading.
    if let Some(limit) = memory_limit() {
        let size = ae::data::probe::probe(&data)?;
        let split = split_for(&data, size.count, header.recipe.seed)?;
        let run = match choice {
            SplitChoice::Holdout => split.holdout.len(),
            SplitChoice::Train => split.train.len(),
            SplitChoice::All => size.count,
        };
        let need =
            ae::inference::dataset_need(&header, &size, run, split.train.len(), input.batch_size, eval)?;
        limit.check("this job", &need, BATCH_ADVICE)?;
    }
    let (model, recipe) = checkpoint::load(&input.model)?;
    let pixels = load_dataset(&data, None)?;
    let s = pixels.shape();
    if [s.height, s.width, s.channels] != model.config.input {
        let [h, w, c] = model.config.input;
        bail!("the data are {}×{}×{} images but the model takes {h}×{w}×{c}", s.height, s.width, s.channels);
    }
    let split = split_for(&data, pixels.len(), recipe.seed)?;
    let (indices, name) = match choice {
        SplitChoice::Holdout if split.holdout.is_empty() => {
            bail!("--split holdout: this model was trained without a held-out split")
        }
        SplitChoice::Holdout => (split.holdout, "holdout"),
        SplitChoice::Train => (split.train.clone(), "train"),
        SplitChoice::All => ((0..pixels.len()).collect(), "all"),
    };
    let images = if name == "all" { pixels.to_images() } else { pixels.select(&indices).to_images() };
    let train = pixels.select(&split.train);
    Ok((model, recipe, images, name, indices, train, pixels.len()))
}

/// Reads the model of `input`, refused past the memory limit from its header.
fn load_model(input: &ModelInput) -> Result<(ae::model::Autoencoder, DataRecipe)> {
    check_batch(input.batch_size)?;
    if let Some(limit) = memory_limit() {
        let need =
            checkpoint::header(&input.model)?.loading + MemoryNeed { other: PROCESS, ..Default::default() };
        limit.check("loading the model", &need, "use --max-memory to allow more")?;
    }
    Ok(checkpoint::load(&input.model)?)
}

fn check_batch(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    Ok(())
}

fn beside_model(model: &Path, name: &str) -> PathBuf {
    let dir = if model.is_dir() { model } else { model.parent().unwrap_or(Path::new(".")) };
    dir.join(name)
}

/// `[n, h, w]` for grayscale, `[n, h, w, c]` otherwise.
fn npy_shape(images: &Images) -> Vec<usize> {
    let s = images.shape;
    let mut shape = vec![images.len(), s.height, s.width];
    if s.channels > 1 {
        shape.push(s.channels);
    }
    shape
}

fn reconstruct_command(args: ReconstructArgs) -> Result<()> {
    let (model, _, images, split) = load_inputs(&args.input)?;
    let out =
        args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("reconstruct-{split}")));
    let run = RunDir::create(&out)?;
    let predictions = predict(&model, &images, args.input.batch_size);
    let shown: Vec<usize> = (0..images.len().min(args.columns.max(1))).collect();
    let grid = run.path().join("reconstructions.png");
    save_grid(
        &grid,
        &[&images.select(&shown), &predictions.reconstructions.select(&shown)],
        shown.len(),
        64,
    )?;
    save_npy(&run.path().join("originals.npy"), &npy_shape(&images), &images.data)?;
    let recon = &predictions.reconstructions;
    save_npy(&run.path().join("reconstructions.npy"), &npy_shape(recon), &recon.data)?;
    let out = run.finish()?;
    let q = quality(&images, recon);
    println!(
        "Reconstructed {} {split} images (MSE {:.5}, PSNR {}) into {}",
        q.images,
        q.mse,
        ae::evaluation::psnr_text(q.psnr_db),
        out.display()
    );
    Ok(())
}

/// `images` cut into rows of `columns` (the last may be shorter), for a grid.
fn rows_of(images: &Images, columns: usize) -> Vec<Images> {
    (0..images.len())
        .step_by(columns.max(1))
        .map(|start| images.select(&(start..(start + columns).min(images.len())).collect::<Vec<_>>()))
        .collect()
}

/// Decoded `images` as `dir/<name>` and the codes `z` they came from as `dir/<codes>`.
fn save_decoded(dir: &Path, [name, codes]: [&str; 2], images: &Images, z: &[f32]) -> Result<()> {
    save_npy(&dir.join(name), &npy_shape(images), &images.data)?;
    save_npy(&dir.join(codes), &[images.len(), z.len() / images.len().max(1)], z)?;
    Ok(())
}

/// Refuses a `--range` that is not a positive number.
fn check_range(range: f32) -> Result<()> {
    if !(range.is_finite() && range > 0.0) {
        bail!("--range must be a positive number, got {range}");
    }
    Ok(())
}

/// Refuses `flag`'s image index `i` past the `split`'s `count` images.
fn check_index(flag: &str, i: usize, count: usize, split: &str) -> Result<()> {
    if i >= count {
        bail!("{flag} {i}: the {split} split has {count} images");
    }
    Ok(())
}

fn sample_command(args: SampleArgs) -> Result<()> {
    let input = ModelInput { model: args.model.clone(), data: None, split: None, batch_size: 50 };
    let (model, _) = load_model(&input)?;
    if !model.is_variational() {
        bail!(
            "{} is not a VAE: only a VAE's codes follow N(0, I) (train one with --model vae)",
            args.model.display()
        );
    }
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    // The codes are decoded in one batch.
    check_inference(&model, args.count, args.count, args.count, "use a smaller --count")?;
    let out = args.out.clone().unwrap_or_else(|| beside_model(&args.model, "samples"));
    let run = RunDir::create(&out)?;
    let (z, images) = sample_prior(&model, args.count, args.seed);
    let columns = (args.count as f64).sqrt().ceil() as usize;
    let rows = rows_of(&images, columns);
    // A last row shorter than the others is left out of the grid (the .npy has every sample).
    let full: Vec<&Images> = rows.iter().filter(|r| r.len() == columns).collect();
    save_grid(&run.path().join("samples.png"), &full, columns, 64)?;
    save_decoded(run.path(), ["samples.npy", "codes.npy"], &images, &z)?;
    let out = run.finish()?;
    println!("Decoded {} codes drawn from N(0, I) (seed {}) into {}", args.count, args.seed, out.display());
    Ok(())
}

fn interpolate_command(args: InterpolateArgs) -> Result<()> {
    let (model, _, images, split) = load_inputs(&args.input)?;
    check_index("--from", args.from, images.len(), split)?;
    check_index("--to", args.to, images.len(), split)?;
    let name = format!("interpolate-{}-{}", args.from, args.to);
    let out = args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &name));
    let run = RunDir::create(&out)?;
    let (from, to) = (images.select(&[args.from]), images.select(&[args.to]));
    let (z, line) = interpolate(&model, &from, &to, steps_of(args.steps)?);
    save_grid(&run.path().join("interpolation.png"), &[&line], line.len(), 64)?;
    save_decoded(run.path(), ["images.npy", "codes.npy"], &line, &z)?;
    let out = run.finish()?;
    println!(
        "Decoded {} codes from {split} image {} to {} into {}",
        line.len(),
        args.from,
        args.to,
        out.display()
    );
    Ok(())
}

fn traverse_command(args: TraverseArgs) -> Result<()> {
    let (model, _, images, split) = load_inputs(&args.input)?;
    check_index("--image", args.image, images.len(), split)?;
    check_range(args.range)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| beside_model(&args.input.model, &format!("traverse-{}", args.image)));
    let run = RunDir::create(&out)?;
    let base = predict(&model, &images.select(&[args.image]), 1).codes;
    let steps = steps_of(args.steps)?;
    let (z, grid) = traverse(&model, &base, args.range, steps);
    let rows = rows_of(&grid, steps);
    save_grid(&run.path().join("traversal.png"), &rows.iter().collect::<Vec<_>>(), steps, 64)?;
    save_decoded(run.path(), ["images.npy", "codes.npy"], &grid, &z)?;
    let out = run.finish()?;
    println!(
        "Decoded {} units × {steps} values in ±{} around {split} image {}'s code into {}",
        base.len(),
        args.range,
        args.image,
        out.display()
    );
    Ok(())
}

fn latent_command(args: LatentArgs) -> Result<()> {
    let (model, _, images, split, indices, total) = load_indexed_inputs(&args.input)?;
    let code_length = model.config.code_length;
    let [x, y] = [args.units[0], args.units[1]];
    if x == y || x.max(y) >= code_length {
        bail!("--units {x} {y}: two different units of the code's {code_length} are needed");
    }
    let manifold_too = model.is_variational() && code_length == 2;
    if manifold_too {
        check_range(args.range)?;
    }
    let labels = args.labels.as_deref().map(|path| labels_of(path, &indices, total)).transpose()?;
    let out = args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("latent-{split}")));
    let run = RunDir::create(&out)?;
    let codes = predict(&model, &images, args.input.batch_size).codes;
    let points: Vec<[f32; 2]> = codes.chunks_exact(code_length).map(|c| [c[x], c[y]]).collect();
    let names = [format!("code unit {x}"), format!("code unit {y}")];
    save_latent_scatter(&run.path().join("scatter.png"), &points, labels.as_deref(), [&names[0], &names[1]])?;
    save_npy(&run.path().join("codes.npy"), &[images.len(), code_length], &codes)?;
    if let Some(labels) = &labels {
        let as_floats: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
        save_npy(&run.path().join("labels.npy"), &[labels.len()], &as_floats)?;
    }
    if manifold_too {
        let steps = steps_of(args.steps)?;
        let (z, grid) = manifold(&model, args.range, steps);
        let rows = rows_of(&grid, steps);
        save_grid(
            &run.path().join("manifold.png"),
            &rows.iter().collect::<Vec<_>>(),
            steps,
            28.max(grid.shape.height),
        )?;
        save_decoded(run.path(), ["manifold.npy", "manifold-codes.npy"], &grid, &z)?;
    }
    let out = run.finish()?;
    let drawn = if manifold_too { "scatter.png and manifold.png" } else { "scatter.png" };
    let coloured = if labels.is_some() { ", coloured by label" } else { "" };
    println!("Drew the codes of {} {split} images{coloured}: {drawn} in {}", images.len(), out.display());
    Ok(())
}

/// The labels in the IDX file `path` of the dataset's images at `indices`; the file must hold one
/// label for each of the dataset's `total` images.
fn labels_of(path: &Path, indices: &[usize], total: usize) -> Result<Vec<u8>> {
    let all = load_labels(path)?;
    if all.len() != total {
        bail!(
            "{}: {} labels for a dataset of {total} images; one label per image is needed",
            path.display(),
            all.len()
        );
    }
    Ok(indices.iter().map(|&i| all[i]).collect())
}

fn encode_command(args: EncodeArgs) -> Result<()> {
    let (model, recipe, images, split, indices, total) = load_indexed_inputs(&args.input)?;
    let out =
        args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("codes-{split}.npy")));
    // Beside the codes, named after them: `codes-holdout.npy` → `codes-holdout-indices.npy`.
    let beside = |what: &str| {
        let stem = out.file_stem().map_or("codes".into(), |s| s.to_string_lossy().into_owned());
        out.with_file_name(format!("{stem}-{what}.npy"))
    };
    let data_path = args.input.data.clone().or(recipe.data.path.clone());
    let labels_path = args.labels.clone().or_else(|| data_path.as_deref().and_then(ae::data::labels_beside));
    let (indices_out, labels_out) = (beside("indices"), beside("labels"));
    for path in [&out, &indices_out].into_iter().chain(labels_path.as_ref().map(|_| &labels_out)) {
        if path.exists() {
            bail!("{} already exists; choose another --out or remove it", path.display());
        }
    }
    let labels = labels_path.as_deref().map(|path| labels_of(path, &indices, total)).transpose()?;
    let predictions = predict(&model, &images, args.input.batch_size);
    save_npy(&out, &[images.len(), model.config.code_length], &predictions.codes)?;
    let as_i64: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    save_npy(&indices_out, &[as_i64.len()], &as_i64)?;
    if let Some(labels) = &labels {
        save_npy(&labels_out, &[labels.len()], labels)?;
    }
    let mean =
        predictions.codes.iter().map(|&c| c as f64).sum::<f64>() / predictions.codes.len().max(1) as f64;
    println!(
        "Encoded {} {split} images to {} codes of {} (mean {mean:.4}): {}; their dataset indices: {}{}",
        images.len(),
        images.len(),
        model.config.code_length,
        out.display(),
        indices_out.display(),
        if labels.is_some() { format!("; their labels: {}", labels_out.display()) } else { String::new() }
    );
    Ok(())
}

fn eval_command(args: EvalArgs) -> Result<()> {
    let (model, recipe, images, split, _, train, _) =
        load_inputs_and_training(&args.input, Some(args.nll_samples))?;
    let batch = args.input.batch_size;
    let q = quality(&images, &predict(&model, &images, batch).reconstructions);
    let noise = args.noise.unwrap_or(recipe.noise);
    // A denoiser sees the same seeded noise as its held-out evaluation during training.
    let denoising = (!noise.is_none()).then(|| {
        let noisy = corrupt(&images, noise, recipe.seed);
        let denoised = predict(&model, &noisy, batch).reconstructions;
        (quality(&images, &noisy), quality(&images, &denoised))
    });
    // A VAE's terms under the likelihood it was trained with; the draws are seeded by its run.
    let vae = model
        .is_variational()
        .then(|| vae_terms(&model, &images, recipe.loss, args.nll_samples, recipe.seed));
    // PCA of the code's length on the model's training images, as the model saw its inputs (its
    // memory is in the job's check).
    let noisy = denoising.as_ref().map(|_| corrupt(&images, noise, recipe.seed));
    let baseline = ae::baseline::pca_baseline(
        &train,
        noisy.as_ref().unwrap_or(&images),
        &images,
        model.config.code_length,
        recipe.seed,
    )
    .map_err(|e| log::warn!("no PCA baseline: {e}"))
    .ok();
    if args.json {
        let mut value = serde_json::to_value(&q)?;
        value["split"] = split.into();
        if let Some(b) = &baseline {
            value["baseline"] = serde_json::to_value(b)?;
        }
        if let Some((noisy, denoised)) = &denoising {
            value["noise"] = noise.to_string().into();
            value["noisy"] = serde_json::to_value(noisy)?;
            value["denoised"] = serde_json::to_value(denoised)?;
        }
        if let Some(vae) = &vae {
            value["vae"] = serde_json::to_value(vae)?;
        }
        println!("{value}");
    } else {
        println!("{split}: {} images, {}, loss per sample {:.4}", q.images, describe(&q), q.loss_per_sample);
        if let Some((noisy, denoised)) = &denoising {
            println!("with noise {noise}: noisy inputs {}; denoised {}", describe(noisy), describe(denoised));
        }
        if let Some(b) = &baseline {
            let model_q = denoising.as_ref().map_or(&q, |(_, denoised)| denoised);
            println!("{}", baseline_line(b, model_q));
        }
        if let Some(v) = &vae {
            println!(
                "VAE ({}), nats per image: reconstruction {:.2}, KL {:.2}, ELBO {:.2}; \
                 NLL {:.2} ({} importance samples)",
                match recipe.loss {
                    Loss::Bce => "Bernoulli likelihood",
                    Loss::L2 => "unit-variance Gaussian likelihood",
                },
                v.reconstruction,
                v.kl,
                v.elbo,
                v.nll,
                v.samples
            );
        }
    }
    Ok(())
}

fn denoise_command(args: DenoiseArgs) -> Result<()> {
    let (model, recipe) = load_model(&args.input)?;
    if recipe.noise.is_none() {
        bail!(
            "{} was trained without noise, so it is not a denoiser (train one with --noise)",
            args.input.model.display()
        );
    }
    let batch = args.input.batch_size;
    if !args.images.is_empty() {
        // The inputs decode to the model's size; what they need is known before reading any.
        check_inference(&model, args.images.len(), batch, args.images.len(), BATCH_ADVICE)?;
        let noisy = images_for_model(&args.images, model.config.input, recipe.data.resize)?;
        let out = args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, "denoised"));
        let run = RunDir::create(&out)?;
        let denoised = predict(&model, &noisy, batch).reconstructions;
        // Inputs of one name from different folders are numbered, never written over each other.
        let (mut used, mut numbered) = (std::collections::HashSet::new(), 0);
        for (i, path) in args.images.iter().enumerate() {
            let stem =
                path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| format!("{i}"));
            let mut name = stem.clone();
            for k in 2.. {
                if used.insert(name.clone()) {
                    break;
                }
                name = format!("{stem}-{k}");
            }
            numbered += (name != stem) as usize;
            save_images(run.path(), &format!("{name}-"), &denoised.select(&[i]))?;
        }
        let shown: Vec<usize> = (0..noisy.len().min(args.columns.max(1))).collect();
        save_grid(
            &run.path().join("denoising.png"),
            &[&noisy.select(&shown), &denoised.select(&shown)],
            shown.len(),
            64,
        )?;
        let out = run.finish()?;
        let note = if numbered > 0 {
            format!(" ({numbered} with a repeated name numbered: NAME-2, …)")
        } else {
            String::new()
        };
        println!("Denoised {} images into {}{note}", noisy.len(), out.display());
        return Ok(());
    }
    let (_, _, clean, split) = load_inputs(&args.input)?;
    let out =
        args.out.clone().unwrap_or_else(|| beside_model(&args.input.model, &format!("denoise-{split}")));
    let run = RunDir::create(&out)?;
    let noisy = corrupt(&clean, recipe.noise, recipe.seed);
    let denoised = predict(&model, &noisy, batch).reconstructions;
    let shown: Vec<usize> = (0..clean.len().min(args.columns.max(1))).collect();
    let rows = [clean.select(&shown), noisy.select(&shown), denoised.select(&shown)];
    save_grid(&run.path().join("denoising.png"), &[&rows[0], &rows[1], &rows[2]], shown.len(), 64)?;
    save_npy(&run.path().join("noisy.npy"), &npy_shape(&noisy), &noisy.data)?;
    save_npy(&run.path().join("denoised.npy"), &npy_shape(&denoised), &denoised.data)?;
    let out = run.finish()?;
    println!(
        "{} {split} images with noise {}: noisy {}; denoised {}. Grid in {}",
        clean.len(),
        recipe.noise,
        describe(&quality(&clean, &noisy)),
        describe(&quality(&clean, &denoised)),
        out.display()
    );
    Ok(())
}

fn bench_command(args: BenchArgs) -> Result<()> {
    if args.steps == 0 || args.batch_size == 0 {
        bail!("--steps and --batch-size must be at least 1");
    }
    let config = RunConfig::preset(args.preset).model;
    let report = ae::bench::run(&config, args.batch_size, args.steps, args.warmup)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(())
}

fn export_command(args: ExportArgs) -> Result<()> {
    use ae::export::{onnx, pytorch, Part};
    let (model, recipe) = checkpoint::load(&args.model)?;
    let preprocessing = checkpoint::Preprocessing::of(&model, &recipe);
    match args.format {
        ExportFormat::Onnx => {
            let name = match args.part {
                Part::All => "model.onnx",
                Part::Encoder => "encoder.onnx",
                Part::Decoder => "decoder.onnx",
            };
            let out = args.out.unwrap_or_else(|| beside_model(&args.model, name));
            if out.exists() {
                bail!("{} already exists; choose another --out or remove it", out.display());
            }
            let bytes = onnx::export(&model, args.part, &preprocessing);
            ae::report::write_atomic(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let (input, output) = match args.part {
                Part::All => (onnx::IMAGE, format!("{} and {}", onnx::RECONSTRUCTION, onnx::CODE)),
                Part::Encoder => (onnx::IMAGE, onnx::CODE.to_string()),
                Part::Decoder => (onnx::CODE, onnx::RECONSTRUCTION.to_string()),
            };
            println!(
                "Wrote {} (ONNX opset {}, {}): input `{input}`, output {output}, batch axis `N`",
                out.display(),
                onnx::OPSET,
                ae::memory::Bytes(bytes.len() as u64)
            );
        }
        ExportFormat::Pytorch => {
            if args.part != Part::All {
                bail!("--part applies to --format onnx; the PyTorch module has encode() and decode()");
            }
            let out = args.out.unwrap_or_else(|| beside_model(&args.model, "pytorch"));
            if out.exists() {
                bail!("{} already exists; choose another --out or remove it", out.display());
            }
            // The run's training settings, where the model sits in its run directory.
            let config_path = beside_model(&args.model, "config.toml");
            let training = if config_path.exists() {
                RunConfig::from_toml_file(&config_path)?.training
            } else {
                RunConfig::preset(Preset::Default).training
            };
            let images = if args.no_data {
                None
            } else {
                // One read of the dataset: the held-out images (or, without a split, all of them,
                // which are the training images) and the training images.
                let holdout = recipe.data.holdout > 0.0;
                let split = Some(if holdout { SplitChoice::Holdout } else { SplitChoice::All });
                let input =
                    ModelInput { model: args.model.clone(), data: args.data.clone(), split, batch_size: 1 };
                let (_, _, shown, _, _, train, _) = load_inputs_and_training(&input, None)?;
                Some((train.to_images(), holdout.then_some(shown)))
            };
            let model_file =
                if args.model.is_dir() { args.model.join("model.safetensors") } else { args.model.clone() };
            let run = RunDir::create(&out)?;
            let dir = run.path();
            let write = |name: &str, bytes: &[u8]| {
                ae::report::write_atomic(&dir.join(name), bytes)
                    .with_context(|| format!("cannot write {name}"))
            };
            write("model.py", pytorch::model_py(&model, &preprocessing).as_bytes())?;
            write("train.py", pytorch::train_py(&training, &recipe).as_bytes())?;
            let bytes = std::fs::read(&model_file)
                .with_context(|| format!("cannot read {}", model_file.display()))?;
            write("model.safetensors", &bytes)?;
            let mut written = vec!["model.py", "train.py", "model.safetensors"];
            if let Some((train, holdout)) = &images {
                for (name, images) in [("train.npy", Some(train)), ("holdout.npy", holdout.as_ref())] {
                    if let Some(images) = images {
                        let s = images.shape;
                        save_npy(
                            &dir.join(name),
                            &[images.len(), s.channels, s.height, s.width],
                            &images.to_nchw(),
                        )?;
                        written.push(name);
                    }
                }
            }
            let out = run.finish()?;
            println!(
                "Wrote {}: {}. Load with `from model import load`; carry on training with `python train.py` or `torchrun --nproc-per-node N train.py`",
                out.display(),
                written.join(", ")
            );
        }
    }
    Ok(())
}

fn report_command(args: ReportArgs) -> Result<()> {
    use ae::report::{compare_runs, run_report, RunFiles, REPORT};
    let runs = args
        .runs
        .iter()
        .map(|dir| {
            let dir: PathBuf = dir.components().collect();
            let name = dir
                .file_name()
                .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
            if !dir.is_dir() {
                bail!("{} is not a run directory", dir.display());
            }
            Ok(RunFiles::read(&dir, &name)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let (out, page) = match (&args.out, runs.as_slice()) {
        // A run's own report is made from its files: writing it again loses nothing.
        (None, [run]) => (args.runs[0].join(REPORT), run_report(run)),
        (out, _) => {
            let out = out.clone().unwrap_or_else(|| PathBuf::from("compare.html"));
            if out.exists() {
                bail!("{} already exists; choose another --out or remove it", out.display());
            }
            let page = if let [run] = runs.as_slice() { run_report(run) } else { compare_runs(&runs) };
            (out, page)
        }
    };
    ae::report::write_atomic(&out, page.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "Wrote {} ({} run{}); open it in a browser",
        out.display(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

fn baseline_command(args: BaselineArgs) -> Result<()> {
    let mut config = RunConfig::preset(args.preset);
    use_data(&mut config, &args.data, args.size.as_deref());
    let pixels = load_dataset(&config.data, None)?;
    let split = split_for(&config.data, pixels.len(), args.seed)?;
    let (train, eval, which) = if split.holdout.is_empty() {
        (pixels.select(&split.train), pixels.to_images(), "all")
    } else {
        (pixels.select(&split.train), pixels.select(&split.holdout).to_images(), "holdout")
    };
    if let Some(limit) = memory_limit() {
        let d = pixels.shape().len();
        let need = ae::memory::MemoryNeed {
            parameters: 0,
            activations: 0,
            scratch: ae::baseline::memory_need(train.len(), d, args.components),
            data: pixels.bytes() + 8 * eval.data.len() as u64,
            other: ae::memory::PROCESS,
        };
        limit.check("the PCA baseline", &need, "use fewer components or smaller images")?;
    }
    let noise = args.noise.unwrap_or_default();
    let noisy = (!noise.is_none()).then(|| corrupt(&eval, noise, args.seed));
    let b = ae::baseline::pca_baseline(
        &train,
        noisy.as_ref().unwrap_or(&eval),
        &eval,
        args.components,
        args.seed,
    )?;
    if args.json {
        let mut value = serde_json::to_value(&b)?;
        value["split"] = which.into();
        value["train_images"] = train.len().into();
        println!("{value}");
    } else {
        println!(
            "PCA, {} components ({}, {:.1} s), fitted on {} training images; {which}: {} images, {}{}",
            b.components,
            b.method,
            b.seconds,
            train.len(),
            b.quality.images,
            describe(&b.quality),
            if noise.is_none() { String::new() } else { format!(" (from inputs with noise {noise})") }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(flags: &[&str]) -> RunConfig {
        let Command::Train(args) = Cli::parse_from([&["ae", "train"], flags].concat()).command else {
            unreachable!("parsed as the train command")
        };
        resolve_config(&args).unwrap()
    }

    #[test]
    fn linear_path_turns_on_bare_and_off_with_false() {
        let path = |flags: &[&str]| {
            let m = resolved(flags).model;
            (m.linear_path, m.code_activation, m.code_norm)
        };
        use CodeActivation::{Auto, Identity};
        assert_eq!(path(&[]), (false, Auto, Norm::Batch));
        assert_eq!(path(&["--linear-path"]), (true, Identity, Norm::None));
        assert_eq!(path(&["--linear-path", "true"]), (true, Identity, Norm::None));
        // A said code stays as said (the model then refuses it with the path, by key).
        assert_eq!(path(&["--linear-path", "--code-norm", "batch"]), (true, Identity, Norm::Batch));
        assert_eq!(
            path(&["--code-activation", "sigmoid", "--linear-path"]),
            (true, CodeActivation::Sigmoid, Norm::None)
        );
        assert_eq!(path(&["--preset", "deep"]), (true, Identity, Norm::None));
        // Off, the deep network keeps its own linear code.
        assert_eq!(path(&["--preset", "deep", "--linear-path", "false"]), (false, Identity, Norm::None));
        assert_eq!(path(&["--linear-path", "false"]), (false, Auto, Norm::Batch));
        let said = resolved(&["--preset", "deep", "--linear-path", "false", "--code-norm", "batch"]);
        assert_eq!(said.validate(), Ok(()));
    }

    #[test]
    fn the_default_preset_s_denoiser_has_the_linear_path_unless_the_code_is_said() {
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
        assert_eq!(with_noise(&["--preset", "residual"]), (true, Identity, Norm::None));
        assert_eq!(path(&["--noise", "none"]), (false, Auto, Norm::Batch));
        // Off where the path does not fit, or the code was said.
        assert_eq!(with_noise(&["--linear-path", "false"]), (false, Auto, Norm::Batch));
        assert_eq!(with_noise(&["--loss", "bce"]), (false, Auto, Norm::Batch));
        assert_eq!(with_noise(&["--sparsity", "0.01"]), (false, Sigmoid, Norm::Batch));
        assert_eq!(with_noise(&["--dropout", "0.1"]), (false, Auto, Norm::Batch));
        assert_eq!(with_noise(&["--model", "vae"]), (false, Sigmoid, Norm::None));
        assert_eq!(with_noise(&["--code-norm", "batch"]), (false, Auto, Norm::Batch));
        assert_eq!(with_noise(&["--code-activation", "sigmoid"]), (false, Sigmoid, Norm::Batch));
        // The seed presets stay the tutorial's; a config file stays as written.
        assert_eq!(with_noise(&["--preset", "seed"]), (false, Sigmoid, Norm::None));
        assert_eq!(path(&["--preset", "seed-denoise"]), (false, Sigmoid, Norm::None));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, RunConfig::preset(Preset::Default).to_toml()).unwrap();
        assert_eq!(with_noise(&["--config", file.to_str().unwrap()]), (false, Auto, Norm::Batch));
    }

    #[test]
    fn sparsity_makes_an_auto_code_the_sigmoid_and_keeps_a_said_one() {
        let code = |flags: &[&str]| resolved(flags).model.code_activation;
        assert_eq!(code(&[]), CodeActivation::Auto);
        assert_eq!(code(&["--sparsity", "0.01"]), CodeActivation::Sigmoid);
        assert_eq!(code(&["--sparsity", "0"]), CodeActivation::Auto);
        assert_eq!(code(&["--code-activation", "identity", "--sparsity", "0.01"]), CodeActivation::Identity);
        assert_eq!(code(&["--preset", "deep", "--sparsity", "0.01"]), CodeActivation::Identity);
        // Every flag combination above must also pass validation.
        for flags in [&["--sparsity", "0.01"][..], &["--code-activation", "identity", "--sparsity", "0.01"]] {
            assert_eq!(resolved(flags).validate(), Ok(()));
        }
    }
}
