//! Training checkpoints: the model file plus everything a run needs to go on bit for bit — Adam's
//! moments and step count, the shuffled order, every random stream, the epochs so far and where
//! the epoch in progress stands — written atomically into the run directory.

use super::optimizer::Adam;
use super::Trainer;
use crate::checkpoint::{self, CheckpointError, DataRecipe};
use crate::model::{Autoencoder, CodeSums};
use crate::record::{BestEpoch, EpochStats};
use ae_engine::AdamMoments;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::SafeTensors;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where an epoch stands after some of its batches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochProgress {
    /// Batches done.
    pub batches: usize,
    /// Their summed reconstruction loss, code statistics and images.
    pub loss: f64,
    pub code: CodeSums,
    pub trained: usize,
    pub seconds: f64,
}

/// A random stream's exact position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// The 32-byte key, as hex.
    pub seed: String,
    pub stream: u64,
    /// The position in words, as a decimal string (a u128).
    pub word_pos: String,
}

impl StreamState {
    pub fn of(rng: &ChaCha8Rng) -> Self {
        let seed = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
        Self { seed, stream: rng.get_stream(), word_pos: rng.get_word_pos().to_string() }
    }

    pub fn to_rng(&self) -> Result<ChaCha8Rng, String> {
        use rand::SeedableRng;
        let bytes = (0..self.seed.len())
            .step_by(2)
            .map(|i| self.seed.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| format!("random stream key {:?} is not 64 hex digits", self.seed))?;
        let mut rng = ChaCha8Rng::from_seed(bytes.try_into().expect("32 bytes"));
        rng.set_stream(self.stream);
        let pos = self.word_pos.parse().map_err(|_| format!("stream position {:?}", self.word_pos))?;
        rng.set_word_pos(pos);
        Ok(rng)
    }
}

/// A trainer's state beside its model and Adam's moments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub steps: u64,
    /// The image order of the current epoch (each epoch shuffles the last one's).
    pub order: Vec<usize>,
    pub shuffle: StreamState,
    pub noise: StreamState,
    /// The augmentation's stream (absent in checkpoints of runs without one).
    #[serde(default)]
    pub augment: Option<StreamState>,
    /// Each layer's draws (a VAE's sampling).
    pub draws: Vec<StreamState>,
}

/// The run's progress: what a checkpoint's metadata holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// The epoch in progress, when the checkpoint was taken inside one.
    pub within: Option<EpochProgress>,
    pub history: Vec<EpochStats>,
    /// Whether the code was last reported saturated.
    pub saturated: bool,
    pub train_seconds: f64,
    /// The epoch whose weights are the run's `model.safetensors` so far (held-out runs).
    #[serde(default)]
    pub best: Option<BestEpoch>,
    /// Early stopping ended the run.
    #[serde(default)]
    pub stopped_early: bool,
    pub trainer: TrainerState,
    /// The thread count it trained with: with another, a resumed run's figures differ from an
    /// uninterrupted run's in the last digits (absent in older checkpoints).
    #[serde(default)]
    pub threads: Option<usize>,
}

/// What a checkpoint gives back.
pub struct Saved {
    pub model: Autoencoder,
    pub recipe: DataRecipe,
    pub state: RunState,
    pub moments: Vec<AdamMoments>,
}

impl Trainer {
    /// The state [`restore`](Self::restore) takes up again.
    pub fn state(&self) -> TrainerState {
        TrainerState {
            steps: self.optimizer.steps(),
            order: self.order.clone(),
            shuffle: StreamState::of(&self.shuffle_rng),
            noise: StreamState::of(&self.noise_rng),
            augment: (!self.augment.is_none()).then(|| StreamState::of(&self.augment_rng)),
            draws: self.acts.streams().map(StreamState::of).collect(),
        }
    }

    /// Takes up a saved state and Adam's moments (the model is the checkpoint's already).
    pub fn restore(&mut self, state: &TrainerState, moments: Vec<AdamMoments>) -> Result<(), String> {
        if !self.optimizer.restore(state.steps, moments) {
            return Err("the optimiser's moments do not fit the model's parameters".into());
        }
        if state.draws.len() != self.acts.streams().count() {
            return Err("one random stream per layer is needed".into());
        }
        for (rng, saved) in self.acts.streams_mut().zip(&state.draws) {
            *rng = saved.to_rng()?;
        }
        self.shuffle_rng = state.shuffle.to_rng()?;
        self.noise_rng = state.noise.to_rng()?;
        if let Some(augment) = &state.augment {
            self.augment_rng = augment.to_rng()?;
        }
        self.order = state.order.clone();
        Ok(())
    }
}

