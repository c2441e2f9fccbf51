//! Seeded augmentation of each training image as its batch is drawn: the input and the target
//! alike (the model still learns to give back what it is shown), before a denoiser's noise.

use ae_engine::Shape;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest shift `shift:K` takes.
pub const MAX_SHIFT: usize = 64;

/// What changes each training image: written `none`, `flip`, `shift:K` or `flip,shift:K`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Augment {
    /// Mirror the image left to right, with probability ½.
    pub flip: bool,
    /// Move the image by up to this many pixels down or up and right or left (each offset drawn
    /// uniformly from −K…K), repeating the edge pixels into what it uncovers.
    pub shift: usize,
}

impl Augment {
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// Augments one HWC `image` of `shape` in place, drawing from `rng` (`scratch` is reused).
    pub fn apply(&self, image: &mut [f32], shape: Shape, scratch: &mut Vec<f32>, rng: &mut impl Rng) {
        let (h, w, c) = (shape.height, shape.width, shape.channels);
        debug_assert_eq!(image.len(), h * w * c);
        if self.flip && rng.random::<bool>() {
            for row in image.chunks_exact_mut(w * c) {
                for x in 0..w / 2 {
                    for k in 0..c {
                        row.swap(x * c + k, (w - 1 - x) * c + k);
                    }
                }
            }
        }
        if self.shift > 0 {
            // isize is not portable across word sizes, so the draws are i64.
            let k = self.shift as i64;
            let (dy, dx) = (rng.random_range(-k..=k) as isize, rng.random_range(-k..=k) as isize);
            if (dy, dx) == (0, 0) {
                return;
            }
            scratch.clear();
            scratch.extend_from_slice(image);
            // Output pixel (y, x) is the input's (y − dy, x − dx), clamped to the image.
            let source =
                |v: usize, d: isize, len: usize| (v as isize - d).clamp(0, len as isize - 1) as usize;
            for y in 0..h {
                let sy = source(y, dy, h);
                for x in 0..w {
                    let (from, to) = ((sy * w + source(x, dx, w)) * c, (y * w + x) * c);
                    image[to..to + c].copy_from_slice(&scratch[from..from + c]);
                }
            }
        }
    }
}

impl fmt::Display for Augment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.flip, self.shift) {
            (false, 0) => write!(f, "none"),
            (true, 0) => write!(f, "flip"),
            (false, k) => write!(f, "shift:{k}"),
            (true, k) => write!(f, "flip,shift:{k}"),
        }
    }
}

impl FromStr for Augment {
    type Err = String;

    /// Parses `none`, `flip`, `shift:K` or both joined by a comma; the error names the value.
    fn from_str(spec: &str) -> Result<Self, String> {
        let wrong = || format!("`{spec}` is not an augmentation: use none, flip, shift:K or flip,shift:K");
        let mut augment = Augment::default();
        if spec == "none" {
            return Ok(augment);
        }
        for part in spec.split(',') {
            match part.trim().split_once(':') {
                None if part.trim() == "flip" && !augment.flip => augment.flip = true,
                Some(("shift", k)) if augment.shift == 0 => {
                    augment.shift = match k.parse::<usize>() {
                        Ok(k) if (1..=MAX_SHIFT).contains(&k) => k,
                        _ => return Err(format!("`{spec}`: the shift must be 1 to {MAX_SHIFT} pixels")),
                    }
                }
                _ => return Err(wrong()),
            }
        }
        Ok(augment)
    }
}

