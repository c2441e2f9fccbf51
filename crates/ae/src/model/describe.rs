//! The network in PyTorch's and ONNX's terms: the sequence of operations a model file's metadata
//! records (`layers`, format `ae-autoencoder-v2`, see `docs/model-format.md`), from which the model
//! can be rebuilt without `ae`. The ONNX exporter and the PyTorch module `ae export` writes are built
//! from this description alone.
//!
//! Shapes are PyTorch's: `[C, H, W]` for feature maps, `[n]` for vectors, batch axis left out.

use super::Autoencoder;
use ae_engine::{Activation, ConvGeometry};
use serde::{Deserialize, Serialize};

/// One operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `nn.Conv2d` (weight `[out, in, k, k]`) over the input zero-padded by `pads`
    /// = `[top, left, bottom, right]`.
    Conv2d { kernel: usize, stride: usize, pads: [usize; 4] },
    /// `nn.ConvTranspose2d` (weight `[in, out, k, k]`) without padding, whose full output
    /// (`(n − 1)·stride + k` per side) loses `crop` = `[top, left, bottom, right]` and gains
    /// `output_padding` = `[bottom, right]` zero rows/columns; the bias is added to every output
    /// value after that (ONNX's `ConvTranspose` with `pads` and `output_padding`).
    ConvTranspose2d { kernel: usize, stride: usize, crop: [usize; 4], output_padding: [usize; 2] },
    /// `nn.Linear` (weight `[out, in]`).
    Linear,
    /// `nn.BatchNorm1d` with its running estimates (inference): `(x − mean) / √(var + eps)·γ + β`.
    BatchNorm1d { eps: f64 },
    /// `nn.BatchNorm2d` with its running estimates (inference), per channel of a `[C, H, W]` map.
    BatchNorm2d { eps: f64 },
    /// A VAE's code: the input is `[μ, log σ²]` (2·L values); training draws `μ + exp(½ log σ²)·ε`,
    /// inference returns `μ` (the first L values).
    GaussianSample,
    /// `nn.Dropout(p)`: the identity at inference.
    Dropout { p: f32 },
    /// `torch.flatten(x, 1)`: a `[C, H, W]` map into a vector in C, H, W order.
    Flatten,
    /// A vector into a `[C, H, W]` map, its values read in `order`.
    Unflatten { order: Order },
}

/// How a vector's values fill a feature map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// PyTorch's: `x.reshape(-1, C, H, W)`.
    Chw,
    /// TensorFlow's, as the tutorial reshapes its code: `x.reshape(-1, H, W, C).permute(0, 3, 1, 2)`.
    Hwc,
}

/// The function applied after an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationName {
    Identity,
    Relu,
    Sigmoid,
}

impl From<Activation> for ActivationName {
    fn from(a: Activation) -> Self {
        match a {
            Activation::Identity => Self::Identity,
            Activation::Relu => Self::Relu,
            Activation::Sigmoid => Self::Sigmoid,
        }
    }
}

/// A layer's operation and its input's and output's shapes.
pub struct Described {
    pub op: Op,
    pub input: Vec<usize>,
    pub output: Vec<usize>,
}

/// One step of the network: the parameters of `name` (`NAME.weight`, `NAME.bias`, …) in the model
/// file belong to it. Flatten and unflatten steps have none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    #[serde(flatten)]
    pub op: Op,
    pub activation: ActivationName,
    pub input: Vec<usize>,
    pub output: Vec<usize>,
}

/// The whole network at inference: `input` is an `[N, C, H, W]` float batch in [0, 1]; the steps run
/// in order; the output of step `code` is the code; the last step's output is the reconstruction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Description {
    pub input: Vec<usize>,
    pub steps: Vec<Step>,
    /// The name of the step whose output is the code.
    pub code: String,
    /// A linear path beside the steps (`model.linear_path`): `linear.encode`, `nn.Linear` from the
    /// input flattened in C, H, W order, adds to the code; `linear.decode`, from the code, adds to
    /// the last step's output unflattened in C, H, W order, which is then clipped to [0, 1].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub linear_path: bool,
}

impl Description {
    /// The index of the step whose output is the code.
    pub fn code_step(&self) -> usize {
        self.steps.iter().position(|s| s.name == self.code).expect("the code step is one of the steps")
    }
}

pub(super) fn chw(s: ae_engine::Shape) -> Vec<usize> {
    vec![s.channels, s.height, s.width]
}

/// The padding of a "same" convolution from `big` to `small` as `[before, after]` per side: what
/// the engine pads, and what the kernel's last window needs after (negative: rows it never reaches).
pub(super) fn sides(g: &ConvGeometry) -> ([usize; 2], [isize; 2]) {
    let need = |big: usize, small: usize, before: usize| {
        ((small - 1) * g.stride + g.kernel) as isize - big as isize - before as isize
    };
    (
        [g.pad_top, g.pad_left],
        [need(g.big.height, g.small.height, g.pad_top), need(g.big.width, g.small.width, g.pad_left)],
    )
}

