//! ONNX export (opset 17): one node per step of the model's description, the model file's tensors
//! as initialisers, a symbolic batch axis `N`. The message types are prost's, generated from the
//! official `onnx.proto3` by `tools/onnx-proto` into `crates/ae/generated/onnx_proto.rs`.

use super::Part;
use crate::checkpoint::{torch_tensors, Preprocessing};
use crate::model::{ActivationName, Autoencoder, Op, Order};
use prost::Message;
use std::collections::HashMap;

/// The protobuf messages of `onnx.proto3`.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    include!("../../generated/onnx_proto.rs");
}

use proto::attribute_proto::AttributeType;
use proto::tensor_proto::DataType;
use proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// The operator set the graph uses: `Conv`, `ConvTranspose`, `Gemm`, `BatchNormalization`, `Slice`,
/// `Flatten`, `Reshape`, `Transpose`, `Relu`, `Sigmoid`, `Identity` (and for a linear path `Add` and
/// `Clip`), all unchanged since 17 or before.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
const IR_VERSION: i64 = 8;

/// The graph's input and output names.
pub const IMAGE: &str = "image";
pub const CODE: &str = "code";
pub const RECONSTRUCTION: &str = "reconstruction";

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: value, ..Default::default() }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f: value, ..Default::default() }
}

fn float_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn int_tensor(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: DataType::Int64 as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A float tensor value `[N, dims…]` with the symbolic batch axis `N`.
fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    use proto::tensor_shape_proto::{dimension::Value, Dimension};
    let batch = Dimension { value: Some(Value::DimParam("N".into())), ..Default::default() };
    let rest =
        dims.iter().map(|&d| Dimension { value: Some(Value::DimValue(d as i64)), ..Default::default() });
    let tensor = proto::type_proto::Tensor {
        elem_type: DataType::Float as i32,
        shape: Some(TensorShapeProto { dim: std::iter::once(batch).chain(rest).collect() }),
    };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(proto::type_proto::Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Nodes and initialisers as they are added.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Graph {
    fn node(&mut self, op: &str, name: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let output = name.to_string();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: name.into(),
            op_type: op.into(),
            attribute: attributes,
            ..Default::default()
        });
        output
    }
}

