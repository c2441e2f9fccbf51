//! Model files: safetensors with PyTorch's parameter names and layouts, described by their metadata.
//!
//! Layouts: `encoder.convI.weight` is `[out, in, kh, kw]` (`nn.Conv2d`), `code.weight` is
//! `[code_length, C·H·W]` over a C,H,W flatten (`nn.Linear` after `torch.flatten`), and
//! `decoder.convtI.weight` is `[in, out, kh, kw]` (`nn.ConvTranspose2d`). A normalisation
//! (`code_norm`) is `nn.BatchNorm1d`'s `weight`, `bias`, `running_mean`, `running_var` and
//! `num_batches_tracked` (int64).

use crate::config::{DataConfig, Loss, ModelConfig};
use crate::fs::write_atomic_by;
use crate::memory::MemoryNeed;
use crate::model::{Autoencoder, Description, TensorLayout, PARAM_NAMES};
use crate::noise::Noise;
use safetensors::tensor::{Dtype, Metadata, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Format of the files written now: v1's keys plus `layers` (the network as PyTorch/ONNX steps,
/// see [`Description`]) and `preprocessing` (how images become inputs); documented in
/// `docs/model-format.md`. v1 files still load.
const FORMAT: &str = "ae-autoencoder-v2";
const FORMATS: [&str; 2] = ["ae-autoencoder-v1", FORMAT];
/// Metadata key of files whose biases are all in PyTorch's order. Before it, `decoder.project`'s
/// bias was written in the engine's H, W, C order (the same bits when it had one channel); such
/// files still load as they were written.
const BIAS_ORDER: &str = "bias_order";

/// How the model's inputs were made from the dataset, so the same can be done at inference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataRecipe {
    /// The data settings of the run (a dataset path given at inference time replaces `path`).
    pub data: DataConfig,
    pub seed: u64,
    /// The noise the model was trained to remove (`none` for a plain autoencoder).
    #[serde(default)]
    pub noise: Noise,
    /// The reconstruction loss it was trained with: a VAE's likelihood (absent: `l2`).
    #[serde(default, skip_serializing_if = "is_l2")]
    pub loss: Loss,
}

/// How an image becomes the model's input, for someone rebuilding it without `ae`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// `nchw`: a batch of `[C, H, W]` float32 images.
    pub layout: String,
    pub channels: usize,
    /// `[height, width]` the model takes.
    pub size: [usize; 2],
    /// `[0, 1]`: 8-bit pixels divided by 255 (the Olivetti `.mat`'s floats as stored).
    pub range: [f32; 2],
    /// How larger images were brought to `size` (see `docs/model-format.md`).
    pub resize: crate::config::Resize,
}

impl Preprocessing {
    pub fn of(model: &Autoencoder, recipe: &DataRecipe) -> Self {
        let [h, w, c] = model.config.input;
        Self {
            layout: "nchw".into(),
            channels: c,
            size: [h, w],
            range: [0.0, 1.0],
            resize: recipe.data.resize,
        }
    }
}

