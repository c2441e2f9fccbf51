//! Shared by the integration tests: where the project's shared datasets are, the trivial
//! predictor's figures, and the trained runs several tests only read.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `../shared/datasets` beside the repository (or `$AE_SHARED_DATASETS`).
pub fn datasets() -> PathBuf {
    if let Some(dir) = std::env::var_os("AE_SHARED_DATASETS") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("../shared/datasets");
    assert!(
        dir.is_dir(),
        "the shared datasets are expected at {} (or set AE_SHARED_DATASETS)",
        dir.display()
    );
    dir
}

pub fn olivetti() -> PathBuf {
    datasets().join("olivettifaces.mat")
}

/// `../shared/peers/data`, where the peers' preprocessed copies of the faces are.
pub fn peer_data() -> PathBuf {
    datasets().join("../peers/data")
}

/// Runs the `ae` binary with no dataset cache or environment to fall back on.
pub fn ae(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env("AE_CACHE_DIR", "/nonexistent-ae-cache")
        .env_remove("AE_OLIVETTI")
        .output()
        .expect("the ae binary runs")
}

/// `ae eval RUN --json`: the run's held-out evaluation.
pub fn eval_json(run: &Path) -> serde_json::Value {
    let out = ae(&["eval", run.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The PSNR (dB, peak 1) on run `run`'s held-out images of the trivial predictor: the mean of its
/// training images, whatever the input. A model that ignores its input scores about this, so
/// quality bars are set above it.
pub fn mean_image_psnr(run: &std::path::Path) -> f64 {
    let (mean, holdout) = mean_and_holdout(run);
    let mse =
        holdout.outer_iter().map(|image| (&image - &mean).mapv(|d| (d as f64).powi(2)).sum()).sum::<f64>()
            / holdout.len() as f64;
    10.0 * (1.0 / mse).log10()
}

/// The binary cross-entropy (nats per image) on run `run`'s held-out images of the same trivial
/// predictor, the mean training image: the bar for a model trained with `--loss bce`.
pub fn mean_image_bce(run: &std::path::Path) -> f64 {
    let (mean, holdout) = mean_and_holdout(run);
    let mean = mean.mapv(|m| (m as f64).clamp(1e-6, 1.0 - 1e-6));
    let bce = |image: ndarray::ArrayViewD<f32>| -> f64 {
        image
            .iter()
            .zip(mean.iter())
            .map(|(&x, &m)| -(x as f64 * m.ln() + (1.0 - x as f64) * (1.0 - m).ln()))
            .sum()
    };
    holdout.outer_iter().map(bce).sum::<f64>() / holdout.shape()[0] as f64
}

/// Run `run`'s training images (one a row), loaded here as the run loaded them.
pub fn training_images(run: &std::path::Path) -> ndarray::Array2<f32> {
    let (all, split) = images_and_split(run);
    all.select(ndarray::Axis(0), &split.train)
}

/// All of run `run`'s images (one a row), loaded here as the run loaded them (its `config.toml`'s
/// data and seed) rather than through an `ae` run, and its split.
fn images_and_split(run: &std::path::Path) -> (ndarray::Array2<f32>, ae::data::Split) {
    let config = ae::config::RunConfig::from_toml_file(&run.join("config.toml")).unwrap();
    let images = ae::data::load_dataset(&config.data, None).unwrap().to_images();
    let (count, shape) = (images.len(), images.shape);
    let pixels = shape.height * shape.width * shape.channels;
    let all = ndarray::Array2::from_shape_vec((count, pixels), images.data).unwrap();
    (all, ae::data::split_for(&config.data, count, config.training.seed).unwrap())
}

/// The mean of run `run`'s training images and its held-out images (one a row).
fn mean_and_holdout(run: &std::path::Path) -> (ndarray::ArrayD<f32>, ndarray::ArrayD<f32>) {
    use ndarray::Axis;
    let (all, split) = images_and_split(run);
    let (train, holdout) = (all.select(Axis(0), &split.train), all.select(Axis(0), &split.holdout));
    (train.mean_axis(Axis(0)).expect("training images").into_dyn(), holdout.into_dyn())
}

/// A run trained once per test process and shared by the tests that only read it (or write beside
/// its own files, never over them): what its training printed, and its files as training left
/// them, before any test wrote into the directory.
pub struct Trained {
    pub run: PathBuf,
    pub stdout: String,
    pub files: Vec<(String, Vec<u8>)>,
}

/// The top-level files of a run directory, by name.
pub fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// Where this process keeps its shared runs: under cargo's scratch directory for integration
/// tests, one folder a process, the folders of processes that have ended removed first.
fn shared_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared-runs");
        std::fs::create_dir_all(&parent).unwrap();
        for entry in std::fs::read_dir(&parent).unwrap().flatten() {
            let ended = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
                .is_none_or(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if ended {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let root = parent.join(std::process::id().to_string());
        std::fs::create_dir_all(&root).unwrap();
        root
    })
}

/// `args` with `FACES` standing for the Olivetti file.
pub fn on_faces(args: &[&str]) -> Vec<String> {
    let faces = olivetti();
    args.iter().map(|&a| if a == "FACES" { faces.to_str().unwrap() } else { a }.to_string()).collect()
}

fn trained(name: &str, args: &[&str]) -> Trained {
    let run = shared_root().join(name);
    let args = on_faces(args);
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(["--out", run.to_str().unwrap()]);
    let out = ae(&all);
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let files = files_of(&run);
    Trained { run, stdout: String::from_utf8_lossy(&out.stdout).into_owned(), files }
}

/// The arguments of [`faces_default`]'s run (`FACES` stands for the Olivetti file).
pub const FACES_DEFAULT: [&str; 9] =
    ["--threads", "2", "train", "--data", "FACES", "--epochs", "2", "--seed", "0"];

/// The default preset on the faces, two epochs, seed 0 (the split numpy's PCA figures were
/// computed on), two threads.
pub fn faces_default() -> &'static Trained {
    static RUN: OnceLock<Trained> = OnceLock::new();
    RUN.get_or_init(|| trained("faces-default", &FACES_DEFAULT))
}

/// The default preset's denoiser on the faces (Gaussian σ = 0.2), five epochs, seed 0.
pub fn faces_denoiser() -> &'static Trained {
    static RUN: OnceLock<Trained> = OnceLock::new();
    let args = ["train", "--data", "FACES", "--noise", "gaussian:0.2", "--epochs", "5", "--seed", "0"];
    RUN.get_or_init(|| trained("faces-denoiser", &args))
}

/// The `seed` preset (the tutorial's recipe), seed 4, three epochs, two threads: the README's
/// first epoch lines.
pub fn seed_preset() -> &'static Trained {
    static RUN: OnceLock<Trained> = OnceLock::new();
    let args =
        ["--threads", "2", "train", "--preset", "seed", "--seed", "4", "--epochs", "3", "--data", "FACES"];
    RUN.get_or_init(|| trained("seed", &args))
}

