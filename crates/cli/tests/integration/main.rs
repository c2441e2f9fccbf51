//! The integration tests, one binary: one link, one pool of test threads, and trained runs that
//! several tests only read shared between them (`common.rs`, `Trained`).

mod common;

mod anomaly;
mod checkpoint_layout;
mod cli;
mod datasets;
mod download;
mod export;
mod hostile;
mod layout;
mod learning;
mod olivetti;
mod report_browser;
mod resume;
