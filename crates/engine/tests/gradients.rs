//! Every layer's backward pass against central finite differences of its forward pass.
//!
//! The scalar checked is `L = Σ r·y` for a fixed random `r`, so `∂L/∂y = r`.

use ae_engine::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rng: &mut ChaCha8Rng, len: usize, scale: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-scale..scale)).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// `L = Σ r·y`, plus which outputs are positive: a finite difference that flips one of those
/// straddles a ReLU kink, where the derivative is undefined.
fn loss_and_pattern(y: &[f32], r: &[f32]) -> (f64, Vec<bool>) {
    (dot(y, r), y.iter().map(|v| *v > 0.0).collect())
}

/// Compares `analytic` with central differences of `loss` around `values`, at every index
/// (or a strided sample of them for large tensors), skipping differences across a ReLU kink.
fn check(name: &str, values: &mut [f32], analytic: &[f32], mut loss: impl FnMut(&[f32]) -> (f64, Vec<bool>)) {
    let h = 1e-2f32;
    let stride = (values.len() / 60).max(1);
    let (mut checked, mut tried) = (0, 0);
    for i in (0..values.len()).step_by(stride) {
        tried += 1;
        let keep = values[i];
        // A smaller step where the larger one straddles a kink.
        let numeric = [h, h / 10.0].into_iter().find_map(|h| {
            values[i] = keep + h;
            let (up, up_pattern) = loss(values);
            values[i] = keep - h;
            let (down, down_pattern) = loss(values);
            values[i] = keep;
            (up_pattern == down_pattern).then(|| (up - down) / (2.0 * h as f64))
        });
        let Some(numeric) = numeric else { continue };
        checked += 1;
        let err = (numeric - analytic[i] as f64).abs() / (numeric.abs() + analytic[i].abs() as f64 + 1e-2);
        assert!(err < 2e-2, "{name}[{i}]: analytic {} vs numeric {numeric}", analytic[i]);
    }
    assert!(
        checked > 0 && checked * 3 >= tried * 2,
        "{name}: only {checked} of {tried} points away from a kink"
    );
}

struct Case {
    geometry: ConvGeometry,
    act: Activation,
    batch: usize,
    transpose: bool,
}

fn check_conv(case: Case) {
    let g = case.geometry;
    let (in_len, out_len, bias_len) = if case.transpose {
        (g.small.len(), g.big.len(), g.big.channels)
    } else {
        (g.big.len(), g.small.len(), g.small.channels)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut x = random(&mut rng, case.batch * in_len, 1.0);
    let mut w = random(&mut rng, g.weight_len(), 0.5);
    let mut b = random(&mut rng, bias_len, 0.3);
    let r = random(&mut rng, case.batch * out_len, 1.0);
    // Two parts, so the per-thread gradient partials and their reduction are exercised too.
    let mut ws = Workspace::new(2);

    let forward = |x: &[f32], w: &[f32], b: &[f32], ws: &mut Workspace| {
        let mut y = vec![0.0; case.batch * out_len];
        if case.transpose {
            conv_transpose_forward(&g, x, w, Epilogue::new(b, case.act), &mut y, ws);
        } else {
            conv_forward(&g, x, w, Epilogue::new(b, case.act), &mut y, ws);
        }
        y
    };
    let y = forward(&x, &w, &b, &mut ws);
    let mut dy = r.clone();
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; b.len()];
    let grads = ParamGrads { weight: &mut dw, bias: &mut db };
    if case.transpose {
        conv_transpose_backward(&g, &x, &w, case.act, &y, &mut dy, Some(&mut dx), grads, &mut ws);
    } else {
        conv_backward(&g, &x, &w, case.act, &y, &mut dy, Some(&mut dx), grads, &mut ws);
    }

    let name = if case.transpose { "conv_transpose" } else { "conv" };
    let (w0, b0, x0) = (w.clone(), b.clone(), x.clone());
    check(&format!("{name} input"), &mut x, &dx, |x| {
        loss_and_pattern(&forward(x, &w0, &b0, &mut Workspace::new(1)), &r)
    });
    check(&format!("{name} weight"), &mut w, &dw, |w| {
        loss_and_pattern(&forward(&x0, w, &b0, &mut Workspace::new(1)), &r)
    });
    check(&format!("{name} bias"), &mut b, &db, |b| {
        loss_and_pattern(&forward(&x0, &w0, b, &mut Workspace::new(1)), &r)
    });
}

