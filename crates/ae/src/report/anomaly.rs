//! A scored set's `report.html` (`ae score`): each score's figures, the histograms of its normal
//! and anomalous images and the ROC curves, as inline SVG like the run report.

use super::html::{grid_figure, page};
use super::svg::{escape, xy_chart, Series, XAxis, PALETTE};
use crate::anomaly::{roc_curve, AnomalyError, Rates};
use std::fmt::Write;

/// One score of a scored set, with its figures where labels say which images are anomalous.
pub struct ScoreFigures<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
    pub auroc: f64,
    pub auprc: f64,
    pub rates: Rates,
}

/// The share of `values` in each of `bins` equal bins over `[lo, hi]`, at the bins' centres.
fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<(f64, f64)> {
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        let bin = if width > 0.0 { ((v - lo) / width) as usize } else { 0 };
        counts[bin.min(bins - 1)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts.iter().enumerate().map(|(i, &c)| (lo + width * (i as f64 + 0.5), c as f64 / n)).collect()
}

/// A curve's points a step of at least 1/200 apart on either axis, and its last: thousands of
/// distinct scores would write a point (and its tooltip) each.
fn thinned(curve: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for (i, &p) in curve.iter().enumerate() {
        let far = kept.last().is_none_or(|q| (p.0 - q.0).abs() >= 0.005 || (p.1 - q.1).abs() >= 0.005);
        if far || i + 1 == curve.len() {
            kept.push(p);
        }
    }
    kept
}

/// The page: the figures table, per score the histogram of normal and anomalous images with its
/// threshold, the ROC curves together, and the error-map grid (`maps.png`).
pub fn score_report(
    title: &str,
    scores: &[ScoreFigures<'_>],
    anomalous: &[bool],
    maps_png: &[u8],
) -> Result<String, AnomalyError> {
    let mut body = format!("<h1>{}</h1>", escape(title));
    let (n_anomalous, n) = (anomalous.iter().filter(|&&a| a).count(), anomalous.len());
    let _ = write!(
        body,
        "<p class=\"sub\">{n} images scored: {} normal, {n_anomalous} anomalous.</p>",
        n - n_anomalous
    );
    body.push_str("<table><tr><th>score</th><th>AUROC</th><th>AUPRC</th><th>threshold</th><th>TPR</th><th>FPR</th></tr>");
    for s in scores {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.6}</td><td>{:.4}</td><td>{:.4}</td></tr>",
            escape(s.name),
            s.auroc,
            s.auprc,
            s.rates.threshold,
            s.rates.true_positive_rate,
            s.rates.false_positive_rate
        );
    }
    body.push_str("</table><div class=\"charts\">");
    let mut roc = Vec::new();
    for (k, s) in scores.iter().enumerate() {
        let (lo, hi) = s.values.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let part = |want: bool| {
            s.values.iter().zip(anomalous).filter(|(_, &a)| a == want).map(|(&v, _)| v).collect::<Vec<_>>()
        };
        let bins = 40;
        let (normal, odd) = (histogram(&part(false), lo, hi, bins), histogram(&part(true), lo, hi, bins));
        let top = normal.iter().chain(&odd).map(|p| p.1).fold(0.0, f64::max);
        let series = [
            Series { label: "normal".into(), colour: PALETTE[0], dashed: false, points: normal },
            Series { label: "anomalous".into(), colour: PALETTE[1], dashed: false, points: odd },
            Series {
                label: format!("threshold {:.4}", s.rates.threshold),
                colour: PALETTE[2],
                dashed: true,
                points: vec![(s.rates.threshold, 0.0), (s.rates.threshold, top)],
            },
        ];
        let title = format!("{}: normal and anomalous images", s.name);
        body.extend(xy_chart(
            &title,
            XAxis { label: s.name, whole: false },
            "share of the images",
            false,
            &series,
        ));
        roc.push(Series {
            label: format!("{} (AUROC {:.3})", s.name, s.auroc),
            colour: PALETTE[k % PALETTE.len()],
            dashed: false,
            points: thinned(roc_curve(s.values, anomalous)?),
        });
    }
    roc.push(Series {
        label: "chance".into(),
        colour: "#999999",
        dashed: true,
        points: vec![(0.0, 0.0), (1.0, 1.0)],
    });
    body.extend(xy_chart(
        "ROC curves",
        XAxis { label: "false-positive rate", whole: false },
        "true-positive rate",
        false,
        &roc,
    ));
    body.push_str("</div>");
    body.push_str(&grid_figure(
        "maps.png",
        "the highest errors: images, their reconstructions, the error maps",
        maps_png,
    ));
    Ok(page(title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_s_shares_add_up_and_fall_in_their_bins() {
        let h = histogram(&[0.0, 0.1, 0.1, 0.95, 1.0], 0.0, 1.0, 4);
        assert_eq!(h.iter().map(|p| p.0).collect::<Vec<_>>(), [0.125, 0.375, 0.625, 0.875]);
        assert_eq!(h.iter().map(|p| p.1).collect::<Vec<_>>(), [0.6, 0.0, 0.0, 0.4]);
        // One value: one full bin.
        assert_eq!(histogram(&[2.0, 2.0], 2.0, 2.0, 3)[0].1, 1.0);
    }
}
