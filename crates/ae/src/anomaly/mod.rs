//! Anomaly detection with a trained model: train on normal images (`data.normal`), score new ones
//! by how badly the model rebuilds them, and measure how well the scores separate the anomalous.

mod figures;
mod scores;

pub use figures::{auprc, auroc, rates_at, roc_curve, threshold_at_fpr, AnomalyError, Rates};
pub use scores::{score_images, ImageScores};
