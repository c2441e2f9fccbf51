//! Finding a dataset file: an explicit path, an environment variable, the per-user cache, or a
//! checksum-verified download into that cache.

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// A downloadable file and the checksum that vouches for it.
#[derive(Clone, Debug)]
pub struct Source {
    pub url: String,
    pub sha256: String,
    pub file_name: String,
    /// Environment variable that may point at a local copy.
    pub env_var: &'static str,
}

impl Source {
    /// scikit-learn's copy of the Olivetti faces.
    pub fn olivetti() -> Self {
        Self {
            url: "https://ndownloader.figshare.com/files/5976027".into(),
            sha256: "b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794".into(),
            file_name: "olivettifaces.mat".into(),
            env_var: "AE_OLIVETTI",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{path} (from {origin}) does not exist")]
    Missing { path: PathBuf, origin: String },
    #[error("could not download {url}: {reason}. Pass a local copy with --data PATH or set {env_var}=PATH")]
    Fetch { url: String, reason: String, env_var: &'static str },
    #[error("download of {url} has sha256 {got}, expected {expected}; nothing was kept. Pass a local copy with --data PATH or set {env_var}=PATH")]
    Checksum { url: String, got: String, expected: String, env_var: &'static str },
    #[error("cannot write the dataset cache {path}: {cause}")]
    Cache { path: PathBuf, cause: std::io::Error },
}

/// The per-user cache folder: `$AE_CACHE_DIR`, else the platform cache dir + `/ae`.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("AE_CACHE_DIR").map(PathBuf::from).or_else(|| dirs::cache_dir().map(|d| d.join("ae")))
}

/// Where the file is: `explicit`, else `$env_var`, else the cache, else downloaded into the cache.
/// A local file is accepted as it is (its loader validates its content); only downloads are hashed.
pub fn locate(source: &Source, explicit: Option<&Path>) -> Result<PathBuf, DownloadError> {
    let from_env = std::env::var_os(source.env_var).map(PathBuf::from);
    locate_in(source, explicit, from_env, cache_dir())
}

/// [`locate`] with the environment variable's value and the cache folder passed in.
pub fn locate_in(
    source: &Source,
    explicit: Option<&Path>,
    from_env: Option<PathBuf>,
    cache: Option<PathBuf>,
) -> Result<PathBuf, DownloadError> {
    let must_exist = |path: PathBuf, origin: String| {
        if path.is_file() {
            Ok(path)
        } else {
            Err(DownloadError::Missing { path, origin })
        }
    };
    if let Some(path) = explicit {
        return must_exist(path.to_path_buf(), "--data".into());
    }
    if let Some(path) = from_env {
        return must_exist(path, format!("${}", source.env_var));
    }
    let Some(dir) = cache else {
        return Err(DownloadError::Fetch {
            url: source.url.clone(),
            reason: "no cache directory on this system".into(),
            env_var: source.env_var,
        });
    };
    let cached = dir.join(&source.file_name);
    if cached.is_file() {
        return Ok(cached);
    }
    download(source, &cached)?;
    Ok(cached)
}

/// Downloads `source` to `dest`: streamed to a temporary file beside it, hashed on the way, and
/// renamed into place only when the checksum matches, so `dest` is never a partial file.
pub fn download(source: &Source, dest: &Path) -> Result<(), DownloadError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let cache_err = |cause| DownloadError::Cache { path: dir.to_path_buf(), cause };
    std::fs::create_dir_all(dir).map_err(cache_err)?;
    let fetch_err =
        |reason: String| DownloadError::Fetch { url: source.url.clone(), reason, env_var: source.env_var };

    let agent = ureq::Agent::config_builder()
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .build()
        .new_agent();
    let response = agent.get(&source.url).call().map_err(|e| fetch_err(e.to_string()))?;
    let length = response.body().content_length();
    let mut body = response.into_body().into_reader();

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(length.unwrap_or(0))
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} ({eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("downloading {}", source.file_name));

    // Removed on any early return; renamed into place only after the checksum matched.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cache_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(|e| fetch_err(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(cache_err)?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    tmp.as_file().sync_all().map_err(cache_err)?;
    let got = format!("{:x}", hasher.finalize());
    if !got.eq_ignore_ascii_case(&source.sha256) {
        return Err(DownloadError::Checksum {
            url: source.url.clone(),
            got,
            expected: source.sha256.clone(),
            env_var: source.env_var,
        });
    }
    tmp.persist(dest).map(drop).map_err(|e| DownloadError::Cache { path: dest.to_path_buf(), cause: e.error })
}