fn is_l2(loss: &Loss) -> bool {
    *loss == Loss::L2
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read model {path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path} is not a safetensors file: {reason}")]
    NotSafetensors { path: PathBuf, reason: String },
    #[error("{path} is not an ae model (metadata `format` is missing or not one of {FORMATS:?})")]
    NotOurs { path: PathBuf },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot write model {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Permutes a row-major tensor of `shape` by `axes` (output axis i is input axis `axes[i]`).
/// Walked as nested loops, the last output axis a strided copy: a model file is written at every
/// improved epoch, and an index computed per value took 2 % of a faces run.
fn permute(data: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    let mut in_strides = vec![1; shape.len()];
    for i in (0..shape.len() - 1).rev() {
        in_strides[i] = in_strides[i + 1] * shape[i + 1];
    }
    let strides: Vec<usize> = axes.iter().map(|&a| in_strides[a]).collect();
    let mut out = Vec::with_capacity(data.len());
    walk(data, &out_shape, &strides, 0, &mut out);
    out
}

/// Appends the values of the output axes `shape` (input strides `strides`) from `base` on.
fn walk(data: &[f32], shape: &[usize], strides: &[usize], base: usize, out: &mut Vec<f32>) {
    match (shape, strides) {
        ([n], [s]) => out.extend((0..*n).map(|i| data[base + i * s])),
        ([n, inner @ ..], [s, rest @ ..]) => {
            for i in 0..*n {
                walk(data, inner, rest, base + i * s, out);
            }
        }
        _ => {}
    }
}

/// The inverse permutation of `axes`.
fn inverse(axes: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inv[a] = i;
    }
    inv
}

/// Each layer's weight and bias layouts.
fn layouts(model: &Autoencoder) -> Vec<[TensorLayout; 2]> {
    model.layers.iter().map(|l| l.part().tensors()).collect()
}

/// Every parameter and running estimate of `model` as the model file stores it: name, PyTorch
/// shape, values (`num_batches_tracked` left out).
pub fn torch_tensors(model: &Autoencoder) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut tensors = Vec::new();
    for (((layer, layouts), pair), running) in
        model.layers.iter().zip(layouts(model)).zip(model.params.chunks(2)).zip(&model.running)
    {
        // A layer without parameters (a VAE's sampling) has none.
        for ((param, layout), name) in
            pair.iter().zip(layouts).zip(PARAM_NAMES).filter(|((_, l), _)| l.values() > 0)
        {
            let values = permute(param, &layout.engine, &layout.axes);
            tensors.push((format!("{}.{name}", layer.name), layout.stored, values));
        }
        if let Some(r) = running {
            tensors.push((format!("{}.running_mean", layer.name), vec![r.mean.len()], r.mean.clone()));
            tensors.push((format!("{}.running_var", layer.name), vec![r.var.len()], r.var.clone()));
        }
    }
    tensors
}

/// A tensor to write. Its bytes are made only as the file is written, one tensor at a time, so a
/// checkpoint never holds the model and its moments twice over as bytes.
pub struct Tensor<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Values<'a>,
}

/// A tensor's values.
pub enum Values<'a> {
    F32(std::borrow::Cow<'a, [f32]>),
    I64(i64),
}

impl safetensors::View for &Tensor<'_> {
    fn dtype(&self) -> Dtype {
        match self.values {
            Values::F32(_) => Dtype::F32,
            Values::I64(_) => Dtype::I64,
        }
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.values {
            Values::F32(v) => v.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into(),
            Values::I64(v) => v.to_le_bytes().to_vec().into(),
        }
    }

    fn data_len(&self) -> usize {
        match &self.values {
            Values::F32(v) => 4 * v.len(),
            Values::I64(_) => 8,
        }
    }
}

/// Writes the model, its config and `recipe` to `path`, atomically (see [`crate::fs::write_atomic`]).
pub fn save(model: &Autoencoder, recipe: &DataRecipe, path: &Path) -> Result<(), CheckpointError> {
    save_with(model, recipe, Vec::new(), Vec::new(), path)
}

/// [`save`] with `extra` tensors and metadata entries beside the model's (a training checkpoint's
/// optimiser state).
pub fn save_with(
    model: &Autoencoder,
    recipe: &DataRecipe,
    extra: Vec<Tensor<'_>>,
    extra_metadata: Vec<(String, String)>,
    path: &Path,
) -> Result<(), CheckpointError> {
    let failed =
        |e: &dyn std::fmt::Display| CheckpointError::Write { path: path.into(), reason: e.to_string() };
    let mut tensors: Vec<Tensor<'_>> = torch_tensors(model)
        .into_iter()
        .map(|(name, shape, values)| Tensor { name, shape, values: Values::F32(values.into()) })
        .collect();
    for (layer, running) in model.layers.iter().zip(&model.running) {
        if let Some(r) = running {
            let name = format!("{}.num_batches_tracked", layer.name);
            tensors.push(Tensor { name, shape: vec![], values: Values::I64(r.batches as i64) });
        }
    }
    tensors.extend(extra);
    let mut metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        (BIAS_ORDER.to_string(), "pytorch".to_string()),
        ("model".to_string(), serde_json::to_string(&model.config).expect("a model config serialises")),
        ("data".to_string(), serde_json::to_string(recipe).expect("a data recipe serialises")),
        ("layers".to_string(), serde_json::to_string(&model.describe()).expect("a description serialises")),
        (
            "preprocessing".to_string(),
            serde_json::to_string(&Preprocessing::of(model, recipe)).expect("preprocessing serialises"),
        ),
    ]);
    metadata.extend(extra_metadata);
    let views = tensors.iter().map(|t| (t.name.clone(), t));
    // Streamed into the temporary file tensor by tensor, then its header sorted in place.
    write_atomic_by(path, |tmp| {
        safetensors::serialize_to_file(views, Some(metadata), tmp).map_err(std::io::Error::other)?;
        sort_header_of_file(tmp)
    })
    .map_err(|e| failed(&e))
}

