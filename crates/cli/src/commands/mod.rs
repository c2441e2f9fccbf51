//! One file per subcommand: its options (clap) and `run`, which calls the library and prints.

pub(crate) mod baseline;
pub(crate) mod bench;
pub(crate) mod denoise;
pub(crate) mod encode;
pub(crate) mod eval;
pub(crate) mod export;
pub(crate) mod info;
pub(crate) mod interpolate;
pub(crate) mod latent;
pub(crate) mod reconstruct;
pub(crate) mod report;
pub(crate) mod sample;
pub(crate) mod score;
pub(crate) mod train;
pub(crate) mod traverse;
