//! `ae`: convolutional autoencoders on the CPU, from data to reports.
//!
//! The modules follow the pipeline: [`config`] → [`data`] (one reader per format, downloads) →
//! [`augment`] and [`noise`] → [`model`] (its architecture, layer parts and model kinds) with
//! [`loss`] → [`training`] (prepare → fit → finish) → [`record`], [`checkpoint`] and [`report`];
//! then [`inference`], [`evaluation`], [`baseline`], [`anomaly`] and [`export`]. The library never prints and
//! knows no command-line flags: the `ae` command is the `ae-cli` crate.

pub mod anomaly;
pub mod assessment;
pub mod augment;
pub mod baseline;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluation;
pub mod export;
pub mod fs;
pub mod inference;
pub mod json_float;
pub mod loss;
pub mod memory;
pub mod model;
pub mod noise;
pub mod record;
pub mod report;
pub mod training;

pub use error::{Error, Result};
