//! One-class training (`--normal`) and `ae score`: the images kept, the scores per image against
//! an independent computation, the figures against a brute-force count, and the refusals.

use crate::common::{self, ae};
use std::path::Path;

fn mnist() -> std::path::PathBuf {
    common::datasets().join("mnist/t10k-images-idx3-ubyte.gz")
}

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: std::process::Output, expect: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expect), "{err}");
}

/// The rows of a `scores.csv`: its header's names and each row's values.
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (header, lines.map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect())
}

/// AUROC by its definition: the share of (anomalous, normal) pairs the anomalous one wins, ties half.
fn pairs_won(scores: &[f64], anomalous: &[bool]) -> f64 {
    let (mut wins, mut n) = (0.0, 0.0);
    for (a, _) in scores.iter().zip(anomalous).filter(|(_, &x)| x) {
        for (b, _) in scores.iter().zip(anomalous).filter(|(_, &x)| !x) {
            n += 1.0;
            wins += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / n
}

#[test]
fn a_model_of_one_digit_scores_the_others_as_anomalous() {
    let data = mnist();
    // The 1s alone, code 32, one epoch, 20 % held out (`common::mnist_ones`).
    let trained = common::mnist_ones();
    let (run, said) = (&trained.run, &trained.stdout);
    assert!(said.contains("only classes [1]"), "{said}");
    // The run keeps the 1s alone (1135 of the 10 000), 227 of them held out, and records which.
    let config = ae::config::RunConfig::from_toml_file(&run.join("config.toml")).unwrap();
    assert_eq!(config.data.normal.as_ref().unwrap().classes, [1]);
    assert!(said.contains("Held-out 227 images"), "{said}");

    let dir = tempfile::tempdir().unwrap();
    let scored = dir.path().join("score");
    let text = ok(ae(&["score", run.to_str().unwrap(), "--json", "--out", scored.to_str().unwrap()]));
    let report: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!((report["images"].as_u64(), report["anomalous"].as_u64()), (Some(227 + 8865), Some(8865)));
    let (header, rows) = csv(&scored.join("scores.csv"));
    assert_eq!(header, ["index", "label", "anomalous", "error", "1-ssim", "pca"]);
    assert_eq!(rows.len(), 227 + 8865);
    // Labels from the labels file: every 1 is normal, every other digit anomalous.
    assert!(rows.iter().all(|r| (r[1] != 1.0) == (r[2] == 1.0)));
    let anomalous: Vec<bool> = rows.iter().map(|r| r[2] == 1.0).collect();
    let column = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
    // With --anomalous, the run's held-out 1s come first, by their index in the whole dataset.
    let noise = dir.path().join("noise.npy");
    ndarray_npy::write_npy(&noise, &ndarray::Array3::<u8>::from_elem((5, 28, 28), 200)).unwrap();
    let mixed = dir.path().join("mixed");
    let args = ["score", run.to_str().unwrap(), "--anomalous", noise.to_str().unwrap(), "--out"];
    ok(ae(&[&args[..], &[mixed.to_str().unwrap()]].concat()));
    let (_, mixed_rows) = csv(&mixed.join("scores.csv"));
    let mut held_out: Vec<f64> = mixed_rows[..227].iter().map(|r| r[0]).collect();
    held_out.sort_by(f64::total_cmp);
    let ones: Vec<f64> = rows.iter().filter(|r| r[1] == 1.0).map(|r| r[0]).collect();
    assert_eq!(held_out, ones, "the held-out rows name the same images");
    // The reported AUROC is that of the written scores, counted pair by pair.
    for (k, name) in [(3, "error"), (5, "pca")] {
        let want = pairs_won(&column(k), &anomalous);
        let got = report["scores"][name]["auroc"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{name}: {got} vs {want}");
    }
    // The trivial score, an image's ink (its mean value), separates the 1s at 0.91: the
    // reconstruction error must do better (measured 0.997 after one epoch).
    let mut config = ae::config::RunConfig::preset(ae::config::Preset::Default).data;
    (config.path, config.size) = (Some(data.clone()), None);
    let images = ae::data::load_dataset(&config, None).unwrap().to_images();
    let ink: Vec<f64> =
        column(0).iter().map(|&i| images.image(i as usize).iter().map(|&v| v as f64).sum()).collect();
    let ink_auroc = pairs_won(&ink, &anomalous);
    let error_auroc = report["scores"]["error"]["auroc"].as_f64().unwrap();
    assert!(error_auroc > ink_auroc + 0.05 && error_auroc > 0.95, "error {error_auroc}, ink {ink_auroc}");
    // The threshold flags at most 5 % of the held-out 1s it was chosen on.
    let error = &report["scores"]["error"];
    let flagged = rows.iter().filter(|r| r[2] == 0.0 && r[3] > error["threshold"].as_f64().unwrap()).count();
    assert!(flagged as f64 <= 0.05 * 227.0 && flagged >= 10, "{flagged} of 227");
    assert!((error["false_positive_rate"].as_f64().unwrap() - flagged as f64 / 227.0).abs() < 1e-12);
    assert!(scored.join("maps.png").is_file() && scored.join("scores.npy").is_file());
    // The report: the figures as printed, a histogram per score and the ROC curves.
    let page = std::fs::read_to_string(scored.join("report.html")).unwrap();
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 3 + 1);
    for name in ["error", "1-ssim", "pca"] {
        let auroc = report["scores"][name]["auroc"].as_f64().unwrap();
        assert!(page.contains(&format!("<td>{name}</td><td>{auroc:.4}</td>")), "{name}");
        assert!(page.contains(&format!("{name}: normal and anomalous images")), "{name}");
    }
    assert!(page.contains("ROC curves") && page.len() < 1_500_000, "{} bytes", page.len());
}

#[test]
fn a_plain_run_s_held_out_images_get_their_own_reconstruction_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = &common::faces_default().run;
    let out = dir.path().join("score");
    let said = ok(ae(&["score", run.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    assert!(said.contains("Scored 40 images (no labels with normal classes"), "{said}");
    let (header, rows) = csv(&out.join("scores.csv"));
    assert_eq!(header, ["index", "error", "1-ssim", "pca"]);
    // Against `ae reconstruct`'s arrays of the same held-out faces, in the same order.
    let rec = dir.path().join("rec");
    ok(ae(&["reconstruct", run.to_str().unwrap(), "--split", "holdout", "--out", rec.to_str().unwrap()]));
    let originals: ndarray::ArrayD<f32> = ndarray_npy::read_npy(rec.join("originals.npy")).unwrap();
    let reconstructions: ndarray::ArrayD<f32> =
        ndarray_npy::read_npy(rec.join("reconstructions.npy")).unwrap();
    for (i, row) in rows.iter().enumerate() {
        let (a, b) =
            (originals.index_axis(ndarray::Axis(0), i), reconstructions.index_axis(ndarray::Axis(0), i));
        let mse = a.iter().zip(b.iter()).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>()
            / a.len() as f64;
        assert!((row[1] - mse).abs() <= 1e-12 * mse.max(1e-6), "face {i}: {} vs {mse}", row[1]);
        assert!(row[2] > 0.0 && row[2] < 1.0 && row[3] > 0.0, "{row:?}");
    }
    // Not written over.
    let again = ae(&["score", run.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    refused(again, "already exists");
    // A set of images all anomalous, for data without labels: uniform noise after the 40 faces.
    let noise = dir.path().join("noise.npy");
    let mut state = 7u32;
    let values = ndarray::Array3::<u8>::from_shape_fn((20, 32, 32), |_| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    });
    ndarray_npy::write_npy(&noise, &values).unwrap();
    let mixed = dir.path().join("mixed");
    let args = ["score", run.to_str().unwrap(), "--anomalous", noise.to_str().unwrap(), "--json", "--out"];
    let text = ok(ae(&[&args[..], &[mixed.to_str().unwrap()]].concat()));
    let report: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!((report["images"].as_u64(), report["anomalous"].as_u64()), (Some(60), Some(20)));
    let (header, rows) = csv(&mixed.join("scores.csv"));
    assert_eq!(header, ["index", "anomalous", "error", "1-ssim", "pca"]);
    assert!(rows.iter().enumerate().all(|(i, r)| (r[1] == 1.0) == (i >= 40)));
    // The first 40 rows are the faces scored above, the same figures.
    assert!(rows.iter().zip(&csv(&out.join("scores.csv")).1).all(|(a, b)| a[2] == b[1]));
    let auroc = report["scores"]["error"]["auroc"].as_f64().unwrap();
    assert!(
        (auroc
            - pairs_won(
                &rows.iter().map(|r| r[2]).collect::<Vec<_>>(),
                &rows.iter().map(|r| r[1] == 1.0).collect::<Vec<_>>()
            ))
        .abs()
            < 1e-12
    );
    assert!(auroc > 0.99, "noise against faces: {auroc}");
    let small = dir.path().join("small.npy");
    ndarray_npy::write_npy(&small, &ndarray::Array3::<u8>::zeros((3, 16, 16))).unwrap();
    let args = ["score", run.to_str().unwrap(), "--anomalous", small.to_str().unwrap()];
    refused(ae(&args), "cannot resize 16×16 images to 32×32");
}

#[test]
fn classes_labels_and_rates_that_cannot_apply_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = mnist();
    let run = dir.path().join("run");
    let train = |extra: &[&str]| {
        let args =
            ["train", "--data", data.to_str().unwrap(), "--epochs", "1", "--out", run.to_str().unwrap()];
        ae(&[&args[..], extra].concat())
    };
    // A class no image has; a labels file of another length; labels without classes.
    refused(train(&["--normal", "12"]), "no image is labelled [12]");
    let labels = dir.path().join("nine-labels-idx1-ubyte");
    let mut file = vec![0, 0, 8, 1, 0, 0, 0, 9];
    file.extend([1u8; 9]);
    std::fs::write(&labels, file).unwrap();
    refused(
        train(&["--normal", "1", "--labels", labels.to_str().unwrap()]),
        "9 labels for a dataset of 10000 images",
    );
    refused(train(&["--labels", labels.to_str().unwrap()]), "give the classes too");
    assert!(!run.exists() && !run.with_extension("partial").exists());
    // `ae score`: a rate outside (0, 1), labels that do not match the images, a class absent.
    let faces = &common::faces_default().run;
    for fpr in ["0", "1", "1.5", "-0.1"] {
        let fpr = format!("--fpr={fpr}");
        refused(ae(&["score", faces.to_str().unwrap(), &fpr]), "--fpr must be in (0, 1)");
    }
    // Sized from the headers before anything is loaded.
    refused(ae(&["--max-memory", "20M", "score", faces.to_str().unwrap()]), "the memory limit is 20 MB");
    let npy = dir.path().join("ten.npy");
    ndarray_npy::write_npy(&npy, &ndarray::Array3::<u8>::zeros((10, 32, 32))).unwrap();
    let score = |extra: &[&str]| {
        let args = ["score", faces.to_str().unwrap(), "--data", npy.to_str().unwrap()];
        ae(&[&args[..], extra].concat())
    };
    refused(
        score(&["--labels", labels.to_str().unwrap(), "--normal", "1"]),
        "9 labels for a dataset of 10 images",
    );
    let ten = dir.path().join("ten-labels-idx1-ubyte");
    let mut file = vec![0, 0, 8, 1, 0, 0, 0, 10];
    file.extend([1u8; 10]);
    std::fs::write(&ten, file).unwrap();
    refused(score(&["--labels", ten.to_str().unwrap(), "--normal", "3"]), "is labelled [3]");
    // Every image normal: nothing to compare, refused with nothing written.
    let nothing = dir.path().join("nothing");
    let args = ["--labels", ten.to_str().unwrap(), "--normal", "1", "--out", nothing.to_str().unwrap()];
    refused(score(&args), "none is anomalous");
    assert!(!nothing.exists() && !ae::report::partial_of(&nothing).exists());
    // Classes and labels go with --data: the run's own images are scored by the run's classes.
    let alone = ae(&["score", faces.to_str().unwrap(), "--normal", "3"]);
    assert!(!alone.status.success() && String::from_utf8_lossy(&alone.stderr).contains("--data"));
    // Labels without normal classes to compare them with: scores, but no figures.
    let out = dir.path().join("score");
    let said = ok(score(&["--labels", ten.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    assert!(said.contains("Scored 10 images (no labels with normal classes"), "{said}");
}