/// Writes the checkpoint atomically: the model file's tensors and metadata, Adam's moments as
/// `optimizer.<parameter>.exp_avg` / `.exp_avg_sq` (PyTorch's names), and `state` as the metadata
/// entry `training`.
pub fn save(
    trainer: &Trainer,
    recipe: &DataRecipe,
    state: &RunState,
    path: &Path,
) -> Result<(), CheckpointError> {
    let extra = trainer.optimizer.tensors();
    let json = serde_json::to_string(state).expect("a run state serialises");
    checkpoint::save_with(&trainer.model, recipe, extra, vec![("training".into(), json)], path)
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: &Path) -> Result<Saved, CheckpointError> {
    // Read once: the model comes from the same bytes as the optimiser's state.
    let bytes = std::fs::read(path).map_err(|cause| CheckpointError::Io { path: path.into(), cause })?;
    let (model, recipe) = checkpoint::from_bytes(&bytes, path)?;
    let invalid = |problem: String| CheckpointError::Invalid { path: path.into(), problem };
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| invalid(e.to_string()))?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| invalid(e.to_string()))?;
    let json = metadata.metadata().as_ref().and_then(|m| m.get("training").cloned());
    let json = json.ok_or_else(|| invalid("no training state: a model file, not a checkpoint".into()))?;
    let state: RunState = serde_json::from_str(&json).map_err(|e| invalid(format!("training state: {e}")))?;
    let moments = Adam::read_moments(&model, &tensors).map_err(invalid)?;
    Ok(Saved { model, recipe, state, moments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::Augment;
    use crate::config::{Loss, ModelConfig, PaddingMode, Preset, RunConfig};
    use crate::noise::Noise;
    use crate::record::CHECKPOINT;
    use crate::training::tests::blobs;
    use safetensors::tensor::Dtype;

    const NOISE: Noise = Noise::Gaussian { sigma: 0.1 };

    /// A trainer with every stream a state carries: the shuffle, the noise, the augmentation and
    /// (in `model`) dropout's masks.
    fn trainer(model: Autoencoder) -> Trainer {
        let mut training = RunConfig::preset(Preset::TutorialNet).training;
        (training.batch_size, training.augment) = (4, Augment { flip: true, shift: 1 });
        Trainer::new(model, &training, NOISE)
    }

    /// `trainer` saved into `dir` as the checkpoint of a run one epoch in.
    fn saved(trainer: &Trainer, dir: &Path) -> std::path::PathBuf {
        let path = dir.join(CHECKPOINT);
        let recipe = DataRecipe {
            data: RunConfig::preset(Preset::TutorialNet).data,
            seed: 0,
            noise: NOISE,
            loss: Loss::L2,
        };
        let state = RunState {
            epochs_done: 1,
            within: None,
            history: vec![],
            saturated: false,
            train_seconds: 0.0,
            best: None,
            stopped_early: false,
            trainer: trainer.state(),
            threads: None,
        };
        save(trainer, &recipe, &state, &path).unwrap();
        path
    }

    fn dropout_model() -> Autoencoder {
        Autoencoder::new(&ModelConfig { dropout: 0.2, ..crate::model::tiny(PaddingMode::TfSame, 4) }, 1)
            .unwrap()
    }

    #[test]
    fn a_trainer_saved_loaded_and_restored_goes_on_as_the_one_never_stopped() {
        // Through the file, as a resumed run takes it up: the restored trainer trains epoch 2 to
        // the never-stopped one's bits; a fresh one on the same weights (its streams and Adam's
        // moments from the start) does not, so the comparison can see a state left out.
        let data = blobs(10);
        let mut straight = trainer(dropout_model());
        straight.run_epoch(1, &data, |_, _| {});
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(&saved(&straight, dir.path())).unwrap();
        assert_eq!(loaded.state.trainer, straight.state());
        assert!(loaded.state.trainer.augment.is_some() && !loaded.state.trainer.draws.is_empty());
        // Without augmentation there is no augmentation stream to keep.
        let plain = Trainer::new(dropout_model(), &RunConfig::preset(Preset::Seed).training, NOISE);
        assert_eq!(plain.state().augment, None);
        let mut resumed = trainer(loaded.model.clone());
        resumed.restore(&loaded.state.trainer, loaded.moments).unwrap();
        let mut fresh = trainer(loaded.model);
        for t in [&mut straight, &mut resumed, &mut fresh] {
            t.run_epoch(2, &data, |_, _| {});
        }
        assert!(resumed.model.params == straight.model.params, "the restored trainer went elsewhere");
        assert!(fresh.model.params != straight.model.params, "a fresh trainer went the same way");
    }

    #[test]
    fn moments_of_another_shape_or_type_and_bad_stream_keys_are_refused() {
        let mut t = trainer(dropout_model());
        t.run_epoch(1, &blobs(10), |_, _| {});
        let dir = tempfile::tempdir().unwrap();
        let path = saved(&t, dir.path());
        let bytes = std::fs::read(&path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let (moment, n) = file
            .tensors()
            .into_iter()
            .map(|(name, view)| (name, view.data().len() / 4))
            .find(|(name, n)| name.ends_with(".exp_avg") && n % 2 == 0)
            .unwrap();
        // The same bytes in another shape (the right type), and as half as many float64 values.
        for (dtype, shape) in [(Dtype::F32, vec![n / 2, 2]), (Dtype::F64, vec![n / 2])] {
            let bad = dir.path().join("bad.safetensors");
            std::fs::write(&bad, crate::checkpoint::tests::rewritten(&bytes, &moment, dtype, shape)).unwrap();
            let err = load(&bad).err().expect("refused").to_string();
            assert!(err.contains(&moment) && err.contains(&format!("{n} float32 values")), "{err}");
        }
        // A stream's key must be 32 bytes of hex; a key that parses is taken up as it was.
        use rand::RngCore;
        let stream = t.state().shuffle;
        let (mut taken_up, mut original) = (stream.to_rng().unwrap(), t.shuffle_rng.clone());
        assert_eq!(StreamState::of(&taken_up), stream);
        assert_eq!([taken_up.next_u64(), taken_up.next_u64()], [original.next_u64(), original.next_u64()]);
        for key in [stream.seed[2..].to_string(), format!("zz{}", &stream.seed[2..])] {
            let bad = StreamState { seed: key, ..stream.clone() };
            assert!(bad.to_rng().unwrap_err().contains("is not 64 hex digits"));
        }
    }
}
