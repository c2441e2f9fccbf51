//! The linear baseline every model is measured against: PCA with as many components as the code
//! (a VAE's latents), fitted on the same training images, its reconstructions clipped to [0, 1].
//! PCA is the best linear autoencoder of that code length, so a model worth its training beats it.
//!
//! The principal directions come from faer: the eigenvectors of the training images' covariance
//! (`d × d`, accumulated over chunks of images in f64) when an image has at most
//! [`COVARIANCE_MAX_VALUES`] values, else a randomised SVD (Halko, Martinsson & Tropp 2011: a
//! Gaussian sketch of `k + 10` columns, four power iterations, each re-orthonormalised), which
//! reads the images a few times without ever holding them as one `n × d` matrix.

use crate::data::{Images, Pixels};
use crate::evaluation::{quality, Quality};
use faer::{Mat, Side};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Largest image (values per image) whose covariance is decomposed exactly; larger images take
/// the randomised SVD (a 4096² covariance took 9 s to decompose on 2 cores, the sketch of a
/// 64×64 set well under one).
pub const COVARIANCE_MAX_VALUES: usize = 2048;
/// Images converted to f64 at a time.
const CHUNK: usize = 512;
const OVERSAMPLE: usize = 10;
const POWER_ITERATIONS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("PCA needs at least two training images, got {0}")]
    TooFewImages(usize),
    #[error(
        "PCA with {components} components: the images have {values} values each (and at least 1 is needed)"
    )]
    Components { components: usize, values: usize },
    #[error("PCA's decomposition failed: {0}")]
    Decomposition(String),
}

/// How the principal directions were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The covariance's eigenvectors.
    Covariance,
    /// A randomised SVD.
    Randomised,
}

impl std::fmt::Display for Method {
    /// As serialised.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Covariance => "covariance",
            Method::Randomised => "randomised",
        })
    }
}

/// The most a PCA fit of `n` images of `d` values with `components` directions allocates: the
/// covariance (or the randomised SVD's `n × l` sketches), a chunk of images, the basis (bytes).
pub fn memory_need(n: usize, d: usize, components: usize) -> u64 {
    // As `fit` sizes them: the sketch's width and a chunk stop at the images (and the values).
    let l = (components + OVERSAMPLE).min(d).min(n) as u64;
    let chunk = CHUNK.min(n) as u64;
    let (n, d) = (n as u64, d as u64);
    let values =
        if d <= COVARIANCE_MAX_VALUES as u64 { 3 * d * d } else { 3 * n * l + 3 * d * l } + chunk * d * 2;
    8 * values
}

/// Where a model's linear path starts (`Autoencoder::start_linear_path`): the code's unit `j` is
/// `x·direction_j − offsets[j]`, and the output `mean + Σ_j gains[j]·code_j·direction_j`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearStart {
    pub offsets: Vec<f64>,
    pub gains: Vec<f64>,
}

/// A fitted PCA: the training images' mean and `k` orthonormal directions.
pub struct Pca {
    mean: Vec<f64>,
    /// `d × k`, one direction per column, by decreasing variance.
    basis: Mat<f64>,
    /// Each direction's variance over the training images.
    pub variances: Vec<f64>,
    pub method: Method,
}

/// Images `range`, each appended to a buffer by `row`, centred by `mean`: a `d × len` f64 matrix
/// with one image per column, so that each is written contiguously (faer's matrices are
/// column-major; filled a row per image, a 3072-value chunk's writes strode by the chunk's length).
fn centred(
    range: std::ops::Range<usize>,
    mean: &[f64],
    mut row: impl FnMut(usize, &mut Vec<f32>),
) -> Mat<f64> {
    let mut values = Vec::with_capacity(mean.len());
    let mut m = Mat::zeros(mean.len(), range.len());
    for (c, i) in range.enumerate() {
        values.clear();
        row(i, &mut values);
        for ((out, &v), &mu) in m.col_mut(c).iter_mut().zip(&values).zip(mean) {
            *out = v as f64 - mu;
        }
    }
    m
}

/// Images `range` of `pixels`, centred by `mean`, one per column.
fn centred_pixels(pixels: &Pixels, range: std::ops::Range<usize>, mean: &[f64]) -> Mat<f64> {
    centred(range, mean, |i, row| pixels.push_image(i, row))
}

fn chunks(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..n).step_by(CHUNK).map(move |start| start..(start + CHUNK).min(n))
}

/// An orthonormal basis of `m`'s columns (its thin QR's Q).
fn orthonormal(m: &Mat<f64>) -> Mat<f64> {
    m.qr().compute_thin_Q()
}

