//! exp: declared, repeatable experiment sweeps for recommender models.
//!
//! Data flows one way:
//!
//! ```text
//! experiment TOML ─► config (raw → validated) ─► sweep (grid → RunSpecs with stable keys)
//!       ─► data (load → index → split) ─► scheduler (device workers, resume, stop)
//!       ─► train (model + optimiser + loss) ─► metrics ─► store (SQLite)
//!       ─► report (compare tables, PNG charts)
//! ```
#![warn(missing_docs)]

pub mod alloc;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod digest;
pub mod engine;
pub mod metrics;
pub mod models;
pub mod output;
pub mod preflight;
pub mod rank;
pub mod reload;
pub mod report;
pub mod runner;
pub mod scheduler;
pub mod search;
#[cfg(test)]
mod shared_data;
pub mod store;
pub mod sweep;
pub mod train;
