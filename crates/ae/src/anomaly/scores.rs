//! Per-image anomaly scores: the model's reconstruction error and 1 − SSIM, a VAE's
//! importance-sampled negative log-likelihood, and PCA's reconstruction error beside them.

use crate::baseline::Pca;
use crate::config::Loss;
use crate::data::Images;
use crate::evaluation::ssim;
use crate::inference::{predict, vae_nll_each};
use crate::model::Autoencoder;
use rayon::prelude::*;

/// One value per image for each score; higher is more anomalous.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageScores {
    /// The mean squared error over the image's values.
    pub error: Vec<f64>,
    /// 1 − SSIM between the image and its reconstruction.
    pub ssim: Vec<f64>,
    /// A VAE's `−log p(x)` in nats, by importance sampling.
    pub nll: Option<Vec<f64>>,
    /// PCA's mean squared error with as many components as the code.
    pub pca: Option<Vec<f64>>,
}

impl ImageScores {
    /// Each score with its name (`error`, `1-ssim`, `nll`, `pca`), the model's first.
    pub fn named(&self) -> Vec<(&'static str, &[f64])> {
        let mut all = vec![("error", &self.error[..]), ("1-ssim", &self.ssim[..])];
        if let Some(nll) = &self.nll {
            all.push(("nll", nll));
        }
        if let Some(pca) = &self.pca {
            all.push(("pca", pca));
        }
        all
    }
}

/// Each image's mean squared error against `other`'s same image.
fn errors(images: &Images, other: &Images) -> Vec<f64> {
    (0..images.len())
        .map(|i| {
            let (a, b) = (images.image(i), other.image(i));
            a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>() / a.len() as f64
        })
        .collect()
}

/// Scores `images` with `model` (batches of `batch`), PCA's error where `pca` is given, and for a
/// VAE its likelihood under `loss` with `samples` importance samples from the stream of `seed`
/// (`samples` 0: none). Returns the scores and the model's reconstructions.
pub fn score_images(
    model: &Autoencoder,
    images: &Images,
    batch: usize,
    pca: Option<&Pca>,
    loss: Loss,
    samples: usize,
    seed: u64,
) -> (ImageScores, Images) {
    let reconstructions = predict(model, images, batch).reconstructions;
    let error = errors(images, &reconstructions);
    let ssim = (0..images.len()).into_par_iter().map(|i| 1.0 - ssim(images, &reconstructions, i)).collect();
    let nll =
        (model.is_variational() && samples > 0).then(|| vae_nll_each(model, images, loss, samples, seed));
    let pca = pca.map(|pca| errors(images, &pca.reconstruct(images)));
    (ImageScores { error, ssim, nll, pca }, reconstructions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PaddingMode;
    use ae_engine::Shape;

    #[test]
    fn each_score_is_its_image_s_own() {
        let mut config = crate::model::tiny(PaddingMode::Symmetric, 3);
        config.settle();
        let model = Autoencoder::new(&config, 1).unwrap();
        let shape = Shape::new(8, 8, 1);
        // Three images: the scores must follow each image, whatever the batch.
        let data: Vec<f32> = (0..3 * 64).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        let images = Images::new(shape, data);
        let (scores, recon) = score_images(&model, &images, 2, None, Loss::L2, 0, 0);
        for i in 0..3 {
            let want: f64 = images
                .image(i)
                .iter()
                .zip(recon.image(i))
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum::<f64>()
                / 64.0;
            assert!((scores.error[i] - want).abs() < 1e-15);
            assert!((scores.ssim[i] - (1.0 - ssim(&images, &recon, i))).abs() < 1e-15);
            let alone =
                score_images(&model, &Images::new(shape, images.image(i).to_vec()), 1, None, Loss::L2, 0, 0)
                    .0;
            assert!((alone.error[0] - scores.error[i]).abs() < 1e-9, "image {i} alone");
        }
        assert!(scores.nll.is_none() && scores.pca.is_none());
        assert_eq!(scores.named().iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["error", "1-ssim"]);
    }
}
