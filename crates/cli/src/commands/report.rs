//! `ae report`: a run's report.html again, or a page comparing runs.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Run directories.
    #[arg(required = true)]
    pub(crate) runs: Vec<PathBuf>,
    /// The page to write; must not exist [default: RUN/report.html for one run (rewritten), else
    /// compare.html].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn run(args: ReportArgs) -> Result<()> {
    use ae::report::{compare_runs, run_report, RunFiles, REPORT};
    let runs = args
        .runs
        .iter()
        .map(|dir| {
            let dir: PathBuf = dir.components().collect();
            let name = dir
                .file_name()
                .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
            if !dir.is_dir() {
                bail!("{} is not a run directory", dir.display());
            }
            Ok(RunFiles::read(&dir, &name)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let (out, page) = match (&args.out, runs.as_slice()) {
        // A run's own report is made from its files: writing it again loses nothing.
        (None, [run]) => (args.runs[0].join(REPORT), run_report(run)),
        (out, _) => {
            let out = out.clone().unwrap_or_else(|| PathBuf::from("compare.html"));
            if out.exists() {
                bail!("{} already exists; choose another --out or remove it", out.display());
            }
            let page = if let [run] = runs.as_slice() { run_report(run) } else { compare_runs(&runs) };
            (out, page)
        }
    };
    ae::fs::write_atomic(&out, page.as_bytes()).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "Wrote {} ({} run{}); open it in a browser",
        out.display(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
