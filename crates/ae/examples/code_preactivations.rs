//! Measures why the tutorial's code saturates: the code layer's pre-activations `x·W + b` over the
//! first training steps of the default preset's data and model, per seed, without and with batch
//! normalisation, both at the tutorial's learning rate (Adam, 1e-3 for every layer).
//!
//!     cargo run --release --example code_preactivations -- [DATA] [STEPS]
//!
//! DATA is a dataset path as `ae train --data` takes it (default: the shared Olivetti faces); a
//! line per probed step gives, over a fixed probe batch of training images: the mean and standard
//! deviation of all pre-activations, the mean over units of their spread across images (what
//! tells the faces apart), and the fraction outside ±4.6 (sigmoid below 0.01 or above 0.99).

use ae::config::{Norm, Preset, RunConfig};
use ae::data::{load_dataset, split_for};
use ae::model::Autoencoder;
use ae::noise::Noise;
use ae::training::Trainer;
use ae_engine::Workspace;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = args.first().cloned().unwrap_or_else(|| "../shared/datasets/olivettifaces.mat".into());
    let steps: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(40);
    let mut config = RunConfig::preset(Preset::TutorialNet);
    config.data.path = Some(PathBuf::from(&data));
    if !data.ends_with(".mat") {
        config.data.size = None;
        config.model.code_length = 32;
    }
    let pixels = load_dataset(&config.data, None)?;
    let shape = pixels.shape();
    config.model.input = [shape.height, shape.width, shape.channels];
    println!("data {data}, code {}, probe: the first 50 training images", config.model.code_length);
    println!("norm  seed step  mean     std   spread-across-images  saturated");
    for norm in [Norm::None, Norm::Batch] {
        config.model.code_norm = norm;
        for seed in 0..5 {
            let split = split_for(&config.data, pixels.len(), seed)?;
            let train = pixels.select(&split.train).to_images();
            let batch = config.training.batch_size * train.shape.len();
            let probe = &train.data[..batch.min(train.data.len())];
            let model = Autoencoder::new(&config.model, seed)?;
            let training = ae::config::TrainingConfig {
                seed,
                learning_rate: 1e-3,
                code_lr_scale: 1.0,
                warmup_steps: 0,
                ..config.training.clone()
            };
            let mut trainer = Trainer::new(model, &training, Noise::None);
            let mut ws = Workspace::for_current_pool();
            let mut batches = train.data.chunks(batch).cycle();
            for step in 0..=steps {
                if step > 0 {
                    let b = batches.next().expect("a cycle never ends");
                    trainer.train_step(b, b);
                }
                if [0, 1, 2, 3, 5, 10, 20, 40, 80, 160].contains(&step) || step == steps {
                    let z = trainer.model.code_preactivations(probe, &mut ws);
                    println!(
                        "{:5} {seed:4} {step:4} {}",
                        format!("{norm:?}").to_lowercase(),
                        stats(&z, config.model.code_length)
                    );
                }
            }
        }
    }
    Ok(())
}

/// Mean, standard deviation, mean per-unit spread across images, fraction beyond ±4.6.
fn stats(z: &[f32], units: usize) -> String {
    let n = z.len() as f64;
    let mean = z.iter().map(|&v| v as f64).sum::<f64>() / n;
    let std = (z.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    let images = z.len() / units;
    let spread = (0..units)
        .map(|u| {
            let col: Vec<f64> = z.iter().skip(u).step_by(units).map(|&v| v as f64).collect();
            let m = col.iter().sum::<f64>() / images as f64;
            (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / images as f64).sqrt()
        })
        .sum::<f64>()
        / units as f64;
    let saturated = z.iter().filter(|v| v.abs() > 4.6).count() as f64 / n;
    format!("{mean:8.2} {std:7.2} {spread:12.3} {saturated:18.3}")
}
