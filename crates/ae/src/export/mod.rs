//! Handing a trained model to other engines: an ONNX graph (`onnx.rs`) for ONNX Runtime and the
//! like, and a PyTorch module with a training script (`pytorch.rs`) to carry on under `torchrun`.
//! Both are built from the model's [`Description`](crate::model::Description) and the model file's
//! PyTorch-layout tensors, as someone outside `ae` would build them.

pub mod onnx;
pub mod pytorch;

use serde::{Deserialize, Serialize};

/// Which part of the network to export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Images to codes.
    Encoder,
    /// Codes to reconstructions.
    Decoder,
    /// Images to reconstructions, and to codes as a second output.
    #[default]
    All,
}

crate::config::choice::choices!(Part: Encoder, Decoder, All);