/// The MNIST test set, the default preset with a code of 32, two epochs, 1000 digits held out,
/// stored as bytes.
pub fn mnist_code_32() -> &'static Trained {
    static RUN: OnceLock<Trained> = OnceLock::new();
    RUN.get_or_init(|| {
        let mnist = datasets().join("mnist/t10k-images-idx3-ubyte.gz");
        let args = ["train", "--data", mnist.to_str().unwrap(), "--holdout", "0.1", "--code-length", "32"];
        trained("mnist-32", &[&args[..], &["--epochs", "2", "--storage", "u8"]].concat())
    })
}

/// The MNIST test set's 1s alone (`--normal 1`), code 32, one epoch, 20 % of them held out: a
/// one-class run for `ae score`.
pub fn mnist_ones() -> &'static Trained {
    static RUN: OnceLock<Trained> = OnceLock::new();
    RUN.get_or_init(|| {
        let mnist = datasets().join("mnist/t10k-images-idx3-ubyte.gz");
        let args = ["train", "--data", mnist.to_str().unwrap(), "--normal", "1", "--code-length", "32"];
        trained("mnist-ones", &[&args[..], &["--epochs", "1", "--holdout", "0.2"]].concat())
    })
}

/// The first 120 Olivetti faces at 32×32 (area-averaged, as the default preset sees them) as a
/// `.npy` file, written once per process: runs whose every bit is compared (resume, stop) train on
/// a third of the faces, which their bits do not depend on.
pub fn few_faces() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let mut data = ae::config::RunConfig::preset(ae::config::Preset::TutorialNet).data;
        data.path = Some(olivetti());
        let images = ae::data::load_dataset(&data, None).unwrap().to_images();
        assert_eq!((images.shape.height, images.shape.width, images.shape.channels), (32, 32, 1));
        let faces =
            ndarray::Array3::from_shape_vec((120, 32, 32), images.data[..120 * 1024].to_vec()).unwrap();
        let file = shared_root().join("few-faces.npy");
        ndarray_npy::write_npy(&file, &faces).unwrap();
        file
    })
}
