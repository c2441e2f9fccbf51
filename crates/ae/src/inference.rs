//! Using a trained model: reconstructions, codes and reconstruction quality.

use crate::data::Images;
use crate::model::{Activations, Autoencoder};
use ae_engine::Workspace;

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
        model.forward(chunk, &mut acts, &mut ws, false);
        reconstructions.extend_from_slice(acts.reconstruction());
        codes.extend_from_slice(acts.code(model));
    }
    Predictions { reconstructions: Images::new(images.shape, reconstructions), codes }
}
