//! The run's random streams: independent ChaCha streams of one seed (1 shuffles, 2 noise, 3 the
//! held-out inputs' noise, 4 the model's draws, 5 augmentation, 6 the linear path's denoising start).

use crate::data::Images;
use crate::noise::Noise;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Independent random streams from one seed.
pub(super) fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

/// `images` with `noise` drawn from a stream fixed by `seed`: the held-out inputs of a denoiser.
pub fn corrupt(images: &Images, noise: Noise, seed: u64) -> Images {
    let mut data = images.data.clone();
    noise.apply(&images.data, &mut data, &mut stream(seed, 3));
    Images::new(images.shape, data)
}