/// [`sort_header`] of the safetensors file at `path`, rewritten in place (the same length).
fn sort_header_of_file(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, Write};
    let mut file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)?;
    let mut head = len.to_vec();
    head.resize(8 + u64::from_le_bytes(len) as usize, 0);
    file.read_exact(&mut head[8..])?;
    sort_header(&mut head).map_err(std::io::Error::other)?;
    file.seek(std::io::SeekFrom::Start(0))?;
    file.write_all(&head)
}

/// Sorts the keys of a serialised safetensors header in place. safetensors writes its metadata map
/// in hash order, which changes from one process to the next; sorted, a model file depends on the
/// model alone (two runs with the same seed write the same bytes).
fn sort_header(bytes: &mut [u8]) -> Result<(), String> {
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = &mut bytes[8..8 + len];
    // Without serde_json's `preserve_order`, its maps are B-trees: they serialise sorted.
    let value = serde_json::from_slice::<serde_json::Value>(header).map_err(|e| e.to_string())?;
    let sorted = serde_json::to_vec(&value).expect("a JSON value serialises");
    // The same entries, compact: as long as safetensors' own header before its padding.
    if sorted.len() > len {
        return Err("the sorted model header grew".into());
    }
    header[..sorted.len()].copy_from_slice(&sorted);
    header[sorted.len()..].fill(b' ');
    Ok(())
}

/// The file [`load`] reads for `path` (a model file, or a run directory holding one).
fn model_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("model.safetensors")
    } else {
        path.to_path_buf()
    }
}

/// A model file's header: its network, its data recipe, and what [`load`] holds at its peak (the
/// file read whole and the largest tensor's values on their way, `other`, beside the parameters
/// built from them), read without its tensors.
pub struct Header {
    pub config: ModelConfig,
    pub recipe: DataRecipe,
    pub loading: MemoryNeed,
}

/// Reads the header of the model at `path` (a model file, or a run directory holding one).
pub fn header(path: &Path) -> Result<Header, CheckpointError> {
    let path = model_file(path);
    let io = |cause| CheckpointError::Io { path: path.clone(), cause };
    let not_st = |reason: String| CheckpointError::NotSafetensors { path: path.clone(), reason };
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut n = [0u8; 8];
    file.read_exact(&mut n).map_err(|_| not_st("shorter than its header's length".into()))?;
    let n = u64::from_le_bytes(n);
    // safetensors' own bound on a header.
    if n > 100_000_000 || n > len - 8 {
        return Err(not_st(format!("a header of {n} bytes in a file of {len}")));
    }
    let mut header = vec![0; n as usize];
    file.read_exact(&mut header).map_err(io)?;
    let metadata: Metadata = serde_json::from_slice(&header).map_err(|e| not_st(e.to_string()))?;
    if 8 + n + metadata.data_len() as u64 != len {
        return Err(not_st(format!("the header describes {} bytes of tensors", metadata.data_len())));
    }
    let (config, recipe) = described(metadata.metadata().as_ref(), &path)?;
    let largest = metadata.tensors().values().map(|t| t.data_offsets.1 - t.data_offsets.0).max().unwrap_or(0);
    let loading = MemoryNeed {
        parameters: metadata.data_len() as u64,
        other: len.saturating_add(largest as u64),
        ..MemoryNeed::default()
    };
    Ok(Header { config, recipe, loading })
}

/// The network and data recipe a model file's metadata describes.
fn described(
    meta: Option<&HashMap<String, String>>,
    path: &Path,
) -> Result<(ModelConfig, DataRecipe), CheckpointError> {
    let field = |key: &str| meta.and_then(|m| m.get(key)).map(String::as_str);
    if !field("format").is_some_and(|f| FORMATS.contains(&f)) {
        return Err(CheckpointError::NotOurs { path: path.into() });
    }
    let invalid = |problem: String| CheckpointError::Invalid { path: path.into(), problem };
    let config: ModelConfig = serde_json::from_str(field("model").unwrap_or(""))
        .map_err(|e| invalid(format!("model config in metadata: {e}")))?;
    let recipe: DataRecipe = serde_json::from_str(field("data").unwrap_or(""))
        .map_err(|e| invalid(format!("data recipe in metadata: {e}")))?;
    Ok((config, recipe))
}

