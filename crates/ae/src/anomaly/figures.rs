//! How well a per-image score separates anomalous images from normal ones, and the threshold that
//! keeps a chosen share of normal images below it.

/// A score list and its labels that cannot be ranked.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AnomalyError {
    #[error("{scores} scores for {labels} labels")]
    Lengths { scores: usize, labels: usize },
    #[error("no normal image to compare with")]
    NoNormal,
    #[error("no anomalous image to compare with")]
    NoAnomalous,
    #[error("image {index}'s score is {score}")]
    NotFinite { index: usize, score: f64 },
    #[error("the false-positive rate must be in (0, 1), got {0}")]
    Rate(f64),
}

/// Checks that `scores` and `anomalous` pair up, are finite and hold both kinds; returns the
/// counts of anomalous and normal images.
fn check(scores: &[f64], anomalous: &[bool]) -> Result<(usize, usize), AnomalyError> {
    if scores.len() != anomalous.len() {
        return Err(AnomalyError::Lengths { scores: scores.len(), labels: anomalous.len() });
    }
    if let Some((index, &score)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(AnomalyError::NotFinite { index, score });
    }
    let positives = anomalous.iter().filter(|&&a| a).count();
    match (positives, scores.len() - positives) {
        (_, 0) => Err(AnomalyError::NoNormal),
        (0, _) => Err(AnomalyError::NoAnomalous),
        counts => Ok(counts),
    }
}

/// Indices of `scores` in descending order of score, and the ends of each run of tied scores.
fn tied_runs_descending(scores: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let ends =
        (1..=order.len()).filter(|&i| i == order.len() || scores[order[i]] != scores[order[i - 1]]).collect();
    (order, ends)
}

/// The area under the ROC curve: the probability that an anomalous image scores above a normal
/// one, a tie counting half (the Mann–Whitney U over both counts' product); 0.5 is chance.
pub fn auroc(scores: &[f64], anomalous: &[bool]) -> Result<f64, AnomalyError> {
    let (positives, negatives) = check(scores, anomalous)?;
    let (order, ends) = tied_runs_descending(scores);
    // For each run of tied scores: its anomalous images beat every normal image below the run,
    // and half of the normal images in it.
    let (mut normal_below, mut wins) = (negatives as f64, 0.0);
    let mut start = 0;
    for end in ends {
        let run = &order[start..end];
        let anomalous_here = run.iter().filter(|&&i| anomalous[i]).count() as f64;
        let normal_here = run.len() as f64 - anomalous_here;
        normal_below -= normal_here;
        wins += anomalous_here * (normal_below + 0.5 * normal_here);
        start = end;
    }
    Ok(wins / (positives as f64 * negatives as f64))
}

/// Average precision, the area under the precision–recall curve as a step function (scikit-learn's
/// `average_precision_score`): over thresholds at each distinct score, from the highest, the
/// precision there weighted by the recall it adds. Chance is the anomalous share.
pub fn auprc(scores: &[f64], anomalous: &[bool]) -> Result<f64, AnomalyError> {
    let (positives, _) = check(scores, anomalous)?;
    let (order, ends) = tied_runs_descending(scores);
    let (mut flagged, mut true_positives, mut area) = (0usize, 0usize, 0.0);
    for end in ends {
        let run = &order[flagged..end];
        let gained = run.iter().filter(|&&i| anomalous[i]).count();
        true_positives += gained;
        flagged = end;
        area += (gained as f64 / positives as f64) * (true_positives as f64 / flagged as f64);
    }
    Ok(area)
}

/// The threshold that flags at most `rate` of `normal` (images scoring above it are flagged): the
/// highest normal score but the top ⌊rate·n⌋. Ties at the threshold stay unflagged, so the share
/// flagged may be lower.
pub fn threshold_at_fpr(normal: &[f64], rate: f64) -> Result<f64, AnomalyError> {
    if !(rate > 0.0 && rate < 1.0) {
        return Err(AnomalyError::Rate(rate));
    }
    if normal.is_empty() {
        return Err(AnomalyError::NoNormal);
    }
    if let Some((index, &score)) = normal.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(AnomalyError::NotFinite { index, score });
    }
    let mut sorted = normal.to_vec();
    sorted.sort_by(f64::total_cmp);
    // A hair above the product, so that 0.29 · 100 (28.999…) allows 29.
    let above = (rate * sorted.len() as f64 + 1e-9).floor() as usize;
    Ok(sorted[sorted.len() - 1 - above.min(sorted.len() - 1)])
}

