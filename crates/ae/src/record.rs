//! What a run records: each epoch's figures, the kept epoch, the summary, and the files of its
//! directory. The trainer writes them; the reports and the checkpoint only read them.

use crate::baseline::Baseline;
use crate::evaluation::Quality;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The checkpoint's file name in a run directory.
pub const CHECKPOINT: &str = "checkpoint.safetensors";

/// The run's model file: the best epoch's weights when there are held-out images, else the last.
pub const MODEL: &str = "model.safetensors";

/// The last epoch's weights, beside a best epoch's `model.safetensors`.
pub const LAST_MODEL: &str = "last.safetensors";

/// The run's summary ([`TrainSummary`] less its history), read by the HTML report.
pub const SUMMARY: &str = "summary.json";

/// What one epoch did; one line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    /// Summed loss divided as the batching mode says (the tutorial's figure).
    #[serde(with = "crate::json_float")]
    pub loss_per_sample: f64,
    /// Mean of the sigmoid code over every trained sample and unit.
    pub code_mean: f64,
    /// Fraction of code values below 0.1.
    #[serde(default)]
    pub code_below_0_1: f64,
    /// Fraction of code values saturated (below 0.01 or above 0.99), where the sigmoid passes
    /// almost no gradient back to the encoder.
    #[serde(default)]
    pub code_saturated: f64,
    /// Loss per held-out sample after the epoch, if there is a held-out split.
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub holdout_loss_per_sample: Option<f64>,
    /// A VAE's KL(q(z|x) ‖ N(0, I)) per sample, in nats (its loss adds β times this to
    /// `loss_per_sample`, the reconstruction term).
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub kl_per_sample: Option<f64>,
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub holdout_kl_per_sample: Option<f64>,
    /// The held-out images' reconstructions (from their noisy copies for a denoiser) after the
    /// epoch: PSNR in dB and mean SSIM.
    #[serde(default, with = "crate::json_float::option", skip_serializing_if = "Option::is_none")]
    pub holdout_psnr_db: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_ssim: Option<f64>,
    pub steps: usize,
    pub seconds: f64,
}

impl EpochStats {
    /// The held-out figure the kept model is chosen by (lower is better), if there are held-out
    /// images.
    pub fn selection_loss(&self) -> Option<f64> {
        self.holdout_loss_per_sample.map(|loss| loss + self.holdout_kl_per_sample.unwrap_or(0.0))
    }

    /// The tutorial's line, plus the held-out loss when there is one.
    pub fn line(&self) -> String {
        let mut line = format!("Epoch {}) Average loss per sample: {}", self.epoch, self.loss_per_sample);
        match self.kl_per_sample {
            Some(kl) => line += &format!(" (KL per sample: {kl})"),
            None => line += &format!(" (Code mean: {})", self.code_mean),
        }
        if let Some(h) = self.holdout_loss_per_sample {
            line += &format!(" (Held-out loss per sample: {h}");
            if let Some(kl) = self.holdout_kl_per_sample {
                line += &format!(", KL: {kl}");
            }
            if let Some(psnr) = self.holdout_psnr_db {
                line += &format!(", PSNR: {}", crate::evaluation::psnr_text(psnr));
            }
            line += ")";
        }
        line
    }
}

/// The epoch whose weights a run with held-out images keeps as its model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    pub epoch: usize,
    /// What selects it: the held-out loss per sample (a VAE's: plus its KL, the negative ELBO).
    #[serde(with = "crate::json_float")]
    pub holdout_loss: f64,
    #[serde(with = "crate::json_float")]
    pub holdout_psnr_db: f64,
    pub holdout_ssim: f64,
}

/// What a finished run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    #[serde(skip)]
    pub run_dir: PathBuf,
    /// The epochs' lines, in `metrics.jsonl`.
    #[serde(skip)]
    pub history: Vec<EpochStats>,
    pub steps: u64,
    pub train_seconds: f64,
    /// The process's peak resident memory when the run ended (Linux's `VmHWM`).
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    /// Reconstruction quality on the held-out images (or the training images without a split),
    /// from noisy inputs for a denoiser.
    pub quality: Quality,
    /// For a denoiser: the noisy inputs' quality, to compare with `quality`.
    pub noisy_quality: Option<Quality>,
    /// With held-out images: the kept model on (up to the first thousand of) its training images
    /// as they are, without augmentation (a denoiser's from noisy copies), in inference mode: how
    /// closely it fits what it learned from, beside `quality` on unseen images. The epochs' loss is
    /// of augmented images under batch statistics, and moves with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_quality: Option<Quality>,
    /// PCA with as many components as the code, fitted on the training images, on the same
    /// images as `quality` (from the noisy inputs for a denoiser); `None` where PCA cannot have
    /// that many components (a code longer than an image).
    #[serde(default)]
    pub baseline: Option<Baseline>,
    /// With held-out images: the epoch whose weights are the run's model (`model.safetensors`;
    /// the last epoch's are `last.safetensors`). Without, the model is the last epoch's.
    pub best: Option<BestEpoch>,
    /// Whether early stopping ended the run before its last epoch.
    pub stopped_early: bool,
    /// With held-out images and PCA beside them: when the held-out PSNR first reached PCA's,
    /// and PCA's + 1 dB, so a user sees when a longer run stops paying (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_pca: Option<Milestone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_pca_plus_1db: Option<Milestone>,
}

/// When a run's held-out PSNR first reached a mark: the epoch, and the training time up to its
/// end (the epochs' own seconds, summed over every session of the run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Milestone {
    pub epoch: usize,
    pub seconds: f64,
}

impl Milestone {
    /// The first epoch of `history` whose held-out PSNR is at least `mark` dB.
    pub fn first(history: &[EpochStats], mark: f64) -> Option<Self> {
        let mut seconds = 0.0;
        for stats in history {
            seconds += stats.seconds;
            if stats.holdout_psnr_db.is_some_and(|psnr| psnr >= mark) {
                return Some(Self { epoch: stats.epoch, seconds });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, psnr: Option<f64>) -> EpochStats {
        EpochStats {
            epoch,
            loss_per_sample: 1.0,
            code_mean: 0.5,
            code_below_0_1: 0.0,
            code_saturated: 0.0,
            holdout_loss_per_sample: psnr.map(|_| 1.0),
            kl_per_sample: None,
            holdout_kl_per_sample: None,
            holdout_psnr_db: psnr,
            holdout_ssim: psnr.map(|_| 0.5),
            steps: 8,
            seconds: 1.5 * epoch as f64,
        }
    }

    #[test]
    fn a_milestone_is_the_first_epoch_at_the_mark_with_the_time_until_its_end() {
        let history: Vec<EpochStats> = [Some(24.0), Some(f64::NAN), Some(25.5), Some(25.0), Some(26.1)]
            .iter()
            .enumerate()
            .map(|(i, &p)| epoch(i + 1, p))
            .collect();
        assert_eq!(Milestone::first(&history, 25.5), Some(Milestone { epoch: 3, seconds: 1.5 + 3.0 + 4.5 }));
        assert_eq!(Milestone::first(&history, 26.0).map(|m| m.epoch), Some(5));
        assert_eq!(Milestone::first(&history, 26.5), None);
        assert_eq!(Milestone::first(&[epoch(1, None)], 0.0), None, "no held-out images, no milestone");
    }
}
