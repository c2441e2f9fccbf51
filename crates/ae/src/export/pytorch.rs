//! PyTorch export: `model.py`, an `nn.Module` built from the model's description (embedded in it),
//! and `train.py`, which carries on training it with the run's loss, noise and optimiser, on one
//! process or many under `torchrun` (DDP). The Python sources are `model.py` and `train.py` beside
//! this file; the export fills in their JSON.

use crate::checkpoint::{DataRecipe, Preprocessing};
use crate::config::TrainingConfig;
use crate::model::Autoencoder;
use serde::Serialize;

const MODEL_PY: &str = include_str!("model.py");
const TRAIN_PY: &str = include_str!("train.py");

/// JSON for a Python raw triple-quoted string (`r"""…"""`): the one sequence that would end it
/// is written with an escape JSON reads back the same.
fn embedded(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("export settings serialise").replace("\"\"\"", "\"\\u0022\"")
}

/// `model.py` for `model`.
pub fn model_py(model: &Autoencoder, preprocessing: &Preprocessing) -> String {
    MODEL_PY
        .replace("__DESCRIPTION__", &embedded(&model.describe()))
        .replace("__PREPROCESSING__", &embedded(preprocessing))
}

/// What `train.py` needs of the data recipe: the loss, the noise and the seed (not the data's
/// path: the export writes the prepared images beside it).
#[derive(Serialize)]
struct Recipe<'a> {
    loss: crate::config::Loss,
    noise: &'a crate::noise::Noise,
    seed: u64,
}

/// `train.py` for a run trained with `training` on data prepared by `recipe`.
pub fn train_py(training: &TrainingConfig, recipe: &DataRecipe) -> String {
    let recipe = Recipe { loss: recipe.loss, noise: &recipe.noise, seed: recipe.seed };
    // The model file leaves out a default rate scale; train.py is told every one.
    let mut settings = serde_json::to_value(training).expect("training settings serialise");
    settings["linear_lr_scale"] = training.linear_lr_scale.into();
    TRAIN_PY.replace("__TRAINING__", &embedded(&settings)).replace("__RECIPE__", &embedded(&recipe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Preset, RunConfig};

    #[test]
    fn train_py_is_told_the_linear_path_s_rate_even_when_it_is_the_default() {
        let config = RunConfig::preset(Preset::Default);
        let training = config.training.clone();
        let recipe = DataRecipe { data: config.data, seed: 0, noise: config.noise, loss: training.loss };
        let text = train_py(&training, &recipe);
        assert!(text.contains(&format!("\"linear_lr_scale\": {}", training.linear_lr_scale)), "{text}");
        assert!(!text.contains("__TRAINING__") && !text.contains("__RECIPE__"));
    }
}
