//! Using a trained model: reconstructions, codes, and a VAE's ELBO and likelihood.

use crate::checkpoint::Header;
use crate::config::{ConfigError, Loss, ModelConfig};
use crate::data::probe::DatasetSize;
use crate::data::Images;
use crate::loss::kl::kl_divergence;
use crate::loss::log_likelihood;
use crate::memory::{MemoryNeed, PROCESS};
use crate::model::{Activations, Autoencoder};
use ae_engine::Workspace;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

/// Reconstructions and codes of a set of images.
pub struct Predictions {
    pub reconstructions: Images,
    /// `images × code_length`, row-major.
    pub codes: Vec<f32>,
}

/// Runs the model over `images` in batches of `batch_size`.
pub fn predict(model: &Autoencoder, images: &Images, batch_size: usize) -> Predictions {
    assert_eq!(images.shape, model.input_shape(), "images do not match the model's input");
    // Buffers for a batch larger than the images would never be filled.
    let batch_size = batch_size.min(images.len()).max(1);
    let mut acts = Activations::new(model, batch_size);
    let mut ws = Workspace::for_current_pool();
    let mut reconstructions = Vec::with_capacity(images.data.len());
    let mut codes = Vec::with_capacity(images.len() * model.config.code_length);
    for chunk in images.data.chunks(batch_size.max(1) * model.input_len()) {
        model.forward(chunk, &mut acts, &mut ws, false);
        reconstructions.extend_from_slice(acts.reconstruction());
        codes.extend_from_slice(acts.code(model));
    }
    Predictions { reconstructions: Images::new(images.shape, reconstructions), codes }
}

/// What running a model of `config` over `images` images in batches of `batch` takes, keeping
/// `outputs` decoded images beside them: its parameters, one batch's buffers (see
/// [`Autoencoder::memory_need`]), the images as floats and the process.
pub fn memory_need(
    config: &ModelConfig,
    images: usize,
    batch: usize,
    outputs: usize,
) -> Result<MemoryNeed, ConfigError> {
    // As in `predict`, the buffers stop at the number of images.
    let batch = batch.min(images).max(1);
    let mut need = Autoencoder::memory_need(config, batch, rayon::current_num_threads(), false)?;
    let image = config.input.iter().product::<usize>() as u64;
    need.data = 4 * image * (images as u64).saturating_add(outputs as u64);
    need.other = PROCESS;
    Ok(need)
}

/// What [`vae_terms`] adds with `samples` importance samples: the decoder's buffers for that
/// many codes at once.
pub fn nll_memory_need(config: &ModelConfig, samples: usize) -> Result<MemoryNeed, ConfigError> {
    Autoencoder::decoding_need(config, samples.max(1), rayon::current_num_threads())
}

/// What running the model of `header` over `run` images of a dataset of `size` takes at its peak
/// (beside `train` training images kept for PCA), from the headers alone. The steps follow one
/// another, each freeing what the next does not hold: loading the model, then the data,
/// selecting the images as floats, running the network over them, and for `eval` (with its
/// importance samples) its PCA baseline and a VAE's likelihood. The largest is the job's.
pub fn dataset_need(
    header: &Header,
    size: &DatasetSize,
    run: usize,
    train: usize,
    batch: usize,
    eval: Option<usize>,
) -> Result<MemoryNeed, ConfigError> {
    let config = &header.config;
    let held = MemoryNeed { parameters: header.loading.parameters, other: PROCESS, ..MemoryNeed::default() };
    let model = header.loading + MemoryNeed { other: PROCESS, ..MemoryNeed::default() };
    let loading = held + MemoryNeed { data: size.loading, ..MemoryNeed::default() };
    let floats = 4 * size.shape.len() as u64 * run as u64;
    let train_bytes = size.bytes / size.count.max(1) as u64 * train as u64;
    let selecting = held + MemoryNeed { data: size.bytes + floats + train_bytes, ..MemoryNeed::default() };
    // The images, their outputs, and for eval a denoiser's noisy copy.
    let mut running = memory_need(config, run, batch, run)?;
    running.data += train_bytes + eval.map_or(0, |_| floats);
    let mut phases = vec![model, loading, selecting, running];
    if let Some(samples) = eval {
        // The images, a noisy copy and PCA's reconstructions beside PCA's own buffers.
        let scratch = crate::baseline::memory_need(train, size.shape.len(), config.code_length);
        phases.push(held + MemoryNeed { data: 3 * floats + train_bytes, scratch, ..MemoryNeed::default() });
        if config.kind == crate::config::ModelKind::Vae {
            let nll = nll_memory_need(config, samples)?;
            phases.push(held + nll + MemoryNeed { data: floats + train_bytes, ..MemoryNeed::default() });
        }
    }
    Ok(crate::memory::peak(phases))
}