impl Serialize for Augment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Augment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn specs_parse_round_trip_and_reject_bad_values() {
        for text in ["none", "flip", "shift:2", "flip,shift:4"] {
            assert_eq!(text.parse::<Augment>().unwrap().to_string(), text);
        }
        assert_eq!("shift:3,flip".parse::<Augment>().unwrap(), Augment { flip: true, shift: 3 });
        for bad in ["", "flip,flip", "shift:2,shift:3", "shift:0", "shift:65", "shift:-1", "rotate", "shift"]
        {
            assert!(bad.parse::<Augment>().is_err(), "{bad}");
        }
    }

    /// A 2×3 image with two channels whose values name their pixel: 10·y + x, and + 0.5 on the
    /// second channel.
    fn named() -> (Vec<f32>, Shape) {
        let shape = Shape::new(2, 3, 2);
        let image = (0..2)
            .flat_map(|y| {
                (0..3).flat_map(move |x| [10.0 * y as f32 + x as f32, 10.0 * y as f32 + x as f32 + 0.5])
            })
            .collect();
        (image, shape)
    }

    #[test]
    fn a_flip_mirrors_rows_and_keeps_channels_together() {
        let augment = Augment { flip: true, shift: 0 };
        let (original, shape) = named();
        let (mut flipped, mut unflipped) = (0, 0);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let mut image = original.clone();
            augment.apply(&mut image, shape, &mut Vec::new(), &mut rng);
            if image == original {
                unflipped += 1;
            } else {
                assert_eq!(image, [2.0, 2.5, 1.0, 1.5, 0.0, 0.5, 12.0, 12.5, 11.0, 11.5, 10.0, 10.5]);
                flipped += 1;
            }
        }
        assert!((70..130).contains(&flipped) && flipped + unflipped == 200, "{flipped} of 200 flipped");
    }

    #[test]
    fn a_shift_moves_the_image_and_repeats_its_edges() {
        let shape = Shape::new(4, 4, 1);
        let original: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let augment = Augment { flip: false, shift: 1 };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..300 {
            let mut image = original.clone();
            augment.apply(&mut image, shape, &mut Vec::new(), &mut rng);
            // Find the offset that explains the image: every pixel is the clamped source's.
            let offset =
                (-1..=1isize).flat_map(|dy| (-1..=1isize).map(move |dx| (dy, dx))).find(|&(dy, dx)| {
                    (0..4).all(|y: isize| {
                        (0..4).all(|x: isize| {
                            let (sy, sx) = ((y - dy).clamp(0, 3), (x - dx).clamp(0, 3));
                            image[(y * 4 + x) as usize] == original[(sy * 4 + sx) as usize]
                        })
                    })
                });
            seen.insert(offset.expect("a shift by at most one pixel"));
        }
        assert_eq!(seen.len(), 9, "every offset in −1…1 × −1…1 is drawn: {seen:?}");
        // Drawn from the stream: the same seed, the same images.
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut image = original.clone();
            Augment { flip: true, shift: 2 }.apply(&mut image, shape, &mut Vec::new(), &mut rng);
            image
        };
        assert_eq!(run(5), run(5));
    }

    #[test]
    fn flips_and_shifts_of_a_colour_image_move_whole_pixels() {
        // 3×4 RGB, every value naming its channel, row and column: 100·k + 10·y + x. Mixing up the
        // channel and column strides, or moving channels apart, gives values no (flip, dy, dx)
        // explains.
        let (h, w, c) = (3usize, 4usize, 3usize);
        let name = |k: usize, y: usize, x: usize| (100 * k + 10 * y + x) as f32;
        let original: Vec<f32> =
            (0..h).flat_map(|y| (0..w).flat_map(move |x| (0..c).map(move |k| name(k, y, x)))).collect();
        let augment = Augment { flip: true, shift: 1 };
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..400 {
            let mut image = original.clone();
            augment.apply(&mut image, Shape::new(h, w, c), &mut Vec::new(), &mut rng);
            // Built by hand: mirrored first, then output (y, x) is the source (y − dy, x − dx)
            // clamped to the image.
            let expected = |flip: bool, dy: isize, dx: isize| -> Vec<f32> {
                let clamp =
                    |v: usize, d: isize, len: usize| (v as isize - d).clamp(0, len as isize - 1) as usize;
                let mut out = Vec::new();
                for y in 0..h {
                    for x in 0..w {
                        let (sy, sx) = (clamp(y, dy, h), clamp(x, dx, w));
                        let sx = if flip { w - 1 - sx } else { sx };
                        out.extend((0..c).map(|k| name(k, sy, sx)));
                    }
                }
                out
            };
            let explained = [false, true]
                .into_iter()
                .flat_map(|f| (-1..=1isize).flat_map(move |dy| (-1..=1isize).map(move |dx| (f, dy, dx))));
            let found = explained.filter(|&(f, dy, dx)| image == expected(f, dy, dx)).collect::<Vec<_>>();
            assert!(!found.is_empty(), "no flip and shift explains {image:?}");
            seen.extend(found);
        }
        assert_eq!(seen.len(), 18, "every flip and offset is drawn: {seen:?}");
    }
}
