//! Using a trained model: reconstructions, codes and reconstruction quality.

use crate::data::Images;
use crate::model::{Activations, Autoencoder};
use ae_engine::Workspace;
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
    let mut acts = Activations::new(model, batch_size.max(1));
    let mut ws = Workspace::for_current_pool();
    let mut reconstructions = Vec::with_capacity(images.data.len());
    let mut codes = Vec::with_capacity(images.len() * model.config.code_length);
    for chunk in images.data.chunks(batch_size.max(1) * model.input_len()) {
        model.forward(chunk, &mut acts, &mut ws);
        reconstructions.extend_from_slice(acts.reconstruction());
        codes.extend_from_slice(acts.code(model));
    }
    Predictions { reconstructions: Images::new(images.shape, reconstructions), codes }
}

/// How close reconstructions are to their originals (values in [0, 1]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quality {
    pub images: usize,
    /// Mean squared error per pixel.
    pub mse: f64,
    /// `10·log10(1 / mse)` in dB.
    pub psnr_db: f64,
    /// `0.5·Σ(x̂−x)²` per image: the training loss's scale.
    pub loss_per_sample: f64,
}

pub fn psnr_db(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (1.0 / mse).log10()
    }
}

pub fn quality(original: &Images, reconstruction: &Images) -> Quality {
    assert_eq!(original.data.len(), reconstruction.data.len(), "image sets differ in size");
    let sum: f64 =
        original.data.iter().zip(&reconstruction.data).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
    let mse = sum / original.data.len().max(1) as f64;
    Quality {
        images: original.len(),
        mse,
        psnr_db: psnr_db(mse),
        loss_per_sample: 0.5 * sum / original.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_engine::Shape;

    #[test]
    fn psnr_of_known_errors() {
        assert!((psnr_db(0.01) - 20.0).abs() < 1e-12);
        assert!((psnr_db(0.001) - 30.0).abs() < 1e-12);
        let a = Images::new(Shape::new(1, 2, 1), vec![0.0, 1.0]);
        let b = Images::new(Shape::new(1, 2, 1), vec![0.1, 0.9]);
        let q = quality(&a, &b);
        assert!(
            (q.mse - 0.01).abs() < 1e-7
                && (q.psnr_db - 20.0).abs() < 1e-4
                && (q.loss_per_sample - 0.01).abs() < 1e-7
        );
    }
}
