//! Experiment files: raw TOML → validated [`spec::Experiment`].

pub mod spec;
