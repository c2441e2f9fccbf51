//! Batch normalisation of each channel (`nn.BatchNorm1d` on a vector, `nn.BatchNorm2d` on a
//! feature map, whose channel's statistics run over the batch and the map's pixels): its weight
//! and bias are γ (starting at 1) and β, and it keeps running estimates of the mean and variance
//! for inference.

use super::describe::{Described, Op};
use super::layer::{Backward, Forward, Mode, Part, TensorLayout};
use ae_engine::{
    batch_norm_backward, batch_norm_forward_eval, batch_norm_forward_train, ParamGrads, RunningStats,
    Workspace,
};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNorm {
    pub channels: usize,
    /// Height and width of a feature map; `None`: a vector.
    pub map: Option<(usize, usize)>,
}

impl BatchNorm {
    /// Values per image: the NHWC map's pixels are rows of `channels`, as the batch's images are.
    fn len(&self) -> usize {
        self.map.map_or(1, |(h, w)| h * w) * self.channels
    }
}

impl Part for BatchNorm {
    fn input_len(&self) -> usize {
        self.len()
    }

    fn output_len(&self) -> usize {
        self.len()
    }

    fn tensors(&self) -> [TensorLayout; 2] {
        [TensorLayout::vector(self.channels), TensorLayout::vector(self.channels)]
    }

    fn init(&self, gamma: &mut [f32], _: &mut ChaCha8Rng) {
        gamma.fill(1.0);
    }

    fn running_stats(&self) -> Option<RunningStats> {
        Some(RunningStats::new(self.channels))
    }

    fn weight_decays(&self) -> bool {
        false
    }

    fn macs(&self) -> usize {
        0
    }

    fn kernel(&self) -> String {
        "batch-norm".into()
    }

    fn describe(&self) -> Described {
        let eps = ae_engine::batch_norm::EPSILON;
        let (op, shape) = match self.map {
            None => (Op::BatchNorm1d { eps }, vec![self.channels]),
            Some((h, w)) => (Op::BatchNorm2d { eps }, vec![self.channels, h, w]),
        };
        Described { op, input: shape.clone(), output: shape }
    }

    fn forward(&self, w: &[f32], b: &[f32], p: Forward, _: &mut Workspace) {
        match p.mode {
            Mode::Train(cache) => batch_norm_forward_train(p.x, w, b, p.act, p.y, &mut cache.stats),
            Mode::Eval(running) => {
                let running = running.expect("a normalisation keeps running estimates");
                batch_norm_forward_eval(p.x, w, b, running, p.act, p.y)
            }
        }
    }

    fn backward(&self, w: &[f32], p: Backward, grads: ParamGrads, _: &mut Workspace) {
        batch_norm_backward(p.x, w, p.act, p.y, p.dy, &p.cache.stats, p.dx, grads)
    }
}
