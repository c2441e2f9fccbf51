//! `ae info`: what a model file holds, read from its header: the network layer by layer, its
//! parameters, and the data recipe it was trained with. No weights are read.

use crate::inputs::check_model_fits;
use ae::checkpoint;
use ae::config::ModelKind;
use ae::model::Autoencoder;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct InfoArgs {
    /// A model file (model.safetensors) or a run directory holding one.
    model: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `[c, h, w]` as `h×w×c`, `[n]` as `n`.
fn shape(dims: &[usize]) -> String {
    match dims {
        [c, h, w] => format!("{h}×{w}×{c}"),
        other => other.iter().map(usize::to_string).collect::<Vec<_>>().join("×"),
    }
}

pub(crate) fn run(args: InfoArgs) -> Result<()> {
    let header = checkpoint::header(&args.model)?;
    // The layers are rebuilt (with zero weights) to describe them.
    check_model_fits("describing the model", || Ok(header.loading))?;
    let model = Autoencoder::zeros(&header.config)?;
    let description = model.describe();
    let recipe = &header.recipe;
    if args.json {
        let value = serde_json::json!({
            "kind": header.config.kind,
            "parameters": model.parameter_count(),
            "code_length": header.config.code_length,
            "layers": description,
            "data": recipe.data,
            "seed": recipe.seed,
            "noise": recipe.noise.to_string(),
            "loss": recipe.loss,
        });
        println!("{value}");
        return Ok(());
    }
    let kind = match header.config.kind {
        ModelKind::Autoencoder => "an autoencoder",
        ModelKind::Vae => "a variational autoencoder",
    };
    let [h, w, c] = header.config.input;
    println!(
        "{}: {kind} of {h}×{w}×{c} images, a code of {}, {} parameters",
        args.model.display(),
        header.config.code_length,
        model.parameter_count()
    );
    let data = recipe.data.path.as_ref().map_or(recipe.data.dataset.to_string(), |p| p.display().to_string());
    println!("trained on {data} (seed {}, noise {}, loss {})", recipe.seed, recipe.noise, recipe.loss);
    for step in &description.steps {
        let op = serde_json::to_value(&step.op)?;
        let name = op["op"].as_str().unwrap_or("?").to_string();
        println!(
            "  {:<18} {:<16} {:<8} {} → {}",
            step.name,
            name,
            serde_json::to_value(step.activation)?.as_str().unwrap_or("?"),
            shape(&step.input),
            shape(&step.output)
        );
    }
    Ok(())
}
