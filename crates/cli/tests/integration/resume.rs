//! A run stopped and resumed ends as one never stopped, bit for bit: the library's stop hook at
//! an epoch's end and inside one, for the plain and the denoising presets; and a real `ae train`
//! child sent SIGINT, then resumed. The runs train on 120 of the faces (`common::few_faces`).

use crate::common;

use ae::config::{Preset, RunConfig};
use ae::record::CHECKPOINT;
use ae::training::{resume, train, Job};
use std::cell::Cell;
use std::path::{Path, PathBuf};

fn faces(preset: Preset, epochs: usize) -> RunConfig {
    let mut config = RunConfig::preset(preset);
    config.data.path = Some(common::few_faces().to_path_buf());
    config.training.epochs = epochs;
    config
}

/// The epoch lines without their timings.
/// The lines of `run`'s `metrics.jsonl` as written, each without its `seconds` (a timing): a
/// resume rewrites the lines it read back, which must keep every digit.
fn epochs(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let (head, tail) = l.split_once(",\"seconds\":").unwrap_or((l, ""));
            let rest = tail.find([',', '}']).map_or("", |i| &tail[i..]);
            format!("{head}{rest}")
        })
        .collect()
}

/// The same run straight through, and stopped after each count in `stops` of the stop hook's calls
/// (one after each step but an epoch's last, one at each epoch's end; counted from the start of
/// each attempt) and resumed until it finishes. Each stop must land where its pair says: the
/// epoch it stopped in (or, at an epoch's end, the next) and the batches done in it.
fn straight_and_stopped(
    config: &RunConfig,
    stops: &[(usize, (usize, usize))],
) -> (PathBuf, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("straight"), dir.path().join("stopped"));
    let job = Job { checkpoint_seconds: 0.0, ..Job::default() };
    train(config, &a, &job, |_| {}).unwrap();
    let mut partial = PathBuf::from(format!("{}.partial", b.display()));
    for (i, &(after, at)) in stops.iter().enumerate() {
        let steps = Cell::new(0);
        let stop = || {
            steps.set(steps.get() + 1);
            steps.get() >= after
        };
        let job = Job { stop: &stop, checkpoint_seconds: 1e9, ..Job::default() };
        let result =
            if i == 0 { train(config, &b, &job, |_| {}) } else { resume(&partial, None, &job, |_| {}) };
        match result {
            Err(ae::Error::Interrupted { checkpoint, epoch, batch }) => {
                assert_eq!((epoch, batch), at, "stop {i} landed elsewhere");
                partial = checkpoint.parent().unwrap().to_path_buf();
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("stop {after} came after the end of the run"),
        }
    }
    resume(&partial, None, &Job::default(), |_| {}).unwrap();
    (a, b, dir)
}