impl Pca {
    /// Fits `components` directions to `train`; `seed` draws the randomised SVD's sketch.
    pub fn fit(train: &Pixels, components: usize, seed: u64) -> Result<Self, BaselineError> {
        let (n, d) = (train.len(), train.shape().len());
        if n < 2 {
            return Err(BaselineError::TooFewImages(n));
        }
        if components == 0 || components > d {
            return Err(BaselineError::Components { components, values: d });
        }
        let mut mean = vec![0.0; d];
        let mut row = Vec::with_capacity(d);
        for i in 0..n {
            row.clear();
            train.push_image(i, &mut row);
            mean.iter_mut().zip(&row).for_each(|(m, &v)| *m += v as f64);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let scale = 1.0 / (n - 1) as f64;
        let (basis, variances, method) = if d <= COVARIANCE_MAX_VALUES {
            let mut cov = Mat::<f64>::zeros(d, d);
            for range in chunks(n) {
                let x = centred_pixels(train, range, &mean);
                cov += &x * x.transpose();
            }
            let eigen = cov
                .self_adjoint_eigen(Side::Lower)
                .map_err(|e| BaselineError::Decomposition(format!("{e:?}")))?;
            // Eigenvalues come in increasing order: the last `components` columns, reversed.
            let (u, s) = (eigen.U(), eigen.S());
            let basis = Mat::from_fn(d, components, |i, j| u[(i, d - 1 - j)]);
            let variances = (0..components).map(|j| s[d - 1 - j].max(0.0) * scale).collect();
            (basis, variances, Method::Covariance)
        } else {
            let l = (components + OVERSAMPLE).min(d).min(n);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let omega = Mat::from_fn(d, l, |_, _| StandardNormal.sample(&mut rng));
            // X·M, a block of rows at a time.
            let times = |m: &Mat<f64>| {
                let mut y = Mat::<f64>::zeros(n, m.ncols());
                for range in chunks(n) {
                    let x = centred_pixels(train, range.clone(), &mean);
                    y.as_mut().subrows_mut(range.start, range.len()).copy_from(x.transpose() * m);
                }
                y
            };
            // Xᵀ·M.
            let transposed_times = |m: &Mat<f64>| {
                let mut z = Mat::<f64>::zeros(d, m.ncols());
                for range in chunks(n) {
                    let x = centred_pixels(train, range.clone(), &mean);
                    z += &x * m.as_ref().subrows(range.start, range.len());
                }
                z
            };
            let mut q = orthonormal(&times(&omega));
            for _ in 0..POWER_ITERATIONS {
                let z = orthonormal(&transposed_times(&q));
                q = orthonormal(&times(&z));
            }
            // B = Qᵀ·X (l × d); its right singular vectors are X's principal directions.
            let b = transposed_times(&q).transpose().to_owned();
            let svd = b.thin_svd().map_err(|e| BaselineError::Decomposition(format!("{e:?}")))?;
            let (v, s) = (svd.V(), svd.S());
            let basis = Mat::from_fn(d, components.min(l), |i, j| v[(i, j)]);
            let variances = (0..components.min(l)).map(|j| s[j] * s[j] * scale).collect();
            (basis, variances, Method::Randomised)
        };
        Ok(Self { mean, basis, variances, method })
    }

    pub fn components(&self) -> usize {
        self.basis.ncols()
    }

    /// The training images' mean, per value.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Value `i` of direction `j`.
    pub fn direction(&self, i: usize, j: usize) -> f64 {
        self.basis[(i, j)]
    }

    /// A linear autoencoder's start at this PCA: coordinates `x·basis − mean·basis`, gains 1.
    pub fn start(&self) -> LinearStart {
        let mean = Mat::from_fn(1, self.mean.len(), |_, i| self.mean[i]);
        let offsets = &mean * &self.basis;
        LinearStart {
            offsets: (0..self.components()).map(|j| offsets[(0, j)]).collect(),
            gains: vec![1.0; self.components()],
        }
    }

    /// A linear denoiser's start: each direction's coordinate of a noisy image, centred on the
    /// noisy images' mean, scaled by the least-squares gain that best predicts the clean image's
    /// coordinate (for white noise of variance σ², Wiener's λ/(λ + σ²)). Measured on one noisy
    /// copy of each of `train`, made by `corrupt(clean, noisy)`, so that any kind of noise is met.
    pub fn denoising_start(
        &self,
        train: &Pixels,
        mut corrupt: impl FnMut(&[f32], &mut [f32]),
    ) -> LinearStart {
        let (n, k) = (train.len(), self.components());
        let zero = vec![0.0; self.mean.len()];
        let (mut sum, mut squares, mut products) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
        let mut noisy_row = Vec::new();
        for range in chunks(n) {
            let clean = centred_pixels(train, range.clone(), &self.mean).transpose() * &self.basis;
            let noisy = centred(range, &zero, |i, row| {
                train.push_image(i, row);
                noisy_row.resize(row.len(), 0.0);
                corrupt(row, &mut noisy_row);
                row.copy_from_slice(&noisy_row);
            });
            let noisy = noisy.transpose() * &self.basis;
            for r in 0..clean.nrows() {
                for j in 0..k {
                    let (c, u) = (clean[(r, j)], noisy[(r, j)]);
                    (sum[j], squares[j], products[j]) = (sum[j] + u, squares[j] + u * u, products[j] + c * u);
                }
            }
        }
        let n = n as f64;
        let offsets: Vec<f64> = sum.iter().map(|s| s / n).collect();
        // The clean coordinates average zero: the covariance is Σc·u / n.
        let gains = (0..k)
            .map(|j| {
                let variance = squares[j] / n - offsets[j] * offsets[j];
                if variance > 0.0 {
                    products[j] / n / variance
                } else {
                    0.0
                }
            })
            .collect();
        LinearStart { offsets, gains }
    }

    /// Each image projected on the directions and back, clipped to [0, 1].
    pub fn reconstruct(&self, images: &Images) -> Images {
        let mut data = Vec::with_capacity(images.data.len());
        for range in chunks(images.len()) {
            let x = centred(range, &self.mean, |i, row| row.extend_from_slice(images.image(i)));
            // One image per column, as `x`.
            let back = &self.basis * (self.basis.transpose() * &x);
            for c in 0..back.ncols() {
                data.extend(
                    back.col(c).iter().zip(&self.mean).map(|(&v, &mu)| (v + mu).clamp(0.0, 1.0) as f32),
                );
            }
        }
        Images::new(images.shape, data)
    }
}

/// PCA's figures beside a model's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub components: usize,
    pub method: Method,
    /// Fitting and reconstructing, in seconds.
    pub seconds: f64,
    /// Its reconstructions (of the noisy inputs, for a denoiser) against the clean images.
    pub quality: Quality,
}

