//! `ae export` on a trained model: its ONNX graphs under ONNX Runtime give `ae reconstruct`'s
//! reconstructions and `ae encode`'s codes, and the PyTorch export writes its files once.

use crate::common::{self, ae};

use std::path::Path;

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `[N, H, W]` or `[N, H, W, C]` as `ae` writes images, to ONNX's `[N, C, H, W]`.
fn nchw(a: ndarray::ArrayD<f32>) -> ndarray::ArrayD<f32> {
    match a.ndim() {
        3 => a.insert_axis(ndarray::Axis(1)),
        _ => a.permuted_axes(vec![0, 3, 1, 2]),
    }
    .as_standard_layout()
    .into_owned()
}

/// Runs ONNX files under ONNX Runtime (`scripts/run_onnx.py` under `AE_PYTHON`, or `python3`),
/// each on its input; each file's outputs.
fn onnx_runtime(jobs: &[(&Path, &ndarray::ArrayD<f32>)]) -> Vec<Vec<ndarray::ArrayD<f32>>> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![dir.path().as_os_str().to_owned()];
    for (k, (model, input)) in jobs.iter().enumerate() {
        let feed = dir.path().join(format!("{k}.npy"));
        ndarray_npy::write_npy(&feed, *input).unwrap();
        args.extend([model.as_os_str().to_owned(), feed.into_os_string()]);
    }
    let python = std::env::var_os("AE_PYTHON").unwrap_or_else(|| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/run_onnx.py");
    let out = std::process::Command::new(&python).arg(script).args(&args).output();
    let out = out.unwrap_or_else(|e| panic!("{python:?}: {e} (AE_PYTHON names a Python with onnxruntime)"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let outputs = |k| {
        let files = (0..).map(|j| dir.path().join(format!("{k}_{j}.npy"))).take_while(|f| f.exists());
        files.map(|f| ndarray_npy::read_npy(f).unwrap()).collect()
    };
    (0..jobs.len()).map(outputs).collect()
}

fn max_diff(a: &ndarray::ArrayD<f32>, b: &ndarray::ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn exported_onnx_matches_ae_under_onnx_runtime_and_pytorch_export_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::olivetti();
    // The tutorial's network trained properly: a normalised sigmoid code. The seed and default
    // presets' runs (the default's batch-normalised maps, linear code and linear path) are the
    // shared ones.
    let tutorial = dir.path().join("tutorial-net");
    let args =
        ["train", "--preset", "tutorial-net", "--data", data.to_str().unwrap(), "--epochs", "1", "--out"];
    ok(ae(&[&args[..], &[tutorial.to_str().unwrap()]].concat()));
    let default = common::faces_default().run.clone();
    for (name, run) in [
        ("seed", common::seed_preset().run.clone()),
        ("default", default.clone()),
        ("tutorial-net", tutorial),
    ] {
        let run_s = run.to_str().unwrap();
        let rec = run.join("rec");
        ok(ae(&["reconstruct", run_s, "--split", "all", "--out", rec.to_str().unwrap()]));
        ok(ae(&["encode", run_s, "--split", "all", "--out", rec.join("codes.npy").to_str().unwrap()]));
        for part in ["all", "encoder", "decoder"] {
            let text = ok(ae(&["export", run_s, "--format", "onnx", "--part", part]));
            assert!(text.contains("opset 17"), "{text}");
        }
        let read = |file: &str| -> ndarray::ArrayD<f32> { ndarray_npy::read_npy(rec.join(file)).unwrap() };
        let (images, want, codes) =
            (nchw(read("originals.npy")), nchw(read("reconstructions.npy")), read("codes.npy"));
        let runs = onnx_runtime(&[
            (&run.join("model.onnx"), &images),
            (&run.join("encoder.onnx"), &images),
            (&run.join("decoder.onnx"), &codes),
        ]);
        let [all, encoder, decoder] = &runs[..] else { panic!("{} models ran", runs.len()) };
        // Codes relative to the largest once it passes 1: the default's linear path gives PCA's
        // coordinates (several units), each a sum over every pixel in f32.
        let scale = codes.iter().fold(1.0f32, |m, c| m.max(c.abs()));
        for (what, diff) in [
            ("model.onnx reconstructions", max_diff(&all[0], &want)),
            ("model.onnx codes", max_diff(&all[1], &codes) / scale),
            ("encoder.onnx", max_diff(&encoder[0], &codes) / scale),
            ("decoder.onnx", max_diff(&decoder[0], &want)),
        ] {
            assert!(diff <= 1e-5, "{name}: {what} differs from ae by {diff}");
        }
        // A file is never overwritten.
        let again = ae(&["export", run_s, "--format", "onnx"]);
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(
            !again.status.success() && err.contains("already exists") && err.lines().count() == 1,
            "{err}"
        );
    }

    let run = default;
    let text = ok(ae(&["export", run.to_str().unwrap(), "--format", "pytorch"]));
    let out = run.join("pytorch");
    for file in ["model.py", "train.py", "model.safetensors", "train.npy", "holdout.npy"] {
        assert!(out.join(file).is_file(), "{file} missing: {text}");
    }
    let train: ndarray::ArrayD<f32> = ndarray_npy::read_npy(out.join("train.npy")).unwrap();
    assert_eq!(train.shape(), [360, 1, 32, 32]);
    let model_py = std::fs::read_to_string(out.join("model.py")).unwrap();
    assert!(model_py.contains("\"op\": \"conv_transpose2d\"") && !model_py.contains("__DESCRIPTION__"));
    assert!(!std::fs::read_to_string(out.join("train.py")).unwrap().contains("__TRAINING__"));
    let again = ae(&["export", run.to_str().unwrap(), "--format", "pytorch"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn report_compares_runs_and_refuses_what_is_not_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = &common::faces_default().run;
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    // Self-contained: nothing fetched from elsewhere.
    let links = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!links.contains("http://") && !links.contains("https://") && !page.contains("<script"));
    assert!(page.contains("data:image/png;base64,") && page.contains("class=\"chart\""));
    let compare = dir.path().join("c.html");
    ok(ae(&["report", run.to_str().unwrap(), run.to_str().unwrap(), "--out", compare.to_str().unwrap()]));
    assert!(std::fs::read_to_string(&compare).unwrap().contains("Comparing 2 runs"));
    let missing = ae(&["report", dir.path().join("nothing").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        !missing.status.success() && err.contains("not a run directory") && err.lines().count() == 1,
        "{err}"
    );
    let again = ae(&["report", run.to_str().unwrap(), "--out", compare.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}
