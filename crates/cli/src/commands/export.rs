//! `ae export`: a model as an ONNX graph or a PyTorch module with its training script.

use crate::flags::choice;
use crate::inputs::{beside_model, load_inputs_and_training, ModelInput, SplitChoice};
use ae::checkpoint::{self};
use ae::config::{Preset, RunConfig};
use ae::report::{save_npy, RunDir};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// model.onnx (encoder.onnx, decoder.onnx with --part), opset 17.
    Onnx,
    /// A directory with model.py, train.py, model.safetensors and the prepared images.
    Pytorch,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// A model file (model.safetensors) or a run directory holding one.
    pub(crate) model: PathBuf,
    #[arg(long, value_enum)]
    pub(crate) format: ExportFormat,
    /// With onnx: the whole network (images to reconstructions and codes), the encoder (images to
    /// codes) or the decoder (codes to images).
    #[arg(long, value_parser = choice::<ae::export::Part>(), default_value_t = ae::export::Part::All)]
    pub(crate) part: ae::export::Part,
    /// Output file (onnx) or directory (pytorch) to create; must not exist [default: model.onnx,
    /// encoder.onnx, decoder.onnx or pytorch/ beside the model].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// With pytorch: the dataset to prepare train.npy and holdout.npy from [default: the one the
    /// model was trained on].
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// With pytorch: leave the prepared images out.
    #[arg(long)]
    pub(crate) no_data: bool,
}

pub(crate) fn run(args: ExportArgs) -> Result<()> {
    use ae::export::{onnx, pytorch, Part};
    let (model, recipe) = checkpoint::load(&args.model)?;
    let preprocessing = checkpoint::Preprocessing::of(&model, &recipe);
    match args.format {
        ExportFormat::Onnx => {
            let name = match args.part {
                Part::All => "model.onnx",
                Part::Encoder => "encoder.onnx",
                Part::Decoder => "decoder.onnx",
            };
            let out = args.out.unwrap_or_else(|| beside_model(&args.model, name));
            if out.exists() {
                bail!("{} already exists; choose another --out or remove it", out.display());
            }
            let bytes = onnx::export(&model, args.part, &preprocessing);
            ae::fs::write_atomic(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
            let (input, output) = match args.part {
                Part::All => (onnx::IMAGE, format!("{} and {}", onnx::RECONSTRUCTION, onnx::CODE)),
                Part::Encoder => (onnx::IMAGE, onnx::CODE.to_string()),
                Part::Decoder => (onnx::CODE, onnx::RECONSTRUCTION.to_string()),
            };
            println!(
                "Wrote {} (ONNX opset {}, {}): input `{input}`, output {output}, batch axis `N`",
                out.display(),
                onnx::OPSET,
                ae::memory::Bytes(bytes.len() as u64)
            );
        }
        ExportFormat::Pytorch => {
            if args.part != Part::All {
                bail!("--part applies to --format onnx; the PyTorch module has encode() and decode()");
            }
            let out = args.out.unwrap_or_else(|| beside_model(&args.model, "pytorch"));
            if out.exists() {
                bail!("{} already exists; choose another --out or remove it", out.display());
            }
            // The run's training settings, where the model sits in its run directory.
            let config_path = beside_model(&args.model, "config.toml");
            let training = if config_path.exists() {
                RunConfig::from_toml_file(&config_path)?.training
            } else {
                RunConfig::preset(Preset::TutorialNet).training
            };
            let images = if args.no_data {
                None
            } else {
                // One read of the dataset: the held-out images (or, without a split, all of them,
                // which are the training images) and the training images.
                let holdout = recipe.data.holdout > 0.0;
                let split = Some(if holdout { SplitChoice::Holdout } else { SplitChoice::All });
                let input =
                    ModelInput { model: args.model.clone(), data: args.data.clone(), split, batch_size: 1 };
                let (_, _, shown, _, _, train, _) = load_inputs_and_training(&input, None)?;
                Some((train.to_images(), holdout.then_some(shown)))
            };
            let model_file =
                if args.model.is_dir() { args.model.join("model.safetensors") } else { args.model.clone() };
            let run = RunDir::create(&out)?;
            let dir = run.path();
            let write = |name: &str, bytes: &[u8]| {
                ae::fs::write_atomic(&dir.join(name), bytes).with_context(|| format!("cannot write {name}"))
            };
            write("model.py", pytorch::model_py(&model, &preprocessing).as_bytes())?;
            write("train.py", pytorch::train_py(&training, &recipe).as_bytes())?;
            let bytes = std::fs::read(&model_file)
                .with_context(|| format!("cannot read {}", model_file.display()))?;
            write("model.safetensors", &bytes)?;
            let mut written = vec!["model.py", "train.py", "model.safetensors"];
            if let Some((train, holdout)) = &images {
                for (name, images) in [("train.npy", Some(train)), ("holdout.npy", holdout.as_ref())] {
                    if let Some(images) = images {
                        let s = images.shape;
                        save_npy(
                            &dir.join(name),
                            &[images.len(), s.channels, s.height, s.width],
                            &images.to_nchw(),
                        )?;
                        written.push(name);
                    }
                }
            }
            let out = run.finish()?;
            println!(
                "Wrote {}: {}. Load with `from model import load`; carry on training with `python train.py` or `torchrun --nproc-per-node N train.py`",
                out.display(),
                written.join(", ")
            );
        }
    }
    Ok(())
}
