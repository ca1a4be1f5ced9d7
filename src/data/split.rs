//! Seeded train/validation/test splits: holdout and k-fold.
//!
//! A split is a set of indices into `Dataset::ratings`, so no rating is copied.

/// The rating indices of one run: train, validation (possibly empty) and test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Indices used for training.
    pub train: Vec<usize>,
    /// Indices held out from training for early stopping / model selection (may be empty).
    pub validation: Vec<usize>,
    /// Indices the run is scored on.
    pub test: Vec<usize>,
}
