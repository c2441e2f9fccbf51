//! The engine's threads, with denormal floats flushed to zero.
//!
//! A sigmoid code that saturates produces values below `f32::MIN_POSITIVE` (e^z for z < −87),
//! and its gradients and Adam moments follow. x86 CPUs handle such denormal operands and results
//! in microcode, a hundred times slower than normal ones: the tutorial's model with a saturated
//! code trained 2.7× slower per step. TensorFlow runs its kernels with denormals flushed to zero
//! (the FTZ and DAZ bits of MXCSR); so does this engine, on the threads the CLI runs it on. The
//! results differ only where a value would have been below 1.2e-38.

use rayon::{ThreadBuilder, ThreadPoolBuildError, ThreadPoolBuilder};

/// Runs `f` on this thread with denormal results and operands treated as zero, then restores
/// the thread's previous floating-point mode.
pub fn flushing_denormals<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
    // SAFETY: Rust assumes the default floating-point mode and may constant-fold an expression
    // differently from what the flushed mode computes at run time; that only changes results in
    // the denormal range, which is the point. Nothing here depends on denormals being kept.
    return unsafe { no_denormals::no_denormals(f) };
    #[allow(unreachable_code)]
    f()
}

/// Starts one rayon worker whose whole life runs with denormals flushed to zero.
fn spawn_flushing(thread: ThreadBuilder) -> std::io::Result<()> {
    let mut builder = std::thread::Builder::new();
    if let Some(name) = thread.name() {
        builder = builder.name(name.to_owned());
    }
    if let Some(size) = thread.stack_size() {
        builder = builder.stack_size(size);
    }
    builder.spawn(move || flushing_denormals(|| thread.run()))?;
    Ok(())
}

/// Builds rayon's global pool with `threads` workers (one per core when `None`), each flushing
/// denormals to zero. Call it once, before any parallel work; run the calling thread's share
/// inside [`flushing_denormals`].
pub fn init_global_pool(threads: Option<usize>) -> Result<(), ThreadPoolBuildError> {
    let builder = ThreadPoolBuilder::new().spawn_handler(spawn_flushing);
    match threads {
        Some(n) => builder.num_threads(n),
        None => builder,
    }
    .build_global()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// Half the smallest normal `f32`: a denormal unless flushed.
    fn half_min_positive() -> f32 {
        black_box(f32::MIN_POSITIVE) * black_box(0.5)
    }

    #[test]
    fn the_calling_thread_flushes_inside_and_restores_after() {
        assert!(half_min_positive() > 0.0, "the default mode keeps denormals");
        assert_eq!(flushing_denormals(half_min_positive), 0.0);
        assert!(half_min_positive() > 0.0, "the mode is restored");
    }

    #[test]
    fn pool_workers_flush() {
        let pool = ThreadPoolBuilder::new().num_threads(2).spawn_handler(spawn_flushing).build().unwrap();
        let results: Vec<f32> = pool.install(|| {
            use rayon::prelude::*;
            (0..64).into_par_iter().map(|_| half_min_positive()).collect()
        });
        assert!(results.iter().all(|&v| v == 0.0), "{results:?}");
    }
}
