//! `ae`: convolutional autoencoders on the CPU, from data to reports.
//!
//! The modules follow the pipeline: [`data`] (its readers and downloads) → [`augment`] and
//! [`noise`] → [`model`] (its layer parts and model kinds) → [`training`] → [`checkpoint`],
//! [`inference`], [`evaluation`] and [`report`]; the `ae` binary is the CLI.

pub mod augment;
pub mod baseline;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluation;
pub mod export;
pub mod inference;
pub mod json_float;
pub mod memory;
pub mod model;
pub mod noise;
pub mod report;
pub mod training;

pub use error::{Error, Result};