/// Reads a model written by [`save`]; `path` may also be a run directory holding `model.safetensors`.
pub fn load(path: &Path) -> Result<(Autoencoder, DataRecipe), CheckpointError> {
    let path = model_file(path);
    let bytes = std::fs::read(&path).map_err(|cause| CheckpointError::Io { path: path.clone(), cause })?;
    from_bytes(&bytes, &path)
}

/// [`load`] of a model file's bytes; `path` names it in errors.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<(Autoencoder, DataRecipe), CheckpointError> {
    let path = path.to_path_buf();
    let not_st = |e: safetensors::SafeTensorError| CheckpointError::NotSafetensors {
        path: path.clone(),
        reason: e.to_string(),
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(not_st)?;
    let (config, recipe) = described(metadata.metadata().as_ref(), &path)?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    let invalid = |problem: String| CheckpointError::Invalid { path: path.clone(), problem };
    // The metadata can describe any model: its parameters must be in the file before they are
    // allocated.
    let need = Autoencoder::memory_need(&config, 1, 1, false)
        .map_err(|e| invalid(format!("model config in metadata: {e}")))?;
    if need.parameters > bytes.len() as u64 {
        return Err(invalid(format!(
            "the metadata describes {} of parameters but the file holds {} bytes",
            crate::memory::Bytes(need.parameters),
            bytes.len()
        )));
    }
    let mut model =
        Autoencoder::zeros(&config).map_err(|e| invalid(format!("model config in metadata: {e}")))?;
    // A v2 file's description must be the network its config makes (v1 files have none).
    if let Some(layers) = meta.get("layers") {
        let described: Description =
            serde_json::from_str(layers).map_err(|e| invalid(format!("layers in metadata: {e}")))?;
        if described != model.describe() {
            return Err(invalid(
                "the `layers` metadata does not describe the network of its `model` config".into(),
            ));
        }
    }
    let tensors = SafeTensors::deserialize(bytes).map_err(not_st)?;
    let pytorch_bias = meta.get(BIAS_ORDER).map(String::as_str) == Some("pytorch");
    let names: Vec<String> = model.layers.iter().map(|l| l.name.clone()).collect();
    for (i, (name, layouts)) in names.iter().zip(layouts(&model)).enumerate() {
        for (p, (layout, param)) in
            layouts.iter().zip(PARAM_NAMES).enumerate().filter(|(_, (l, _))| l.values() > 0)
        {
            let values =
                read_tensor(&tensors, &format!("{name}.{param}"), &layout.stored).map_err(&invalid)?;
            // Older files wrote every bias in the engine's order.
            let as_written = p == 1 && !pytorch_bias;
            model.params[2 * i + p] = if as_written {
                values
            } else {
                permute(&values, &layout.permuted(), &inverse(&layout.axes))
            };
        }
        if let Some(running) = &mut model.running[i] {
            let c = running.mean.len();
            running.mean = read_tensor(&tensors, &format!("{name}.running_mean"), &[c]).map_err(&invalid)?;
            running.var = read_tensor(&tensors, &format!("{name}.running_var"), &[c]).map_err(&invalid)?;
            if running.var.iter().any(|&v| v < 0.0) {
                return Err(invalid(format!("tensor `{name}.running_var` holds negative variances")));
            }
            let key = format!("{name}.num_batches_tracked");
            running.batches = match tensors.tensor(&key) {
                Ok(t) if t.dtype() == Dtype::I64 && t.shape().is_empty() => {
                    i64::from_le_bytes(t.data().try_into().expect("8 bytes")).max(0) as u64
                }
                _ => return Err(invalid(format!("tensor `{key}` is missing or not an int64 scalar"))),
            };
        }
    }
    Ok((model, recipe))
}

