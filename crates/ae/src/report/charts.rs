//! Charts drawn with plotters: the loss curve and a scatter of codes.

use super::{write_err, Result};
use crate::record::EpochStats;
use std::path::Path;

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Embedded, so plots render the same on machines without system fonts.
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// The drawing area a chart draws on.
type Area<'a> = plotters::drawing::DrawingArea<plotters::backend::BitMapBackend<'a>, plotters::coord::Shift>;

type ChartResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A `width × height` chart drawn by `draw` on white, into an RGB buffer first, then written as a
/// PNG atomically like every other output.
fn save_chart(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> ChartResult,
) -> Result<()> {
    use plotters::prelude::*;
    register_font();
    let mut buf = vec![0u8; 3 * width as usize * height as usize];
    let drawn = || -> ChartResult {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    };
    drawn().map_err(|e| write_err(path, e))?;
    let img = image::RgbImage::from_raw(width, height, buf).expect("the buffer holds the whole chart");
    super::images::save_png(path, &image::DynamicImage::ImageRgb8(img))
}

/// Ticks of a log axis over `[lo, hi]`: 1, 2 and 5 times each power of ten inside it, with 3 and 7
/// too over less than 2.5 decades and 1.5 over less than 1.5, so every part of the range has a label
/// (a run's loss from 25 down to 0.54 gets 0.7 below 1).
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let steps: &[f64] = match hi / lo {
        r if r <= 30.0 => &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
        r if r <= 300.0 => &[1.0, 2.0, 3.0, 5.0, 7.0],
        _ => &[1.0, 2.0, 5.0],
    };
    // Dividing by an exact power of ten rounds as the decimal literal does (0.7, not 0.7000…01).
    let at = |m: f64, k: i32| if k < 0 { m / 10f64.powi(-k) } else { m * 10f64.powi(k) };
    (first..=last)
        .flat_map(|k| steps.iter().map(move |&m| at(m, k)))
        .filter(|v| (lo..=hi).contains(v))
        .collect()
}

