//! Which configurations a chart names: every one of a small sweep, the best few of a
//! large one.
//!
//! Eighteen coloured learning curves cannot be told apart, and a legend of eighteen
//! entries is not read. So when a sweep has more than [`CROWDED`] configurations, the
//! learning curves and the Pareto chart name only the [`TOP`] best by the ranking metric
//! (in colour, with their rank next to them) and draw the rest plainly.

/// The most configurations a chart names one by one.
pub const CROWDED: usize = 8;

/// How many of the best configurations a crowded chart names.
pub const TOP: usize = 5;

/// How many of `count` ranked configurations are named: all of them up to [`CROWDED`],
/// else the best [`TOP`].
pub fn named(count: usize) -> usize {
    if count <= CROWDED { count } else { TOP }
}

/// Whether the configuration at 0-based position `rank` of `count` ranked ones is named.
pub fn is_named(rank: usize, count: usize) -> bool {
    rank < named(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sweeps_name_everything_large_ones_the_best_five() {
        assert_eq!(named(0), 0);
        assert_eq!(named(1), 1);
        assert_eq!(named(8), 8);
        assert_eq!(named(9), 5);
        assert_eq!(named(18), 5);
        assert!(is_named(4, 18) && !is_named(5, 18));
        assert!(is_named(7, 8));
    }
}
