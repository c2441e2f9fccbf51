//! Finding a dataset file: an explicit path, an environment variable, the per-user cache, or a
//! checksum-verified download into that cache.

use crate::config::NamesSettings;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// How far a download is: the file's name, bytes received, and the length if the server said.
/// The caller of [`locate`] hears of it (the `ae` binary draws a bar); the library never prints.
pub struct Progress<'a> {
    pub file_name: &'a str,
    pub done: u64,
    pub total: Option<u64>,
    /// The last report of this download.
    pub finished: bool,
}

/// A digest that vouches for a downloaded file.
#[derive(Clone, Debug, PartialEq)]
pub enum Checksum {
    Sha256(String),
    /// The digest the MNIST files are published with.
    Md5(String),
}

impl Checksum {
    fn expected(&self) -> &str {
        match self {
            Checksum::Sha256(h) | Checksum::Md5(h) => h,
        }
    }
}

/// A downloadable file and the checksum that vouches for it.
#[derive(Clone, Debug)]
pub struct Source {
    pub url: String,
    pub checksum: Checksum,
    pub file_name: String,
    /// Environment variable that may point at a local copy.
    pub env_var: &'static str,
}

impl Source {
    /// scikit-learn's copy of the Olivetti faces.
    pub fn olivetti() -> Self {
        Self {
            url: "https://ndownloader.figshare.com/files/5976027".into(),
            checksum: Checksum::Sha256(
                "b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794".into(),
            ),
            file_name: "olivettifaces.mat".into(),
            env_var: "AE_OLIVETTI",
        }
    }

    /// MNIST's 60 000 training images (PyTorch's mirror of the original files).
    pub fn mnist() -> Self {
        Self {
            url: "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz".into(),
            checksum: Checksum::Md5("f68b3c2dcbeaaa9fbdd348bbdeb94873".into()),
            file_name: "mnist-train-images-idx3-ubyte.gz".into(),
            env_var: "AE_MNIST",
        }
    }

    /// Fashion-MNIST's 60 000 training images.
    pub fn fashion_mnist() -> Self {
        Self {
            url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz"
                .into(),
            checksum: Checksum::Md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d".into()),
            file_name: "fashion-mnist-train-images-idx3-ubyte.gz".into(),
            env_var: "AE_FASHION_MNIST",
        }
    }

    pub fn named(name: crate::config::DatasetName) -> Self {
        use crate::config::DatasetName;
        match name {
            DatasetName::Olivetti => Self::olivetti(),
            DatasetName::Mnist => Self::mnist(),
            DatasetName::FashionMnist => Self::fashion_mnist(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{path} (from {origin}) does not exist")]
    Missing { path: PathBuf, origin: String },
    #[error("could not download {url}: {reason}. Give a local copy as data.path or set {env_var}=PATH")]
    Fetch { url: String, reason: String, env_var: &'static str },
    #[error("download of {url} has checksum {got}, expected {expected}; nothing was kept. Give a local copy as data.path or set {env_var}=PATH")]
    Checksum { url: String, got: String, expected: String, env_var: &'static str },
    #[error("cannot write the dataset cache {path}: {cause}")]
    Cache { path: PathBuf, cause: std::io::Error },
}

impl NamesSettings for DownloadError {
    fn settings(&self) -> Vec<&str> {
        match self {
            DownloadError::Missing { origin, .. } if origin == "data.path" => vec!["data.path"],
            DownloadError::Fetch { .. } | DownloadError::Checksum { .. } => vec!["data.path"],
            _ => Vec::new(),
        }
    }
}

/// The per-user cache folder: `$AE_CACHE_DIR`, else the platform cache dir + `/ae`.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("AE_CACHE_DIR").map(PathBuf::from).or_else(|| dirs::cache_dir().map(|d| d.join("ae")))
}

/// Where the file is: `explicit`, else `$env_var`, else the cache, else downloaded into the cache.
/// A local file is accepted as it is (its loader validates its content); only downloads are hashed.
/// A download's progress goes to `progress`.
pub fn locate(
    source: &Source,
    explicit: Option<&Path>,
    progress: &dyn Fn(&Progress<'_>),
) -> Result<PathBuf, DownloadError> {
    let from_env = std::env::var_os(source.env_var).map(PathBuf::from);
    locate_in(source, explicit, from_env, cache_dir(), progress)
}

/// [`locate`] with the environment variable's value and the cache folder passed in.
pub fn locate_in(
    source: &Source,
    explicit: Option<&Path>,
    from_env: Option<PathBuf>,
    cache: Option<PathBuf>,
    progress: &dyn Fn(&Progress<'_>),
) -> Result<PathBuf, DownloadError> {
    let must_exist = |path: PathBuf, origin: String| {
        if path.is_file() {
            Ok(path)
        } else {
            Err(DownloadError::Missing { path, origin })
        }
    };
    if let Some(path) = explicit {
        return must_exist(path.to_path_buf(), "data.path".into());
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
    download(source, &cached, progress)?;
    Ok(cached)
}

/// Downloads `source` to `dest`: streamed to a temporary file beside it, hashed on the way, and
/// renamed into place only when the checksum matches, so `dest` is never a partial file. Its
/// progress goes to `progress`.
pub fn download(source: &Source, dest: &Path, progress: &dyn Fn(&Progress<'_>)) -> Result<(), DownloadError> {
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

    let file_name = source.file_name.as_str();
    let mut done = 0;
    progress(&Progress { file_name, done, total: length, finished: false });

    // Removed on any early return; renamed into place only after the checksum matched.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cache_err)?;
    let (mut sha, mut md5) = (Sha256::new(), md5::Md5::new());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(|e| fetch_err(e.to_string()))?;
        if n == 0 {
            break;
        }
        match source.checksum {
            Checksum::Sha256(_) => sha.update(&buf[..n]),
            Checksum::Md5(_) => md5.update(&buf[..n]),
        }
        tmp.write_all(&buf[..n]).map_err(cache_err)?;
        done += n as u64;
        progress(&Progress { file_name, done, total: length, finished: false });
    }
    progress(&Progress { file_name, done, total: length, finished: true });
    tmp.as_file().sync_all().map_err(cache_err)?;
    let got = match source.checksum {
        Checksum::Sha256(_) => format!("{:x}", sha.finalize()),
        Checksum::Md5(_) => format!("{:x}", md5.finalize()),
    };
    if !got.eq_ignore_ascii_case(source.checksum.expected()) {
        return Err(DownloadError::Checksum {
            url: source.url.clone(),
            got,
            expected: source.checksum.expected().to_string(),
            env_var: source.env_var,
        });
    }
    tmp.persist(dest).map(drop).map_err(|e| DownloadError::Cache { path: dest.to_path_buf(), cause: e.error })
}
