//! Line charts as inline SVG for the HTML reports: axes with ticks (log or linear y), one polyline
//! per series, and a point per value whose tooltip (`<title>`) gives it exactly.

use super::charts::{log_ticks, tick_label};
use std::fmt::Write;

/// One line of a chart.
pub struct Series {
    pub label: String,
    pub colour: &'static str,
    pub dashed: bool,
    /// (epoch, value) pairs; non-finite values (and, on a log axis, values ≤ 0) are left out.
    pub points: Vec<(f64, f64)>,
}

/// Colours for series by run (or by kind within one run), distinguishable in print.
pub const PALETTE: [&str; 8] =
    ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;

/// Text for HTML and SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Around five round steps (1, 2 or 5 times a power of ten) over `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Whole-number ticks over the epochs `[lo, hi]`.
fn epoch_ticks(lo: f64, hi: f64) -> Vec<f64> {
    linear_ticks(lo, hi).into_iter().filter(|t| t.fract() == 0.0).collect()
}

fn number(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.4e}")
    } else {
        format!("{:.6}", v).trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A chart titled `title` of `series` over epochs; `None` when no series has a value to draw.
pub fn line_chart(title: &str, y_label: &str, log_y: bool, series: &[Series]) -> Option<String> {
    xy_chart(title, XAxis { label: "epoch", whole: true }, y_label, log_y, series)
}

/// What the x axis shows, and whether its ticks are whole numbers (epochs).
pub struct XAxis<'a> {
    pub label: &'a str,
    pub whole: bool,
}

/// [`line_chart`] over any x: scores, rates.
pub fn xy_chart(
    title: &str,
    x_axis: XAxis<'_>,
    y_label: &str,
    log_y: bool,
    series: &[Series],
) -> Option<String> {
    let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let points: Vec<(f64, f64)> = series.iter().flat_map(|s| s.points.iter().copied().filter(keep)).collect();
    if points.is_empty() {
        return None;
    }
    let (mut x0, mut x1) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if x0 == x1 {
        (x0, x1) = (x0 - 1.0, x1 + 1.0);
    }
    let ticks;
    let ty: Box<dyn Fn(f64) -> f64>;
    if log_y {
        // A little room above and below, then the ticks inside.
        (y0, y1) = (y0 / 1.1, y1 * 1.1);
        // Over a narrow range the 1-2-5 ticks may miss it: round linear steps then.
        let round = log_ticks(y0, y1);
        ticks = if round.len() >= 3 {
            round
        } else {
            linear_ticks(y0, y1).into_iter().filter(|&t| t > 0.0).collect()
        };
        let (l0, l1) = (y0.log10(), y1.log10());
        ty = Box::new(move |y: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (y.log10() - l0) / (l1 - l0)));
    } else {
        if y0 == y1 {
            (y0, y1) = (y0 - 1.0, y1 + 1.0);
        }
        let pad = (y1 - y0) * 0.05;
        (y0, y1) = (y0 - pad, y1 + pad);
        ticks = linear_ticks(y0, y1);
        ty = Box::new(move |y: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (y - y0) / (y1 - y0)));
    }
    let tx = |x: f64| LEFT + (WIDTH - LEFT - RIGHT) * (x - x0) / (x1 - x0);
    let (bottom, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}"><title>{t}</title><text class="title" x="{LEFT}" y="18">{t}</text>"##,
        t = escape(title)
    );
    // The y axis: its line, ticks, labels and light grid lines at the ticks.
    let _ = write!(svg, r#"<g class="axis y"><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>"#);
    for &t in &ticks {
        let y = ty(t);
        let label = if log_y && t >= 1e-4 { tick_label(t) } else { number(t) };
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{right}" y2="{y:.1}"/><line x1="{:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#,
            LEFT - 5.0,
            LEFT - 8.0,
            y + 4.0
        );
    }
    let _ = write!(
        svg,
        r#"<text class="label" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text></g>"#,
        (TOP + bottom) / 2.0,
        escape(y_label)
    );
    let _ = write!(svg, r#"<g class="axis x"><line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>"#);
    let x_ticks = if x_axis.whole { epoch_ticks(x0, x1) } else { linear_ticks(x0, x1) };
    for t in x_ticks {
        let t_text = number(t);
        let x = tx(t);
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{:.1}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{t_text}</text>"#,
            bottom + 5.0,
            bottom + 18.0
        );
    }
    let _ = write!(
        svg,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
        (LEFT + right) / 2.0,
        HEIGHT - 4.0,
        escape(x_axis.label)
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(keep).collect();
        if pts.is_empty() {
            continue;
        }
        let path: Vec<String> = pts.iter().map(|&(x, y)| format!("{:.1},{:.1}", tx(x), ty(y))).collect();
        let dash = if s.dashed { r#" stroke-dasharray="5 3""# } else { "" };
        let _ = write!(
            svg,
            r#"<g class="series"><polyline fill="none" stroke="{c}" stroke-width="1.8"{dash} points="{p}"/>"#,
            c = s.colour,
            p = path.join(" ")
        );
        for &(x, y) in &pts {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="{c}"><title>{l}, {xl} {xv}: {v}</title></circle>"#,
                tx(x),
                ty(y),
                c = s.colour,
                l = escape(&s.label),
                xl = escape(x_axis.label),
                xv = number(x),
                v = number(y)
            );
        }
        // The legend, top right, one line per series.
        let ly = TOP + 4.0 + 15.0 * i as f64;
        let _ = write!(
            svg,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="2"{dash}/><text class="legend" x="{:.1}" y="{:.1}" text-anchor="end">{l}</text></g>"#,
            right - 28.0,
            right - 8.0,
            right - 32.0,
            ly + 4.0,
            c = s.colour,
            l = escape(&s.label)
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(linear_ticks(0.0, 10.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(epoch_ticks(1.0, 3.0), [1.0, 2.0, 3.0]);
        assert!(linear_ticks(14.2, 15.9).iter().all(|t| (14.2..=15.9).contains(t)));
    }

    #[test]
    fn a_chart_has_both_axes_a_point_per_value_and_escaped_text() {
        let s = Series {
            label: "a<b".into(),
            colour: PALETTE[0],
            dashed: false,
            points: vec![(1.0, 20.0), (2.0, 0.5)],
        };
        let svg = line_chart("loss & more", "loss", true, &[s]).unwrap();
        assert!(svg.contains(r#"<g class="axis y">"#) && svg.contains(r#"<g class="axis x">"#));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("a&lt;b, epoch 2: 0.5") && svg.contains("loss &amp; more"));
        // Values a log axis cannot show are left out; nothing left, no chart.
        let empty = Series { label: "x".into(), colour: PALETTE[1], dashed: true, points: vec![(1.0, 0.0)] };
        assert!(line_chart("t", "y", true, &[empty]).is_none());
    }
}