fn read_tensor(tensors: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let t = tensors.tensor(name).map_err(|_| format!("tensor `{name}` is missing"))?;
    if t.dtype() != Dtype::F32 || t.shape() != shape {
        return Err(format!("tensor `{name}` is {:?} {:?}, expected F32 {shape:?}", t.dtype(), t.shape()));
    }
    let values: Vec<f32> =
        t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(format!("tensor `{name}` holds NaN or infinite values"));
    }
    Ok(values)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::PaddingMode;
    use safetensors::tensor::TensorView;

    #[test]
    fn permute_moves_axes() {
        // A 2×3 matrix transposed.
        assert_eq!(permute(&[1., 2., 3., 4., 5., 6.], &[2, 3], &[1, 0]), [1., 4., 2., 5., 3., 6.]);
        let axes = [3, 2, 0, 1];
        let data: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let there = permute(&data, &[1, 2, 3, 4], &axes);
        let layout = TensorLayout { engine: vec![1, 2, 3, 4], axes: axes.to_vec(), stored: vec![] };
        let permuted = layout.permuted();
        assert_eq!(permute(&there, &permuted, &inverse(&axes)), data);
        // Every value of a 2×3×4×5 tensor where its axes put it, by index.
        let data: Vec<f32> = (0..120).map(|v| v as f32).collect();
        let out = permute(&data, &[2, 3, 4, 5], &axes);
        for (i0, i1, i2, i3) in (0..120).map(|f| (f / 60, f / 20 % 3, f / 5 % 4, f % 5)) {
            let (from, to) = (((i0 * 3 + i1) * 4 + i2) * 5 + i3, ((i3 * 4 + i2) * 2 + i0) * 3 + i1);
            assert_eq!(out[to], data[from], "{:?}", (i0, i1, i2, i3));
        }
    }

    #[test]
    fn save_and_load_round_trip_with_torch_shapes() {
        let model = Autoencoder::new(&ModelConfig::tutorial(PaddingMode::TfSame), 5).unwrap();
        let mut data = crate::config::RunConfig::preset(crate::config::Preset::Seed).data;
        data.split = crate::config::SplitBy::Subjects;
        let recipe = DataRecipe { data, seed: 5, noise: Noise::Gaussian { sigma: 0.2 }, loss: Loss::Bce };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&model, &recipe, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("encoder.conv0.weight").unwrap().shape(), [16, 1, 3, 3]);
        assert_eq!(st.tensor("code.weight").unwrap().shape(), [256, 32768]);
        assert_eq!(st.tensor("decoder.convt0.weight").unwrap().shape(), [1, 128, 3, 3]);
        assert_eq!(st.tensor("decoder.convt3.weight").unwrap().shape(), [32, 1, 3, 3]);
        // Engine conv0 weight [kh, kw, in, out] = [0, 1, 0, 5] is PyTorch's [5, 0, 0, 1].
        let torch: Vec<f32> = st
            .tensor("encoder.conv0.weight")
            .unwrap()
            .data()
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(torch[5 * 9 + 1], model.params[0][16 + 5]);
        let (back, r) = load(dir.path().join("m.safetensors").as_path()).unwrap();
        assert_eq!((back, r), (model, recipe));
    }

    /// `path`'s safetensors written again with its metadata changed by `edit`.
    fn rewrite_metadata(path: &Path, edit: impl FnOnce(&mut HashMap<String, String>)) {
        let bytes = std::fs::read(path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut metadata = meta.metadata().clone().unwrap();
        edit(&mut metadata);
        let views: Vec<(String, TensorView)> = st.tensors();
        std::fs::write(path, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
    }

    #[test]
    fn v2_files_describe_their_network_and_v1_files_still_load() {
        let config = crate::config::RunConfig::preset(crate::config::Preset::TutorialNet);
        let model = Autoencoder::new(&config.model, 1).unwrap();
        let recipe = DataRecipe { data: config.data, seed: 1, noise: Noise::None, loss: Loss::L2 };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&model, &recipe, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = meta.metadata().clone().unwrap();
        assert_eq!(meta["format"], "ae-autoencoder-v2");
        let described: Description = serde_json::from_str(&meta["layers"]).unwrap();
        assert_eq!(described, model.describe());
        let pre: Preprocessing = serde_json::from_str(&meta["preprocessing"]).unwrap();
        assert_eq!(
            (pre.layout.as_str(), pre.size, pre.channels, pre.range),
            ("nchw", [32, 32], 1, [0.0, 1.0])
        );
        // A description that is not the config's network is refused.
        rewrite_metadata(&path, |m| {
            m.insert("layers".into(), m["layers"].replace("\"relu\"", "\"sigmoid\""));
        });
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("does not describe the network"), "{err}");
        // A v1 file (no description) loads as it always did.
        rewrite_metadata(&path, |m| {
            m.remove("layers");
            m.remove("preprocessing");
            m.insert("format".into(), "ae-autoencoder-v1".into());
        });
        assert_eq!(load(&path).unwrap().0, model);
    }

    /// The default preset's data recipe with `seed`.
    fn default_recipe(seed: u64) -> DataRecipe {
        let data = crate::config::RunConfig::preset(crate::config::Preset::TutorialNet).data;
        DataRecipe { data, seed, noise: Noise::None, loss: Loss::L2 }
    }

    /// Saves `model` into a new temporary folder; returns the folder, the file and its bytes.
    fn saved(model: &Autoencoder, recipe: &DataRecipe) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(model, recipe, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (dir, path, bytes)
    }

    #[test]
    fn a_projected_decoder_round_trips_in_torch_layout() {
        let mut config = ModelConfig::tutorial(PaddingMode::Symmetric);
        config.code_length = 32;
        config.decoder_input_channels = Some(2);
        let model = Autoencoder::new(&config, 6).unwrap();
        let (_dir, path, bytes) = saved(&model, &default_recipe(6));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let project = st.tensor("decoder.project.weight").unwrap();
        assert_eq!(project.shape(), [2 * 16 * 16, 32]);
        // Output unit (c=1, h=0, w=3) in PyTorch's order is engine column (0·16 + 3)·2 + 1 = 7.
        let torch: Vec<f32> =
            project.data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let engine = &model.params[2 * (model.code_layer + 1)];
        assert_eq!(torch[(256 + 3) * 32 + 5], engine[5 * 512 + 7]);
        assert_eq!(load(&path).unwrap().0, model);
    }

    #[test]
    fn a_linear_path_round_trips_beside_the_network() {
        let mut config = ModelConfig::tutorial(PaddingMode::Symmetric);
        (config.code_length, config.linear_path) = (32, true);
        config.code_activation = crate::config::CodeActivation::Identity;
        let model = Autoencoder::new(&config, 8).unwrap();
        let (_dir, path, bytes) = saved(&model, &default_recipe(8));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        // nn.Linear's [out, in]: pixels to code, code to pixels.
        assert_eq!(st.tensor("linear.encode.weight").unwrap().shape(), [32, 1024]);
        assert_eq!(st.tensor("linear.decode.weight").unwrap().shape(), [1024, 32]);
        assert_eq!(st.tensor("linear.decode.bias").unwrap().shape(), [1024]);
        assert_eq!(load(&path).unwrap().0, model);
    }

    #[test]
    fn a_normalised_code_round_trips_as_torch_batch_norm() {
        let mut config = ModelConfig::tutorial(PaddingMode::Symmetric);
        config.code_norm = crate::config::Norm::Batch;
        let mut model = Autoencoder::new(&config, 7).unwrap();
        let i = model.code_output();
        model.params[2 * i][3] = 1.5;
        model.params[2 * i + 1][4] = -0.25;
        let running = model.running[i].as_mut().unwrap();
        running.mean[5] = 0.75;
        running.var[6] = 2.5;
        running.batches = 1234;
        let recipe = default_recipe(7);
        let (_dir, path, bytes) = saved(&model, &recipe);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        for name in ["weight", "bias", "running_mean", "running_var"] {
            let t = st.tensor(&format!("code_norm.{name}")).unwrap();
            assert_eq!((t.dtype(), t.shape()), (Dtype::F32, &[256][..]), "{name}");
        }
        let tracked = st.tensor("code_norm.num_batches_tracked").unwrap();
        assert_eq!((tracked.dtype(), tracked.shape()), (Dtype::I64, &[][..]));
        assert_eq!(i64::from_le_bytes(tracked.data().try_into().unwrap()), 1234);
        assert_eq!(load(&path).unwrap().0, model);

        // A negative variance would make inference divide by the root of a negative number.
        model.running[i].as_mut().unwrap().var[0] = -1.0;
        save(&model, &recipe, &path).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("code_norm.running_var") && err.contains("negative"), "{err}");

        // A zero variance is a unit that never varied: it loads (inference adds ε).
        model.running[i].as_mut().unwrap().var[0] = 0.0;
        save(&model, &recipe, &path).unwrap();
        assert_eq!(load(&path).unwrap().0, model);

        // PyTorch writes `num_batches_tracked` as an int64 scalar; anything else is refused.
        for (dtype, shape) in [(Dtype::F64, vec![]), (Dtype::I64, vec![1])] {
            std::fs::write(&path, rewritten(&bytes, "code_norm.num_batches_tracked", dtype, shape.clone()))
                .unwrap();
            let err = load(&path).unwrap_err().to_string();
            assert!(
                err.contains("num_batches_tracked") && err.contains("int64 scalar"),
                "{dtype:?} {shape:?}: {err}"
            );
        }
        // A weight of the right size but another shape, or of the right shape in another dtype
        // (the same bytes as half as many f64 values), is refused, not misread.
        for (dtype, shape) in [(Dtype::F32, vec![32768, 256]), (Dtype::F64, vec![256, 16384])] {
            std::fs::write(&path, rewritten(&bytes, "code.weight", dtype, shape.clone())).unwrap();
            let err = load(&path).unwrap_err().to_string();
            assert!(err.contains("code.weight") && err.contains("expected F32 [256, 32768]"), "{err}");
        }
    }

    /// The file `bytes` with tensor `name`'s data relabelled as `dtype` of `shape`.
    pub(crate) fn rewritten(bytes: &[u8], name: &str, dtype: Dtype, shape: Vec<usize>) -> Vec<u8> {
        let tensors = SafeTensors::deserialize(bytes).unwrap();
        let metadata = SafeTensors::read_metadata(bytes).unwrap().1.metadata().clone();
        let views: Vec<(String, TensorView)> = tensors
            .tensors()
            .into_iter()
            .map(|(n, t)| {
                if n == name {
                    (n, TensorView::new(dtype, shape.clone(), t.data()).unwrap())
                } else {
                    (n, t)
                }
            })
            .collect();
        safetensors::serialize(views, metadata).unwrap()
    }

    #[test]
    fn a_code_that_reshapes_to_channels_keeps_its_units_in_order() {
        // Code 512 reshapes to 16×16×2 as TensorFlow does (H, W, C): `code.weight`'s rows are
        // the code's units in their own order; only its columns follow PyTorch's C,H,W flatten.
        let mut config = ModelConfig::tutorial(PaddingMode::Symmetric);
        config.code_length = 512;
        let model = Autoencoder::new(&config, 8).unwrap();
        let (_dir, path, bytes) = saved(&model, &default_recipe(8));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let code = st.tensor("code.weight").unwrap();
        assert_eq!(code.shape(), [512, 32768]);
        let torch: Vec<f32> =
            code.data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let engine = &model.params[2 * model.code_layer];
        // Input (c=0, h=0, w=0) is the first column in both orders.
        for unit in 0..512 {
            assert_eq!(torch[unit * 32768], engine[unit], "code unit {unit}");
        }
        assert_eq!(load(&path).unwrap().0, model);
    }

    #[test]
    fn the_header_is_sorted_so_equal_models_write_equal_bytes() {
        let model = Autoencoder::new(&ModelConfig::tutorial(PaddingMode::Symmetric), 9).unwrap();
        let recipe = default_recipe(9);
        let (_dir, path, first) = saved(&model, &recipe);
        let len = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&first[8..8 + len]).unwrap();
        let at =
            |key: &str| header.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key} in {header}"));
        assert!(
            at(BIAS_ORDER) < at("data") && at("data") < at("format") && at("format") < at("model"),
            "{header}"
        );
        // Each save's metadata map has its own hash order; sorted, the bytes agree.
        for _ in 0..4 {
            save(&model, &recipe, &path).unwrap();
            assert!(std::fs::read(&path).unwrap() == first);
        }
    }

    #[test]
    fn a_vae_round_trips_without_tensors_for_its_sampling() {
        let mut config = ModelConfig::tutorial(PaddingMode::Symmetric);
        (config.kind, config.code_length) = (crate::config::ModelKind::Vae, 16);
        config.settle();
        let model = Autoencoder::new(&config, 3).unwrap();
        let recipe = DataRecipe { loss: Loss::Bce, ..default_recipe(3) };
        let (_dir, path, bytes) = saved(&model, &recipe);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        // μ and log σ² heads in one tensor: rows 0..16 and 16..32.
        assert_eq!(st.tensor("code.weight").unwrap().shape(), [32, 32768]);
        assert!(st.names().iter().all(|n| !n.starts_with("sample.")), "{:?}", st.names());
        // The recipe names a loss other than l2, the default of files written before it.
        let data = |bytes: &[u8]| {
            SafeTensors::read_metadata(bytes).unwrap().1.metadata().clone().unwrap()["data"].clone()
        };
        assert!(data(&bytes).contains("\"loss\":\"bce\""), "{}", data(&bytes));
        let (_dir2, _, plain) = saved(&model, &default_recipe(3));
        assert!(!data(&plain).contains("loss"), "{}", data(&plain));
        assert_eq!(load(&path).unwrap(), (model, recipe));
    }

    #[test]
    fn sorting_a_header_keeps_its_length_and_refuses_to_grow_it() {
        let framed = |json: &str| -> Vec<u8> {
            let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
            bytes.extend(json.as_bytes());
            bytes
        };
        // Already compact, no padding: sorted in place, the same length.
        let mut bytes = framed(r#"{"b":1,"a":2}"#);
        sort_header(&mut bytes).unwrap();
        assert_eq!(&bytes[8..], br#"{"a":2,"b":1}"#);
        // A number serde_json writes longer (1e2 → 100.0) would overflow the header: refused.
        let mut bytes = framed(r#"{"a":1e2}"#);
        assert!(sort_header(&mut bytes).unwrap_err().contains("grew"));
    }

    #[test]
    fn foreign_and_broken_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        std::fs::write(&path, b"junk").unwrap();
        assert!(matches!(load(&path), Err(CheckpointError::NotSafetensors { .. })));
        let view = TensorView::new(Dtype::F32, vec![1], &[0u8; 4]).unwrap();
        safetensors::serialize_to_file([("w", view)], None, &path).unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, CheckpointError::NotOurs { .. }), "{err}");
    }

    #[test]
    fn the_header_alone_describes_the_model_and_what_loading_it_holds() {
        let model = Autoencoder::new(&crate::model::tiny(crate::config::PaddingMode::TfSame, 2), 0).unwrap();
        let recipe = default_recipe(7);
        let (dir, path, bytes) = saved(&model, &recipe);
        let header = header(dir.path().join("m.safetensors").as_path()).unwrap();
        let (loaded, loaded_recipe) = load(&path).unwrap();
        assert_eq!((&header.config, &header.recipe), (&loaded.config, &loaded_recipe));
        // Loading holds the file, the parameters built from it and one tensor's values on their way.
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let tensors: Vec<usize> = st.tensors().iter().map(|(_, t)| t.data().len()).collect();
        let params: usize = loaded.params.iter().map(|p| 4 * p.len()).sum();
        assert_eq!(header.loading.parameters as usize, tensors.iter().sum::<usize>());
        assert!(header.loading.parameters as usize >= params);
        assert_eq!(header.loading.other as usize, bytes.len() + tensors.iter().max().unwrap());
        // A header that promises more than the file holds, or a length past its end, is named.
        for cut in [bytes.len() - 1, 12] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = super::header(&path).map(|_| ()).unwrap_err();
            assert!(matches!(err, CheckpointError::NotSafetensors { .. }), "{err}");
        }
        let mut lying = bytes.clone();
        lying[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, &lying).unwrap();
        assert!(super::header(&path).map(|_| ()).unwrap_err().to_string().contains("a header of"));
    }

    #[test]
    fn metadata_describing_a_model_larger_than_the_file_is_refused_before_allocating() {
        let model = Autoencoder::new(&crate::model::tiny(crate::config::PaddingMode::TfSame, 2), 0).unwrap();
        let (_dir, path, _) = saved(&model, &default_recipe(0));
        let mut huge = model.config.clone();
        (huge.code_length, huge.encoder[0].filters) = (1 << 20, 1 << 16);
        let json = serde_json::to_string(&huge).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        let mut metadata = SafeTensors::read_metadata(&bytes).unwrap().1.metadata().clone().unwrap();
        metadata.insert("model".into(), json);
        let views: Vec<(String, TensorView)> = tensors
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, TensorView::new(t.dtype(), t.shape().to_vec(), t.data()).unwrap()))
            .collect();
        let forged = safetensors::serialize(views, Some(metadata)).unwrap();
        let err = from_bytes(&forged, &path).unwrap_err().to_string();
        assert!(err.contains("the metadata describes") && err.contains("but the file holds"), "{err}");
    }
}