impl Autoencoder {
    /// The network as PyTorch or ONNX would run it at inference.
    pub fn describe(&self) -> Description {
        let mut steps: Vec<Step> = Vec::new();
        let mut shape = chw(self.input_shape());
        let last = self.chain - 1;
        for (i, layer) in self.layers[..self.chain].iter().enumerate() {
            let mut activation = ActivationName::from(layer.activation);
            if i == last && self.output() == super::Output::Sigmoid {
                // The engine fuses the output's sigmoid with the loss; at inference it is there.
                activation = ActivationName::Sigmoid;
            }
            let Described { op, input, output } = layer.part().describe();
            // Reshapes between layers follow from the shapes: a map into a layer of vectors is
            // flattened (C, H, W order); a vector into a layer of maps is the code itself, which
            // the engine lays out in H, W, C order (TensorFlow's, as the tutorial reshapes it).
            let reshape = match (shape.len(), input.len()) {
                (3, 1) => Some(("flatten", Op::Flatten)),
                (1, 3) => Some(("unflatten", Op::Unflatten { order: Order::Hwc })),
                _ => None,
            };
            if let Some((what, op)) = reshape {
                let name =
                    format!("{}.{what}", if what == "flatten" { layer.name.as_str() } else { "decoder" });
                let activation = ActivationName::Identity;
                steps.push(Step { name, op, activation, input: shape.clone(), output: input.clone() });
            }
            // A linear layer that makes a feature map (the decoder's projection) writes its values
            // in C, H, W order, as the model file stores them.
            let map = (op == Op::Linear && output.len() == 3).then(|| output.clone());
            let flat = map.as_ref().map_or(output.clone(), |m| vec![m.iter().product()]);
            steps.push(Step { name: layer.name.clone(), op, activation, input, output: flat.clone() });
            shape = flat;
            if let Some(map) = map {
                let (name, op) = (format!("{}.unflatten", layer.name), Op::Unflatten { order: Order::Chw });
                let activation = ActivationName::Identity;
                steps.push(Step { name, op, activation, input: shape.clone(), output: map.clone() });
                shape = map;
            }
        }
        let code = self.layers[self.code_output()].name.clone();
        Description { input: chw(self.input_shape()), steps, code, linear_path: self.linear_path().is_some() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelConfig, Preset, RunConfig};

    fn steps(config: &ModelConfig) -> Vec<(String, Op)> {
        let model = Autoencoder::zeros(config).unwrap();
        model.describe().steps.into_iter().map(|s| (s.name, s.op)).collect()
    }

    fn op<'a>(steps: &'a [(String, Op)], name: &str) -> &'a Op {
        &steps.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no step {name}: {steps:?}")).1
    }

    #[test]
    fn each_presets_padding_is_spelled_out_per_layer() {
        // TensorFlow's "same": stride 2 pads one row and column at the bottom/right only, and
        // the transposed conv crops them there; stride 1 pads one all round.
        let seed = steps(&RunConfig::preset(Preset::Seed).model);
        assert_eq!(op(&seed, "encoder.conv0"), &Op::Conv2d { kernel: 3, stride: 2, pads: [0, 0, 1, 1] });
        assert_eq!(op(&seed, "encoder.conv1"), &Op::Conv2d { kernel: 3, stride: 1, pads: [1, 1, 1, 1] });
        let crop = Op::ConvTranspose2d { kernel: 3, stride: 2, crop: [0, 0, 1, 1], output_padding: [0, 0] };
        assert_eq!(op(&seed, "decoder.convt0"), &crop);
        // Symmetric: one on top/left; at stride 2 the kernel never reaches a row below (PyTorch's
        // padding=1 adds one that changes nothing), and the transposed conv crops top/left only.
        let default = steps(&RunConfig::preset(Preset::TutorialNet).model);
        assert_eq!(op(&default, "encoder.conv0"), &Op::Conv2d { kernel: 3, stride: 2, pads: [1, 1, 0, 0] });
        assert_eq!(op(&default, "encoder.conv1"), &Op::Conv2d { kernel: 3, stride: 1, pads: [1, 1, 1, 1] });
        let crop = Op::ConvTranspose2d { kernel: 3, stride: 2, crop: [1, 1, 0, 0], output_padding: [0, 0] };
        assert_eq!(op(&default, "decoder.convt0"), &crop);
        assert_eq!(op(&default, "code_norm"), &Op::BatchNorm1d { eps: 1e-5 });
    }

    #[test]
    fn the_code_is_flattened_in_chw_and_reshaped_as_the_decoder_takes_it() {
        let default = RunConfig::preset(Preset::TutorialNet).model;
        let s = steps(&default);
        assert_eq!(op(&s, "code.flatten"), &Op::Flatten);
        // 256 values make the 1×16×16 map; 512 two channels, in TensorFlow's H, W, C order.
        assert_eq!(op(&s, "decoder.unflatten"), &Op::Unflatten { order: Order::Hwc });
        let mut projected = ModelConfig { code_length: 100, ..default };
        projected.settle();
        let model = Autoencoder::zeros(&projected).unwrap();
        let d = model.describe();
        let unflatten = d.steps.iter().find(|s| s.name == "decoder.project.unflatten").unwrap();
        assert_eq!(
            (unflatten.op.clone(), unflatten.output.clone()),
            (Op::Unflatten { order: Order::Chw }, vec![16, 16, 16])
        );
        assert_eq!(d.code, "code_norm");
        assert_eq!(d.steps.last().unwrap().activation, ActivationName::Sigmoid);
    }
}
