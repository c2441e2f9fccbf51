//! What the user sees while work goes on: the library's warnings on stderr, download bars and the
//! training steps' bar.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Prints the library's warnings (`log::warn!`, e.g. a skipped image file) on stderr.
pub(crate) struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("warning: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// A progress bar on stderr (when it is a terminal) for the library's downloads.
pub(crate) fn download_bar() -> impl Fn(&ae::data::download::Progress<'_>) + Send + Sync {
    let bar = std::sync::Mutex::new(None::<ProgressBar>);
    move |p| {
        let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
        let shown = bar.get_or_insert_with(|| {
            let bar = if std::io::stderr().is_terminal() {
                ProgressBar::new(p.total.unwrap_or(0))
            } else {
                ProgressBar::hidden()
            };
            bar.set_style(
                ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} ({eta})")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(format!("downloading {}", p.file_name));
            bar
        });
        shown.set_position(p.done);
        if p.finished {
            shown.finish_and_clear();
            *bar = None;
        }
    }
}

/// Keeps the panic of an image decoder on a corrupt file off stderr: the library turns it into the
/// one-line error the user sees. Every other panic reaches the default hook.
pub(crate) fn quiet_decoder_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !ae::data::folder::decoding_on_this_thread() {
            previous(info)
        }
    }));
}

/// Downloads the named dataset `data` asks for (when it names no file and it is not found
/// locally), with a bar, before the library loads it from the cache.
pub(crate) fn fetch(data: &ae::config::DataConfig) -> anyhow::Result<()> {
    if data.path.is_none() {
        let source = ae::data::download::Source::named(data.dataset);
        ae::data::download::locate(&source, None, &download_bar())?;
    }
    Ok(())
}
