//! Hyperparameter search beyond the grid: a `[search]` table draws trials (random or TPE),
//! a pruner stops bad ones early, and the store keeps every trial so a search resumes.

pub mod pruner;
pub mod queue;
pub mod sampler;
pub mod space;
pub mod spec;

#[cfg(test)]
mod tests;
