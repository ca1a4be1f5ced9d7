//! The SQLite store of experiments, runs and epochs.

pub mod records;
