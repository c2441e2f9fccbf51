//! Corruption applied to each batch as it is drawn: the inputs of a denoising autoencoder.
//! The loss always compares the reconstruction with the clean image.

use crate::config::error::ConfigError;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A noise model, written as `none`, `gaussian:SIGMA`, `hetero:MIN:MAX`, `salt-pepper:P` or `mask:P`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Noise {
    /// Clean inputs: a plain autoencoder.
    #[default]
    None,
    /// Homoscedastic Gaussian: `x + N(0, σ²)` with one σ for every pixel, clipped to [0, 1].
    Gaussian { sigma: f32 },
    /// Heteroscedastic Gaussian: every pixel of every sample draws its own σ uniformly from
    /// `[min, max]`, then `x + N(0, σ²)`, clipped to [0, 1].
    Heteroscedastic { min: f32, max: f32 },
    /// Salt and pepper: each pixel is set to 0 or 1 (equally likely) with probability `p`.
    SaltPepper { p: f32 },
    /// Masking (dropout of input pixels): each pixel is set to 0 with probability `p`.
    Masking { p: f32 },
}

impl Noise {
    pub fn is_none(&self) -> bool {
        matches!(self, Noise::None)
    }

    /// Writes a corrupted copy of `clean` into `noisy`, drawing from `rng`.
    pub fn apply(&self, clean: &[f32], noisy: &mut [f32], rng: &mut impl Rng) {
        assert_eq!(clean.len(), noisy.len());
        let gaussian = |x: f32, sigma: f32, rng: &mut _| {
            let z: f32 = Rng::sample(rng, StandardNormal);
            (x + sigma * z).clamp(0.0, 1.0)
        };
        for (y, &x) in noisy.iter_mut().zip(clean) {
            *y = match *self {
                Noise::None => x,
                Noise::Gaussian { sigma } => gaussian(x, sigma, rng),
                Noise::Heteroscedastic { min, max } => {
                    let sigma = if max > min { rng.random_range(min..max) } else { min };
                    gaussian(x, sigma, rng)
                }
                Noise::SaltPepper { p } => {
                    if rng.random::<f32>() < p {
                        if rng.random::<bool>() {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        x
                    }
                }
                Noise::Masking { p } => {
                    if rng.random::<f32>() < p {
                        0.0
                    } else {
                        x
                    }
                }
            };
        }
    }

    fn validate(self) -> Result<Self, String> {
        let ok = match self {
            Noise::None => true,
            Noise::Gaussian { sigma } => sigma.is_finite() && sigma >= 0.0,
            Noise::Heteroscedastic { min, max } => {
                min.is_finite() && max.is_finite() && 0.0 <= min && min <= max
            }
            Noise::SaltPepper { p } | Noise::Masking { p } => (0.0..1.0).contains(&p),
        };
        if ok {
            Ok(self)
        } else {
            Err(match self {
                Noise::SaltPepper { .. } | Noise::Masking { .. } => format!("{self}: p must be in [0, 1)"),
                _ => format!("{self}: σ must be ≥ 0 (and min ≤ max)"),
            })
        }
    }
}

impl fmt::Display for Noise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Noise::None => write!(f, "none"),
            Noise::Gaussian { sigma } => write!(f, "gaussian:{sigma}"),
            Noise::Heteroscedastic { min, max } => write!(f, "hetero:{min}:{max}"),
            Noise::SaltPepper { p } => write!(f, "salt-pepper:{p}"),
            Noise::Masking { p } => write!(f, "mask:{p}"),
        }
    }
}

impl FromStr for Noise {
    type Err = String;

    /// Parses and validates a noise spec; the error names the value and what was expected.
    fn from_str(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let num = |s: &str| s.parse::<f32>().map_err(|_| format!("`{spec}`: `{s}` is not a number"));
        let noise = match parts.as_slice() {
            ["none"] => Noise::None,
            ["gaussian", s] => Noise::Gaussian { sigma: num(s)? },
            ["hetero", a, b] => Noise::Heteroscedastic { min: num(a)?, max: num(b)? },
            ["salt-pepper", p] => Noise::SaltPepper { p: num(p)? },
            ["mask", p] => Noise::Masking { p: num(p)? },
            _ => {
                return Err(format!(
                    "`{spec}` is not a noise model: use none, gaussian:SIGMA, hetero:MIN:MAX, salt-pepper:P or mask:P"
                ))
            }
        };
        noise.validate()
    }
}

