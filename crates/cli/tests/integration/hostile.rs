//! Inputs that once broke a run: data every figure of which is exact, files whose headers promise
//! more than memory holds, runs stopped at awkward moments. Each must end in a finished run or a
//! one-line error, never a hang, a panic or a run that can never be finished.

use crate::common::{self, ae};

use std::path::Path;
use std::process::Output;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `count` all-black 8-bit images of `side × side`, as an `.npy` file: PCA rebuilds them exactly,
/// and so can a model with a linear path.
fn black_npy(path: &Path, count: usize, side: usize) {
    let array = ndarray::Array3::<u8>::zeros((count, side, side));
    ndarray_npy::write_npy(path, &array).unwrap();
}

/// A run whose figures are infinite (exact reconstructions: PSNR +∞) finishes, says so, and
/// writes a summary the report and a resume read back.
#[test]
fn exact_reconstructions_finish_the_run_and_say_plus_infinity() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("black.npy");
    black_npy(&data, 10, 32);
    // The tutorial's network: PCA's baseline is exact. The default preset, with its linear path:
    // the model is exact too, and its held-out PSNR curve (every epoch +∞) once hung the chart drawing.
    for (name, preset) in [("plain", "tutorial-net"), ("residual", "default")] {
        let run = dir.path().join(name);
        let args = ["--threads", "1", "train", "--preset", preset, "--data", data.to_str().unwrap()];
        let out = ae(&[&args[..], &["--epochs", "1", "--out", run.to_str().unwrap()]].concat());
        assert!(out.status.success(), "{preset}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("PCA baseline") && text.contains("PSNR +∞ dB (exact)"), "{text}");
        assert!(run.join("summary.json").is_file() && !run.with_extension("partial").exists());
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["baseline"]["quality"]["psnr_db"], "inf", "{summary}");
        let report = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert!(report.contains("+∞"), "the report shows the exact PCA figure");
        if preset == "default" {
            assert!(text.contains("level with it (both exact)"), "{text}");
            assert_eq!(summary["quality"]["psnr_db"], "inf", "{summary}");
            let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
            assert!(metrics.contains("\"holdout_psnr_db\":\"inf\""), "{metrics}");
        }
        // Trained further, the run reads its own summary and checkpoint back.
        let out = ae(&["--threads", "1", "train", "--resume", run.to_str().unwrap(), "--epochs", "2"]);
        assert!(out.status.success(), "{preset} resumed: {}", stderr(&out));
        assert!(run.join("summary.json").is_file());
    }
}

/// A run killed after its last epoch's checkpoint, while it wrote its reports, is left
/// `.partial`; `--resume` finishes it without training more, and a `.partial` with no
/// checkpoint at all (killed before the first) says what to do with it.
#[test]
fn a_run_stopped_after_its_last_epoch_finishes_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("black.npy");
    black_npy(&data, 12, 16);
    let run = dir.path().join("run");
    let out = ae(&[
        "--threads",
        "1",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let metrics = std::fs::read(run.join("metrics.jsonl")).unwrap();
    // As the process left it when killed in its finishing stage: all epochs checkpointed, no
    // summary or report yet, still `.partial`.
    let partial = run.with_extension("partial");
    std::fs::rename(&run, &partial).unwrap();
    for file in ["summary.json", "report.html", "reconstructions.png"] {
        std::fs::remove_file(partial.join(file)).unwrap();
    }
    let out = ae(&["--threads", "1", "train", "--resume", partial.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Trained 2 epochs"), "{}", stdout(&out));
    assert!(run.join("summary.json").is_file() && run.join("report.html").is_file() && !partial.exists());
    assert_eq!(std::fs::read(run.join("metrics.jsonl")).unwrap(), metrics, "no epoch trained again");

    // Killed before its first checkpoint: nothing to resume; a new run there is refused with
    // the same advice.
    let empty = dir.path().join("early.partial");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("config.toml"), std::fs::read(run.join("config.toml")).unwrap()).unwrap();
    let out = ae(&["train", "--resume", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("before its first checkpoint") && err.contains("remove"), "{err}");
    let out =
        ae(&["train", "--data", data.to_str().unwrap(), "--out", dir.path().join("early").to_str().unwrap()]);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("no checkpoint") && err.contains("remove"), "{err}");
    assert!(empty.join("config.toml").is_file(), "nothing of the user's is removed");
}

/// A PNG whose header says `width × height` RGB pixels, with (almost) no pixel data: what the
/// header promises is all a check before decoding may read.
fn header_only_png(path: &Path, width: u32, height: u32) {
    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        [&(data.len() as u32).to_be_bytes()[..], kind, data, &crc.sum().to_be_bytes()].concat()
    }
    let ihdr = [&width.to_be_bytes()[..], &height.to_be_bytes(), &[8, 2, 0, 0, 0]].concat();
    let mut idat = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut idat, &[0; 100]).unwrap();
    let png = [
        &b"\x89PNG\r\n\x1a\n"[..],
        &chunk(b"IHDR", &ihdr),
        &chunk(b"IDAT", &idat.finish().unwrap()),
        &chunk(b"IEND", &[]),
    ]
    .concat();
    std::fs::write(path, png).unwrap();
}

