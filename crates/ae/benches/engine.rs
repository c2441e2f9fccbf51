//! `cargo bench`: every layer of the tutorial's model forward and backward, a whole training
//! step and a forward pass, batch 50 (`ae bench` prints the same in one table); and the two
//! largest stride-1 layers computed by im2col and by Winograd, to show what the fast path gains.

use ae::bench::LayerBench;
use ae::config::{Preset, RunConfig};
use ae::model::{Activations, Autoencoder, LayerKind};
use ae::training::Trainer;
use ae_engine::{Algorithm, Workspace};
use criterion::{criterion_group, criterion_main, Criterion};

const BATCH: usize = 50;

fn layers(c: &mut Criterion) {
    let model = Autoencoder::new(&RunConfig::preset(Preset::Seed).model, 0).unwrap();
    let mut group = c.benchmark_group("layer");
    group.sample_size(10);
    for i in 0..model.layers.len() {
        let mut bench = LayerBench::new(&model, i, BATCH);
        let name = bench.name().to_string();
        group.bench_function(format!("{name}/forward"), |b| b.iter(|| bench.forward()));
        group.bench_function(format!("{name}/backward"), |b| b.iter(|| bench.backward()));
    }
    group.finish();
}

fn model(c: &mut Criterion) {
    let config = RunConfig::preset(Preset::Seed);
    let model = Autoencoder::new(&config.model, 0).unwrap();
    let input: Vec<f32> = (0..BATCH * model.input_len()).map(|i| (i % 97) as f32 / 97.0).collect();
    let mut group = c.benchmark_group("model");
    group.sample_size(10);
    let mut acts = Activations::new(&model, BATCH);
    let mut ws = Workspace::for_current_pool();
    group.bench_function("forward", |b| b.iter(|| model.forward(&input, &mut acts, &mut ws, false)));
    let mut trainer = Trainer::new(model.clone(), &config.training, ae::noise::Noise::None);
    group.bench_function("train_step", |b| b.iter(|| trainer.train_step(&input, &input)));
    group.finish();
}

fn algorithms(c: &mut Criterion) {
    let base = Autoencoder::new(&RunConfig::preset(Preset::Seed).model, 0).unwrap();
    let mut group = c.benchmark_group("algorithm");
    group.sample_size(10);
    for name in ["encoder.conv3", "decoder.convt1"] {
        let index = base.layers.iter().position(|l| l.name == name).expect("the seed model's layer");
        for algorithm in [Algorithm::Im2col, Algorithm::Winograd] {
            let mut model = base.clone();
            if let LayerKind::Conv(c) = &mut model.layers[index].kind {
                c.geometry = c.geometry.with_algorithm(algorithm);
            }
            let mut bench = LayerBench::new(&model, index, BATCH);
            group.bench_function(format!("{name}/{algorithm:?}/forward"), |b| b.iter(|| bench.forward()));
            group.bench_function(format!("{name}/{algorithm:?}/backward"), |b| b.iter(|| bench.backward()));
        }
    }
    group.finish();
}

criterion_group!(benches, layers, model, algorithms);
criterion_main!(benches);
