//! The CPU engine behind `ae`: forward and backward passes of the layers a convolutional
//! autoencoder needs, over NHWC `f32` batches, on the `gemm` crate and rayon.
//!
//! Every layer has an explicit backward pass (no general autodiff); `tests/gradients.rs` checks
//! each one against finite differences.

pub mod activation;
pub mod adam;
pub mod aligned;
pub mod batch_norm;
pub mod conv;
pub mod dense;
mod direct;
pub mod geometry;
pub mod huge_pages;
mod lanes;
pub mod matmul;
mod one_channel;
pub mod threads;
mod winograd;
pub mod workspace;

pub use activation::{Activation, Epilogue};
pub use adam::{AdamConfig, AdamMoments, AdamStep};
pub use aligned::AlignedVec;
pub use batch_norm::{
    batch_norm_backward, batch_norm_forward_eval, batch_norm_forward_train, inference_affine, BatchStats,
    RunningStats,
};
pub use conv::{conv_backward, conv_forward, conv_transpose_backward, conv_transpose_forward};
pub use dense::{dense_backward, dense_backward_adam, dense_forward, DenseShape};
pub use geometry::{Algorithm, ConvGeometry, Padding, ParamGrads, Shape};
pub use workspace::Workspace;
