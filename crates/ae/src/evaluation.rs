//! How close images are to their clean originals: MSE, PSNR and SSIM.

use crate::data::Images;
use serde::Serialize;

/// Quality of a set of images against clean originals (values in [0, 1]).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Quality {
    pub images: usize,
    /// Mean squared error per pixel.
    pub mse: f64,
    /// `10·log10(1 / mse)` in dB: +∞ for an exact reconstruction.
    #[serde(with = "crate::json_float")]
    pub psnr_db: f64,
    /// Mean SSIM over images (Wang et al. 2004).
    pub ssim: f64,
    /// `0.5·Σ(x̂−x)²` per image: the training loss's scale.
    pub loss_per_sample: f64,
}

/// A PSNR as people read it: `31.25 dB`, and `+∞ dB (exact)` for an exact reconstruction.
pub fn psnr_text(db: f64) -> String {
    match db {
        f64::INFINITY => "+∞ dB (exact)".into(),
        db => format!("{db:.2} dB"),
    }
}

/// How far PSNR `a` is from `b`, as `+1.25 dB`; where either is exact, in words.
pub fn psnr_gap_text(a: f64, b: f64) -> String {
    match (a == f64::INFINITY, b == f64::INFINITY) {
        (true, true) => "level with it (both exact)".into(),
        (true, false) => "+∞ dB against it (exact)".into(),
        (false, true) => "−∞ dB against it (it is exact)".into(),
        (false, false) => format!("{:+.2} dB against it", a - b),
    }
}

pub fn psnr_db(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (1.0 / mse).log10()
    }
}

pub fn quality(original: &Images, other: &Images) -> Quality {
    Quality::from_sums(&ErrorSums::of(original, other))
}

/// What [`Quality`] is computed from, summed so that sets measured in parts can be added up.
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrorSums {
    pub images: usize,
    pub values: usize,
    /// Σ(x̂−x)² over every value.
    pub squares: f64,
    /// Σ of the images' SSIMs.
    pub ssims: f64,
}

impl ErrorSums {
    pub fn of(original: &Images, other: &Images) -> Self {
        assert_eq!((original.shape, original.len()), (other.shape, other.len()), "image sets differ");
        Self {
            images: original.len(),
            values: original.data.len(),
            squares: original.data.iter().zip(&other.data).map(|(a, b)| ((a - b) as f64).powi(2)).sum(),
            ssims: (0..original.len()).map(|i| ssim(original, other, i)).sum(),
        }
    }

    pub fn add(&mut self, other: &Self) {
        self.images += other.images;
        self.values += other.values;
        self.squares += other.squares;
        self.ssims += other.ssims;
    }
}

impl Quality {
    pub fn from_sums(s: &ErrorSums) -> Self {
        let mse = s.squares / s.values.max(1) as f64;
        Quality {
            images: s.images,
            mse,
            psnr_db: psnr_db(mse),
            ssim: s.ssims / s.images.max(1) as f64,
            loss_per_sample: 0.5 * s.squares / s.images.max(1) as f64,
        }
    }
}

/// The normalised 1-D Gaussian of the SSIM window: 11 taps, σ = 1.5 (fewer taps for images
/// smaller than 11 pixels).
fn gaussian_window(size: usize) -> Vec<f64> {
    let r = (size / 2) as f64;
    let w: Vec<f64> = (0..size).map(|i| (-((i as f64 - r).powi(2)) / (2.0 * 1.5 * 1.5)).exp()).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|v| v / total).collect()
}