fn assert_same_run(a: &Path, b: &Path) {
    // A held-out run keeps its best epoch's model and its last epoch's beside it.
    assert_eq!(a.join("last.safetensors").exists(), b.join("last.safetensors").exists());
    let last = a.join("last.safetensors").exists().then_some("last.safetensors");
    for file in ["model.safetensors", CHECKPOINT].into_iter().chain(last) {
        let (x, y) = (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        if file != CHECKPOINT {
            assert!(x == y, "{file} differs");
        } else {
            // The checkpoints differ only in their timings: compare their tensors.
            let (x, y) = (
                safetensors::SafeTensors::deserialize(&x).unwrap(),
                safetensors::SafeTensors::deserialize(&y).unwrap(),
            );
            let mut names = x.names();
            names.sort();
            assert_eq!(names, {
                let mut n = y.names();
                n.sort();
                n
            });
            for name in names {
                assert!(x.tensor(name).unwrap().data() == y.tensor(name).unwrap().data(), "{name} differs");
            }
        }
    }
    assert_eq!(epochs(a), epochs(b));
}

/// Starts `ae args` (a run training into `out`) with its stderr kept, and returns it once the
/// run's log holds `epochs` epochs.
fn started_until(args: &[&str], out: &Path, epochs: usize) -> std::process::Child {
    use std::process::{Command, Stdio};
    let child = Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = PathBuf::from(format!("{}.partial/metrics.jsonl", out.display()));
    let waited = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(0, |m| m.lines().count()) < epochs {
        assert!(waited.elapsed().as_secs() < 120, "no epoch {epochs} within two minutes");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

/// Resumes the stopped run `out` (its `.partial` directory, with the two threads the runs here
/// train with), trains the same run uninterrupted with `straight_args` into `straight`, and
/// compares the two.
fn resume_and_compare(out: &Path, straight_args: &[&str], straight: &Path) {
    let partial = format!("{}.partial", out.display());
    let resumed = common::ae(&["--threads", "2", "train", "--resume", &partial]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let straight_run = common::ae(straight_args);
    assert!(straight_run.status.success(), "{}", String::from_utf8_lossy(&straight_run.stderr));
    assert_same_run(straight, out);
}

/// Sends SIGINT to `child`.
fn interrupt(child: &std::process::Child) {
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
}

#[test]
fn a_run_stopped_at_an_epoch_s_end_and_inside_one_resumes_bit_for_bit() {
    // The default preset has 3 batches an epoch here (108 faces, 50 a batch): stop inside epoch 2,
    // then at the end of epoch 3, then inside epoch 4.
    let config = faces(Preset::Default, 5);
    let (a, b, _dir) = straight_and_stopped(&config, &[(4, (2, 1)), (5, (4, 0)), (1, (4, 1))]);
    assert_same_run(&a, &b);
}

#[test]
fn a_denoiser_stopped_and_resumed_draws_the_same_noise() {
    // Two whole batches an epoch (the tutorial's batching drops the last 20 faces).
    let config = faces(Preset::SeedDenoise, 3);
    let (a, b, _dir) = straight_and_stopped(&config, &[(3, (2, 1))]);
    assert_same_run(&a, &b);
}

#[test]
fn an_augmented_denoiser_with_weight_decay_resumes_bit_for_bit() {
    // The augmentation's stream, AdamW's decay and the best epoch's model all carry over.
    let mut config = faces(Preset::Default, 4);
    config.noise = ae::noise::Noise::Gaussian { sigma: 0.2 };
    config.training.augment = "flip,shift:2".parse().unwrap();
    config.training.weight_decay = 1e-3;
    let (a, b, _dir) = straight_and_stopped(&config, &[(5, (2, 2))]);
    assert_same_run(&a, &b);
    assert!(a.join("last.safetensors").is_file());
}

#[test]
fn a_vae_with_dropout_stopped_inside_an_epoch_draws_the_same_samples_and_masks() {
    // Two streams that the runs above do not have: the VAE's sampling and dropout's masks. Either
    // restarted from its beginning on resume draws other values, and the weights differ.
    let mut vae = faces(Preset::Default, 3);
    (vae.model.kind, vae.model.code_length, vae.model.code_norm, vae.model.linear_path) =
        (ae::config::ModelKind::Vae, 16, ae::config::Norm::None, false);
    vae.model.code_activation = ae::config::CodeActivation::Sigmoid;
    let mut dropout = faces(Preset::Default, 3);
    (dropout.model.dropout, dropout.model.linear_path) = (0.2, false);
    for mut config in [vae, dropout] {
        config.model.settle();
        let (a, b, _dir) = straight_and_stopped(&config, &[(4, (2, 1))]);
        assert_same_run(&a, &b);
    }
}

#[test]
fn a_finished_run_trains_further_and_a_resume_without_more_epochs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&faces(Preset::Default, 2), &run, &Job::default(), |_| {}).unwrap();
    let err = resume(&run, None, &Job::default(), |_| {}).unwrap_err().to_string();
    assert!(err.contains("training.epochs") && err.contains("2 epochs already"), "{err}");
    assert!(run.is_dir(), "a refused resume leaves the run as it was");
    let summary = resume(&run, Some(3), &Job::default(), |_| {}).unwrap();
    assert_eq!((summary.history.len(), summary.run_dir), (3, run.clone()));
    assert_eq!(epochs(&run).len(), 3);
}

#[test]
fn sigint_stops_a_real_run_with_a_checkpoint_and_it_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::few_faces();
    let (straight, stopped) = (dir.path().join("straight"), dir.path().join("stopped"));
    let (data_arg, straight_arg, stopped_arg) =
        (data.to_str().unwrap(), straight.to_str().unwrap(), stopped.to_str().unwrap());
    let args = |out| {
        let faces = ["--augment", "flip,shift:2"];
        [&["--threads", "2", "train", "--data", data_arg, "--epochs", "6", "--out", out][..], &faces].concat()
    };
    let child = started_until(&args(stopped_arg), &stopped, 1);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("resume with: ae train --resume") && err.contains(".partial"), "{err}");
    let partial = format!("{stopped_arg}.partial");
    // The run's own config: other settings are refused, not silently ignored.
    let other = common::ae(&["train", "--resume", &partial, "--batch-size", "10"]);
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("only --epochs may be given") && Path::new(&partial).is_dir(), "{err}");
    resume_and_compare(&stopped, &args(straight_arg), &straight);
}

