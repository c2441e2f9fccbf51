//! Ctrl-C and SIGTERM during training: the first asks the run to stop with a checkpoint.

use anyhow::Result;
use std::sync::atomic::Ordering;

/// How long the first SIGINT or SIGTERM waits for the run to stop on its own before the process
/// exits anyway: longer than a step, shorter than a service manager's grace before SIGKILL.
pub(crate) const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The signal that asked training to stop (0: none yet). The first SIGINT or SIGTERM sets it and
/// the run stops after its current step with a checkpoint; a second one, or [`STOP_GRACE`]
/// without the run stopping (a step or a finishing stage that does not end), exits at once. The
/// run's files are written atomically, so an exit leaves the last checkpoint to resume from.
pub(crate) fn interrupts() -> Result<std::sync::Arc<std::sync::atomic::AtomicUsize>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::{atomic::AtomicBool, Arc};
    let (asked, which) = (Arc::new(AtomicBool::new(false)), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    for signal in [SIGINT, SIGTERM] {
        // Registered before the flag, the shutdown sees it set only on the second signal.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&asked))?;
        signal_hook::flag::register(signal, Arc::clone(&asked))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)?;
    }
    let seen = Arc::clone(&which);
    std::thread::spawn(move || {
        let tick = std::time::Duration::from_millis(50);
        while seen.load(Ordering::Relaxed) == 0 {
            std::thread::sleep(tick);
        }
        std::thread::sleep(STOP_GRACE);
        eprintln!(
            "error: the run did not stop within {} s of the signal; exiting (the last checkpoint stays: resume with --resume)",
            STOP_GRACE.as_secs()
        );
        std::process::exit(128 + seen.load(Ordering::Relaxed) as i32);
    });
    Ok(which)
}