/// SSIM of image `i` of two sets, as Wang, Bovik, Sheikh and Simoncelli (2004): an 11×11
/// Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, dynamic range 1, averaged over every
/// window position inside the image ("valid") and over channels.
pub fn ssim(a: &Images, b: &Images, i: usize) -> f64 {
    let s = a.shape;
    let size = 11.min(s.height).min(s.width);
    let size = if size % 2 == 0 { size - 1 } else { size };
    let w = gaussian_window(size);
    let (oh, ow) = (s.height - size + 1, s.width - size + 1);
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let (x, y) = (a.image(i), b.image(i));
    let mut total = 0.0;
    // Each pixel's x, y, x², y², xy, made once rather than once a tap.
    let mut terms = vec![[0.0f64; 5]; s.height * s.width];
    let mut rows = vec![[0.0f64; 5]; s.height * ow];
    for c in 0..s.channels {
        for (t, (&u, &v)) in terms
            .iter_mut()
            .zip(x.iter().skip(c).step_by(s.channels).zip(y.iter().skip(c).step_by(s.channels)))
        {
            let (u, v) = (u as f64, v as f64);
            *t = [u, v, u * u, v * v, u * v];
        }
        // Separable filtering of the five: rows first, then columns.
        for (line, out) in terms.chunks_exact(s.width).zip(rows.chunks_exact_mut(ow)) {
            for (col, acc) in out.iter_mut().enumerate() {
                *acc = [0.0; 5];
                for (wk, t) in w.iter().zip(&line[col..]) {
                    for (a, t) in acc.iter_mut().zip(t) {
                        *a += wk * t;
                    }
                }
            }
        }
        for r in 0..oh {
            for col in 0..ow {
                let mut m = [0.0; 5];
                for (k, wk) in w.iter().enumerate() {
                    for (a, t) in m.iter_mut().zip(rows[(r + k) * ow + col]) {
                        *a += wk * t;
                    }
                }
                let [mx, my, xx, yy, xy] = m;
                let (vx, vy, cxy) = (xx - mx * mx, yy - my * my, xy - mx * my);
                total +=
                    ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
            }
        }
    }
    total / (oh * ow * s.channels) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_engine::Shape;

    #[test]
    fn psnr_of_known_errors() {
        assert!((psnr_db(0.01) - 20.0).abs() < 1e-12);
        assert!((psnr_db(0.001) - 30.0).abs() < 1e-12);
        let a = Images::new(Shape::new(1, 2, 1), vec![0.0, 1.0]);
        let b = Images::new(Shape::new(1, 2, 1), vec![0.1, 0.9]);
        let q = quality(&a, &b);
        assert!(
            (q.mse - 0.01).abs() < 1e-7
                && (q.psnr_db - 20.0).abs() < 1e-4
                && (q.loss_per_sample - 0.01).abs() < 1e-7
        );
    }

    #[test]
    fn quality_averages_over_images() {
        // Three 11×11 images: errors of 0.5 on every pixel of the first, none on the others.
        let shape = Shape::new(11, 11, 1);
        let clean: Vec<f32> = (0..3 * 121).map(|i| ((i * 7) % 13) as f32 / 13.0).collect();
        let mut other = clean.clone();
        other[..121].iter_mut().for_each(|v| *v = if *v < 0.5 { *v + 0.5 } else { *v - 0.5 });
        let (a, b) = (Images::new(shape, clean), Images::new(shape, other));
        let q = quality(&a, &b);
        // Σ(x̂−x)² = 121·0.25 over 363 pixels and 3 images.
        assert!((q.mse - 30.25 / 363.0).abs() < 1e-7, "{}", q.mse);
        assert!((q.loss_per_sample - 0.5 * 30.25 / 3.0).abs() < 1e-5, "{}", q.loss_per_sample);
        let mean = (ssim(&a, &b, 0) + 2.0) / 3.0;
        assert!(ssim(&a, &b, 0) < 0.9 && (q.ssim - mean).abs() < 1e-12, "{} vs {mean}", q.ssim);
    }

    #[test]
    fn small_even_images_use_the_largest_odd_window_and_colour_averages_its_channels() {
        // 8×8: a 7-tap window. The reference is a plain numpy evaluation of the same definition
        // (full 7×7 window over the four valid positions), written outside this code base.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..8 {
            for j in 0..8 {
                let v = (((i * 5 + j * 3) % 11) as f64 / 10.0) as f32;
                a.push(v);
                b.push((v as f64 + 0.15 * ((i * 8 + j) as f64 * 0.7).cos()).clamp(0.0, 1.0) as f32);
            }
        }
        let gray = |v: &[f32]| Images::new(Shape::new(8, 8, 1), v.to_vec());
        let got = ssim(&gray(&a), &gray(&b), 0);
        assert!((got - 0.9605098332616594).abs() < 1e-9, "{got}");
        // Colour: each channel on its own, averaged. Channel 1 is the pair above, channel 0 the
        // pair swapped in role, channel 2 identical images.
        let interleave =
            |channels: [&[f32]; 3]| -> Vec<f32> { (0..64).flat_map(|p| channels.map(|c| c[p])).collect() };
        let rgb = |v: Vec<f32>| Images::new(Shape::new(8, 8, 3), v);
        let x = rgb(interleave([&b, &a, &a]));
        let y = rgb(interleave([&a, &b, &a]));
        let inverted: Vec<f32> = a.iter().map(|v| 1.0 - v).collect();
        let z = rgb(interleave([&b, &a, &inverted]));
        let mean = (ssim(&gray(&b), &gray(&a), 0) + got + 1.0) / 3.0;
        assert!((ssim(&x, &y, 0) - mean).abs() < 1e-12, "{} vs {mean}", ssim(&x, &y, 0));
        let with_inverted =
            (ssim(&gray(&b), &gray(&b), 0) + 1.0 + ssim(&gray(&a), &gray(&inverted), 0)) / 3.0;
        assert!((ssim(&x, &z, 0) - with_inverted).abs() < 1e-12);
    }

    /// Two 32×32 test images, built the same way in the script that produced the reference values.
    fn pair() -> (Images, Images) {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in 0..32 {
            for j in 0..32 {
                let v = ((i * 7 + j * 3) % 17) as f64 / 16.0;
                a.push(v as f32);
                b.push((v + 0.1 * ((i * j) as f64).sin()).clamp(0.0, 1.0) as f32);
            }
        }
        (Images::new(Shape::new(32, 32, 1), a), Images::new(Shape::new(32, 32, 1), b))
    }

    #[test]
    fn ssim_matches_scikit_image() {
        let (a, b) = pair();
        assert!((ssim(&a, &a, 0) - 1.0).abs() < 1e-12);
        // scikit-image 0.26: structural_similarity(a, b, data_range=1, gaussian_weights=True,
        // sigma=1.5, use_sample_covariance=False) on these float32 images cast to float64.
        let reference = 0.9773184603753293;
        assert!((ssim(&a, &b, 0) - reference).abs() < 1e-6, "{} vs {reference}", ssim(&a, &b, 0));
        // SSIM is symmetric and drops as the distortion grows.
        assert!((ssim(&b, &a, 0) - reference).abs() < 1e-9);
        let worse = Images::new(b.shape, b.data.iter().map(|v| 1.0 - v).collect());
        assert!(ssim(&a, &worse, 0) < reference);
    }
}
