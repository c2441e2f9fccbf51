//! `ae`: convolutional autoencoders on the CPU, from data to reports.
//!
//! The modules follow the pipeline: [`data`] (and [`mat`], [`download`]) → [`model`] →
//! [`training`] → [`checkpoint`], [`inference`] and [`report`]; the `ae` binary is the CLI.

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod download;
pub mod error;
pub mod evaluation;
pub mod folder;
pub mod idx;
pub mod inference;
pub mod mat;
pub mod model;
pub mod noise;
pub mod report;
pub mod training;

pub use error::{Error, Result};