#[test]
fn conv_stride_two_tf_padding() {
    let geometry = ConvGeometry::same(Shape::new(6, 5, 2), 3, 3, 2, Padding::TfSame);
    check_conv(Case { geometry, act: Activation::Sigmoid, batch: 3, transpose: false });
}

#[test]
fn conv_stride_one_symmetric_padding_relu() {
    let geometry = ConvGeometry::same(Shape::new(5, 5, 3), 4, 3, 1, Padding::Symmetric);
    check_conv(Case { geometry, act: Activation::Relu, batch: 2, transpose: false });
}

#[test]
fn conv_transpose_stride_two_tf_padding() {
    let geometry = ConvGeometry::same(Shape::new(8, 6, 2), 3, 3, 2, Padding::TfSame);
    check_conv(Case { geometry, act: Activation::Sigmoid, batch: 3, transpose: true });
}

#[test]
fn conv_transpose_stride_two_symmetric_padding() {
    let geometry = ConvGeometry::same(Shape::new(6, 6, 1), 2, 3, 2, Padding::Symmetric);
    check_conv(Case { geometry, act: Activation::Identity, batch: 2, transpose: true });
}

#[test]
fn conv_transpose_stride_one_relu() {
    let geometry = ConvGeometry::same(Shape::new(5, 4, 3), 2, 3, 1, Padding::TfSame);
    check_conv(Case { geometry, act: Activation::Relu, batch: 2, transpose: true });
}

#[test]
fn conv_winograd_partial_tiles_relu() {
    let geometry = ConvGeometry::same(Shape::new(6, 7, 3), 5, 3, 1, Padding::Symmetric)
        .with_algorithm(Algorithm::Winograd);
    check_conv(Case { geometry, act: Activation::Relu, batch: 2, transpose: false });
}

#[test]
fn conv_transpose_winograd_sigmoid() {
    let geometry =
        ConvGeometry::same(Shape::new(5, 9, 2), 4, 3, 1, Padding::TfSame).with_algorithm(Algorithm::Winograd);
    check_conv(Case { geometry, act: Activation::Sigmoid, batch: 3, transpose: true });
}

#[test]
fn conv_transpose_direct_stride_two() {
    let geometry =
        ConvGeometry::same(Shape::new(8, 6, 5), 2, 3, 2, Padding::TfSame).with_algorithm(Algorithm::Direct);
    check_conv(Case { geometry, act: Activation::Sigmoid, batch: 3, transpose: true });
}

#[test]
fn conv_direct_symmetric_padding() {
    let geometry = ConvGeometry::same(Shape::new(7, 6, 4), 1, 3, 2, Padding::Symmetric)
        .with_algorithm(Algorithm::Direct);
    check_conv(Case { geometry, act: Activation::Relu, batch: 2, transpose: false });
}

#[test]
fn conv_transpose_one_channel_to_grey() {
    let geometry = ConvGeometry::same(Shape::new(5, 18, 1), 16, 3, 1, Padding::Symmetric)
        .with_algorithm(Algorithm::OneChannel);
    check_conv(Case { geometry, act: Activation::Sigmoid, batch: 3, transpose: true });
}

#[test]
fn conv_one_channel_from_grey() {
    let geometry = ConvGeometry::same(Shape::new(6, 5, 1), 32, 3, 1, Padding::TfSame)
        .with_algorithm(Algorithm::OneChannel);
    check_conv(Case { geometry, act: Activation::Relu, batch: 2, transpose: false });
}