/// The decoder's images for codes `z` (`count × code_length`), after the output's function.
pub fn decode(model: &Autoencoder, z: &[f32]) -> Images {
    let mut ws = Workspace::for_current_pool();
    let logits = model.decode_logits(z, &mut ws);
    let mut data = vec![0.0; logits.len()];
    model.output_into(&logits, &mut data);
    Images::new(model.input_shape(), data)
}

/// `count` codes drawn from a VAE's prior N(0, I) with a stream fixed by `seed`, and their images.
pub fn sample_prior(model: &Autoencoder, count: usize, seed: u64) -> (Vec<f32>, Images) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z: Vec<f32> =
        (0..count * model.config.code_length).map(|_| StandardNormal.sample(&mut rng)).collect();
    let images = decode(model, &z);
    (z, images)
}

/// The codes on the straight line from `from`'s code to `to`'s (`steps` of them, both ends
/// included; a VAE's codes are its means) and their images.
pub fn interpolate(model: &Autoencoder, from: &Images, to: &Images, steps: usize) -> (Vec<f32>, Images) {
    let (a, b) = (predict(model, from, 1).codes, predict(model, to, 1).codes);
    let steps = steps.max(2);
    let z: Vec<f32> = (0..steps)
        .flat_map(|k| {
            let t = k as f32 / (steps - 1) as f32;
            a.iter().zip(&b).map(move |(a, b)| a + t * (b - a)).collect::<Vec<_>>()
        })
        .collect();
    let images = decode(model, &z);
    (z, images)
}

/// A latent traversal: for each code unit (a row), `steps` codes equal to `base` but for that unit,
/// which runs evenly over `[−range, range]`, and their images (row-major: unit, then value).
pub fn traverse(model: &Autoencoder, base: &[f32], range: f32, steps: usize) -> (Vec<f32>, Images) {
    let steps = steps.max(2);
    let values: Vec<f32> = (0..steps).map(|k| -range + 2.0 * range * k as f32 / (steps - 1) as f32).collect();
    let z: Vec<f32> = (0..base.len())
        .flat_map(|unit| values.iter().map(move |&v| (unit, v)))
        .flat_map(|(unit, v)| base.iter().enumerate().map(move |(j, &b)| if j == unit { v } else { b }))
        .collect();
    let images = decode(model, &z);
    (z, images)
}

/// The decoded manifold of a 2-D code: a `steps × steps` grid of codes evenly over
/// `[−range, range]²`, the first unit rising left to right and the second bottom to top (as on a
/// plot), and their images in that row-major order.
pub fn manifold(model: &Autoencoder, range: f32, steps: usize) -> (Vec<f32>, Images) {
    assert_eq!(model.config.code_length, 2, "a manifold grid needs a 2-D code");
    let steps = steps.max(2);
    let value = |k: usize| -range + 2.0 * range * k as f32 / (steps - 1) as f32;
    let z: Vec<f32> =
        (0..steps).rev().flat_map(|row| (0..steps).flat_map(move |col| [value(col), value(row)])).collect();
    let images = decode(model, &z);
    (z, images)
}

/// A VAE's terms on a set of images, in nats per image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VaeTerms {
    pub images: usize,
    /// `E_q[−log p(x|z)]`, estimated with the importance samples.
    pub reconstruction: f64,
    /// `KL(q(z|x) ‖ N(0, I))`, in closed form.
    pub kl: f64,
    /// The evidence lower bound, `−(reconstruction + kl)`.
    pub elbo: f64,
    /// `−log p(x)` estimated by importance sampling with `samples` draws of `q(z|x)` per image
    /// (Burda et al. 2016): `−log mean_k p(x|z_k)·p(z_k)/q(z_k|x)`, never above `−elbo` on average.
    pub nll: f64,
    pub samples: usize,
}

