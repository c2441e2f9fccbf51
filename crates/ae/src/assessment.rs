//! A trained model on a set of images beside PCA: the one evaluation that `ae eval` and the end
//! of a run share, so that both report the same figures the same way.

use crate::baseline::{pca_baseline, Baseline, BaselineError};
use crate::data::{Images, Pixels};
use crate::evaluation::{quality, Quality};
use crate::inference::predict;
use crate::model::Autoencoder;

/// A denoiser's figures: its noisy inputs against the clean images, and its outputs from them.
pub struct Denoising {
    pub noisy: Quality,
    pub denoised: Images,
    pub quality: Quality,
}

/// What a model makes of a set of images, beside PCA.
pub struct Assessment {
    /// The reconstructions of the clean images, and their quality.
    pub reconstructions: Images,
    pub reconstruction: Quality,
    /// Given noisy inputs: how the model denoises them.
    pub denoising: Option<Denoising>,
    /// PCA at the code's length, fitted on the training images and fed what the model was fed.
    pub baseline: Result<Baseline, BaselineError>,
}

impl Assessment {
    /// The quality a run reports as its model's: a denoiser's denoised images, else the
    /// reconstructions.
    pub fn quality(&self) -> &Quality {
        self.denoising.as_ref().map_or(&self.reconstruction, |d| &d.quality)
    }
}

/// `model` on `images` (and, for a denoiser, on `noisy`, their corrupted copies) in batches of
/// `batch`, beside PCA of the model's code length fitted on `train` with `seed`.
pub fn assess(
    model: &Autoencoder,
    images: &Images,
    noisy: Option<&Images>,
    train: &Pixels,
    seed: u64,
    batch: usize,
) -> Assessment {
    let reconstructions = predict(model, images, batch).reconstructions;
    let reconstruction = quality(images, &reconstructions);
    let denoising = noisy.map(|noisy| {
        let denoised = predict(model, noisy, batch).reconstructions;
        Denoising { noisy: quality(images, noisy), quality: quality(images, &denoised), denoised }
    });
    let baseline = pca_baseline(train, noisy.unwrap_or(images), images, model.config.code_length, seed);
    Assessment { reconstructions, reconstruction, denoising, baseline }
}