/// A tick's value with the digits it needs (0.05, 0.5, 2, 20, 1.5).
pub(super) fn tick_label(v: f64) -> String {
    let text = format!("{v:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A PNG of the loss per sample by epoch (log scale), with the held-out loss when present.
pub fn save_loss_curve(path: &Path, history: &[EpochStats]) -> Result<()> {
    use plotters::prelude::*;
    save_chart(path, (900, 560), |root| {
        // A log axis over finite, positive losses only: an infinite bound never ends plotters'
        // search for key points.
        let values = history
            .iter()
            .flat_map(|s| [Some(s.loss_per_sample), s.holdout_loss_per_sample])
            .flatten()
            .filter(|v| v.is_finite() && *v > 0.0);
        let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (1.0, 1.0) };
        let (lo, hi) = (lo.max(1e-6) * 0.9, hi.max(lo * 1.01) * 1.1);
        let epochs = history.len().max(2) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption("Average loss per sample", ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(1.0..epochs, (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss per sample")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| tick_label(*y))
            // Only the labelled lines: plotters' light lines bunch into a band near each decade.
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", 14))
            .draw()?;
        let drawn = |v: &f64| v.is_finite() && *v > 0.0;
        let train: Vec<(f64, f64)> = history
            .iter()
            .filter(|s| drawn(&s.loss_per_sample))
            .map(|s| (s.epoch as f64, s.loss_per_sample))
            .collect();
        chart
            .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))?
            .label("training")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        let held: Vec<(f64, f64)> = history
            .iter()
            .filter_map(|s| s.holdout_loss_per_sample.filter(drawn).map(|h| (s.epoch as f64, h)))
            .collect();
        if !held.is_empty() {
            chart
                .draw_series(LineSeries::new(held, RED.stroke_width(2)))?
                .label("held-out")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// A PNG of the held-out PSNR by epoch, with the kept epoch (`kept`) marked; nothing to draw
/// without held-out figures is an error. Epochs of an exact reconstruction (+∞ dB) are left out
/// of the line, and the caption says how many there were.
pub fn save_quality_curve(path: &Path, history: &[EpochStats], kept: Option<usize>) -> Result<()> {
    use plotters::prelude::*;
    let all: Vec<(f64, f64)> =
        history.iter().filter_map(|s| s.holdout_psnr_db.map(|p| (s.epoch as f64, p))).collect();
    if all.is_empty() {
        return Err(write_err(path, "no held-out PSNR to draw"));
    }
    let psnr: Vec<(f64, f64)> = all.iter().copied().filter(|p| p.1.is_finite()).collect();
    let exact = all.iter().filter(|p| p.1 == f64::INFINITY).count();
    let caption = match exact {
        0 => "Held-out PSNR".to_string(),
        n => format!("Held-out PSNR ({n} of {} epochs exact: +∞ dB, not drawn)", all.len()),
    };
    save_chart(path, (900, 560), |root| {
        let (lo, hi) =
            psnr.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
        let (lo, hi) = if psnr.is_empty() { (0.0, 1.0) } else { (lo, hi) };
        let pad = ((hi - lo) * 0.05).max(0.1);
        let epochs = history.last().map_or(2, |s| s.epoch).max(2) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(caption, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(1.0..epochs, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("PSNR (dB)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 14))
            .draw()?;
        chart
            .draw_series(LineSeries::new(psnr.iter().copied(), RED.stroke_width(2)))?
            .label("held-out PSNR")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        if let Some(&point) = kept.and_then(|e| psnr.iter().find(|p| p.0 == e as f64)) {
            let green = RGBColor(0, 150, 0);
            chart
                .draw_series([Circle::new(point, 6, green.filled())])?
                .label(format!("kept: epoch {} ({:.2} dB)", point.0, point.1))
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, green.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", 14))
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// Ten colours that stay apart on white (matplotlib's `tab10`), one per label modulo ten.
const LABEL_COLOURS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// A PNG scatter of 2-D `points` (e.g. two units of each image's code), each coloured by its
/// label when `labels` are given (one per point), with a legend of the labels present; `axes`
/// names the two coordinates.
pub fn save_latent_scatter(
    path: &Path,
    points: &[[f32; 2]],
    labels: Option<&[u8]>,
    axes: [&str; 2],
) -> Result<()> {
    use plotters::prelude::*;
    if points.is_empty() {
        return Err(write_err(path, "no points to draw"));
    }
    if labels.is_some_and(|l| l.len() != points.len()) {
        return Err(write_err(path, "one label per point is needed"));
    }
    save_chart(path, (760, 700), |root| {
        let range = |k: usize| {
            let (lo, hi) = points
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), p| (lo.min(p[k]), hi.max(p[k])));
            let pad = ((hi - lo) * 0.05).max(1e-3);
            (lo - pad) as f64..(hi + pad) as f64
        };
        let mut chart = ChartBuilder::on(root)
            .caption("Codes of the images", ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(range(0), range(1))?;
        chart.configure_mesh().x_desc(axes[0]).y_desc(axes[1]).label_style(("sans-serif", 14)).draw()?;
        let colour = |label: u8| {
            let (r, g, b) = LABEL_COLOURS[label as usize % 10];
            RGBColor(r, g, b)
        };
        let dot = |p: &[f32; 2], c: RGBColor| Circle::new((p[0] as f64, p[1] as f64), 2, c.filled());
        match labels {
            None => {
                chart.draw_series(points.iter().map(|p| dot(p, colour(0))))?;
            }
            Some(labels) => {
                let mut present = labels.to_vec();
                present.sort_unstable();
                present.dedup();
                for &label in &present {
                    let mine = points.iter().zip(labels).filter(|(_, &l)| l == label);
                    chart
                        .draw_series(mine.map(|(p, _)| dot(p, colour(label))))?
                        .label(label.to_string())
                        .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour(label).filled()));
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .label_font(("sans-serif", 14))
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_curve_is_a_real_png_with_both_series() {
        let dir = tempfile::tempdir().unwrap();
        let history: Vec<EpochStats> = (1..=5)
            .map(|e| EpochStats {
                epoch: e,
                loss_per_sample: 10.0 / e as f64,
                code_mean: 0.5,
                code_below_0_1: 0.0,
                code_saturated: 0.0,
                holdout_loss_per_sample: Some(12.0 / e as f64),
                kl_per_sample: None,
                holdout_kl_per_sample: None,
                holdout_psnr_db: Some(20.0 + e as f64),
                holdout_ssim: Some(0.5),
                steps: 7,
                seconds: 1.0,
            })
            .collect();
        let curve = dir.path().join("loss.png");
        save_loss_curve(&curve, &history).unwrap();
        let img = image::open(&curve).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (900, 560));
        // Both series were drawn: some pixels are clearly blue, some clearly red.
        assert!(img.pixels().any(|p| p[2] > 200 && p[0] < 60));
        assert!(img.pixels().any(|p| p[0] > 200 && p[2] < 60));
    }

    #[test]
    fn log_ticks_label_every_decade_of_the_range_readably() {
        assert_eq!(log_ticks(0.54, 25.3), [0.7, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0]);
        assert_eq!(log_ticks(0.5, 500.0), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]);
        assert_eq!(log_ticks(0.3, 4.0), [0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0]);
        assert_eq!(log_ticks(0.04, 30.0), [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]);
        let labels: Vec<String> = [0.05, 0.5, 1.5, 2.0, 20.0].map(tick_label).to_vec();
        assert_eq!(labels, ["0.05", "0.5", "1.5", "2", "20"]);
    }

    #[test]
    fn the_quality_curve_marks_the_kept_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let mut history: Vec<EpochStats> = Vec::new();
        for (e, psnr) in [(1, 20.0), (2, 24.0), (3, 23.0)] {
            history.push(EpochStats {
                epoch: e,
                loss_per_sample: 1.0,
                code_mean: 0.5,
                code_below_0_1: 0.0,
                code_saturated: 0.0,
                holdout_loss_per_sample: Some(1.0),
                kl_per_sample: None,
                holdout_kl_per_sample: None,
                holdout_psnr_db: Some(psnr),
                holdout_ssim: Some(0.8),
                steps: 1,
                seconds: 1.0,
            });
        }
        let green = |path: &Path| {
            image::open(path)
                .unwrap()
                .to_rgb8()
                .pixels()
                .filter(|p| p[1] > 120 && p[0] < 40 && p[2] < 40)
                .count()
        };
        let (marked, plain) = (dir.path().join("marked.png"), dir.path().join("plain.png"));
        save_quality_curve(&marked, &history, Some(2)).unwrap();
        save_quality_curve(&plain, &history, None).unwrap();
        assert!(green(&marked) > 50 && green(&plain) == 0, "{} {}", green(&marked), green(&plain));
        // Without held-out figures there is nothing to draw.
        history.iter_mut().for_each(|s| s.holdout_psnr_db = None);
        assert!(save_quality_curve(&plain, &history, None).is_err());
    }

    #[test]
    fn the_latent_scatter_colours_each_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scatter.png");
        // Label 0 (blue) on the left, label 3 (red) on the right.
        let points: Vec<[f32; 2]> =
            (0..40).map(|i| [if i < 20 { -1.0 } else { 1.0 }, i as f32 * 0.1]).collect();
        let labels: Vec<u8> = (0..40).map(|i| if i < 20 { 0 } else { 3 }).collect();
        save_latent_scatter(&path, &points, Some(&labels), ["z0", "z1"]).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (760, 700));
        let is = |p: &image::Rgb<u8>, c: (u8, u8, u8)| p.0 == [c.0, c.1, c.2];
        let columns =
            |c| img.enumerate_pixels().filter(|(_, _, p)| is(p, c)).map(|(x, _, _)| x).collect::<Vec<_>>();
        let (blue, red) = (columns(LABEL_COLOURS[0]), columns(LABEL_COLOURS[3]));
        assert!(blue.len() > 100 && red.len() > 100, "{} blue, {} red pixels", blue.len(), red.len());
        // Each label's dots sit on its own side (the legend's two markers are at the right edge).
        let median = |mut v: Vec<u32>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        assert!(median(blue) < 380 && median(red) > 380);
        assert!(save_latent_scatter(&path, &points, Some(&labels[1..]), ["a", "b"]).is_err());
        assert!(save_latent_scatter(&path, &[], None, ["a", "b"]).is_err());
    }
}
