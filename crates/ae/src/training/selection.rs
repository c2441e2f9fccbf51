//! Which epoch's weights a run with held-out images keeps, and when it stops early.

use crate::record::{BestEpoch, EpochStats};

/// The epoch of `stats` as the run's new model, where its held-out figure
/// ([`EpochStats::selection_loss`]) is finite and lower than `best`'s.
pub fn improves(best: Option<&BestEpoch>, stats: &EpochStats) -> Option<BestEpoch> {
    let loss = stats.selection_loss().filter(|l| l.is_finite())?;
    best.is_none_or(|b| loss < b.holdout_loss).then(|| BestEpoch {
        epoch: stats.epoch,
        holdout_loss: loss,
        holdout_psnr_db: stats.holdout_psnr_db.unwrap_or(f64::NAN),
        holdout_ssim: stats.holdout_ssim.unwrap_or(f64::NAN),
    })
}

/// Whether a run of `epochs` epochs stops early after `epoch`: `patience` epochs (0: never) have
/// passed since `best` without a better held-out figure. After the last epoch the run ends
/// anyway, and is not said to have stopped early.
pub fn stops_early(best: Option<&BestEpoch>, epoch: usize, epochs: usize, patience: usize) -> bool {
    patience > 0 && epoch < epochs && best.is_some_and(|b| epoch - b.epoch >= patience)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An epoch's line with held-out figures (`kl`: a VAE's).
    fn epoch(epoch: usize, loss: f64, kl: Option<f64>) -> EpochStats {
        EpochStats {
            epoch,
            loss_per_sample: 1.0,
            code_mean: 0.0,
            code_below_0_1: 0.0,
            code_saturated: 0.0,
            holdout_loss_per_sample: Some(loss),
            kl_per_sample: kl,
            holdout_kl_per_sample: kl,
            holdout_psnr_db: Some(20.0 + epoch as f64),
            holdout_ssim: Some(0.5),
            steps: 1,
            seconds: 0.0,
        }
    }

    /// The epochs a run keeps in turn as it goes through `history`.
    fn kept(history: &[EpochStats]) -> Vec<usize> {
        let mut best = None;
        let mut kept = Vec::new();
        for stats in history {
            if let Some(b) = improves(best.as_ref(), stats) {
                kept.push(b.epoch);
                best = Some(b);
            }
        }
        kept
    }

    #[test]
    fn a_vae_keeps_the_epoch_of_its_lowest_negative_elbo_not_of_its_loss_alone() {
        // Reconstruction falls every epoch while the KL grows: by the loss alone epoch 4 would be
        // kept; by loss + KL (10+5, 9+7, 8.5+7, 8+9) epoch 1.
        let vae = [(10.0, 5.0), (9.0, 7.0), (8.5, 7.0), (8.0, 9.0)];
        let history: Vec<EpochStats> =
            vae.iter().enumerate().map(|(i, &(loss, kl))| epoch(i + 1, loss, Some(kl))).collect();
        assert_eq!(kept(&history), [1]);
        let best = history.iter().fold(None, |b, s| improves(b.as_ref(), s).or(b)).unwrap();
        assert_eq!((best.epoch, best.holdout_loss, best.holdout_psnr_db), (1, 15.0, 21.0));
        // The same losses without a KL (an autoencoder): each epoch improves on the last.
        let plain: Vec<EpochStats> =
            vae.iter().enumerate().map(|(i, &(loss, _))| epoch(i + 1, loss, None)).collect();
        assert_eq!(kept(&plain), [1, 2, 3, 4]);
        // Equal is not better; an infinite or NaN figure is never kept.
        let flat = [
            epoch(1, 3.0, None),
            epoch(2, 3.0, None),
            epoch(3, f64::NAN, None),
            epoch(4, f64::NEG_INFINITY, None),
        ];
        assert_eq!(kept(&flat), [1]);
    }

    #[test]
    fn patience_that_runs_out_at_the_last_epoch_is_not_an_early_stop() {
        let best = epoch(3, 1.0, None);
        let best = improves(None, &best);
        // Patience 2 from epoch 3 runs out after epoch 5.
        assert!(stops_early(best.as_ref(), 5, 8, 2));
        assert!(!stops_early(best.as_ref(), 4, 8, 2));
        // A run of 5 epochs ends there anyway: not stopped early.
        assert!(!stops_early(best.as_ref(), 5, 5, 2));
        // Patience 0 never stops; nothing kept yet (no held-out images) never stops.
        assert!(!stops_early(best.as_ref(), 7, 8, 0));
        assert!(!stops_early(None, 7, 8, 2));
    }
}
