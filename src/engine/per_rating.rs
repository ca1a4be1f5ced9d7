//! Per-rating SGD: the factor models trained one rating at a time, the update rule of
//! Surprise and cornac, with no tensors, gradient stores or allocations per step.
//!
//! A run takes this path when its configuration is plain SGD on single ratings (see
//! [`PerRatingSgd`]); the model then moves its own table rows in place for every rating
//! (see `RatingModel::per_rating_epoch`).

/// One training rating, as the training loop shuffles and feeds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Triple {
    /// Dense user index.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// The rating.
    pub value: f32,
}

/// The constants of one epoch of per-rating SGD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerRatingSgd {
    /// This epoch's learning rate (after the schedule).
    pub learning_rate: f32,
    /// `training.l2`, applied to every row a rating touches, at every rating.
    pub l2: f32,
    /// `training.threads`: worker threads updating the tables (1: sequential).
    pub threads: usize,
}