/// A refusal in one line that says `expect`.
fn refused_small(out: &Output, expect: &str) {
    assert!(!out.status.success());
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expect), "{err}");
}

/// Files that promise more than memory holds are refused from their headers, before anything is
/// inflated or decoded (each refusal below returns within a second; decoding a 16000×16000 image
/// or inflating the bomb would take gigabytes and seconds).
#[test]
fn data_too_large_for_memory_are_refused_from_their_headers() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let train = |data: &Path, extra: &[&str]| {
        let started = std::time::Instant::now();
        let args = ["--max-memory", "1G", "train", "--data", data.to_str().unwrap(), "--epochs", "1"];
        let out = ae(&[&args[..], extra, &["--out", run.to_str().unwrap()]].concat());
        (out, started.elapsed())
    };
    // An IDX header promising 10⁹ images of 28×28 before 64 MiB of zeros (a 65 kB gzip stream).
    let bomb = dir.path().join("bomb-images-idx3-ubyte.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for word in [0x803u32, 1_000_000_000, 28, 28] {
        std::io::Write::write_all(&mut gz, &word.to_be_bytes()).unwrap();
    }
    for _ in 0..64 {
        std::io::Write::write_all(&mut gz, &vec![0u8; 1 << 20]).unwrap();
    }
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let (out, _) = train(&bomb, &[]);
    refused_small(&out, "the header promises 784000000000 bytes");
    // One promising 3 000 000 images (2.35 GB as bytes): within what an IDX file may hold, past
    // the limit as floats and as bytes.
    let big = dir.path().join("big-images-idx3-ubyte");
    let header: Vec<u8> = [0x803u32, 3_000_000, 28, 28].iter().flat_map(|w| w.to_be_bytes()).collect();
    std::fs::write(&big, header).unwrap();
    for storage in ["f32", "u8"] {
        let (out, took) = train(&big, &["--storage", storage]);
        refused_small(&out, "but the memory limit is 1.00 GB");
        assert!(took.as_secs_f64() < 5.0, "refused from the header, not after reading: {took:?}");
    }
    // A folder of one 16000×16000 RGB PNG: 768 MB decoded, 3.07 GB as floats.
    let folder = dir.path().join("big");
    std::fs::create_dir(&folder).unwrap();
    header_only_png(&folder.join("huge.png"), 16_000, 16_000);
    let (out, _) = train(&folder, &["--holdout", "0"]);
    refused_small(&out, "but the memory limit is 1.00 GB");
    assert!(stderr(&out).contains("--size"), "{}", stderr(&out));
    // With --size each image is resized as it is decoded: one full image per thread is the need,
    // refused below it (the header-only file then fails to decode, which is the next error).
    let resized = |limit: &str| {
        let data = folder.to_str().unwrap();
        let args = ["--max-memory", limit, "--threads", "1", "train", "--data", data, "--size", "32", "32"];
        ae(&[&args[..], &["--holdout", "0", "--out", run.to_str().unwrap()]].concat())
    };
    refused_small(
        &resized("500M"),
        "loading the data needs about 824 MB (parameters 0 kB, activations 0 kB, scratch 0 kB, images 768 MB",
    );
    let out = resized("1G");
    refused_small(&out, "huge.png");
    assert!(!run.exists() && !run.with_extension("partial").exists());
}