/// `log p(x|z)` of each image under the likelihood `loss` implies (see [`crate::loss`]), from the
/// decoder's logits: Bernoulli for `bce`, a unit-variance Gaussian for `l2` (whose `0.5·Σ(x̂−x)²`
/// it is, up to the normaliser `D/2·log 2π`), a unit-scale Laplace for `l1`.
fn log_likelihoods(loss: Loss, logits: &[f32], x: &[f32], pixels: usize) -> Vec<f64> {
    logits
        .chunks_exact(pixels)
        .map(|l| l.iter().zip(x).map(|(&l, &x)| log_likelihood(loss, l as f64, x as f64)).sum())
        .collect()
}

/// [`VaeTerms`] of `images` under `model` (a VAE) with `samples` importance samples per image,
/// drawn from a stream fixed by `seed`.
pub fn vae_terms(model: &Autoencoder, images: &Images, loss: Loss, samples: usize, seed: u64) -> VaeTerms {
    let each = vae_terms_each(model, images, loss, samples, seed);
    let n = images.len().max(1) as f64;
    let total = |f: fn(&[f64; 3]) -> f64| each.iter().map(f).sum::<f64>() / n;
    let (reconstruction, kl, nll) = (total(|t| t[0]), total(|t| t[1]), total(|t| t[2]));
    VaeTerms {
        images: images.len(),
        reconstruction,
        kl,
        elbo: -(reconstruction + kl),
        nll,
        samples: samples.max(1),
    }
}

/// Each image's importance-sampled `−log p(x)` (nats), as [`vae_terms`] averages them: an
/// anomaly score.
pub fn vae_nll_each(model: &Autoencoder, images: &Images, loss: Loss, samples: usize, seed: u64) -> Vec<f64> {
    vae_terms_each(model, images, loss, samples, seed).iter().map(|t| t[2]).collect()
}