impl Serialize for Noise {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Noise {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Checks a noise model inside a config, naming its key.
pub fn check(key: &str, noise: Noise) -> Result<(), ConfigError> {
    noise.validate().map(drop).map_err(|e| ConfigError::new(key, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn stats(v: &[f32]) -> (f64, f64) {
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        (mean, var.sqrt())
    }

    fn corrupt(noise: Noise, clean: f32) -> (Vec<f32>, Vec<f32>) {
        let clean = vec![clean; 200_000];
        let mut noisy = vec![0.0; clean.len()];
        noise.apply(&clean, &mut noisy, &mut ChaCha8Rng::seed_from_u64(1));
        (clean, noisy)
    }

    #[test]
    fn gaussian_noise_has_its_sigma_and_is_clipped() {
        // Mid-grey: clipping at 0 and 1 is more than 2.5 σ away, so the spread is σ.
        let (clean, noisy) = corrupt(Noise::Gaussian { sigma: 0.2 }, 0.5);
        let diff: Vec<f32> = noisy.iter().zip(&clean).map(|(a, b)| a - b).collect();
        let (mean, sd) = stats(&diff);
        assert!(mean.abs() < 0.003 && (sd - 0.2).abs() < 0.003, "mean {mean} sd {sd}");
        let (_, noisy) = corrupt(Noise::Gaussian { sigma: 0.2 }, 0.95);
        assert!(noisy.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(noisy.iter().filter(|&&v| v == 1.0).count() > 50_000, "about 40 % clip at 1");
    }

    #[test]
    fn heteroscedastic_noise_mixes_sigmas() {
        // σ ~ U(0.05, 0.15): the variance of the mixture is E[σ²] = (0.15³ − 0.05³) / (3 · 0.1);
        // at mid-grey clipping is over 3 σ away.
        let (_, noisy) = corrupt(Noise::Heteroscedastic { min: 0.05, max: 0.15 }, 0.5);
        let (_, sd) = stats(&noisy);
        let expected = ((0.15f64.powi(3) - 0.05f64.powi(3)) / 0.3).sqrt();
        assert!((sd - expected).abs() < 0.002, "{sd} vs {expected}");
        // Heavy-tailed compared with one Gaussian of the same spread: the kurtosis exceeds 3.
        let m4 = noisy.iter().map(|&x| (x as f64 - 0.5).powi(4)).sum::<f64>() / noisy.len() as f64;
        assert!(m4 / sd.powi(4) > 3.1, "kurtosis {}", m4 / sd.powi(4));
    }

    #[test]
    fn salt_pepper_and_masking_hit_a_fraction_p() {
        let (_, noisy) = corrupt(Noise::SaltPepper { p: 0.1 }, 0.5);
        let salt = noisy.iter().filter(|&&v| v == 1.0).count() as f64 / noisy.len() as f64;
        let pepper = noisy.iter().filter(|&&v| v == 0.0).count() as f64 / noisy.len() as f64;
        assert!((salt - 0.05).abs() < 0.003 && (pepper - 0.05).abs() < 0.003, "{salt} {pepper}");
        let (_, noisy) = corrupt(Noise::Masking { p: 0.3 }, 0.5);
        let masked = noisy.iter().filter(|&&v| v == 0.0).count() as f64 / noisy.len() as f64;
        assert!((masked - 0.3).abs() < 0.004, "{masked}");
        assert!(noisy.iter().all(|&v| v == 0.0 || v == 0.5));
    }

    #[test]
    fn only_none_is_none() {
        assert!(Noise::None.is_none());
        for noise in ["gaussian:0", "hetero:0:0.1", "salt-pepper:0", "mask:0"] {
            assert!(!noise.parse::<Noise>().unwrap().is_none(), "{noise}");
        }
    }

    #[test]
    fn gaussian_noise_adds_sigma_times_the_streams_normals() {
        // x + σ·z, z the rng's standard normals in order, then clipped to [0, 1].
        let clean: Vec<f32> = (0..64).map(|i| i as f32 / 63.0).collect();
        let mut noisy = vec![0.0; clean.len()];
        Noise::Gaussian { sigma: 0.3 }.apply(&clean, &mut noisy, &mut ChaCha8Rng::seed_from_u64(5));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (x, y) in clean.iter().zip(&noisy) {
            let z: f32 = rng.sample(StandardNormal);
            assert_eq!(*y, (x + 0.3 * z).clamp(0.0, 1.0));
        }
        // A heteroscedastic range of one value is that Gaussian (no σ is drawn).
        let mut same = vec![0.0; clean.len()];
        let hetero = Noise::Heteroscedastic { min: 0.3, max: 0.3 };
        hetero.apply(&clean, &mut same, &mut ChaCha8Rng::seed_from_u64(5));
        assert_eq!(same, noisy);
    }

    #[test]
    fn specs_parse_round_trip_and_reject_bad_values() {
        for spec in ["none", "gaussian:0.2", "hetero:0.05:0.3", "salt-pepper:0.1", "mask:0.5"] {
            let noise: Noise = spec.parse().unwrap();
            assert_eq!(noise.to_string(), spec);
        }
        for bad in [
            "gaussian:-0.1",
            "mask:1",
            "mask:1.5",
            "salt-pepper:-0.2",
            "hetero:0.3:0.1",
            "gaussian:x",
            "blur:2",
        ] {
            let err = bad.parse::<Noise>().unwrap_err();
            assert!(err.contains(bad.split(':').next().unwrap()), "{bad}: {err}");
        }
        // The message names what the value must be.
        for (bad, must) in [("mask:1", "p must be in [0, 1)"), ("salt-pepper:-0.2", "p must be in [0, 1)")] {
            assert!(bad.parse::<Noise>().unwrap_err().contains(must), "{bad}");
        }
        assert!("hetero:0.3:0.1".parse::<Noise>().unwrap_err().contains("min ≤ max"));
    }
}
