//! The HTML reports in a real browser: headless Chromium (Debian's `chromium`, which CI installs)
//! opens a run's `report.html`, a page comparing two runs and a scored set's (`ae score`). A probe
//! added to a copy of each page records script errors, console errors and failed loads, checks
//! every image decoded and is not blank, and every SVG chart has both axes with tick labels; a
//! screenshot of the page as written must not be blank. A deliberately broken page must fail the
//! same probe.
//!
//! Without Chromium the test fails, unless `AE_SKIP_BROWSER=1` says to skip it.

use crate::common::{self, ae};

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AE_CHROMIUM") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

fn headless(browser: &Path, args: &[&str], page: &Path) -> std::process::Output {
    Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .args(["--allow-file-access-from-files", "--virtual-time-budget=5000"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

/// Recorded from the first script on: errors of scripts and of loads (images' `error` events do
/// not bubble, so the listener captures), and console errors.
const HEAD_PROBE: &str = "<script>window.aeErrors=[];\
addEventListener('error',e=>aeErrors.push(e.message||('failed to load '+(e.target.alt||e.target.tagName))),true);\
const aeConsoleError=console.error;console.error=(...a)=>{aeErrors.push(a.join(' '));aeConsoleError(...a)};</script>";

/// After the page loaded: every image decoded and varied (the standard deviation of its grey
/// levels), every chart's axes, and the errors; written into the page as JSON for `--dump-dom`.
const BODY_PROBE: &str = "<script>addEventListener('load',()=>{\
const images=[...document.images].map(img=>{let sd=0;if(img.complete&&img.naturalWidth>0){\
const c=document.createElement('canvas');c.width=img.naturalWidth;c.height=img.naturalHeight;\
const g=c.getContext('2d');g.drawImage(img,0,0);const d=g.getImageData(0,0,c.width,c.height).data;\
let s=0,s2=0,n=d.length/4;for(let i=0;i<d.length;i+=4){const v=(d[i]+d[i+1]+d[i+2])/3;s+=v;s2+=v*v}\
sd=Math.sqrt(Math.max(0,s2/n-(s/n)*(s/n)))}return{alt:img.alt,width:img.naturalWidth,sd:sd}});\
const charts=[...document.querySelectorAll('svg.chart')].map(svg=>({\
x:svg.querySelectorAll('g.axis.x text').length,y:svg.querySelectorAll('g.axis.y text').length,\
lines:svg.querySelectorAll('polyline').length}));\
const out=document.createElement('pre');out.id='ae-probe';\
out.textContent=JSON.stringify({errors:aeErrors,images:images,charts:charts});document.body.appendChild(out)});</script>";

/// What the probe found on `page`, or why the page fails.
fn probe(browser: &Path, page: &Path, scratch: &Path) -> Result<serde_json::Value, String> {
    let html = std::fs::read_to_string(page).unwrap();
    let probed = html.replacen("<head>", &format!("<head>{HEAD_PROBE}"), 1).replacen(
        "</body>",
        &format!("{BODY_PROBE}</body>"),
        1,
    );
    let copy = scratch.join(format!("probed-{}", page.file_name().unwrap().to_string_lossy()));
    std::fs::write(&copy, probed).unwrap();
    let out = headless(browser, &["--dump-dom"], &copy);
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find("<pre id=\"ae-probe\">")
        .ok_or_else(|| format!("the probe did not run: {}", String::from_utf8_lossy(&out.stderr)))?;
    let json = &dom[start + "<pre id=\"ae-probe\">".len()..];
    let json = &json[..json.find("</pre>").unwrap()];
    let json = json.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    let found: serde_json::Value = serde_json::from_str(&json).map_err(|e| format!("{e}: {json}"))?;
    let errors = found["errors"].as_array().unwrap();
    if !errors.is_empty() {
        return Err(format!("errors on the page: {errors:?}"));
    }
    let images = found["images"].as_array().unwrap();
    for image in images {
        if image["width"].as_u64().unwrap_or(0) == 0 || image["sd"].as_f64().unwrap_or(0.0) < 2.0 {
            return Err(format!("an image is missing or blank: {image}"));
        }
    }
    let charts = found["charts"].as_array().unwrap();
    for chart in charts {
        if chart["x"].as_u64().unwrap() < 2
            || chart["y"].as_u64().unwrap() < 2
            || chart["lines"].as_u64().unwrap() < 1
        {
            return Err(format!("a chart lacks its axes or lines: {chart}"));
        }
    }
    Ok(found)
}

/// A screenshot of `page` as written: not blank (enough pixels differ from the background).
fn screenshot_is_not_blank(browser: &Path, page: &Path, scratch: &Path) -> Result<f64, String> {
    let shot = scratch.join(format!("{}.png", page.file_stem().unwrap().to_string_lossy()));
    let _ = std::fs::remove_file(&shot);
    let out =
        headless(browser, &["--window-size=1280,1600", &format!("--screenshot={}", shot.display())], page);
    let image = image::open(&shot)
        .map_err(|e| format!("no screenshot ({e}): {}", String::from_utf8_lossy(&out.stderr)))?
        .to_luma8();
    let inked = image.pixels().filter(|p| p.0[0] < 250).count() as f64 / image.pixels().len() as f64;
    if inked < 0.02 {
        return Err(format!("the screenshot is blank ({:.2} % of it drawn)", 100.0 * inked));
    }
    Ok(inked)
}

#[test]
fn reports_render_in_headless_chromium_with_images_and_charts() {
    let Some(browser) = chromium() else {
        if std::env::var_os("AE_SKIP_BROWSER").is_some() {
            eprintln!("skipped: no chromium (AE_SKIP_BROWSER is set)");
            return;
        }
        panic!("headless Chromium is needed (Debian's `chromium` package, or AE_CHROMIUM=PATH); AE_SKIP_BROWSER=1 skips this test");
    };
    let dir = tempfile::tempdir().unwrap();
    // A plain run and a denoiser's, trained once for the tests that read them.
    let (a, b) = (&common::faces_default().run, &common::faces_denoiser().run);
    let compare = dir.path().join("compare.html");
    let out = ae(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", compare.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A scored one-class run: a histogram per score and the ROC curves.
    let ones = &common::mnist_ones().run;
    let scored = dir.path().join("score");
    let out = ae(&["score", ones.to_str().unwrap(), "--out", scored.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let pages = [
        (a.join("report.html"), 1),
        (b.join("report.html"), 2),
        (compare, 3),
        (scored.join("report.html"), 1),
    ];
    for (page, images) in pages {
        let found = probe(&browser, &page, dir.path()).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert_eq!(found["images"].as_array().unwrap().len(), images, "{}: {found}", page.display());
        assert!(found["charts"].as_array().unwrap().len() >= 4, "{}: {found}", page.display());
        let inked = screenshot_is_not_blank(&browser, &page, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        eprintln!("{}: {:.1} % of the screenshot drawn; {found}", page.display(), 100.0 * inked);
    }

    // The same checks fail on a broken page: a corrupt image, a chart without its axes, a script
    // error; and a blank page's screenshot.
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><head><title>x</title></head><body><img alt=\"grid\" src=\"data:image/png;base64,iVBORw0KGgo=\">\
<svg class=\"chart\"><polyline points=\"0,0 1,1\"/></svg><script>undefinedFunction()</script></body></html>",
    )
    .unwrap();
    let err = probe(&browser, &broken, dir.path()).unwrap_err();
    assert!(err.contains("errors on the page"), "{err}");
    std::fs::write(&broken, "<!DOCTYPE html><html><head></head><body><img alt=\"grid\" src=\"data:image/png;base64,iVBORw0KGgo=\"></body></html>").unwrap();
    let err = probe(&browser, &broken, dir.path()).unwrap_err();
    assert!(err.contains("failed to load grid") || err.contains("missing or blank"), "{err}");
    std::fs::write(&broken, "<!DOCTYPE html><html><head></head><body><svg class=\"chart\"><polyline points=\"0,0 1,1\"/></svg></body></html>").unwrap();
    let err = probe(&browser, &broken, dir.path()).unwrap_err();
    assert!(err.contains("lacks its axes"), "{err}");
    assert!(screenshot_is_not_blank(&browser, &broken, dir.path()).unwrap_err().contains("blank"));
}
