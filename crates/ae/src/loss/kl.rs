//! A VAE's KL term, `KL(q(z|x) ‖ N(0, I))`, beside the reconstruction losses: its value and its
//! gradient with respect to the code layer's outputs `[μ, log σ²]`.

/// `KL(N(μ, σ²) ‖ N(0, 1))` summed over the units of every image in `x` (rows of `[μ, log σ²]`):
/// `½ Σ (μ² + σ² − log σ² − 1)`.
pub fn kl_divergence(x: &[f32], latent: usize) -> f64 {
    let terms = x.chunks_exact(2 * latent).flat_map(|row| {
        let (mu, log_var) = row.split_at(latent);
        mu.iter().zip(log_var).map(|(&m, &v)| {
            let (m, v) = (m as f64, v as f64);
            0.5 * (m * m + v.exp() - v - 1.0)
        })
    });
    terms.sum()
}

/// Adds `weight × ∂KL/∂[μ, log σ²]` (`μ` and `(σ² − 1)/2`) to `dx`.
pub fn add_kl_gradient(x: &[f32], latent: usize, weight: f32, dx: &mut [f32]) {
    for (row, d) in x.chunks_exact(2 * latent).zip(dx.chunks_exact_mut(2 * latent)) {
        let (mu, log_var) = row.split_at(latent);
        let (d_mu, d_log_var) = d.split_at_mut(latent);
        d_mu.iter_mut().zip(mu).for_each(|(d, m)| *d += weight * m);
        d_log_var.iter_mut().zip(log_var).for_each(|(d, v)| *d += weight * 0.5 * (v.exp() - 1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kl_and_its_gradient_agree_with_the_closed_form() {
        // μ = 0, log σ² = 0 is the prior itself.
        assert_eq!(kl_divergence(&[0.0, 0.0], 1), 0.0);
        // μ = 1, σ² = e: ½ (1 + e − 1 − 1).
        assert!((kl_divergence(&[1.0, 1.0], 1) - 0.5 * (std::f64::consts::E - 1.0)).abs() < 1e-6);
        let x = [0.3f32, -0.8, 0.5, -0.2];
        let mut dx = [0.0f32; 4];
        add_kl_gradient(&x, 2, 2.0, &mut dx);
        for i in 0..4 {
            let (mut up, mut down) = (x, x);
            up[i] += 1e-3;
            down[i] -= 1e-3;
            let numeric = 2.0 * (kl_divergence(&up, 2) - kl_divergence(&down, 2)) / 2e-3;
            assert!((numeric - dx[i] as f64).abs() < 1e-3, "{i}: {numeric} vs {}", dx[i]);
        }
    }
}
