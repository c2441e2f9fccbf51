//! `report.html`: one page per run, and one comparing runs, built from the run directory's files
//! (`config.toml`, `metrics.jsonl`, `summary.json`, the grids). Self-contained: inline SVG charts,
//! the grids as data URIs, inline CSS, no script and nothing fetched, so it opens offline from disk.

use super::svg::{escape, line_chart, Series, PALETTE};
use super::{io, write_atomic, write_err, ReportError, Result};
use crate::record::{EpochStats, Milestone, TrainSummary, SUMMARY};
use base64::Engine;
use std::fmt::Write;
use std::path::Path;

/// The report's file name in a run directory.
pub const REPORT: &str = "report.html";

/// The grids a run writes, with what they show.
const GRIDS: [(&str, &str); 2] = [
    ("reconstructions.png", "Originals (top) and their reconstructions (bottom)"),
    ("denoising.png", "Clean (top), noisy input (middle) and denoised (bottom)"),
];

/// What a report shows of one run, read from its directory.
pub struct RunFiles {
    pub name: String,
    /// `config.toml` as written.
    pub config: String,
    pub history: Vec<EpochStats>,
    /// `summary.json`: absent while a run is unfinished.
    pub summary: Option<TrainSummary>,
    /// The grids present, as (file name, caption, PNG bytes).
    pub grids: Vec<(&'static str, &'static str, Vec<u8>)>,
}

