//! The model file's PyTorch layouts against an independent writer: `scripts/make_layout_fixture.py`
//! made `fixtures/layout.safetensors` with numpy alone, each value naming its own PyTorch index.
//! Here every element is looked up where the engine's documented layouts put it:
//! convolutions `[kh, kw, in, out]`, transposed ones `[kh, kw, out, in]`, dense `[inputs, outputs]`
//! with a feature map's values in H, W, C order.

use ae::checkpoint;
use std::path::PathBuf;

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout.safetensors")
}

fn fixture() -> ae::model::Autoencoder {
    checkpoint::load(&fixture_path()).expect("the fixture loads").0
}

/// The weight and bias of the layer called `name`.
fn params<'a>(model: &'a ae::model::Autoencoder, name: &str) -> (&'a [f32], &'a [f32]) {
    let i = model.layers.iter().position(|l| l.name == name).unwrap_or_else(|| panic!("no layer {name}"));
    (&model.params[2 * i], &model.params[2 * i + 1])
}

#[test]
fn convolution_weights_are_kh_kw_in_out() {
    let model = fixture();
    for (name, inputs, outputs) in [("encoder.conv0", 1, 2), ("encoder.conv1", 2, 3)] {
        let (w, b) = params(&model, name);
        assert_eq!(w.len(), 9 * inputs * outputs);
        for (kh, kw, i, o) in grid(3, 3, inputs, outputs) {
            let at = ((kh * 3 + kw) * inputs + i) * outputs + o;
            assert_eq!(w[at], (1000 * o + 100 * i + 10 * kh + kw) as f32, "{name} [{kh},{kw},{i},{o}]");
        }
        assert_eq!(b, (0..outputs).map(|j| j as f32 + 0.5).collect::<Vec<_>>(), "{name}.bias");
    }
}

#[test]
fn transposed_convolution_weights_are_kh_kw_out_in() {
    let model = fixture();
    for (name, inputs, outputs) in [("decoder.convt0", 2, 3), ("decoder.convt1", 3, 1)] {
        let (w, b) = params(&model, name);
        assert_eq!(w.len(), 9 * inputs * outputs);
        for (kh, kw, o, i) in grid(3, 3, outputs, inputs) {
            let at = ((kh * 3 + kw) * outputs + o) * inputs + i;
            assert_eq!(w[at], (1000 * i + 100 * o + 10 * kh + kw) as f32, "{name} [{kh},{kw},{o},{i}]");
        }
        assert_eq!(b, (0..outputs).map(|j| j as f32 + 0.5).collect::<Vec<_>>(), "{name}.bias");
    }
}

#[test]
fn the_code_layer_reads_a_c_h_w_flatten_into_h_w_c_order() {
    let model = fixture();
    let (w, b) = params(&model, "code");
    let (units, (h, wd, c)) = (6, (4, 4, 3));
    assert_eq!(w.len(), h * wd * c * units);
    for (y, x, ch, u) in grid(h, wd, c, units) {
        let input = (y * wd + x) * c + ch;
        assert_eq!(
            w[input * units + u],
            (1000 * u + 100 * ch + 10 * y + x) as f32,
            "code [{y},{x},{ch}] → {u}"
        );
    }
    assert_eq!(b, [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
}

#[test]
fn the_decoder_projection_writes_h_w_c_order_weight_and_bias() {
    let model = fixture();
    let (w, b) = params(&model, "decoder.project");
    let (units, (h, wd, c)) = (6, (4, 4, 2));
    assert_eq!((w.len(), b.len()), (units * h * wd * c, h * wd * c));
    for (y, x, ch, u) in grid(h, wd, c, units) {
        let output = (y * wd + x) * c + ch;
        assert_eq!(
            w[u * (h * wd * c) + output],
            (1000 * u + 100 * ch + 10 * y + x) as f32,
            "{u} → [{y},{x},{ch}]"
        );
        assert_eq!(b[output], (100 * ch + 10 * y + x) as f32, "bias [{y},{x},{ch}]");
    }
}

#[test]
fn the_code_normalisation_keeps_its_running_statistics() {
    let model = fixture();
    let (gamma, beta) = params(&model, "code_norm");
    assert_eq!((gamma, beta), (&[0.5, 1.5, 2.5, 3.5, 4.5, 5.5][..], &[0.5, 1.5, 2.5, 3.5, 4.5, 5.5][..]));
    let i = model.layers.iter().position(|l| l.name == "code_norm").unwrap();
    let running = model.running[i].as_ref().expect("running statistics");
    assert_eq!(running.mean, [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
    assert_eq!(running.var, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(running.batches, 7);
}

#[test]
fn saving_the_fixture_writes_the_same_tensors_back() {
    // The writer is the reader's inverse: ae's own file of the loaded model holds the fixture's bytes.
    let (model, recipe) = checkpoint::load(&fixture_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("again.safetensors");
    checkpoint::save(&model, &recipe, &path).unwrap();
    let (a, b) = (std::fs::read(fixture_path()).unwrap(), std::fs::read(&path).unwrap());
    let (a, b) = (
        safetensors::SafeTensors::deserialize(&a).unwrap(),
        safetensors::SafeTensors::deserialize(&b).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    let mut again = b.names();
    again.sort();
    assert_eq!(names, again);
    for name in names {
        let (x, y) = (a.tensor(name).unwrap(), b.tensor(name).unwrap());
        assert_eq!((x.dtype(), x.shape(), x.data()), (y.dtype(), y.shape(), y.data()), "{name}");
    }
}

/// Every (a, b, c, d) below the given bounds, the last varying fastest.
fn grid(a: usize, b: usize, c: usize, d: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..a).flat_map(move |i| {
        (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l))))
    })
}

#[test]
fn files_from_before_the_bias_order_keep_their_projection_bias_as_written() {
    // Without `bias_order` metadata, `decoder.project.bias` was written in the engine's order.
    let bytes = std::fs::read(fixture_path()).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = header.metadata().clone().unwrap();
    assert!(metadata.remove("bias_order").is_some());
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> =
        tensors.names().into_iter().map(|n| (n.to_string(), tensors.tensor(n).unwrap())).collect();
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.safetensors");
    safetensors::serialize_to_file(views, Some(metadata), &old).unwrap();
    let model = checkpoint::load(&old).unwrap().0;
    let stored = tensors.tensor("decoder.project.bias").unwrap();
    let stored: Vec<f32> =
        stored.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(params(&model, "decoder.project").1, &stored[..]);
    assert_ne!(params(&fixture(), "decoder.project").1, &stored[..]);
}
