//! Data sources other than the Olivetti file: MNIST IDX, image folders (gray or RGB), `.npy`
//! arrays, and the errors each gives on bad input.

use crate::common::{self, ae};

use ae::config::{BadImages, DataConfig, Preset, RunConfig, Storage};
use ae::data::{load_dataset, Pixels};
use std::path::Path;

fn data_config(path: &Path) -> DataConfig {
    let mut data = RunConfig::preset(Preset::TutorialNet).data;
    data.path = Some(path.to_path_buf());
    data.size = None;
    data
}

/// A folder of `n` RGB PNGs of `side`×`side`: smooth colour gradients that differ per image.
fn rgb_folder(dir: &Path, n: usize, side: u32) {
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    for i in 0..n {
        let img = image::RgbImage::from_fn(side, side, |x, y| {
            let t = i as u32 * 7;
            image::Rgb([
                ((x * 8 + t) % 256) as u8,
                ((y * 8 + 2 * t) % 256) as u8,
                (((x + y) * 4 + t) % 256) as u8,
            ])
        });
        let sub = if i % 2 == 0 { dir.to_path_buf() } else { dir.join("nested") };
        img.save(sub.join(format!("img{i:03}.png"))).unwrap();
    }
}

#[test]
fn mnist_idx_loads_as_bytes_or_floats() {
    let path = common::datasets().join("mnist/t10k-images-idx3-ubyte.gz");
    let mut data = data_config(&path);
    data.storage = Storage::U8;
    let bytes = load_dataset(&data, None).unwrap();
    assert!(matches!(bytes, Pixels::Bytes { .. }));
    assert_eq!(
        (bytes.len(), bytes.shape().height, bytes.shape().width, bytes.shape().channels),
        (10_000, 28, 28, 1)
    );
    data.storage = Storage::F32;
    let floats = load_dataset(&data, None).unwrap();
    assert_eq!(floats.to_images(), bytes.to_images());
    let images = floats.to_images();
    assert!(images.data.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(images.data.contains(&1.0), "MNIST strokes reach 255");
}

#[test]
fn mnist_trains_with_a_short_code_and_evaluates() {
    // Code 32, two epochs, the digits stored as bytes (`common::mnist_code_32`).
    let run = &common::mnist_code_32().run;
    let config = RunConfig::from_toml_file(&run.join("config.toml")).unwrap();
    assert_eq!((config.model.input, config.model.code_length), ([28, 28, 1], 32));
    assert_eq!(config.data.storage, Storage::U8);
    // The code is projected to the decoder's first map, 256 channels of 7×7 (28 halves twice):
    // the run records the map's channels and the stages the input kept.
    assert_eq!(config.model.decoder_input_channels, Some(256));
    let strides: Vec<usize> = config.model.encoder.iter().map(|s| s.stride).collect();
    assert_eq!(strides, [2, 2, 1, 1]);
    // The default preset's flips are the faces'; digits are only shifted.
    assert_eq!(config.training.augment.to_string(), "shift:2");
    let report = common::eval_json(run);
    assert_eq!(report["images"], 1000);
    // Beats the mean training digit (11.7 dB), whatever the input (`tests/learning.rs` sets the
    // higher bar of two epochs).
    let (psnr, mean) = (report["psnr_db"].as_f64().unwrap(), common::mean_image_psnr(run));
    assert!(psnr > mean + 1.5, "{psnr} dB vs the mean digit's {mean} dB: {report}");

    // The held-out codes with each image's index in the dataset and, from the labels file beside
    // the images, its label.
    let out = ae(&["encode", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |name: &str| run.join(name);
    let codes: ndarray::Array2<f32> = ndarray_npy::read_npy(read("codes-holdout.npy")).unwrap();
    let indices: ndarray::Array1<i64> = ndarray_npy::read_npy(read("codes-holdout-indices.npy")).unwrap();
    let labels: ndarray::Array1<u8> = ndarray_npy::read_npy(read("codes-holdout-labels.npy")).unwrap();
    assert_eq!((codes.shape(), indices.len(), labels.len()), (&[1000, 32][..], 1000, 1000));
    let split = ae::data::split_for(&config.data, 10_000, config.training.seed).unwrap();
    assert_eq!(indices.iter().map(|&i| i as usize).collect::<Vec<_>>(), split.holdout);
    let all = ae::data::load_labels(&common::datasets().join("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    assert!(indices.iter().zip(&labels).all(|(&i, &l)| all[i as usize] == l));
    assert!((0..10).all(|d| labels.iter().any(|&l| l == d)), "every digit among 1000");
}

#[test]
fn a_folder_of_rgb_pngs_trains_at_its_own_size() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    rgb_folder(&images, 60, 32);
    let loaded = load_dataset(&data_config(&images), None).unwrap();
    assert_eq!((loaded.len(), loaded.shape().channels, loaded.shape().height), (60, 3, 32));
    let run = dir.path().join("run");
    let out = ae(&[
        "train",
        "--data",
        images.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "20",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(RunConfig::from_toml_file(&run.join("config.toml")).unwrap().model.input, [32, 32, 3]);
    let grid = image::open(run.join("reconstructions.png")).unwrap().to_rgb8();
    assert!(grid.pixels().any(|p| p[0] != p[1]), "the grid shows colour");
    // Resizing the same folder to 16×16 on load.
    let mut data = data_config(&images);
    data.size = Some([16, 16]);
    assert_eq!(load_dataset(&data, None).unwrap().shape().width, 16);
}

#[test]
fn colour_images_are_learned_beyond_the_mean_image() {
    // 120 images of 16×16 made of three colour factors each: red rising left to right, green top
    // to bottom, a constant blue, each at its own strength: a loader that repeats one channel
    // into three, or a network that loses one, cannot rebuild them. (Augmentation's channel
    // handling is pinned by `augment.rs`'s own tests: the model learns mixed-up copies too.)
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("factors");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..120u32 {
        let [a, b, c] = [37, 59, 23].map(|k| (i * k % 100) as f32 / 100.0);
        let img = image::RgbImage::from_fn(16, 16, |x, y| {
            let ramp = |v: u32, s: f32| (255.0 * s * v as f32 / 15.0).round() as u8;
            image::Rgb([ramp(x, a), ramp(y, b), (255.0 * c).round() as u8])
        });
        img.save(images.join(format!("img{i:03}.png"))).unwrap();
    }
    let run = dir.path().join("run");
    let args = ["--epochs", "20", "--batch-size", "8", "--out", run.to_str().unwrap()];
    let out = ae(&[&["train", "--data", images.to_str().unwrap()][..], &args[..]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let eval = common::eval_json(&run);
    // The mean training image, whatever the input, is the trivial bar (about 13 dB here; the
    // model reaches about 21).
    let (psnr, mean) = (eval["psnr_db"].as_f64().unwrap(), common::mean_image_psnr(&run));
    assert!(psnr > mean + 4.0, "held-out PSNR {psnr} dB, the mean image's {mean} dB");
}

#[test]
fn faces_train_at_64_by_64_without_resizing() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("faces64");
    let out = ae(&[
        "train",
        "--data",
        common::olivetti().to_str().unwrap(),
        "--size",
        "64",
        "64",
        "--epochs",
        "1",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = RunConfig::from_toml_file(&run.join("config.toml")).unwrap().model;
    assert_eq!(model.input, [64, 64, 1]);
    // The default network adds a fifth stride-2 stage so that the code layer reads 2×2, and the
    // run's config says so.
    let strides: Vec<usize> = model.encoder.iter().chain(&model.decoder).map(|s| s.stride).collect();
    assert_eq!(strides, [2; 10]);
}

#[test]
fn npy_arrays_of_bytes_and_floats() {
    use ndarray_npy::WriteNpyExt;
    let dir = tempfile::tempdir().unwrap();
    let u8_path = dir.path().join("rgb.npy");
    let array =
        ndarray::Array4::<u8>::from_shape_fn((5, 8, 8, 3), |(n, y, x, c)| (n * 40 + y * 3 + x * 2 + c) as u8);
    array.write_npy(std::fs::File::create(&u8_path).unwrap()).unwrap();
    let loaded = load_dataset(&data_config(&u8_path), None).unwrap().to_images();
    assert_eq!((loaded.len(), loaded.shape.channels), (5, 3));
    assert_eq!(loaded.image(1)[3 * 8 * 3 + 2 * 3 + 1], (40 + 9 + 4 + 1) as f32 / 255.0);

    let f32_path = dir.path().join("gray.npy");
    ndarray::Array3::<f32>::from_elem((4, 6, 6), 0.25)
        .write_npy(std::fs::File::create(&f32_path).unwrap())
        .unwrap();
    let loaded = load_dataset(&data_config(&f32_path), None).unwrap().to_images();
    assert_eq!((loaded.len(), loaded.shape.channels, loaded.data[0]), (4, 1, 0.25));

    type Writer = Box<dyn Fn(&Path)>;
    let cases: [(&str, Writer, &str); 3] = [
        (
            "i16.npy",
            Box::new(|p| {
                ndarray::Array3::<i16>::zeros((2, 4, 4)).write_npy(std::fs::File::create(p).unwrap()).unwrap()
            }),
            "dtype '<i2' is not supported; expected u8 or f32",
        ),
        (
            "flat.npy",
            Box::new(|p| {
                ndarray::Array2::<u8>::zeros((2, 16)).write_npy(std::fs::File::create(p).unwrap()).unwrap()
            }),
            "not a stack of images",
        ),
        (
            "big.npy",
            Box::new(|p| {
                ndarray::Array3::<f32>::from_elem((1, 2, 2), 3.0)
                    .write_npy(std::fs::File::create(p).unwrap())
                    .unwrap()
            }),
            "outside [0, 1]",
        ),
    ];
    for (name, write, expect) in cases {
        let path = dir.path().join(name);
        write(&path);
        let err = format!("{:#}", load_dataset(&data_config(&path), None).unwrap_err());
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
    }
}

#[test]
fn bad_folders_and_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = format!("{:#}", load_dataset(&data_config(&empty), None).unwrap_err());
    assert!(err.contains("holds no PNG or JPEG images"), "{err}");

    let mixed = dir.path().join("mixed");
    rgb_folder(&mixed, 3, 16);
    image::RgbImage::new(20, 16).save(mixed.join("wide.png")).unwrap();
    let err = format!("{:#}", load_dataset(&data_config(&mixed), None).unwrap_err());
    assert!(err.contains("wide.png is 20×16") && err.contains("data.size"), "{err}");

    let broken = dir.path().join("broken");
    rgb_folder(&broken, 4, 16);
    std::fs::write(broken.join("zz-corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let err = format!("{:#}", load_dataset(&data_config(&broken), None).unwrap_err());
    assert!(err.contains("zz-corrupt.png") && err.contains("skip"), "{err}");
    let mut skip = data_config(&broken);
    skip.bad_images = BadImages::Skip;
    assert_eq!(load_dataset(&skip, None).unwrap().len(), 4);

    let idx = dir.path().join("bad-images-idx3-ubyte");
    std::fs::write(&idx, [0u8, 0, 8, 1, 0, 0, 0, 1, 5]).unwrap();
    let err = format!("{:#}", load_dataset(&data_config(&idx), None).unwrap_err());
    assert!(err.contains("bad-images-idx3-ubyte") && err.contains("labels, not images"), "{err}");
    let truncated = dir.path().join("short-idx3-ubyte");
    std::fs::write(&truncated, ae::data::idx::encode(2, 4, 4, &[0; 20])).unwrap();
    let err = format!("{:#}", load_dataset(&data_config(&truncated), None).unwrap_err());
    assert!(err.contains("truncated"), "{err}");

    let unknown = dir.path().join("faces.csv");
    std::fs::write(&unknown, "1,2,3").unwrap();
    let err = format!("{:#}", load_dataset(&data_config(&unknown), None).unwrap_err());
    assert!(err.contains("cannot tell the format"), "{err}");
}

#[test]
fn the_command_line_names_its_flags_and_prints_the_library_s_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mixed = dir.path().join("mixed");
    rgb_folder(&mixed, 3, 16);
    image::RgbImage::new(20, 16).save(mixed.join("wide.png")).unwrap();
    let out =
        ae(&["train", "--data", mixed.to_str().unwrap(), "--out", dir.path().join("a").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("set data.size to resize") && err.contains("(flags: --size)"),
        "{err}"
    );

    let broken = dir.path().join("broken");
    rgb_folder(&broken, 8, 16);
    std::fs::write(broken.join("zz-corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let run = dir.path().join("b");
    let args = ["--epochs", "1", "--batch-size", "4", "--bad-images", "skip", "--out", run.to_str().unwrap()];
    let out = ae(&[&["train", "--data", broken.to_str().unwrap()][..], &args[..]].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning: skipping cannot decode") && err.contains("zz-corrupt.png"), "{err}");
    assert!(err.contains("warning: skipped 1 of 9 image files"), "{err}");

    // A JPEG on which the decoder panics (its AVX2 path): one line naming the file, no panic text.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ae/tests/fixtures/zune-jpeg-idct-panic.jpg");
    let panicky = dir.path().join("panicky");
    rgb_folder(&panicky, 4, 16);
    std::fs::copy(fixture, panicky.join("zz-panic.jpg")).unwrap();
    // (A new output directory: an existing one is refused before any image is read.)
    let fresh = dir.path().join("c");
    let out = ae(&[
        "train",
        "--data",
        panicky.to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        fresh.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    if std::arch::is_x86_feature_detected!("avx2") {
        assert!(!out.status.success() && err.contains("zz-panic.jpg"), "{err}");
        assert!(err.trim_end().lines().count() == 1 && !err.contains("panicked"), "{err}");
    }
}

/// One epoch of a VAE with a `latent`-unit code on the MNIST test set (BCE, a constant rate).
fn train_mnist_vae(run: &Path, latent: usize) -> std::process::Output {
    let mnist = common::datasets().join("mnist/t10k-images-idx3-ubyte.gz");
    let latent = latent.to_string();
    let args = ["--model", "vae", "--latent-dim", &latent, "--loss", "bce", "--epochs", "1", "--set"];
    let data = ["train", "--data", mnist.to_str().unwrap()];
    ae(&[&data[..], &args[..], &["training.schedule=constant", "--out", run.to_str().unwrap()]].concat())
}

#[test]
fn a_vae_learns_mnist_and_reports_its_elbo_and_likelihood() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vae");
    let out = train_mnist_vae(&run, 16);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("(KL per sample: ") && text.contains("Held-out 1000 images"), "{text}");
    let config = RunConfig::from_toml_file(&run.join("config.toml")).unwrap();
    assert_eq!((config.model.kind, config.model.code_length), (ae::config::ModelKind::Vae, 16));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let epoch: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    let (loss, kl) = (
        epoch["holdout_loss_per_sample"].as_f64().unwrap(),
        epoch["holdout_kl_per_sample"].as_f64().unwrap(),
    );
    // The mean digit's cross-entropy is the trivial bar (206 nats; one epoch at a constant rate
    // reaches about 140 with the KL).
    let bar = common::mean_image_bce(&run);
    assert!(kl > 1.0 && loss + kl < bar - 30.0, "held-out {loss} + KL {kl} vs the mean digit's {bar}");

    let out = ae(&["eval", run.to_str().unwrap(), "--json", "--nll-samples", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vae = &report["vae"];
    let (nll, elbo) = (vae["nll"].as_f64().unwrap(), vae["elbo"].as_f64().unwrap());
    // Importance sampling tightens the bound: −ELBO ≥ NLL, both below the mean digit's.
    assert!(nll <= -elbo + 0.5 && nll < bar - 30.0 && vae["samples"] == 5, "{report}");
    // `ae score`'s likelihood score is each held-out image's NLL: their mean is eval's, drawn
    // from the same stream in the same order.
    let scored = dir.path().join("score");
    let args = ["score", run.to_str().unwrap(), "--nll-samples", "5", "--out", scored.to_str().unwrap()];
    assert!(ae(&args).status.success());
    let text = std::fs::read_to_string(scored.join("scores.csv")).unwrap();
    let column = text.lines().next().unwrap().split(',').position(|c| c == "nll").expect("an nll column");
    let each: Vec<f64> =
        text.lines().skip(1).map(|l| l.split(',').nth(column).unwrap().parse().unwrap()).collect();
    assert_eq!(each.len(), 1000);
    let mean = each.iter().sum::<f64>() / each.len() as f64;
    assert!((mean - nll).abs() < 1e-9 * nll, "mean of the scores {mean}, eval's NLL {nll}");

    // Samples from the prior: seeded, images in (0, 1).
    let sample = |out: &Path| {
        let out = ae(&[
            "sample",
            run.to_str().unwrap(),
            "--count",
            "9",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let (a, b) = (dir.path().join("s1"), dir.path().join("s2"));
    // A million samples at once would need gigabytes: refused before decoding.
    let out = ae(&["--max-memory", "500M", "sample", run.to_str().unwrap(), "--count", "1000000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("this job needs about"), "{err}");
    sample(&a);
    sample(&b);
    let samples: ndarray::Array3<f32> = ndarray_npy::read_npy(a.join("samples.npy")).unwrap();
    assert_eq!(samples.shape(), [9, 28, 28]);
    assert!(samples.iter().all(|&v| v > 0.0 && v < 1.0) && a.join("samples.png").exists());
    // …that look like digits: nearer their nearest training digit than images with a digit's
    // pixels in random places are (the same brightness, no shape), and than a flat grey one (what
    // an untrained decoder's sigmoid gives). Distances per image, L2 over its 784 pixels.
    let train = common::training_images(&run);
    let train: Vec<&[f32]> = train.as_slice().unwrap().chunks_exact(784).collect();
    let nearest = |image: &[f32]| -> f64 {
        let distance = |t: &&[f32]| t.iter().zip(image).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>();
        train.iter().map(distance).fold(f64::INFINITY, f64::min).sqrt()
    };
    let mean = |images: &[Vec<f32>]| images.iter().map(|i| nearest(i)).sum::<f64>() / images.len() as f64;
    let drawn: Vec<Vec<f32>> = samples.as_slice().unwrap().chunks_exact(784).map(<[f32]>::to_vec).collect();
    // Digits 100, 200, … with their pixels permuted by a fixed stride coprime with 784.
    let scattered: Vec<Vec<f32>> =
        (1..=9).map(|i| (0..784).map(|p| train[100 * i][(p * 389 + 17) % 784]).collect()).collect();
    let (samples_d, scattered_d, grey_d) = (mean(&drawn), mean(&scattered), nearest(&[0.5; 784]));
    assert!(
        samples_d < 0.8 * scattered_d && samples_d < 0.8 * grey_d,
        "samples {samples_d:.2} from their nearest digit; scattered digits {scattered_d:.2}, grey {grey_d:.2}"
    );
    assert_eq!(std::fs::read(a.join("codes.npy")).unwrap(), std::fs::read(b.join("codes.npy")).unwrap());
    // An interpolation runs from the first image's code (its mean) to the second's.
    let out = ae(&["interpolate", run.to_str().unwrap(), "--from", "0", "--to", "1", "--steps", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = run.join("interpolate-0-1");
    let codes: ndarray::Array2<f32> = ndarray_npy::read_npy(line.join("codes.npy")).unwrap();
    let encoded = dir.path().join("codes.npy");
    assert!(ae(&["encode", run.to_str().unwrap(), "--out", encoded.to_str().unwrap()]).status.success());
    let means: ndarray::Array2<f32> = ndarray_npy::read_npy(&encoded).unwrap();
    // (Encoded one image at a time there and 50 here: the kernels sum in another order.)
    let near = |a: ndarray::ArrayView1<f32>, b: &ndarray::Array1<f32>| {
        a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-4)
    };
    let (first, last) = (means.row(0).to_owned(), means.row(1).to_owned());
    assert!(near(codes.row(0), &first) && near(codes.row(4), &last), "{codes} vs {means}");
    assert!(near(codes.row(2), &((&first + &last) / 2.0)));
    // A traversal: row u varies unit u over [−2, 2] around image 0's code.
    let out = ae(&["traverse", run.to_str().unwrap(), "--image", "0", "--range", "2", "--steps", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let codes: ndarray::Array2<f32> = ndarray_npy::read_npy(run.join("traverse-0/codes.npy")).unwrap();
    assert_eq!(codes.shape(), [16 * 3, 16]);
    assert_eq!([codes[[15, 5]], codes[[16, 5]], codes[[17, 5]]], [-2.0, 0.0, 2.0]);
    assert!((codes[[16, 4]] - first[4]).abs() < 1e-4 && run.join("traverse-0/traversal.png").exists());
}

#[test]
fn a_2d_vae_draws_its_codes_by_label_and_its_manifold() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vae2");
    let labels_file = common::datasets().join("mnist/t10k-labels-idx1-ubyte.gz");
    let out = train_mnist_vae(&run, 2);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let latent = dir.path().join("latent");
    let out = ae(&[
        "latent",
        run.to_str().unwrap(),
        "--labels",
        labels_file.to_str().unwrap(),
        "--steps",
        "5",
        "--out",
        latent.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1000 holdout images, coloured by label"));
    for png in ["scatter.png", "manifold.png"] {
        let img = image::open(latent.join(png)).unwrap().to_rgb8();
        assert!(img.pixels().any(|p| p.0 != img.get_pixel(0, 0).0), "{png} is blank");
    }
    // The labels are the held-out images' own, picked from the file by the run's split.
    let config = RunConfig::from_toml_file(&run.join("config.toml")).unwrap();
    let split = ae::data::split_for(&config.data, 10_000, config.training.seed).unwrap();
    let all = ae::data::load_labels(&labels_file).unwrap();
    let labels: ndarray::Array1<f32> = ndarray_npy::read_npy(latent.join("labels.npy")).unwrap();
    let want: Vec<f32> = split.holdout.iter().map(|&i| all[i] as f32).collect();
    assert_eq!(labels.to_vec(), want);
    // So the codes of each digit gather: after one epoch the 0s' and the 1s' mean codes lie apart.
    let codes: ndarray::Array2<f32> = ndarray_npy::read_npy(latent.join("codes.npy")).unwrap();
    let mean_of = |digit: f32| {
        let rows: Vec<usize> = (0..1000).filter(|&i| labels[i] == digit).collect();
        let sum = rows.iter().fold([0.0f32; 2], |s, &i| [s[0] + codes[[i, 0]], s[1] + codes[[i, 1]]]);
        sum.map(|v| v / rows.len() as f32)
    };
    let (zeros, ones) = (mean_of(0.0), mean_of(1.0));
    let apart = ((zeros[0] - ones[0]).powi(2) + (zeros[1] - ones[1]).powi(2)).sqrt();
    assert!(apart > 1.5, "mean codes of 0s {zeros:?} and 1s {ones:?}");
    // The manifold: 5 × 5 codes over [−2, 2]², decoded.
    let grid: ndarray::Array2<f32> = ndarray_npy::read_npy(latent.join("manifold-codes.npy")).unwrap();
    assert_eq!((grid.shape(), grid.row(0).to_vec()), ([25, 2].as_slice(), vec![-2.0, 2.0]));
    let manifold: ndarray::Array3<f32> = ndarray_npy::read_npy(latent.join("manifold.npy")).unwrap();
    assert_eq!(manifold.shape(), [25, 28, 28]);
    // A labels file of another length is refused in one line.
    let short = dir.path().join("short-labels");
    std::fs::write(&short, [0, 0, 8, 1, 0, 0, 0, 2, 7, 3]).unwrap();
    let out = ae(&["latent", run.to_str().unwrap(), "--labels", short.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("2 labels for a dataset of 10000 images"), "{err}");
}
