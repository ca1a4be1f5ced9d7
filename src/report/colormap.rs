//! The sequential colour scale of heatmaps and parallel coordinates: darker is better.
//!
//! viridis (perceptually uniform, readable in grey and by most colour-vision
//! deficiencies), cut at 90 % so the lightest colour still shows on white. Values are
//! mapped so that the *best* end of a metric's range is the darkest, whatever the
//! metric's direction: the eye goes to the dark cells and lines, and in parallel
//! coordinates the best lines are drawn last, on top.

use plotters::style::RGBColor;

use super::metric::{Direction, Metric};

/// viridis at 0, 1/9, 2/9, …, 1 (matplotlib's values, rounded to 8 bits).
const VIRIDIS: [(u8, u8, u8); 10] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x28, 0x78),
    (0x3e, 0x4a, 0x89),
    (0x31, 0x68, 0x8e),
    (0x26, 0x82, 0x8e),
    (0x1f, 0x9e, 0x89),
    (0x35, 0xb7, 0x79),
    (0x6d, 0xcd, 0x59),
    (0xb4, 0xde, 0x2c),
    (0xfd, 0xe7, 0x25),
];

/// Where the scale stops along viridis: 0.9, a light green still visible on white
/// (viridis' last tenth is a pale yellow that is not).
const TOP: f64 = 0.9;

/// The colour at `t` in [0, 1] (clamped): 0 is the darkest (best), 1 the lightest.
pub fn colour(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        1.0
    };
    // x in stops of the table above: t = 1 lands at 0.9 of viridis, stop 8.1.
    let x = t * TOP * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Whether text on `background` should be white (dark background) or black.
pub fn white_text_on(background: RGBColor) -> bool {
    // Relative luminance with sRGB weights, on 0..255.
    let l = 0.2126 * f64::from(background.0)
        + 0.7152 * f64::from(background.1)
        + 0.0722 * f64::from(background.2);
    l < 140.0
}

/// Maps metric values onto the scale: the best value of `range` to 0 (darkest), the
/// worst to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// The smallest value.
    pub lo: f64,
    /// The largest value.
    pub hi: f64,
    /// Which end is best.
    pub direction: Direction,
}

impl Scale {
    /// A scale over `values` (non-finite ones ignored) for `metric`.
    pub fn new(values: impl Iterator<Item = f64>, metric: &Metric) -> Scale {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        Scale {
            lo,
            hi,
            direction: metric.direction(),
        }
    }

    /// Position of `value` on the scale: 0 best, 1 worst (0.5 when all values are equal).
    pub fn t(&self, value: f64) -> f64 {
        if self.hi <= self.lo {
            return 0.5;
        }
        let u = (value - self.lo) / (self.hi - self.lo);
        match self.direction {
            Direction::LowerIsBetter => u,
            Direction::HigherIsBetter => 1.0 - u,
        }
    }

    /// The colour of `value`.
    pub fn colour(&self, value: f64) -> RGBColor {
        colour(self.t(value))
    }

    /// The best and the worst value, in that order.
    pub fn best_worst(&self) -> (f64, f64) {
        match self.direction {
            Direction::LowerIsBetter => (self.lo, self.hi),
            Direction::HigherIsBetter => (self.hi, self.lo),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_of_the_scale_and_interpolation() {
        assert_eq!(colour(0.0), RGBColor(0x44, 0x01, 0x54));
        // t = 1 → stop 8.1: 0.1 of the way from (180, 222, 44) to (253, 231, 37):
        // (187.3, 222.9, 43.3) → (187, 223, 43)
        assert_eq!(colour(1.0), RGBColor(187, 223, 43));
        assert_eq!(colour(2.0), colour(1.0));
        assert_eq!(colour(f64::NAN), colour(1.0));
        // t = 0.5 → stop 4.05: 0.05 of the way from (38, 130, 142) to (31, 158, 137):
        // (37.65, 131.4, 141.75) → (38, 131, 142)
        assert_eq!(colour(0.5), RGBColor(38, 131, 142));
        assert!(white_text_on(colour(0.0)));
        assert!(!white_text_on(colour(1.0)));
    }

    #[test]
    fn the_best_value_is_darkest_in_either_direction() {
        let rmse = Scale::new([0.9, 0.8, 1.0].into_iter(), &Metric::rmse());
        assert_eq!((rmse.t(0.8), rmse.t(1.0), rmse.t(0.9)), (0.0, 1.0, 0.5));
        assert_eq!(rmse.best_worst(), (0.8, 1.0));
        let ndcg = Scale::new([0.1, 0.3, f64::NAN].into_iter(), &Metric::new("ndcg@10"));
        assert_eq!((ndcg.t(0.3), ndcg.t(0.1)), (0.0, 1.0));
        assert_eq!(ndcg.best_worst(), (0.3, 0.1));
        let flat = Scale::new([0.5, 0.5].into_iter(), &Metric::rmse());
        assert_eq!(flat.t(0.5), 0.5);
    }
}