/// Fits PCA with `components` directions on `train` and measures its reconstructions of `inputs`
/// against `targets` (the same images, or their clean originals for a denoiser).
pub fn pca_baseline(
    train: &Pixels,
    inputs: &Images,
    targets: &Images,
    components: usize,
    seed: u64,
) -> Result<Baseline, BaselineError> {
    let started = std::time::Instant::now();
    let pca = Pca::fit(train, components, seed)?;
    let reconstructions = pca.reconstruct(inputs);
    let seconds = started.elapsed().as_secs_f64();
    Ok(Baseline {
        components: pca.components(),
        method: pca.method,
        seconds,
        quality: quality(targets, &reconstructions),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_engine::Shape;

    /// Images `c + a·e0 + b·e1` of 4 pixels with a, b drawn ±: the directions e0 = (1, 1, 0, 0)/√2
    /// (spread 0.2) and e1 = (0, 0, 1, −1)/√2 (spread 0.05) are the principal components, in that order.
    fn two_directions() -> (Images, [[f64; 4]; 2]) {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let e = [[s, s, 0.0, 0.0], [0.0, 0.0, s, -s]];
        let mut data = Vec::new();
        for (a, b) in [(0.2, 0.05), (-0.2, 0.05), (0.2, -0.05), (-0.2, -0.05)] {
            data.extend(e[0].iter().zip(&e[1]).map(|(e0, e1)| (0.5 + a * e0 + b * e1) as f32));
        }
        (Images::new(Shape::new(2, 2, 1), data), e)
    }

    #[test]
    fn the_directions_and_variances_of_a_known_spread_are_found() {
        let (images, e) = two_directions();
        let pca = Pca::fit(&Pixels::Floats(images.clone()), 2, 0).unwrap();
        assert_eq!(pca.method, Method::Covariance);
        assert_eq!(serde_json::to_value(pca.method).unwrap(), pca.method.to_string());
        for (j, direction) in e.iter().enumerate() {
            // A direction up to its sign.
            let dot: f64 = (0..4).map(|p| pca.basis[(p, j)] * direction[p]).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-6, "direction {j}: {dot}");
        }
        // Sample variances over four images: 4·a²/3.
        assert!((pca.variances[0] - 4.0 * 0.04 / 3.0).abs() < 1e-6, "{:?}", pca.variances);
        assert!((pca.variances[1] - 4.0 * 0.0025 / 3.0).abs() < 1e-6, "{:?}", pca.variances);
        // Two components rebuild the images; one leaves the second direction's part, b² per
        // image, as the squared error: MSE = 0.0025 / 4 pixels.
        let two = pca.reconstruct(&images);
        assert!(two.data.iter().zip(&images.data).all(|(a, b)| (a - b).abs() < 1e-6));
        let one = pca_baseline(&Pixels::Floats(images.clone()), &images, &images, 1, 0).unwrap();
        assert!((one.quality.mse - 0.0025 / 4.0).abs() < 1e-8, "{:?}", one.quality);
    }

    #[test]
    fn a_denoiser_s_start_shrinks_each_direction_as_wiener_s_filter_does() {
        // 20 000 images c + a·e0 + b·e1 (a, b Gaussian, variances 0.04 and 0.0025) with white
        // noise of variance 0.01 added by `corrupt`: the gains are λ / (λ + σ²).
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let e = [[s, s, 0.0, 0.0], [0.0, 0.0, s, -s]];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
        let mut data = Vec::new();
        for _ in 0..20_000 {
            let (a, b) = (0.2 * normal(), 0.05 * normal());
            data.extend((0..4).map(|p| (0.5 + a * e[0][p] + b * e[1][p]) as f32));
        }
        let pixels = Pixels::Floats(Images::new(Shape::new(2, 2, 1), data));
        let pca = Pca::fit(&pixels, 2, 0).unwrap();
        let mut noise = ChaCha8Rng::seed_from_u64(4);
        let start = pca.denoising_start(&pixels, |clean, noisy| {
            for (n, &c) in noisy.iter_mut().zip(clean) {
                let z: f64 = StandardNormal.sample(&mut noise);
                *n = c + (0.1 * z) as f32;
            }
        });
        for (j, lambda) in [0.04, 0.0025].iter().enumerate() {
            let want = lambda / (lambda + 0.01);
            assert!((start.gains[j] - want).abs() < 0.02, "direction {j}: gain {} vs {want}", start.gains[j]);
        }
        // Zero-mean noise leaves the offsets PCA's own; without noise the gains are 1.
        let plain = pca.start();
        assert!(start.offsets.iter().zip(&plain.offsets).all(|(a, b)| (a - b).abs() < 0.01), "{start:?}");
        let clean = pca.denoising_start(&pixels, |c, n| n.copy_from_slice(c));
        assert!(clean.gains.iter().all(|g| (g - 1.0).abs() < 1e-9), "{clean:?}");
        assert_eq!(plain.gains, vec![1.0; 2]);
    }

    #[test]
    fn the_randomised_svd_finds_what_the_covariance_does() {
        // Images larger than the covariance limit: 50×50 = 2500 values, rank 3 plus small noise.
        let (n, side) = (60, 50);
        let d = side * side;
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let bases: Vec<Vec<f64>> =
            (0..3).map(|_| (0..d).map(|_| StandardNormal.sample(&mut rng)).collect()).collect();
        let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
        let mut data = Vec::new();
        for _ in 0..n {
            let w: Vec<f64> = [0.05, 0.02, 0.01].iter().map(|s| s * normal()).collect();
            for p in 0..d {
                let signal: f64 = w.iter().zip(&bases).map(|(w, b)| w * b[p]).sum();
                data.push((0.5 + signal / 10.0 + 1e-4 * normal()) as f32);
            }
        }
        let images = Images::new(Shape::new(side, side, 1), data);
        let pixels = Pixels::Floats(images.clone());
        let pca = Pca::fit(&pixels, 3, 1).unwrap();
        assert_eq!(pca.method, Method::Randomised);
        // Three components leave only the noise: MSE about 1e-8.
        let back = pca.reconstruct(&images);
        let mse = back.data.iter().zip(&images.data).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>()
            / images.data.len() as f64;
        assert!(mse < 3e-8, "{mse}");
    }

    #[test]
    fn too_few_images_or_components_are_refused() {
        let (images, _) = two_directions();
        let one = Pixels::Floats(images.select(&[0]));
        assert!(matches!(Pca::fit(&one, 1, 0), Err(BaselineError::TooFewImages(1))));
        let all = Pixels::Floats(images);
        assert!(matches!(Pca::fit(&all, 5, 0), Err(BaselineError::Components { .. })));
        assert!(matches!(Pca::fit(&all, 0, 0), Err(BaselineError::Components { .. })));
    }
}
