//! Files written whole or not at all: a temporary file beside the target, flushed, then renamed
//! over it, so a crash never leaves a user's file half-written.

use std::path::Path;

/// How the temporary files of `write_atomic` begin: what a killed process leaves half-written is
/// recognisable, and a resumed run removes it.
pub const TEMPORARY_PREFIX: &str = ".ae-writing-";

/// Writes `bytes` to `path` so that `path` is either its old self or the whole new file, never a
/// part: a temporary file beside it, flushed to disk, then renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_by(path, |tmp| std::fs::write(tmp, bytes))
}

/// [`write_atomic`] of whatever `write` puts in the temporary file whose path it is given (for
/// output streamed rather than held whole).
pub fn write_atomic_by(path: &Path, write: impl FnOnce(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new().prefix(TEMPORARY_PREFIX).tempfile_in(dir)?;
    // A temporary file is private (0600); the output is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    write(tmp.path())?;
    std::fs::File::open(tmp.path())?.sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself reaches the disk with the directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
