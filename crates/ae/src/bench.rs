//! Timing the engine on the tutorial's model: whole training steps, forward passes, each layer,
//! and a GEMM peak to compare them with. Used by `ae bench` and the criterion benches.

use crate::config::ModelConfig;
use crate::model::{Activations, Autoencoder, Backward, Forward, LayerKind, Mode};
use crate::training::Trainer;
use ae_engine::matmul::{matmul, MatRef, Threads};
use ae_engine::{dense_backward_adam, AlignedVec, ParamGrads, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

/// Median of `samples` (sorted in place).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        samples[n / 2]
    } else {
        0.5 * (samples[n / 2 - 1] + samples[n / 2])
    }
}

/// Runs `f` `warmup` times untimed, then `runs` times; returns the median seconds.
pub fn time_median(warmup: usize, runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut samples: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    median(&mut samples)
}

fn random(rng: &mut ChaCha8Rng, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

fn aligned(values: &[f32]) -> AlignedVec {
    let mut v = AlignedVec::zeros(values.len());
    v.copy_from_slice(values);
    v
}

/// Best GFLOP/s of a square single-precision GEMM of side `n` through the engine's `matmul`,
/// with the current thread pool: the ceiling the layers are measured against.
pub fn gemm_peak_gflops(n: usize, runs: usize) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (a, b) = (random(&mut rng, n * n, -1.0, 1.0), random(&mut rng, n * n, -1.0, 1.0));
    let mut c = vec![0.0; n * n];
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(1) + 1 {
        let t = Instant::now();
        matmul(&mut c, MatRef::new(&a, n, n), MatRef::new(&b, n, n), false, Threads::Pool);
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (n * n * n) as f64 / best / 1e9
}

/// One layer's median forward and backward time for a batch.
#[derive(Clone, Debug, Serialize)]
pub struct LayerTiming {
    pub name: String,
    /// How the engine computes it: im2col, winograd, direct or gemm (dense).
    pub algorithm: String,
    pub gflop_forward: f64,
    /// Twice the forward's (the input and the weight gradient); the first layer's, once.
    pub gflop_backward: f64,
    pub forward_ms: f64,
    pub backward_ms: f64,
    /// Each pass's effective rate as a percentage of [`BenchReport::gemm_peak_gflops`].
    pub forward_percent_of_peak: f64,
    pub backward_percent_of_peak: f64,
    /// Forward and backward together, as a percentage of a training step's time.
    pub percent_of_step: f64,
}

/// What `ae bench` measures.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub threads: usize,
    pub batch: usize,
    pub steps: usize,
    /// FLOPs of one training step (forward + backward ≈ 3 × forward), counted as direct
    /// convolutions: Winograd layers do fewer, so GFLOP/s and % of peak are effective rates.
    pub gflop_per_step: f64,
    pub gflop_per_forward: f64,
    pub step_ms: f64,
    pub forward_ms: f64,
    pub step_gflops: f64,
    pub gemm_peak_gflops: f64,
    pub percent_of_peak: f64,
    pub layers: Vec<LayerTiming>,
    /// One Adam update of every parameter, on its own.
    pub adam_ms: f64,
    /// The code layer's backward pass with its weight's Adam update folded in, as training
    /// runs it (the other parameters' updates are a few hundredths of a millisecond).
    pub code_with_adam_ms: f64,
}

