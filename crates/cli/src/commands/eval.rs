//! `ae eval`: a trained model's quality on a split beside PCA's; a denoiser's and a VAE's own figures.

use crate::inputs::{load_inputs_and_training, ModelInput};
use crate::outputs::{baseline_line, describe};
use ae::inference::vae_terms;
use ae::noise::Noise;
use ae::training::corrupt;
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    pub(crate) input: ModelInput,
    /// Also evaluate denoising under this noise [default: the noise the model was trained with, if any].
    #[arg(long)]
    pub(crate) noise: Option<Noise>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// A VAE's importance samples per image for its negative log-likelihood [default: 200].
    #[arg(long, default_value_t = 200)]
    pub(crate) nll_samples: usize,
}

pub(crate) fn run(args: EvalArgs) -> Result<()> {
    let (model, recipe, images, split, _, train, _) =
        load_inputs_and_training(&args.input, Some(args.nll_samples))?;
    let batch = args.input.batch_size;
    let noise = args.noise.unwrap_or(recipe.noise);
    // A denoiser sees the same seeded noise as its held-out evaluation during training.
    let noisy = (!noise.is_none()).then(|| corrupt(&images, noise, recipe.seed));
    let assessment = ae::assessment::assess(&model, &images, noisy.as_ref(), &train, recipe.seed, batch);
    let q = assessment.reconstruction;
    let denoising = assessment.denoising.map(|d| (d.noisy, d.quality));
    // A VAE's terms under the likelihood it was trained with; the draws are seeded by its run.
    let vae = model
        .is_variational()
        .then(|| vae_terms(&model, &images, recipe.loss, args.nll_samples, recipe.seed));
    let baseline = assessment.baseline.map_err(|e| log::warn!("no PCA baseline: {e}")).ok();
    if args.json {
        let mut value = serde_json::to_value(&q)?;
        value["split"] = split.into();
        if let Some(b) = &baseline {
            value["baseline"] = serde_json::to_value(b)?;
        }
        if let Some((noisy, denoised)) = &denoising {
            value["noise"] = noise.to_string().into();
            value["noisy"] = serde_json::to_value(noisy)?;
            value["denoised"] = serde_json::to_value(denoised)?;
        }
        if let Some(vae) = &vae {
            value["vae"] = serde_json::to_value(vae)?;
        }
        println!("{value}");
    } else {
        println!("{split}: {} images, {}, loss per sample {:.4}", q.images, describe(&q), q.loss_per_sample);
        if let Some((noisy, denoised)) = &denoising {
            println!("with noise {noise}: noisy inputs {}; denoised {}", describe(noisy), describe(denoised));
        }
        if let Some(b) = &baseline {
            let model_q = denoising.as_ref().map_or(&q, |(_, denoised)| denoised);
            println!("{}", baseline_line(b, model_q));
        }
        if let Some(v) = &vae {
            println!(
                "VAE ({}), nats per image: reconstruction {:.2}, KL {:.2}, ELBO {:.2}; \
                 NLL {:.2} ({} importance samples)",
                ae::loss::likelihood(recipe.loss),
                v.reconstruction,
                v.kl,
                v.elbo,
                v.nll,
                v.samples
            );
        }
    }
    Ok(())
}
