//! The memory limit of this invocation (`--max-memory`, else 80 % of the memory available), set
//! once at start, and the check of a job over images against it.

use ae::memory::MemoryLimit;
use anyhow::Result;

/// The memory limit of this invocation (set once in `run`).
pub(crate) static MEMORY_LIMIT: std::sync::OnceLock<Option<MemoryLimit>> = std::sync::OnceLock::new();

pub(crate) fn memory_limit() -> Option<MemoryLimit> {
    MEMORY_LIMIT.get().copied().flatten()
}

/// What to change when a job over images does not fit.
pub(crate) const BATCH_ADVICE: &str = "use fewer images or a smaller --batch-size";

/// Refuses running `model` over `images` images in batches of `batch` (and keeping `outputs`
/// decoded images) past the memory limit.
pub(crate) fn check_inference(
    model: &ae::model::Autoencoder,
    images: usize,
    batch: usize,
    outputs: usize,
    advice: &'static str,
) -> Result<()> {
    if let Some(limit) = memory_limit() {
        let need = ae::inference::memory_need(&model.config, images, batch, outputs)?;
        limit.check("this job", &need, advice)?;
    }
    Ok(())
}