/// The smaller cases: each flag that was taken silently or answered with the wrong advice.
#[test]
fn flags_that_cannot_apply_are_refused_and_surprises_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ten.npy");
    // Ten distinct images, so a model's figures are finite.
    let images = ndarray::Array3::<u8>::from_shape_fn((10, 8, 8), |(i, y, x)| (17 * i + 5 * y + 3 * x) as u8);
    ndarray_npy::write_npy(&data, &images).unwrap();
    let data = data.to_str().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    // --latent-dim is a VAE's: an autoencoder's code length would change silently.
    let out = ae(&["train", "--data", data, "--latent-dim", "4", "--out", run_s]);
    refused_small(&out, "--latent-dim");
    assert!(stderr(&out).contains("--model vae"), "{}", stderr(&out));
    // Holding out all but one image: the default's linear path cannot start at PCA of one image,
    // refused in one line that names it, leaving no run.
    let one = ["--threads", "1", "train", "--data", data, "--holdout", "0.99", "--epochs", "1"];
    let out = ae(&[&one[..], &["--out", run_s]].concat());
    let err = stderr(&out);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(!out.status.success(), "{err}");
    assert!(
        last.contains("model.linear_path: starts at PCA: PCA needs at least two training images, got 1"),
        "{err}"
    );
    assert!(!run.exists() && !run.with_extension("partial").exists());
    // The tutorial's network trains batch normalisation on one image: said once.
    let out = ae(&[&one[..], &["--preset", "tutorial-net", "--out", run_s]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("one training image"), "{}", stderr(&out));
    // Resumed with another thread count: said, with how to match the run.
    let out = ae(&["--threads", "2", "train", "--resume", run_s, "--epochs", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("trained with 1 thread(s) and goes on with 2"), "{}", stderr(&out));
    // Labels: exactly one per image of the dataset (too many was taken without a word).
    let labels = dir.path().join("labels-idx1-ubyte");
    for count in [9u32, 11, 10_000] {
        let mut file = vec![0, 0, 8, 1];
        file.extend(count.to_be_bytes());
        file.extend(std::iter::repeat_n(3u8, count as usize));
        std::fs::write(&labels, file).unwrap();
        let codes = dir.path().join(format!("codes-{count}.npy"));
        let args = ["encode", run_s, "--split", "all", "--labels", labels.to_str().unwrap()];
        let out = ae(&[&args[..], &["--out", codes.to_str().unwrap()]].concat());
        refused_small(&out, &format!("{count} labels for a dataset of 10 images"));
    }
    // --steps 0 was taken as 2.
    let out = ae(&[
        "traverse",
        run_s,
        "--split",
        "all",
        "--steps",
        "0",
        "--out",
        dir.path().join("t").to_str().unwrap(),
    ]);
    refused_small(&out, "--steps 0: at least 2");
    // A sample too large for memory: the advice names sample's own flag.
    let vae = dir.path().join("vae");
    let out = ae(&[
        "--threads",
        "1",
        "train",
        "--data",
        data,
        "--model",
        "vae",
        "--epochs",
        "1",
        "--out",
        vae.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ae(&["--max-memory", "100M", "sample", vae.to_str().unwrap(), "--count", "100000000"]);
    refused_small(&out, "use a smaller --count");
    assert!(!stderr(&out).contains("--batch-size"), "{}", stderr(&out));
}

/// A resume writes back the epochs it read exactly as they were written.
#[test]
fn a_resume_keeps_every_digit_of_the_epochs_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let data = common::olivetti();
    let args = ["--threads", "1", "train", "--data", data.to_str().unwrap(), "--size", "32", "32"];
    let out = ae(&[&args[..], &["--epochs", "2", "--out", run.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let before = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let out = ae(&["--threads", "1", "train", "--resume", run.to_str().unwrap(), "--epochs", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(after.starts_with(&before), "the first two lines are byte for byte the same:\n{before}\n{after}");
    assert_eq!(after.lines().count(), 3);
}

/// A first SIGTERM ends a run that cannot stop by itself: here a dataset that never arrives (a
/// pipe no one writes, read as the run's first step), as a stalled network mount would be. The
/// process exits after its grace with SIGTERM's status, saying why.
#[test]
fn a_first_sigterm_ends_a_run_stuck_where_it_cannot_stop() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("never.npy");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let run = dir.path().join("run");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(["train", "--data", fifo.to_str().unwrap(), "--out", run.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let sent = std::time::Instant::now();
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    // Waited for on a thread, so a process that never exits fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()).unwrap());
    let out = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("still running 60 s after SIGTERM");
    let waited = sent.elapsed().as_secs_f64();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), None);
    assert_eq!(out.status.code(), Some(128 + 15), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not stop within 10 s of the signal"), "{}", stderr(&out));
    assert!((9.0..30.0).contains(&waited), "exited {waited} s after the signal");
    assert!(!run.exists() && !run.with_extension("partial").exists(), "nothing was written");
}
