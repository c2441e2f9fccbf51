//! A run's recipe in one line, every automatic choice in it (the network's stages for this
//! input, the code, the linear path, augmentation): what `ae train` prints as a run starts.

use super::{strides, CodeActivation, ModelKind, Norm, RunConfig};

impl RunConfig {
    /// The recipe in one line, e.g. "default: conv 32/2-64/2-128/2-256/2 batch-normalised to a
    /// 2×2 map, a linear code of 256, the linear path from PCA, augmentation flip,shift:2, l2 loss,
    /// 1500 epochs, 10 % held out". Read from a settled config (`ModelConfig::settle`), it names
    /// the stages the input got.
    pub fn summary_line(&self) -> String {
        let m = &self.model;
        let specs = |v: &[super::ConvSpec]| {
            v.iter().map(|s| format!("{}/{}", s.filters, s.stride)).collect::<Vec<_>>().join("-")
        };
        let scale = strides(&m.encoder).max(1);
        let mut network = format!("conv {}", specs(&m.encoder));
        if m.conv_norm == Norm::Batch {
            network.push_str(" batch-normalised");
        }
        network.push_str(&format!(" to a {}×{} map", m.input[0] / scale, m.input[1] / scale));
        let code = match (m.kind, m.code_function()) {
            (ModelKind::Vae, _) => format!("a VAE's Gaussian code of {}", m.code_length),
            (_, CodeActivation::Identity) => format!("a linear code of {}", m.code_length),
            _ => format!("a sigmoid code of {}", m.code_length),
        };
        let code = if m.code_norm == Norm::Batch { format!("{code} (normalised)") } else { code };
        let path = if m.linear_path { "the linear path from PCA" } else { "no linear path" };
        let t = &self.training;
        let augment = if t.augment.is_none() {
            "no augmentation".to_string()
        } else {
            format!("augmentation {}", t.augment)
        };
        let mut parts = vec![network, code, path.to_string(), augment];
        if let Some(normal) = &self.data.normal {
            parts.push(format!("only classes {:?}", normal.classes));
        }
        if !self.noise.is_none() {
            parts.push(format!("noise {}", self.noise));
        }
        parts.push(format!("{} loss", t.loss));
        parts.push(format!("{} epochs", t.epochs));
        parts.push(match self.data.holdout {
            h if h > 0.0 => format!("{} % held out", (1e6 * 100.0 * h).round() / 1e6),
            _ => "nothing held out".to_string(),
        });
        format!("{}: {}", self.preset, parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Preset, RunConfig};

    #[test]
    fn the_line_names_what_the_preset_and_the_rules_chose() {
        let mut default = RunConfig::preset(Preset::Default);
        default.model.settle();
        assert_eq!(
            default.summary_line(),
            "default: conv 32/2-64/2-128/2-256/2 batch-normalised to a 2×2 map, a linear code of 256, \
             the linear path from PCA, augmentation flip,shift:2, l2 loss, 1500 epochs, 10 % held out"
        );
        // 28×28: the coarsest stages at stride 1 on a 7×7 map.
        let mut mnist = default.clone();
        mnist.model.input = [28, 28, 1];
        mnist.model.encoder = RunConfig::preset(Preset::Default).model.encoder;
        mnist.model.decoder = RunConfig::preset(Preset::Default).model.decoder;
        mnist.model.settle();
        assert!(mnist.summary_line().contains("conv 32/2-64/2-128/1-256/1 batch-normalised to a 7×7 map"));
        let mut seed = RunConfig::preset(Preset::SeedDenoise);
        seed.model.settle();
        assert_eq!(
            seed.summary_line(),
            "seed-denoise: conv 16/2-32/1-64/1-128/1 to a 16×16 map, a sigmoid code of 256, no linear path, \
             no augmentation, noise gaussian:0.2, l2 loss, 600 epochs, nothing held out"
        );
        let mut tutorial = RunConfig::preset(Preset::TutorialNet);
        tutorial.model.settle();
        assert!(tutorial.summary_line().contains("a sigmoid code of 256 (normalised), no linear path"));
    }
}
