//! What data a run reads and how: the dataset, its size, its storage and the held-out split.

use super::choice::choices;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How 64×64 faces become the model's input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resize {
    /// Keep every k-th pixel (`x[::2, ::2]`): what the tutorial's "bicubic" resize really does.
    Subsample,
    /// Average each k×k block: a real, antialiased downscale.
    Area,
}

/// How the held-out images are chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitBy {
    /// A seeded fraction of the images.
    #[default]
    Images,
    /// A seeded fraction of the people (Olivetti: 40 people, 10 consecutive images each), so no
    /// held-out face belongs to someone seen in training.
    Subjects,
}

/// The datasets `ae` can find or download by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// The 400 Olivetti faces, 64×64 grayscale (scikit-learn's copy).
    #[default]
    Olivetti,
    /// MNIST's 60 000 training digits, 28×28 grayscale.
    Mnist,
    /// Fashion-MNIST's 60 000 training images, 28×28 grayscale.
    FashionMnist,
}

/// What to do with an image file that cannot be decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadImages {
    /// Stop with an error naming the file.
    #[default]
    Fail,
    /// Leave it out, with a warning and a count.
    Skip,
}

/// How the images are held in memory during training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// 32-bit floats, ready to use.
    #[default]
    F32,
    /// The 8 bits the files hold, converted batch by batch: a quarter of the memory (8-bit sources only).
    U8,
}

/// Where the images come from and how they are prepared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The dataset to find (environment variable, cache) or download when `path` is absent.
    #[serde(default)]
    pub dataset: DatasetName,
    /// A dataset file or folder: `.mat` (Olivetti), an IDX file (`*-ubyte`, optionally `.gz`),
    /// `.npy` (N×H×W or N×H×W×C, u8 or f32), or a folder of PNG/JPEG images (searched recursively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Height and width the model sees; images are resized to it (`None`: their own size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<[usize; 2]>,
    pub resize: Resize,
    /// Channels of a folder's images: 1 (gray) or 3 (RGB) [default: from the first image].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    #[serde(default)]
    pub bad_images: BadImages,
    #[serde(default)]
    pub storage: Storage,
    /// Fraction of images held out of training (seeded), evaluated every epoch.
    pub holdout: f64,
    /// Hold out images or whole people.
    #[serde(default)]
    pub split: SplitBy,
    /// Keep only the images of these classes (one-class training for anomaly detection); the
    /// split is then of those images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal: Option<NormalClasses>,
}

/// The classes a one-class run trains on, by a labels file with one label per image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalClasses {
    /// An IDX labels file (MNIST's `*-labels-idx1-ubyte`, raw or `.gz`).
    pub labels: PathBuf,
    pub classes: Vec<u8>,
}

choices!(SplitBy: Images, Subjects);
choices!(DatasetName: Olivetti, Mnist, FashionMnist);
choices!(BadImages: Fail, Skip);
choices!(Storage: F32, U8);