/// The ONNX model of `part` of `model` (inference mode: normalisations use their running
/// estimates, a VAE's code is its mean, dropout is the identity), serialised.
pub fn export(model: &Autoencoder, part: Part, preprocessing: &Preprocessing) -> Vec<u8> {
    let description = model.describe();
    let code_step = description.code_step();
    let range = match part {
        Part::Encoder => 0..code_step + 1,
        Part::Decoder => code_step + 1..description.steps.len(),
        Part::All => 0..description.steps.len(),
    };
    let tensors: HashMap<String, (Vec<usize>, Vec<f32>)> =
        torch_tensors(model).into_iter().map(|(name, shape, values)| (name, (shape, values))).collect();
    let mut g = Graph::default();
    // Adds a parameter tensor of the model file as an initialiser and returns its name.
    let param = |g: &mut Graph, name: String| -> String {
        let (shape, values) = &tensors[&name];
        g.initializers.push(float_tensor(&name, shape, values));
        name
    };
    let (input, input_shape) = match part {
        Part::Decoder => (CODE, description.steps[code_step].output.clone()),
        _ => (IMAGE, description.input.clone()),
    };
    let mut x = input.to_string();
    let mut code = None;
    let steps = &description.steps[range.clone()];
    for (offset, step) in steps.iter().enumerate() {
        let name = &step.name;
        let i = range.start + offset;
        // The last node of a step carries its name; intermediate ones add a suffix.
        let (w, b) = (format!("{name}.weight"), format!("{name}.bias"));
        let out = match &step.op {
            Op::Conv2d { kernel, stride, pads } => {
                let (w, b) = (param(&mut g, w), param(&mut g, b));
                let attributes = vec![
                    ints("kernel_shape", &[*kernel as i64; 2]),
                    ints("strides", &[*stride as i64; 2]),
                    ints("pads", &pads.map(|p| p as i64)),
                ];
                g.node("Conv", &format!("{name}/conv"), &[&x, &w, &b], attributes)
            }
            Op::ConvTranspose2d { kernel, stride, crop, output_padding } => {
                let (w, b) = (param(&mut g, w), param(&mut g, b));
                let attributes = vec![
                    ints("kernel_shape", &[*kernel as i64; 2]),
                    ints("strides", &[*stride as i64; 2]),
                    ints("pads", &crop.map(|p| p as i64)),
                    ints("output_padding", &output_padding.map(|p| p as i64)),
                ];
                g.node("ConvTranspose", &format!("{name}/conv_transpose"), &[&x, &w, &b], attributes)
            }
            Op::Linear => {
                let (w, b) = (param(&mut g, w), param(&mut g, b));
                g.node("Gemm", &format!("{name}/gemm"), &[&x, &w, &b], vec![int("transB", 1)])
            }
            Op::BatchNorm1d { eps } | Op::BatchNorm2d { eps } => {
                let (w, b) = (param(&mut g, w), param(&mut g, b));
                let mean = param(&mut g, format!("{name}.running_mean"));
                let var = param(&mut g, format!("{name}.running_var"));
                let attributes = vec![float("epsilon", *eps as f32)];
                g.node(
                    "BatchNormalization",
                    &format!("{name}/batch_norm"),
                    &[&x, &w, &b, &mean, &var],
                    attributes,
                )
            }
            Op::GaussianSample => {
                // Inference: the mean, the first half of the code layer's outputs.
                let latent = step.output[0] as i64;
                let consts = [("starts", 0), ("ends", latent), ("axes", 1)].map(|(what, v)| {
                    let n = format!("{name}/{what}");
                    g.initializers.push(int_tensor(&n, &[v]));
                    n
                });
                g.node("Slice", &format!("{name}/mean"), &[&x, &consts[0], &consts[1], &consts[2]], vec![])
            }
            Op::Dropout { .. } => g.node("Identity", &format!("{name}/identity"), &[&x], vec![]),
            Op::Flatten => g.node("Flatten", &format!("{name}/flatten"), &[&x], vec![int("axis", 1)]),
            Op::Unflatten { order } => {
                let [c, h, w] = [step.output[0], step.output[1], step.output[2]].map(|d| d as i64);
                let shape = format!("{name}/shape");
                match order {
                    Order::Chw => {
                        g.initializers.push(int_tensor(&shape, &[-1, c, h, w]));
                        g.node("Reshape", &format!("{name}/reshape"), &[&x, &shape], vec![])
                    }
                    Order::Hwc => {
                        g.initializers.push(int_tensor(&shape, &[-1, h, w, c]));
                        let hwc = g.node("Reshape", &format!("{name}/reshape"), &[&x, &shape], vec![]);
                        g.node(
                            "Transpose",
                            &format!("{name}/transpose"),
                            &[&hwc],
                            vec![ints("perm", &[0, 3, 1, 2])],
                        )
                    }
                }
            }
        };
        x = match step.activation {
            ActivationName::Identity => out,
            ActivationName::Relu => g.node("Relu", &format!("{name}/relu"), &[&out], vec![]),
            ActivationName::Sigmoid => g.node("Sigmoid", &format!("{name}/sigmoid"), &[&out], vec![]),
        };
        if i == code_step {
            if description.linear_path {
                let flat = g.node("Flatten", "linear.encode/flatten", &[input], vec![int("axis", 1)]);
                let (w, b) = (
                    param(&mut g, "linear.encode.weight".into()),
                    param(&mut g, "linear.encode.bias".into()),
                );
                let linear = g.node("Gemm", "linear.encode/gemm", &[&flat, &w, &b], vec![int("transB", 1)]);
                x = g.node("Add", "code/linear", &[&x, &linear], vec![]);
            }
            code = Some(x.clone());
        }
    }
    if description.linear_path && part != Part::Encoder {
        // The output plus the linear decoder's reading of the code, clipped to [0, 1].
        let code = code.clone().unwrap_or_else(|| input.to_string());
        let (w, b) =
            (param(&mut g, "linear.decode.weight".into()), param(&mut g, "linear.decode.bias".into()));
        let linear = g.node("Gemm", "linear.decode/gemm", &[&code, &w, &b], vec![int("transB", 1)]);
        let image = &description.input;
        let shape = "linear.decode/shape";
        g.initializers.push(int_tensor(shape, &[-1, image[0] as i64, image[1] as i64, image[2] as i64]));
        let map = g.node("Reshape", "linear.decode/reshape", &[&linear, shape], vec![]);
        let sum = g.node("Add", "output/linear", &[&x, &map], vec![]);
        let bounds = ["output/min", "output/max"];
        for (name, value) in bounds.iter().zip([0.0f32, 1.0]) {
            g.initializers.push(float_tensor(name, &[], &[value]));
        }
        x = g.node("Clip", "output/clip", &[&sum, bounds[0], bounds[1]], vec![]);
    }
    // Name the graph's outputs.
    let mut outputs = Vec::new();
    let last = &description.steps[range.end - 1];
    let mut output = |g: &mut Graph, from: &str, name: &str, dims: &[usize]| {
        g.node("Identity", name, &[from], vec![]);
        outputs.push(value_info(name, dims));
    };
    match part {
        Part::Encoder => output(&mut g, &x, CODE, &last.output),
        Part::Decoder => output(&mut g, &x, RECONSTRUCTION, &last.output),
        Part::All => {
            output(&mut g, &x, RECONSTRUCTION, &last.output);
            let code = code.expect("the whole network has a code");
            output(&mut g, &code, CODE, &description.steps[code_step].output);
        }
    }
    let graph = GraphProto {
        node: g.nodes,
        name: format!("ae-{part}"),
        initializer: g.initializers,
        input: vec![value_info(input, &input_shape)],
        output: outputs,
        ..Default::default()
    };
    let metadata = [
        ("ae.preprocessing", serde_json::to_string(preprocessing).expect("preprocessing serialises")),
        ("ae.model", serde_json::to_string(&model.config).expect("a model config serialises")),
    ];
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "ae".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        metadata_props: metadata
            .into_iter()
            .map(|(key, value)| StringStringEntryProto { key: key.into(), value })
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelConfig, ModelKind, Norm, Preset, RunConfig};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A model of `config` whose biases and running estimates are random too, so that a misplaced
    /// one shows.
    fn randomised(config: &ModelConfig) -> Autoencoder {
        let mut model = Autoencoder::new(config, 3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for bias in model.params.iter_mut().skip(1).step_by(2) {
            bias.iter_mut().for_each(|b| *b = rng.random_range(-0.2..0.2));
        }
        for r in model.running.iter_mut().flatten() {
            r.mean.iter_mut().for_each(|m| *m = rng.random_range(-0.5..0.5));
            r.var.iter_mut().for_each(|v| *v = rng.random_range(0.5..2.0));
        }
        if model.linear_path().is_some() {
            // Layers a linear path's model starts at zero: the network must show in the output.
            for layer in [model.code_layer, model.chain - 1] {
                model.params[2 * layer].iter_mut().for_each(|w| *w = rng.random_range(-0.05..0.05));
            }
        }
        model
    }

    /// Runs ONNX models, each on one input of the shape given, under ONNX Runtime
    /// (`scripts/run_onnx.py` under `AE_PYTHON`, or `python3`); each model's outputs, flattened.
    fn run(jobs: &[(Vec<u8>, &[usize], &[f32])]) -> Vec<Vec<Vec<f32>>> {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: String| dir.path().join(name);
        let mut args = vec![dir.path().as_os_str().to_owned()];
        for (k, (bytes, shape, input)) in jobs.iter().enumerate() {
            let (model, feed) = (file(format!("{k}.onnx")), file(format!("{k}.npy")));
            std::fs::write(&model, bytes).unwrap();
            let array = ndarray::ArrayViewD::from_shape(shape.to_vec(), input).unwrap();
            ndarray_npy::write_npy(&feed, &array).unwrap();
            args.extend([model.into_os_string(), feed.into_os_string()]);
        }
        let python = std::env::var_os("AE_PYTHON").unwrap_or_else(|| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/run_onnx.py");
        let out = std::process::Command::new(&python).arg(script).args(&args).output();
        let out =
            out.unwrap_or_else(|e| panic!("{python:?}: {e} (AE_PYTHON names a Python with onnxruntime)"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let outputs = |k| {
            let files = (0..).map(move |j| file(format!("{k}_{j}.npy"))).take_while(|f| f.exists());
            let read = |f| ndarray_npy::read_npy::<_, ndarray::ArrayD<f32>>(f).unwrap();
            files.map(|f| read(f).iter().copied().collect()).collect()
        };
        (0..jobs.len()).map(outputs).collect()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    /// Each part's ONNX graph under ONNX Runtime against `ae`'s own forward pass.
    /// The default preset's preprocessing, as a model file records it.
    fn preprocessing(model: &Autoencoder) -> Preprocessing {
        let recipe = crate::checkpoint::DataRecipe {
            data: RunConfig::preset(Preset::TutorialNet).data,
            seed: 0,
            noise: Default::default(),
            loss: Default::default(),
        };
        Preprocessing::of(model, &recipe)
    }

    fn check(config: &ModelConfig) {
        let model = randomised(config);
        let preprocessing = preprocessing(&model);
        let n = 3;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let images: Vec<f32> = (0..n * model.input_len()).map(|_| rng.random()).collect();
        let want = crate::inference::predict(
            &model,
            &crate::data::Images::new(model.input_shape(), images.clone()),
            n,
        );
        let images = crate::data::Images::new(model.input_shape(), images);
        let [h, w, c] = config.input;
        let shape = [n, c, h, w];
        let onnx = |part| export(&model, part, &preprocessing);
        let back = |values: &[f32]| crate::data::Images::from_nchw(model.input_shape(), values).data;
        let nchw = images.to_nchw();
        let runs = run(&[
            (onnx(Part::All), &shape, &nchw),
            (onnx(Part::Encoder), &shape, &nchw),
            (onnx(Part::Decoder), &[n, config.code_length], &want.codes),
        ]);
        let [got, encoder, decoder] = &runs[..] else { panic!("{} models ran", runs.len()) };
        let (all, codes) =
            (max_diff(&back(&got[0]), &want.reconstructions.data), max_diff(&got[1], &want.codes));
        let (enc, dec) =
            (max_diff(&encoder[0], &want.codes), max_diff(&back(&decoder[0]), &want.reconstructions.data));
        for (what, diff) in [("reconstructions", all), ("codes", codes), ("encoder", enc), ("decoder", dec)] {
            assert!(diff <= 1e-5, "{config:?}: {what} differ by {diff}");
        }
    }

    fn preset(preset: Preset) -> ModelConfig {
        RunConfig::preset(preset).model
    }

    #[test]
    fn the_file_names_its_ir_version_producer_and_the_model_it_came_from() {
        // The IR version of the opset, which ONNX Runtime requires; the metadata is how a reader
        // finds the preprocessing and the network without `ae`.
        let model = randomised(&preset(Preset::TutorialNet));
        let pre = preprocessing(&model);
        let file = ModelProto::decode(&export(&model, Part::All, &pre)[..]).unwrap();
        assert_eq!(file.ir_version, 8, "the IR version of opset 17 (ONNX 1.12)");
        assert_eq!(
            file.opset_import.iter().map(|o| (o.domain.as_str(), o.version)).collect::<Vec<_>>(),
            [("", 17)]
        );
        assert_eq!(
            (file.producer_name.as_str(), file.producer_version.as_str()),
            ("ae", env!("CARGO_PKG_VERSION"))
        );
        let meta: HashMap<&str, &str> =
            file.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
        assert_eq!(serde_json::from_str::<ModelConfig>(meta["ae.model"]).unwrap(), model.config);
        assert_eq!(meta["ae.preprocessing"], serde_json::to_string(&pre).unwrap());
        assert_eq!(meta.len(), 2);
    }

    #[test]
    fn the_graph_declares_its_shapes_and_the_normalisation_s_epsilon() {
        // The runs above feed three images, so a batch fixed at 3 would pass them, and ONNX's
        // default epsilon is the engine's (1e-5), so a missing attribute too: read from the file.
        use prost::Message;
        let model = randomised(&preset(Preset::TutorialNet));
        let graph = |part| {
            let bytes = export(&model, part, &preprocessing(&model));
            ModelProto::decode(&bytes[..]).unwrap().graph.unwrap()
        };
        let shape = |v: &ValueInfoProto| -> (String, Vec<String>) {
            use proto::tensor_shape_proto::dimension::Value;
            let Some(proto::type_proto::Value::TensorType(t)) = v.r#type.as_ref().unwrap().value.as_ref()
            else {
                panic!("{} is not a tensor", v.name)
            };
            let dims = t.shape.as_ref().unwrap().dim.iter().map(|d| match d.value.as_ref().unwrap() {
                Value::DimParam(p) => p.clone(),
                Value::DimValue(n) => n.to_string(),
            });
            (v.name.clone(), dims.collect())
        };
        let named =
            |name: &str, dims: &[&str]| (name.to_string(), dims.iter().map(|d| d.to_string()).collect());
        let (image, code) = (named(IMAGE, &["N", "1", "32", "32"]), named(CODE, &["N", "256"]));
        let reconstruction = named(RECONSTRUCTION, &["N", "1", "32", "32"]);
        let parts = [
            (Part::All, vec![image.clone()], vec![reconstruction.clone(), code.clone()]),
            (Part::Encoder, vec![image], vec![code.clone()]),
            (Part::Decoder, vec![code], vec![reconstruction]),
        ];
        for (part, inputs, outputs) in parts {
            let graph = graph(part);
            assert_eq!(graph.name, format!("ae-{part}"));
            assert_eq!(graph.input.iter().map(shape).collect::<Vec<_>>(), inputs, "{part}");
            assert_eq!(graph.output.iter().map(shape).collect::<Vec<_>>(), outputs, "{part}");
        }
        let graph = graph(Part::All);
        let norms: Vec<&NodeProto> =
            graph.node.iter().filter(|n| n.op_type == "BatchNormalization").collect();
        assert_eq!(norms.len(), 1, "the code's normalisation");
        let epsilon: Vec<(&str, f32)> = norms[0].attribute.iter().map(|a| (a.name.as_str(), a.f)).collect();
        assert_eq!(epsilon, [("epsilon", ae_engine::batch_norm::EPSILON as f32)]);
        // Every node named, once: what a viewer (Netron) and a runtime's errors show.
        let names: std::collections::HashSet<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
        assert!(names.len() == graph.node.len() && !names.contains(""), "{names:?}");
    }

    #[test]
    fn the_seed_preset_matches_under_onnx_runtime() {
        check(&preset(Preset::Seed));
    }

    #[test]
    fn the_default_preset_matches_under_onnx_runtime() {
        check(&preset(Preset::TutorialNet));
    }

    #[test]
    fn the_deep_preset_matches_under_onnx_runtime() {
        // Normalised feature maps (BatchNormalization on NCHW), a linear code; at 28×28 two of its
        // four stages stay stride 2.
        for input in [[32, 32, 1], [28, 28, 1]] {
            let mut config = ModelConfig { input, code_length: 32, ..preset(Preset::Default) };
            config.settle();
            check(&config);
        }
    }

    #[test]
    fn longer_codes_match_under_onnx_runtime() {
        // 512 reshapes to two channels (H, W, C order); 100 goes through `decoder.project`.
        for code_length in [512, 100] {
            let mut config = ModelConfig { code_length, ..preset(Preset::TutorialNet) };
            config.settle();
            check(&config);
        }
    }

    #[test]
    fn an_mnist_sized_model_matches_under_onnx_runtime() {
        let mut config = ModelConfig { input: [28, 28, 1], code_length: 32, ..preset(Preset::TutorialNet) };
        config.settle();
        check(&config);
    }

    #[test]
    fn a_vae_and_a_dropout_code_match_under_onnx_runtime() {
        let vae = ModelConfig {
            kind: ModelKind::Vae,
            code_norm: Norm::None,
            code_length: 16,
            ..preset(Preset::TutorialNet)
        };
        let mut vae = vae;
        vae.settle();
        check(&vae);
        check(&ModelConfig { dropout: 0.2, ..preset(Preset::TutorialNet) });
    }

    #[test]
    fn transposed_convolutions_with_output_padding_match_under_onnx_runtime() {
        // Configs the model accepts whose transposed convolutions need ONNX's `output_padding`
        // (the presets' never do): a kernel of 1 at stride 2 or 3 (whose full output, (n − 1)·s + 1,
        // falls short of n·s), beside a stride-3 stage of kernel 3; colour,
        // non-square inputs, both paddings.
        use crate::config::{ConvSpec, PaddingMode};
        let conv = |filters, stride| ConvSpec { filters, stride };
        let config = |input, kernel, stride, padding| ModelConfig {
            input,
            kernel,
            padding,
            encoder: vec![conv(4, stride), conv(6, 1)],
            decoder: vec![conv(6, stride), conv(4, 1)],
            code_length: 8,
            ..preset(Preset::TutorialNet)
        };
        for padding in [PaddingMode::TfSame, PaddingMode::Symmetric] {
            for (input, kernel, stride) in [([18, 12, 3], 3, 3), ([18, 12, 3], 1, 3), ([8, 10, 3], 1, 2)] {
                let mut config = config(input, kernel, stride, padding);
                config.settle();
                let model = Autoencoder::new(&config, 0).unwrap();
                let padded = model.describe().steps.iter().any(|step| {
                    matches!(step.op, crate::model::Op::ConvTranspose2d { output_padding, .. } if output_padding != [0, 0])
                });
                assert!(padded || kernel > 1, "{config:?} exports no output_padding");
                check(&config);
            }
        }
    }

    #[test]
    fn the_tutorial_network_s_linear_path_matches_under_onnx_runtime() {
        // Faces and MNIST (whose code is projected into the decoder's map).
        for (input, code_length) in [([32, 32, 1], 256), ([28, 28, 1], 32)] {
            let mut config = ModelConfig { input, code_length, ..preset(Preset::TutorialNet) };
            config.add_linear_path();
            config.settle();
            check(&config);
        }
    }
}