/// Each image's reconstruction term, KL and `−log p(x)`, the draws from one stream over the images
/// in order.
fn vae_terms_each(
    model: &Autoencoder,
    images: &Images,
    loss: Loss,
    samples: usize,
    seed: u64,
) -> Vec<[f64; 3]> {
    assert!(model.is_variational(), "importance sampling needs a VAE");
    let (latent, pixels, k) = (model.config.code_length, model.input_len(), samples.max(1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut acts = Activations::new(model, 1);
    let mut ws = Workspace::for_current_pool();
    let mut terms = Vec::with_capacity(images.len());
    for x in images.data.chunks_exact(pixels) {
        model.forward(x, &mut acts, &mut ws, false);
        let q = acts.distribution(model).to_vec();
        let kl = kl_divergence(&q, latent);
        let (mu, log_var) = q.split_at(latent);
        let eps: Vec<f64> = (0..k * latent).map(|_| StandardNormal.sample(&mut rng)).collect();
        let z: Vec<f32> = eps
            .chunks_exact(latent)
            .flat_map(|e| {
                (0..latent).map(move |j| (mu[j] as f64 + (0.5 * log_var[j] as f64).exp() * e[j]) as f32)
            })
            .collect();
        let log_px = log_likelihoods(loss, &model.decode_logits(&z, &mut ws), x, pixels);
        // log p(z) − log q(z|x) with z = μ + σ·ε: −½Σz² + ½Σ(ε² + log σ²) (the 2π terms cancel).
        let log_w: Vec<f64> = log_px
            .iter()
            .zip(eps.chunks_exact(latent).zip(z.chunks_exact(latent)))
            .map(|(lp, (e, z))| {
                let prior: f64 = z.iter().map(|&z| -0.5 * (z as f64).powi(2)).sum();
                let posterior: f64 = e.iter().zip(log_var).map(|(e, &v)| -0.5 * (e * e + v as f64)).sum();
                lp + prior - posterior
            })
            .collect();
        let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_mean = top + (log_w.iter().map(|w| (w - top).exp()).sum::<f64>() / k as f64).ln();
        terms.push([-log_px.iter().sum::<f64>() / k as f64, kl, -log_mean]);
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelKind, PaddingMode};
    use ae_engine::Shape;

    /// A VAE on 8×8 images whose code layer's bias is `bias` (`[μ…, log σ²…]`, one pair a unit):
    /// with one or two units its likelihood can be integrated numerically.
    fn tiny_vae(bias: &[f32]) -> Autoencoder {
        let mut config = crate::model::tiny(PaddingMode::Symmetric, 3);
        (config.kind, config.code_length) = (ModelKind::Vae, bias.len() / 2);
        config.settle();
        let mut model = Autoencoder::new(&config, 4).unwrap();
        model.params[2 * model.code_layer + 1].copy_from_slice(bias);
        model
    }

    /// `−log p(x)` per image by the trapezoid rule: `log p(x|z) + log N(z; 0, I)` over `grid`
    /// (codes, `latent` values each) whose points each stand for `cell` of code space.
    fn integrated_nll(model: &Autoencoder, images: &Images, loss: Loss, grid: &[f32], cell: f64) -> f64 {
        let latent = model.config.code_length;
        let logits = model.decode_logits(grid, &mut Workspace::new(2));
        let mut nll = 0.0;
        for x in images.data.chunks_exact(64) {
            let log_px = log_likelihoods(loss, &logits, x, 64);
            let log_joint: Vec<f64> = log_px
                .iter()
                .zip(grid.chunks_exact(latent))
                .map(|(lp, z)| {
                    let prior: f64 = z.iter().map(|&z| -0.5 * (z as f64).powi(2)).sum();
                    lp + prior - 0.5 * latent as f64 * (2.0 * std::f64::consts::PI).ln()
                })
                .collect();
            let top = log_joint.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let integral: f64 = log_joint.iter().map(|l| (l - top).exp()).sum::<f64>() * cell;
            nll -= top + integral.ln();
        }
        nll / images.len() as f64
    }

    /// Two-unit codes on a 161×161 grid over [−8, 8]², a cell of 0.01 each.
    fn plane() -> Vec<f32> {
        (0..=160)
            .flat_map(|i| (0..=160).flat_map(move |j| [-8.0 + i as f32 * 0.1, -8.0 + j as f32 * 0.1]))
            .collect()
    }

    #[test]
    fn log_likelihoods_are_the_training_losses_negated() {
        use crate::loss::loss_and_grad;
        use crate::model::Output;
        let logits: Vec<f32> = (0..6).map(|i| (i as f32 - 2.5) * 3.0).collect();
        let x = [0.0f32, 0.2, 0.5, 0.9, 1.0, 0.3];
        let y: Vec<f32> = logits.iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect();
        let mut grad = [0.0; 6];
        let bce = loss_and_grad(Loss::Bce, Output::Sigmoid, &logits, &y, &x, &mut grad);
        assert!((log_likelihoods(Loss::Bce, &logits, &x, 6)[0] + bce).abs() < 1e-4, "{bce}");
        let l2 = loss_and_grad(Loss::L2, Output::Sigmoid, &logits, &y, &x, &mut grad);
        let normaliser = 3.0 * (2.0 * std::f64::consts::PI).ln();
        assert!((log_likelihoods(Loss::L2, &logits, &x, 6)[0] + l2 + normaliser).abs() < 1e-5);
    }

    #[test]
    fn the_importance_sampled_likelihood_matches_numerical_integration() {
        let images =
            Images::new(Shape::new(8, 8, 1), (0..2 * 64).map(|i| ((i * 7 % 10) as f32) / 9.0).collect());
        // One unit: q(z|x) off the prior, μ ≈ 0.3, σ² ≈ e^0.5 (wider, so importance sampling
        // stays accurate); a grid of 4001 points over [−10, 10].
        let one = tiny_vae(&[0.3, 0.5]);
        let line: Vec<f32> = (0..=4000).map(|i| -10.0 + i as f32 * 0.005).collect();
        // Two units with their own μ and σ: a draw shared between the units (z on a line through
        // code space) would be weighed as if it were spread over the plane, and miss.
        let two = tiny_vae(&[0.4, -0.5, 0.6, 0.2]);
        let plane = plane();
        for (model, grid, cell) in [(&one, &line, 0.005), (&two, &plane, 0.01)] {
            for loss in [Loss::Bce, Loss::L2] {
                let terms = vae_terms(model, &images, loss, 4000, 1);
                let nll = integrated_nll(model, &images, loss, grid, cell);
                let units = model.config.code_length;
                assert!(
                    (terms.nll - nll).abs() < 0.02,
                    "{units} unit(s), {loss:?}: importance sampling {} vs integral {nll}",
                    terms.nll
                );
                // The bound: −ELBO ≥ NLL.
                assert!(-terms.elbo >= terms.nll - 1e-6 && terms.kl >= 0.0, "{terms:?}");
            }
        }
    }

    #[test]
    fn the_reconstruction_and_kl_terms_are_their_integrals_per_image() {
        // With the code layer's weights at zero every image's q(z|x) is the layer's bias:
        // μ = (0.4, −0.5), log σ² = (0.6, 0.2). Two images, so a sum left undivided shows.
        let bias = [0.4f32, -0.5, 0.6, 0.2];
        let mut model = tiny_vae(&bias);
        model.params[2 * model.code_layer].fill(0.0);
        let images =
            Images::new(Shape::new(8, 8, 1), (0..2 * 64).map(|i| ((i * 3 % 10) as f32) / 9.0).collect());
        let (mu, log_var) = bias.split_at(2);
        let kl: f64 = (0..2)
            .map(|j| {
                let (m, v) = (mu[j] as f64, log_var[j] as f64);
                0.5 * (m * m + v.exp() - v - 1.0)
            })
            .sum();
        // E_q[−log p(x|z)] by the trapezoid rule over [−8, 8]², q's density in closed form.
        let plane = plane();
        let density: Vec<f64> = plane
            .chunks_exact(2)
            .map(|z| {
                (0..2)
                    .map(|j| {
                        let var = (log_var[j] as f64).exp();
                        let d = z[j] as f64 - mu[j] as f64;
                        (-0.5 * d * d / var).exp() / (2.0 * std::f64::consts::PI * var).sqrt()
                    })
                    .product()
            })
            .collect();
        let logits = model.decode_logits(&plane, &mut Workspace::new(2));
        for loss in [Loss::Bce, Loss::L2] {
            let expected: f64 = images
                .data
                .chunks_exact(64)
                .map(|x| {
                    let log_px = log_likelihoods(loss, &logits, x, 64);
                    -log_px.iter().zip(&density).map(|(lp, q)| lp * q * 0.01).sum::<f64>()
                })
                .sum::<f64>()
                / 2.0;
            let terms = vae_terms(&model, &images, loss, 4000, 2);
            assert!((terms.kl - kl).abs() < 1e-6, "{loss:?}: KL {} vs {kl}", terms.kl);
            assert!(
                (terms.reconstruction - expected).abs() < 0.01 * expected.abs(),
                "{loss:?}: reconstruction {} vs {expected}",
                terms.reconstruction
            );
            assert_eq!(terms.elbo, -(terms.reconstruction + terms.kl));
        }
    }

    #[test]
    fn prior_samples_are_standard_normal_codes_of_the_seed_and_their_images() {
        let model = tiny_vae(&[0.0; 4]);
        let (z, images) = sample_prior(&model, 1000, 3);
        assert_eq!((z.len(), images.len()), (2000, 1000));
        assert_eq!(images, decode(&model, &z));
        // 1000 draws a unit: the mean's standard error is 0.03, the variance's 0.045.
        for unit in 0..2 {
            let v: Vec<f64> = z.iter().skip(unit).step_by(2).map(|&v| v as f64).collect();
            let mean = v.iter().sum::<f64>() / 1000.0;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 999.0;
            assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.15, "unit {unit}: mean {mean}, variance {var}");
        }
        assert_eq!(sample_prior(&model, 4, 3).0, z[..8]);
        assert_ne!(sample_prior(&model, 4, 4).0, z[..8]);
    }

    #[test]
    fn the_manifold_grid_reads_like_a_plot() {
        let mut config = crate::model::tiny(PaddingMode::Symmetric, 3);
        (config.kind, config.code_length) = (ModelKind::Vae, 2);
        config.settle();
        let model = Autoencoder::new(&config, 4).unwrap();
        let (z, images) = manifold(&model, 2.0, 3);
        // Rows from the top: the second unit at 2, 0, −2; in each row the first unit −2, 0, 2.
        #[rustfmt::skip]
        let want = [-2.0, 2.0, 0.0, 2.0, 2.0, 2.0,
                    -2.0, 0.0, 0.0, 0.0, 2.0, 0.0,
                    -2.0, -2.0, 0.0, -2.0, 2.0, -2.0];
        assert_eq!(z, want);
        assert_eq!(images, decode(&model, &want));
        assert_eq!(images.len(), 9);
    }
}
