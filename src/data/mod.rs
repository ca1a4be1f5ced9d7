//! Ratings data: loading, dense re-indexing and splitting.

pub mod dataset;
pub mod split;