#[test]
fn after_kill_9_a_run_with_checkpoints_every_epoch_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::few_faces();
    let (straight, killed) = (dir.path().join("straight"), dir.path().join("killed"));
    let (data_arg, straight_arg, killed_arg) =
        (data.to_str().unwrap(), straight.to_str().unwrap(), killed.to_str().unwrap());
    // Killed after epoch 3 of 8: short epochs leave the run time to be killed before its end.
    let args = |out| {
        let every_epoch = ["--checkpoint-seconds", "0", "--augment", "flip,shift:2"];
        [&["--threads", "2", "train", "--data", data_arg, "--epochs", "8", "--out", out][..], &every_epoch]
            .concat()
    };
    let mut child = started_until(&args(killed_arg), &killed, 3);
    child.kill().unwrap(); // SIGKILL: no checkpoint of its own
    child.wait().unwrap();
    resume_and_compare(&killed, &args(straight_arg), &straight);
}

#[test]
fn a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (data, run) = (common::few_faces(), dir.path().join("run"));
    let args = ["train", "--data", data.to_str().unwrap(), "--epochs", "20", "--out", run.to_str().unwrap()];
    let child = started_until(&args, &run, 1);
    // The second arrives while the first waits for its step and checkpoint: both are sent by one
    // shell, microseconds apart (with a `kill` process each, 5 ms apart, a loaded machine once let
    // the first stop finish first). Two kinds, as two SIGINTs sent before the child runs merge
    // into one; the child's threads may take them in either order, and the exit status names the
    // second (128 + 2 or 128 + 15).
    let pid = child.id();
    let both = format!("kill -INT {pid}; kill -TERM {pid}");
    assert!(std::process::Command::new("sh").args(["-c", &both]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(130 | 143)), "{:?}: {err}", out.status);
    assert!(!err.contains("resume with"), "the second signal should not wait for a checkpoint: {err}");
}

#[test]
fn a_run_that_diverges_keeps_its_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&faces(Preset::TutorialNet, 2), &run, &Job::default(), |_| {}).unwrap();
    let good = std::fs::read(run.join(CHECKPOINT)).unwrap();
    // The same run goes on at an absurd rate: its third epoch's loss is NaN.
    let config = run.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().find(|l| l.starts_with("learning_rate = ")).unwrap();
    std::fs::write(&config, text.replace(line, "learning_rate = 1e30")).unwrap();
    let job = Job { checkpoint_seconds: 0.0, ..Job::default() };
    match resume(&run, Some(3), &job, |_| {}) {
        Err(ae::Error::Diverged { epoch: 3, .. }) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a rate of 1e30 trained"),
    }
    let partial = dir.path().join("run.partial");
    assert!(std::fs::read(partial.join(CHECKPOINT)).unwrap() == good, "the good checkpoint was overwritten");
}

#[test]
fn checkpoints_on_the_timer_inside_epochs_leave_the_run_as_it_was() {
    // A timer that is always due: a checkpoint after every step, and the epoch goes on.
    let config = faces(Preset::Default, 2);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("epochs"), dir.path().join("steps"));
    train(&config, &a, &Job { checkpoint_seconds: 0.0, ..Job::default() }, |_| {}).unwrap();
    train(&config, &b, &Job { checkpoint_seconds: 1e-9, ..Job::default() }, |_| {}).unwrap();
    assert_same_run(&a, &b);
}