impl RunFiles {
    /// Reads the run directory `dir`, shown as `name`.
    pub fn read(dir: &Path, name: &str) -> Result<Self> {
        let read = |file: &str| std::fs::read(dir.join(file));
        let config_path = dir.join("config.toml");
        let config = std::fs::read_to_string(&config_path).map_err(io("read", &config_path))?;
        let metrics_path = dir.join("metrics.jsonl");
        let metrics = std::fs::read_to_string(&metrics_path).map_err(io("read", &metrics_path))?;
        let history = metrics
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| ReportError::Invalid {
                    path: metrics_path.clone(),
                    problem: format!("line {}: {e}", i + 1),
                })
            })
            .collect::<Result<Vec<EpochStats>>>()?;
        let summary_path = dir.join(SUMMARY);
        let summary =
            match read(SUMMARY) {
                Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| ReportError::Invalid {
                    path: summary_path.clone(),
                    problem: e.to_string(),
                })?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io("read", &summary_path)(e)),
            };
        let mut grids = Vec::new();
        for (file, caption) in GRIDS {
            match read(file) {
                Ok(bytes) => grids.push((file, caption, bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("read", &dir.join(file))(e)),
            }
        }
        Ok(Self { name: name.into(), config, history, summary, grids })
    }

    /// A config value as written (`preset`, `training.epochs`, …), for the page's headings.
    fn setting(&self, key: &str) -> Option<String> {
        let value: toml::Value = toml::from_str(&self.config).ok()?;
        let found = key.split('.').try_fold(&value, |v, k| v.get(k))?;
        Some(match found {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// Writes `dir/report.html` for the run named `name`.
pub fn save_run_report(dir: &Path, name: &str) -> Result<()> {
    let page = run_report(&RunFiles::read(dir, name)?);
    let path = dir.join(REPORT);
    write_atomic(&path, page.as_bytes()).map_err(|e| write_err(&path, e))
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:2em auto;max-width:1340px;padding:0 1em;color:#222}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}\
.sub{color:#666;margin-top:0}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}\
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}\
svg.chart{border:1px solid #e4e4e4;background:#fff;font-size:11px;max-width:100%;height:auto}svg .axis line{stroke:#444}\
svg line.grid{stroke:#eee}svg .title{font-size:13px;font-weight:600}svg .legend{font-size:11px}\
figure{margin:.5em 0;display:inline-block;vertical-align:top}figure img{image-rendering:pixelated;max-width:100%;border:1px solid #ddd}\
figcaption{color:#555;font-size:.9em}pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}details{margin:.6em 0}";

pub(super) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{}</title><style>{STYLE}</style></head><body>\n{body}\n<p class=\"sub\">Written by ae {} from the run directory's files.</p></body></html>\n",
        escape(title),
        env!("CARGO_PKG_VERSION")
    )
}

fn series(
    label: String,
    colour: &'static str,
    dashed: bool,
    history: &[EpochStats],
    value: impl Fn(&EpochStats) -> Option<f64>,
) -> Series {
    let points = history.iter().filter_map(|s| value(s).map(|v| (s.epoch as f64, v))).collect();
    Series { label, colour, dashed, points }
}

/// The charts of one run's history or several (a colour per run when several).
fn charts(runs: &[&RunFiles]) -> String {
    let several = runs.len() > 1;
    let name =
        |r: &RunFiles, what: &str| if several { format!("{} {what}", r.name) } else { what.to_string() };
    let colour = |i: usize, k: usize| PALETTE[(if several { i } else { k }) % PALETTE.len()];
    let mut loss = Vec::new();
    let (mut psnr, mut ssim, mut code) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in runs.iter().enumerate() {
        let h = &r.history;
        loss.push(series(name(r, "training"), colour(i, 0), false, h, |s| Some(s.loss_per_sample)));
        loss.push(series(name(r, "held-out"), colour(i, 1), true, h, |s| s.holdout_loss_per_sample));
        loss.push(series(name(r, "KL"), colour(i, 2), true, h, |s| s.kl_per_sample));
        psnr.push(series(name(r, "held-out PSNR"), colour(i, 0), false, h, |s| s.holdout_psnr_db));
        // PCA of the code's length: the line a model has to clear.
        if let Some(b) = r.summary.as_ref().and_then(|s| s.baseline.as_ref()) {
            let pca = |s: &EpochStats| Some(b.quality.psnr_db).filter(|_| s.holdout_psnr_db.is_some());
            psnr.push(series(
                name(r, &format!("PCA, {} components", b.components)),
                colour(i, 2),
                true,
                h,
                pca,
            ));
        }
        ssim.push(series(name(r, "held-out SSIM"), colour(i, 0), false, h, |s| s.holdout_ssim));
        code.push(series(name(r, "mean"), colour(i, 0), false, h, |s| Some(s.code_mean)));
        code.push(series(name(r, "saturated"), colour(i, 1), true, h, |s| Some(s.code_saturated)));
        if !several {
            code.push(series(name(r, "below 0.1"), colour(i, 2), true, h, |s| Some(s.code_below_0_1)));
        }
    }
    let charts = [
        line_chart("Loss per image", "loss per image (log scale)", true, &loss),
        line_chart("Held-out PSNR", "PSNR (dB)", false, &psnr),
        line_chart("Held-out SSIM", "SSIM", false, &ssim),
        line_chart("Code: mean and saturated fraction", "fraction / value", false, &code),
    ];
    format!("<div class=\"charts\">{}</div>", charts.into_iter().flatten().collect::<String>())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        // The PSNR of an exact reconstruction.
        Some(v) if v == f64::INFINITY => "+∞".into(),
        Some(v) if v == f64::NEG_INFINITY => "−∞".into(),
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "—".into(),
    }
}

/// The figures a run ends with, as (heading, value) pairs.
fn figures(r: &RunFiles) -> Vec<(&'static str, String)> {
    let s = r.summary.as_ref();
    let q = s.map(|s| &s.quality);
    let noisy = s.and_then(|s| s.noisy_quality.as_ref());
    // The kept model on its training images without augmentation (runs with held-out images).
    let train = s.and_then(|s| s.train_quality.as_ref());
    let steps = s.map(|s| s.steps as f64);
    vec![
        ("epochs", r.history.len().to_string()),
        ("kept epoch", s.and_then(|s| s.best.as_ref()).map_or("last".into(), |b| b.epoch.to_string())),
        ("images evaluated", q.map_or("—".into(), |q| q.images.to_string())),
        ("MSE", opt(q.map(|q| q.mse), 5)),
        ("PSNR (dB)", opt(q.map(|q| q.psnr_db), 2)),
        ("SSIM", opt(q.map(|q| q.ssim), 4)),
        ("noisy input PSNR (dB)", opt(noisy.map(|q| q.psnr_db), 2)),
        ("PCA PSNR (dB)", opt(s.and_then(|s| s.baseline.as_ref()).map(|b| b.quality.psnr_db), 2)),
        ("PCA SSIM", opt(s.and_then(|s| s.baseline.as_ref()).map(|b| b.quality.ssim), 4)),
        ("held-out PSNR reached PCA's", milestone(s.and_then(|s| s.reached_pca.as_ref()))),
        ("held-out PSNR reached PCA's + 1 dB", milestone(s.and_then(|s| s.reached_pca_plus_1db.as_ref()))),
        ("loss per image", opt(q.map(|q| q.loss_per_sample), 4)),
        ("training images' PSNR (dB)", opt(train.map(|q| q.psnr_db), 2)),
        ("training images' loss per image", opt(train.map(|q| q.loss_per_sample), 4)),
        ("steps", s.map_or("—".into(), |s| s.steps.to_string())),
        ("training time (s)", opt(s.map(|s| s.train_seconds), 1)),
        ("time per step (ms)", opt(s.zip(steps).map(|(s, n)| 1e3 * s.train_seconds / n.max(1.0)), 1)),
        (
            "peak memory",
            s.and_then(|s| s.peak_memory_bytes).map_or("—".into(), |b| crate::memory::Bytes(b).to_string()),
        ),
    ]
}

/// `epoch E (S s)`, or a dash where the mark was never reached.
fn milestone(m: Option<&Milestone>) -> String {
    m.map_or("—".into(), |m| format!("epoch {} ({:.1} s)", m.epoch, m.seconds))
}

pub(super) fn grid_figure(file: &str, caption: &str, png: &[u8]) -> String {
    format!(
        "<figure><img alt=\"{file}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>",
        base64::engine::general_purpose::STANDARD.encode(png),
        escape(caption)
    )
}

/// The per-epoch values, exactly.
fn epoch_table(r: &RunFiles) -> String {
    let mut t = String::from(
        "<table><tr><th>epoch</th><th>loss</th><th>held-out loss</th><th>KL</th><th>held-out PSNR</th>\
<th>held-out SSIM</th><th>code mean</th><th>saturated</th><th>below 0.1</th><th>seconds</th></tr>",
    );
    for s in &r.history {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.2}</td></tr>",
            s.epoch,
            s.loss_per_sample,
            opt(s.holdout_loss_per_sample, 4),
            opt(s.kl_per_sample, 4),
            opt(s.holdout_psnr_db, 2),
            opt(s.holdout_ssim, 4),
            s.code_mean,
            s.code_saturated,
            s.code_below_0_1,
            s.seconds
        );
    }
    t + "</table>"
}

fn subtitle(r: &RunFiles) -> String {
    let data = r.setting("data.path").or_else(|| r.setting("data.dataset")).unwrap_or_default();
    let kind = r.setting("model.kind").unwrap_or_else(|| "autoencoder".into());
    format!(
        "preset {} · {kind} · code {} · noise {} · {}",
        r.setting("preset").unwrap_or_default(),
        r.setting("model.code_length").unwrap_or_default(),
        r.setting("noise").unwrap_or_else(|| "none".into()),
        data
    )
}

/// The page of one run.
pub fn run_report(r: &RunFiles) -> String {
    let mut body = format!("<h1>{}</h1><p class=\"sub\">{}</p>", escape(&r.name), escape(&subtitle(r)));
    if r.summary.is_none() {
        body += "<p><strong>The run has not finished:</strong> no final figures yet.</p>";
    }
    body += "<h2>Results</h2><table>";
    // A figure the run does not have (a plain autoencoder's noisy inputs) is left out.
    for (heading, value) in figures(r).into_iter().filter(|(_, v)| v != "—") {
        let _ = write!(body, "<tr><th>{heading}</th><td>{value}</td></tr>");
    }
    body += "</table><p class=\"sub\">Measured on the held-out images (without them, on up to the first 1000 training images), from noisy inputs for a denoiser, with the kept model. The training images' rows: the same model on (up to the first 1000 of) its training images without augmentation. PCA: as many components as the code, fitted on the training images.</p>";
    body += "<h2>Training</h2>";
    body += &charts(&[r]);
    body += "<details><summary>Every epoch's values</summary>";
    body += &epoch_table(r);
    body += "</details>";
    if !r.grids.is_empty() {
        body += "<h2>Images</h2>";
        for (file, caption, png) in &r.grids {
            body += &grid_figure(file, caption, png);
        }
    }
    let _ = write!(body, "<h2>Configuration</h2><pre>{}</pre>", escape(&r.config));
    page(&format!("ae run {}", r.name), &body)
}

/// A page putting `runs` side by side: overlaid curves, one table, the grids and configurations.
pub fn compare_runs(runs: &[RunFiles]) -> String {
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    let mut body =
        format!("<h1>Comparing {} runs</h1><p class=\"sub\">{}</p>", runs.len(), escape(&names.join(" · ")));
    body += "<h2>Results</h2><table><tr><th>run</th>";
    let headings = runs.first().map(figures).unwrap_or_default();
    for (heading, _) in &headings {
        let _ = write!(body, "<th>{heading}</th>");
    }
    body += "</tr>";
    for r in runs {
        let _ = write!(body, "<tr><td>{}</td>", escape(&r.name));
        for (_, value) in figures(r) {
            let _ = write!(body, "<td>{value}</td>");
        }
        body += "</tr>";
    }
    body += "</table><ul>";
    for r in runs {
        let _ = write!(body, "<li><strong>{}</strong>: {}</li>", escape(&r.name), escape(&subtitle(r)));
    }
    body += "</ul><h2>Training</h2>";
    body += &charts(&runs.iter().collect::<Vec<_>>());
    body += "<h2>Images</h2>";
    for r in runs {
        let _ = write!(body, "<h3>{}</h3>", escape(&r.name));
        for (file, caption, png) in &r.grids {
            body += &grid_figure(file, caption, png);
        }
    }
    body += "<h2>Configurations</h2>";
    for r in runs {
        let _ = write!(
            body,
            "<details><summary>{}</summary><pre>{}</pre></details>",
            escape(&r.name),
            escape(&r.config)
        );
    }
    page(&format!("ae: comparing {}", names.join(", ")), &body)
}