/// Times `steps` training steps and forward passes of `config` on random images, after `warmup`.
pub fn run(
    config: &ModelConfig,
    batch: usize,
    steps: usize,
    warmup: usize,
) -> Result<BenchReport, crate::config::ConfigError> {
    let model = Autoencoder::new(config, 0)?;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let input = random(&mut rng, batch * model.input_len(), 0.0, 1.0);
    let macs = model.macs_per_image() as f64 * batch as f64;
    let (gflop_forward, gflop_step) = (2.0 * macs / 1e9, 6.0 * macs / 1e9);

    let mut layers = time_layers(&model, batch, steps.clamp(1, 10));

    let adam_ms = 1e3 * time_adam(&model, steps.clamp(1, 10));
    let code_with_adam_ms = 1e3 * time_code_with_adam(&model, batch, steps.clamp(1, 10));
    let mut acts = Activations::new(&model, batch);
    let mut ws = Workspace::for_current_pool();
    let forward = time_median(warmup, steps, || model.forward(&input, &mut acts, &mut ws, false));

    let training = crate::config::RunConfig::preset(crate::config::Preset::TutorialNet).training;
    let config = crate::config::TrainingConfig { batch_size: batch, ..training };
    let mut trainer = Trainer::new(model, &config, crate::noise::Noise::None);
    let step = time_median(warmup, steps, || {
        trainer.train_step(&input, &input);
    });

    let peak = gemm_peak_gflops(1536, 3);
    let step_gflops = gflop_step / step;
    for l in &mut layers {
        l.forward_percent_of_peak = 100.0 * l.gflop_forward / (l.forward_ms / 1e3) / peak;
        l.backward_percent_of_peak = 100.0 * l.gflop_backward / (l.backward_ms / 1e3) / peak;
        l.percent_of_step = 100.0 * (l.forward_ms + l.backward_ms) / (1e3 * step);
    }
    Ok(BenchReport {
        threads: rayon::current_num_threads(),
        batch,
        steps,
        gflop_per_step: gflop_step,
        gflop_per_forward: gflop_forward,
        step_ms: 1e3 * step,
        forward_ms: 1e3 * forward,
        step_gflops,
        gemm_peak_gflops: peak,
        percent_of_peak: 100.0 * step_gflops / peak,
        layers,
        adam_ms,
        code_with_adam_ms,
    })
}

fn time_code_with_adam(model: &Autoencoder, batch: usize, runs: usize) -> f64 {
    let mut bench = LayerBench::new(model, model.code_layer, batch);
    let mut weight = model.params[2 * model.code_layer].clone();
    let mut moments = ae_engine::AdamMoments::zeros(weight.len());
    let mut step = 0;
    time_median(1, runs, || {
        step += 1;
        bench.backward_with_adam(&mut weight, &mut moments, step);
    })
}

fn time_adam(model: &Autoencoder, runs: usize) -> f64 {
    let adam = ae_engine::AdamConfig::default();
    let mut params = model.params.clone();
    let grads: Vec<Vec<f32>> = params.iter().map(|p| p.iter().map(|v| v * 0.5 + 1e-3).collect()).collect();
    let mut moments: Vec<_> = params.iter().map(|p| ae_engine::AdamMoments::zeros(p.len())).collect();
    let mut step = 0;
    time_median(1, runs, || {
        step += 1;
        for ((p, g), m) in params.iter_mut().zip(&grads).zip(&mut moments) {
            adam.update(step, p, g, m);
        }
    })
}

/// One layer of a model with random buffers for a batch, ready to run forward or backward.
pub struct LayerBench<'a> {
    model: &'a Autoencoder,
    index: usize,
    /// Aligned like the model's activations.
    x: AlignedVec,
    y: AlignedVec,
    dy: AlignedVec,
    dx: AlignedVec,
    dw: Vec<f32>,
    db: Vec<f32>,
    ws: Workspace,
    /// What `forward` keeps for `backward` (a normalisation's statistics, a sampling's draws).
    cache: crate::model::Cache,
}

impl<'a> LayerBench<'a> {
    pub fn new(model: &'a Autoencoder, index: usize, batch: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(index as u64);
        let layer = &model.layers[index];
        let x = aligned(&random(&mut rng, batch * layer.input_len(), 0.0, 1.0));
        let mut bench = Self {
            model,
            index,
            y: AlignedVec::zeros(batch * layer.output_len()),
            dy: aligned(&random(&mut rng, batch * layer.output_len(), -1.0, 1.0)),
            dx: AlignedVec::zeros(x.len()),
            x,
            dw: vec![0.0; model.params[2 * index].len()],
            db: vec![0.0; model.params[2 * index + 1].len()],
            ws: Workspace::for_current_pool(),
            cache: crate::model::Cache::new(index as u64),
        };
        // A backward pass reads what a forward one keeps (a normalisation's statistics, draws).
        bench.forward();
        bench
    }

    pub fn name(&self) -> &str {
        &self.model.layers[self.index].name
    }

    pub fn forward(&mut self) {
        let layer = &self.model.layers[self.index];
        let (w, b) = (&self.model.params[2 * self.index], &self.model.params[2 * self.index + 1]);
        let (x, y, act, ws) = (&self.x, &mut self.y, layer.activation, &mut self.ws);
        layer.part().forward(w, b, Forward { x, act, y, mode: Mode::Train(&mut self.cache) }, ws)
    }