#[test]
fn dense_sigmoid() {
    let s = DenseShape { inputs: 12, outputs: 5 };
    let n = 4;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut x = random(&mut rng, n * s.inputs, 1.0);
    let mut w = random(&mut rng, s.inputs * s.outputs, 0.5);
    let mut b = random(&mut rng, s.outputs, 0.3);
    let r = random(&mut rng, n * s.outputs, 1.0);
    // Three parts: the inputs are split 4/4/4 over threads and the partial sums reduced.
    let forward = |x: &[f32], w: &[f32], b: &[f32]| {
        let mut y = vec![0.0; n * s.outputs];
        dense_forward(&s, x, w, b, Activation::Sigmoid, &mut y, &mut Workspace::new(3));
        y
    };
    let y = forward(&x, &w, &b);
    let (mut dy, mut dx, mut dw, mut db) =
        (r.clone(), vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; b.len()]);
    let grads = ParamGrads { weight: &mut dw, bias: &mut db };
    dense_backward(
        &s,
        &x,
        &w,
        Activation::Sigmoid,
        &y,
        &mut dy,
        Some(&mut dx),
        grads,
        &mut Workspace::new(3),
    );
    let (w0, b0, x0) = (w.clone(), b.clone(), x.clone());
    check("dense input", &mut x, &dx, |x| loss_and_pattern(&forward(x, &w0, &b0), &r));
    check("dense weight", &mut w, &dw, |w| loss_and_pattern(&forward(&x0, w, &b0), &r));
    check("dense bias", &mut b, &db, |b| loss_and_pattern(&forward(&x0, &w0, b), &r));
}

fn check_batch_norm(act: Activation) {
    // 6 rows of 5 channels: a dense layer's batch × units, or a feature map's pixels × channels.
    let (rows, c) = (6, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut x: Vec<f32> =
        random(&mut rng, rows * c, 2.0).iter().enumerate().map(|(i, v)| v + (i % c) as f32).collect();
    let mut gamma: Vec<f32> = random(&mut rng, c, 0.5).iter().map(|v| v + 1.0).collect();
    let mut beta = random(&mut rng, c, 0.5);
    let r = random(&mut rng, rows * c, 1.0);
    let forward = |x: &[f32], gamma: &[f32], beta: &[f32]| {
        let mut y = vec![0.0; rows * c];
        batch_norm_forward_train(x, gamma, beta, act, &mut y, &mut BatchStats::default());
        y
    };
    let mut stats = BatchStats::default();
    let mut y = vec![0.0; rows * c];
    batch_norm_forward_train(&x, &gamma, &beta, act, &mut y, &mut stats);
    let (mut dy, mut dx, mut dg, mut db) = (r.clone(), vec![0.0; x.len()], vec![0.0; c], vec![0.0; c]);
    let grads = ParamGrads { weight: &mut dg, bias: &mut db };
    batch_norm_backward(&x, &gamma, act, &y, &mut dy, &stats, Some(&mut dx), grads);
    let (x0, g0, b0) = (x.clone(), gamma.clone(), beta.clone());
    check("batch norm input", &mut x, &dx, |x| loss_and_pattern(&forward(x, &g0, &b0), &r));
    check("batch norm γ", &mut gamma, &dg, |g| loss_and_pattern(&forward(&x0, g, &b0), &r));
    check("batch norm β", &mut beta, &db, |b| loss_and_pattern(&forward(&x0, &g0, b), &r));
}

#[test]
fn batch_norm_sigmoid() {
    check_batch_norm(Activation::Sigmoid);
}

#[test]
fn batch_norm_relu() {
    check_batch_norm(Activation::Relu);
}

#[test]
fn results_are_identical_for_a_given_part_count() {
    for algorithm in [Algorithm::Im2col, Algorithm::Winograd] {
        let g = ConvGeometry::same(Shape::new(8, 8, 4), 6, 3, 1, Padding::TfSame).with_algorithm(algorithm);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let x = random(&mut rng, 5 * g.small.len(), 1.0);
        let w = random(&mut rng, g.weight_len(), 0.5);
        let b = vec![0.1; g.big.channels];
        let run = || {
            let mut ws = Workspace::new(3);
            let mut y = vec![0.0; 5 * g.big.len()];
            conv_transpose_forward(&g, &x, &w, Epilogue::new(&b, Activation::Relu), &mut y, &mut ws);
            let mut dy = y.clone();
            let (mut dw, mut db) = (vec![0.0; w.len()], vec![0.0; b.len()]);
            let grads = ParamGrads { weight: &mut dw, bias: &mut db };
            conv_transpose_backward(&g, &x, &w, Activation::Relu, &y, &mut dy, None, grads, &mut ws);
            (y, dw, db)
        };
        assert_eq!(run(), run(), "{algorithm:?}");
    }
}
