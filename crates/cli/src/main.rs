//! `ae`: the command line over the `ae` library. Each command parses its options, calls the
//! library and prints; every failure is one line on stderr and exit code 1.

mod commands;
mod flags;
mod inputs;
mod limits;
mod outputs;
mod progress;
mod signals;

use ae::memory::MemoryLimit;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

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
    #[arg(long, global = true, value_parser = flags::parse_bytes)]
    max_memory: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an autoencoder on the Olivetti faces and write a run directory.
    Train(Box<commands::train::TrainArgs>),
    /// Reconstruct images with a trained model: a PNG grid (originals over reconstructions) and .npy arrays.
    Reconstruct(commands::reconstruct::ReconstructArgs),
    /// Encode images with a trained model: the codes as a float32 .npy array (images × code length).
    Encode(commands::encode::EncodeArgs),
    /// Evaluate a trained model: MSE, PSNR, SSIM and loss per sample; for a denoiser also the noisy
    /// inputs' and the denoised images' quality.
    Eval(commands::eval::EvalArgs),
    /// Denoise image files with a trained denoiser, or show it a held-out grid: clean / noisy / denoised.
    Denoise(commands::denoise::DenoiseArgs),
    /// Time training steps, forward passes and each layer of a preset's model on random images.
    Bench(commands::bench::BenchArgs),
    /// Draw codes from a VAE's prior N(0, I) and decode them: a PNG grid and .npy arrays.
    Sample(commands::sample::SampleArgs),
    /// Score images for anomalies (reconstruction error, 1 − SSIM, a VAE's likelihood, PCA's error):
    /// scores.csv and .npy, error maps, and with labels AUROC, AUPRC and a threshold's rates.
    Score(commands::score::ScoreArgs),
    /// Decode the straight line between the codes of two images: a PNG row and .npy arrays.
    Interpolate(commands::interpolate::InterpolateArgs),
    /// Vary one code unit at a time around an image's code: a PNG grid (a row per unit) and .npy arrays.
    Traverse(commands::traverse::TraverseArgs),
    /// Picture the code space: a scatter of the images' codes (a VAE's means), coloured by label
    /// with --labels, and for a VAE with a 2-D code the decoded manifold grid.
    Latent(commands::latent::LatentArgs),
    /// Export a trained model for other engines: an ONNX graph (ONNX Runtime, …) or a
    /// PyTorch module with a script that carries on training it under torchrun.
    Export(commands::export::ExportArgs),
    /// What a model file holds: its layers and their shapes, its parameters and the data recipe
    /// it was trained with, from the file's header.
    Info(commands::info::InfoArgs),
    /// Write a run's report.html again, or with several runs a page comparing them side by side.
    Report(commands::report::ReportArgs),
    /// PCA, the best linear autoencoder, with K components: fitted on a dataset's training images
    /// and measured on its held-out ones, split as `ae train` splits them.
    Baseline(commands::baseline::BaselineArgs),
}

/// Buffers of 2 MB or more on transparent huge pages: a training step took about 4 % less time
/// than on 4 KB pages (see `ae_engine::huge_pages` and bench/README.md).
#[global_allocator]
static ALLOCATOR: ae_engine::huge_pages::HugePageAllocator = ae_engine::huge_pages::HugePageAllocator;

fn main() {
    if log::set_logger(&progress::StderrLog).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    progress::quiet_decoder_panics();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("{}", flags::error_line(&e));
        std::process::exit(1);
    }
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
    limits::MEMORY_LIMIT.set(limit).expect("run is called once");
    ae_engine::threads::init_global_pool(cli.threads).context("cannot start the thread pool")?;
    ae_engine::threads::flushing_denormals(|| match cli.command {
        Command::Train(args) => commands::train::run(*args),
        Command::Reconstruct(args) => commands::reconstruct::run(args),
        Command::Encode(args) => commands::encode::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Denoise(args) => commands::denoise::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Sample(args) => commands::sample::run(args),
        Command::Score(args) => commands::score::run(args),
        Command::Interpolate(args) => commands::interpolate::run(args),
        Command::Traverse(args) => commands::traverse::run(args),
        Command::Latent(args) => commands::latent::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Baseline(args) => commands::baseline::run(args),
    })
}