    /// The backward pass; the first layer computes no input gradient, as in training.
    pub fn backward(&mut self) {
        let layer = &self.model.layers[self.index];
        let w = &self.model.params[2 * self.index];
        let (x, y, dy, act, ws) = (&self.x, &self.y, &mut self.dy, layer.activation, &mut self.ws);
        let dx = (self.index > 0).then_some(&mut self.dx[..]);
        let pg = ParamGrads { weight: &mut self.dw, bias: &mut self.db };
        let pass = Backward { x, act, y, dy, dx, cache: &self.cache };
        layer.part().backward(w, pass, pg, ws)
    }
}

impl LayerBench<'_> {
    /// The backward pass of a dense layer with Adam applied to `weight` on the way.
    pub fn backward_with_adam(
        &mut self,
        weight: &mut [f32],
        moments: &mut ae_engine::AdamMoments,
        step: u64,
    ) {
        let layer = &self.model.layers[self.index];
        let LayerKind::Dense(d) = layer.kind else { panic!("{} is not a dense layer", layer.name) };
        let (x, y, dy, act, ws) = (&self.x, &self.y, &mut self.dy, layer.activation, &mut self.ws);
        let dx = (self.index > 0).then_some(&mut self.dx[..]);
        let adam = ae_engine::AdamConfig::default();
        let update = ae_engine::AdamStep { config: &adam, step, moments };
        dense_backward_adam(&d.shape(), x, weight, act, y, dy, dx, &mut self.db, update, ws);
    }
}

fn time_layers(model: &Autoencoder, n: usize, runs: usize) -> Vec<LayerTiming> {
    (0..model.layers.len())
        .map(|i| {
            let mut bench = LayerBench::new(model, i, n);
            let forward = time_median(1, runs, || bench.forward());
            let backward = time_median(1, runs, || bench.backward());
            let algorithm = model.layers[i].part().kernel();
            let gflop_forward = 2.0 * (model.layers[i].macs() * n) as f64 / 1e9;
            LayerTiming {
                name: bench.name().to_string(),
                algorithm,
                gflop_forward,
                gflop_backward: if i == 0 { gflop_forward } else { 2.0 * gflop_forward },
                forward_ms: 1e3 * forward,
                backward_ms: 1e3 * backward,
                // Filled in once the peak and the step are known.
                forward_percent_of_peak: 0.0,
                backward_percent_of_peak: 0.0,
                percent_of_step: 0.0,
            }
        })
        .collect()
}

impl BenchReport {
    /// A human-readable table.
    pub fn render(&self) -> String {
        let mut out = format!(
            "threads {}, batch {}, {} timed steps\n\
             training step: {:.1} ms ({:.1} GFLOP, {:.1} GFLOP/s)\n\
             forward pass:  {:.1} ms ({:.1} GFLOP, {:.1} GFLOP/s)\n\
             GEMM peak:     {:.1} GFLOP/s (1536³ single precision) -> step at {:.0} % of peak\n\
             (FLOPs counted as direct convolutions; Winograd layers multiply 4× less, so these are\n\
             effective rates and may exceed the GEMM peak)\n\n\
             {:<16} {:>9} {:>6} {:>7} {:>7} {:>9} {:>9} {:>6}\n",
            self.threads,
            self.batch,
            self.steps,
            self.step_ms,
            self.gflop_per_step,
            self.step_gflops,
            self.forward_ms,
            self.gflop_per_forward,
            self.gflop_per_forward / self.forward_ms * 1e3,
            self.gemm_peak_gflops,
            self.percent_of_peak,
            "layer",
            "algorithm",
            "GFLOP",
            "fwd ms",
            "bwd ms",
            "fwd %peak",
            "bwd %peak",
            "%step",
        );
        // A normalisation's few FLOPs are not counted: its rate is left blank.
        let rate = |gflop: f64, percent: f64| if gflop > 0.0 { format!("{percent:.0}") } else { "-".into() };
        for l in &self.layers {
            out += &format!(
                "{:<16} {:>9} {:>6.2} {:>7.2} {:>7.2} {:>9} {:>9} {:>6.1}\n",
                l.name,
                l.algorithm,
                l.gflop_forward,
                l.forward_ms,
                l.backward_ms,
                rate(l.gflop_forward, l.forward_percent_of_peak),
                rate(l.gflop_backward, l.backward_percent_of_peak),
                l.percent_of_step,
            );
        }
        out += &format!("{:<16} {:>9} {:>6} {:>7} {:>7.2}\n", "adam update", "", "", "", self.adam_ms);
        out += &format!(
            "{:<16} {:>9} {:>6} {:>7} {:>7.2}   (as training runs it)\n",
            "code + its adam", "fused", "", "", self.code_with_adam_ms
        );
        out
    }
}