/// The ROC curve: (false-positive rate, true-positive rate) as the threshold falls through each
/// distinct score, from (0, 0) to (1, 1); its area by the trapezoid rule is [`auroc`].
pub fn roc_curve(scores: &[f64], anomalous: &[bool]) -> Result<Vec<(f64, f64)>, AnomalyError> {
    let (positives, negatives) = check(scores, anomalous)?;
    let (order, ends) = tied_runs_descending(scores);
    let mut curve = vec![(0.0, 0.0)];
    let (mut start, mut tp, mut fp) = (0, 0usize, 0usize);
    for end in ends {
        let gained = order[start..end].iter().filter(|&&i| anomalous[i]).count();
        (tp, fp) = (tp + gained, fp + (end - start - gained));
        curve.push((fp as f64 / negatives as f64, tp as f64 / positives as f64));
        start = end;
    }
    Ok(curve)
}

/// What a threshold does on labelled scores.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Rates {
    pub threshold: f64,
    /// The share of anomalous images flagged (score above the threshold).
    pub true_positive_rate: f64,
    /// The share of normal images flagged.
    pub false_positive_rate: f64,
}

/// The true- and false-positive rates of flagging the images that score above `threshold`.
pub fn rates_at(scores: &[f64], anomalous: &[bool], threshold: f64) -> Result<Rates, AnomalyError> {
    let (positives, negatives) = check(scores, anomalous)?;
    let flagged = |want: bool| {
        scores.iter().zip(anomalous).filter(|&(&s, &a)| a == want && s > threshold).count() as f64
    };
    Ok(Rates {
        threshold,
        true_positive_rate: flagged(true) / positives as f64,
        false_positive_rate: flagged(false) / negatives as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUROC by its definition: every anomalous–normal pair, a tie counting half.
    fn pairs(scores: &[f64], anomalous: &[bool]) -> f64 {
        let (mut wins, mut n) = (0.0, 0.0);
        for i in (0..scores.len()).filter(|&i| anomalous[i]) {
            for j in (0..scores.len()).filter(|&j| !anomalous[j]) {
                n += 1.0;
                wins += match scores[i].total_cmp(&scores[j]) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                };
            }
        }
        wins / n
    }

    #[test]
    fn hand_computed_cases_ties_included() {
        let labels = [false, false, true, true];
        // Perfect, reversed, and one tie across the classes.
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &labels), Ok(1.0));
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &labels), Ok(0.0));
        assert_eq!(auroc(&[0.1, 0.5, 0.5, 0.9], &labels), Ok(0.875));
        // Every score equal: chance, and precision is the anomalous share at the only threshold.
        assert_eq!(auroc(&[0.3; 4], &labels), Ok(0.5));
        assert_eq!(auprc(&[0.3; 4], &labels), Ok(0.5));
        // Ranked anomalous, normal, anomalous, normal: precision 1 at recall ½, ⅔ at recall 1.
        let ap = auprc(&[0.9, 0.8, 0.7, 0.1], &[true, false, true, false]).unwrap();
        assert!((ap - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-15, "{ap}");
        // A tie between the top two (one of each): both flagged at once, precision ½ at recall ½.
        let ap = auprc(&[0.9, 0.9, 0.7, 0.1], &[true, false, true, false]).unwrap();
        assert!((ap - (0.5 * 0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-15, "{ap}");
    }

    #[test]
    fn auroc_is_the_share_of_pairs_won_on_random_tied_scores() {
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..20 {
            let n = 2 + (next() * 60.0) as usize;
            let anomalous: Vec<bool> = (0..n).map(|i| i == 0 || (i > 1 && next() < 0.3)).collect();
            // Scores on a coarse grid, so ties are common, shifted up for anomalous images.
            let scores: Vec<f64> =
                anomalous.iter().map(|&a| (next() * 5.0).floor() + if a { 1.0 } else { 0.0 }).collect();
            let got = auroc(&scores, &anomalous).unwrap();
            assert!((got - pairs(&scores, &anomalous)).abs() < 1e-12, "{scores:?} {anomalous:?}");
        }
    }

    #[test]
    fn scikit_learn_s_figures_on_the_fixture() {
        // Written by scripts/anomaly_fixture.py with scikit-learn's roc_auc_score and
        // average_precision_score.
        let text = include_str!("../../tests/fixtures/anomaly_sklearn.json");
        let cases: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
        assert!(cases.len() >= 3);
        for case in cases {
            let scores: Vec<f64> = serde_json::from_value(case["scores"].clone()).unwrap();
            let labels: Vec<bool> =
                case["labels"].as_array().unwrap().iter().map(|l| l.as_u64() == Some(1)).collect();
            let (want_auc, want_ap) =
                (case["roc_auc"].as_f64().unwrap(), case["average_precision"].as_f64().unwrap());
            assert!((auroc(&scores, &labels).unwrap() - want_auc).abs() < 1e-12, "{}", case["name"]);
            assert!((auprc(&scores, &labels).unwrap() - want_ap).abs() < 1e-12, "{}", case["name"]);
        }
    }

    #[test]
    fn the_roc_curve_s_area_is_the_auroc() {
        let scores = [0.1, 0.5, 0.5, 0.9, 0.3, 0.7, 0.7, 0.2];
        let anomalous = [false, false, true, true, false, true, false, true];
        let curve = roc_curve(&scores, &anomalous).unwrap();
        assert_eq!((curve[0], *curve.last().unwrap()), ((0.0, 0.0), (1.0, 1.0)));
        // One point per distinct score, both rates never falling.
        assert_eq!(curve.len(), 1 + 6);
        assert!(curve.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1));
        let area: f64 = curve.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0).sum();
        assert!((area - auroc(&scores, &anomalous).unwrap()).abs() < 1e-12, "{area}");
        assert!((area - pairs(&scores, &anomalous)).abs() < 1e-12);
    }

    #[test]
    fn the_threshold_flags_at_most_the_rate_of_normal_images() {
        let normal: Vec<f64> = (1..=20).map(f64::from).collect();
        // 5 % of 20: one image above 19; 10 %: two above 18; under one image's share: none above 20.
        assert_eq!(threshold_at_fpr(&normal, 0.05), Ok(19.0));
        assert_eq!(threshold_at_fpr(&normal, 0.1), Ok(18.0));
        assert_eq!(threshold_at_fpr(&normal, 0.01), Ok(20.0));
        let labels = [false; 20];
        let mut scores = normal.clone();
        scores.extend([18.5, 30.0]);
        let anomalous: Vec<bool> = labels.iter().copied().chain([true, true]).collect();
        let at = rates_at(&scores, &anomalous, 19.0).unwrap();
        assert_eq!((at.true_positive_rate, at.false_positive_rate), (0.5, 0.05));
        // Ties at the threshold stay below it: three normal images at the top score, 10 % asked.
        let tied = [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 4.0];
        let t = threshold_at_fpr(&tied, 0.1).unwrap();
        assert_eq!(t, 4.0);
        let with_one = [&tied[..], &[5.0]].concat();
        let labels: Vec<bool> = (0..11).map(|i| i == 10).collect();
        assert_eq!(rates_at(&with_one, &labels, t).unwrap().false_positive_rate, 0.0);
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(matches!(threshold_at_fpr(&normal, bad), Err(AnomalyError::Rate(_))), "{bad}");
        }
    }

    #[test]
    fn lists_that_cannot_be_ranked_are_refused() {
        assert_eq!(auroc(&[0.1, 0.2], &[true]), Err(AnomalyError::Lengths { scores: 2, labels: 1 }));
        assert_eq!(auroc(&[0.1, 0.2], &[true, true]), Err(AnomalyError::NoNormal));
        assert_eq!(auprc(&[0.1, 0.2], &[false, false]), Err(AnomalyError::NoAnomalous));
        let nan = auroc(&[0.1, f64::NAN], &[true, false]).unwrap_err();
        assert_eq!(nan.to_string(), "image 1's score is NaN");
        assert_eq!(threshold_at_fpr(&[], 0.05), Err(AnomalyError::NoNormal));
    }
}
