//! Parameter importance: how much of the spread of the complete trials' objective each
//! searched parameter explains on its own, and its bar chart.
//!
//! The measure is the correlation ratio η² (a one-way analysis of variance, the simplest
//! variance decomposition): group the complete trials by the parameter's value and take
//! the share of the objective's total sum of squares that lies between the groups'
//! means. It is 1 when the parameter's value fixes the objective, 0 when every group has
//! the same mean. Unlike fANOVA it fits no model, so it needs no random forest and is
//! exact and deterministic, but it sees each parameter alone: a parameter that matters
//! only together with another shares its credit, and with few trials per group η² is
//! biased upwards (compare parameters with each other, not with 0).

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::ReportError;
use super::super::charts::{
    HEIGHT, MARGIN, PALETTE, TICK_PX, VALUE_PX, WIDTH, draw_err, text_width, titled_with_note,
};
use super::super::font::{FAMILY, ensure_registered};
use super::{SearchView, is_log, number, value_label};
use crate::output::Staged;
use crate::search::spec::Distribution;

/// Numerical parameters are grouped into this many bins of (about) equal counts.
pub const BINS: usize = 8;

/// The importance of each searched key: the correlation ratio η² of the complete trials'
/// objective (validation RMSE) grouped by the key's value, normalised so that the
/// importances sum to 1 (all zero when no key separates the trials, or all objectives
/// are equal). Listed largest first, ties in space order. Fewer than 2 complete trials
/// with a finite objective: empty.
///
/// η² = Σ_g n_g (ȳ_g − ȳ)² / Σ_i (y_i − ȳ)², the between-group over the total sum of
/// squares, where the groups are:
/// - `choice`: one group per value;
/// - `uniform`, `log_uniform`, `int`: [`BINS`] bins of equal counts by rank: a trial whose
///   value has `r` trials with a smaller value falls in bin `⌊BINS · r / n⌋`, so equal
///   values share a bin and with fewer than `BINS` distinct values each value is its own
///   group. Bins by rank are the same on a linear and a log scale, so log parameters need
///   nothing more;
/// - trials where a conditional key did not apply (or whose value is not a number for a
///   numerical key) form one more group of their own.
pub fn importance(view: &SearchView) -> Vec<(String, f64)> {
    let complete: Vec<(&super::TrialView, f64)> = view
        .trials
        .iter()
        .filter_map(|t| t.objective().map(|v| (t, v)))
        .collect();
    if complete.len() < 2 {
        return Vec::new();
    }
    let ys: Vec<f64> = complete.iter().map(|&(_, y)| y).collect();
    let mut scores: Vec<(String, f64)> = view
        .space
        .iter()
        .map(|p| {
            let values: Vec<Option<&toml::Value>> =
                complete.iter().map(|(t, _)| t.param(&p.key)).collect();
            let groups = match p.distribution {
                Distribution::Choice { .. } => values
                    .iter()
                    .map(|v| v.map(|v| format!("value {}", value_label(v))))
                    .collect(),
                _ => bins(&values),
            };
            (p.key.clone(), eta_squared(&ys, &groups))
        })
        .collect();
    let total: f64 = scores.iter().map(|s| s.1).sum();
    if total > 0.0 {
        for s in &mut scores {
            s.1 /= total;
        }
    }
    // A stable sort keeps the space order among equal scores.
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores
}

/// The bin of each numerical value (`None`: absent or not a finite number), as group
/// names; see [`importance`].
fn bins(values: &[Option<&toml::Value>]) -> Vec<Option<String>> {
    let numbers: Vec<Option<f64>> = values
        .iter()
        .map(|v| v.and_then(number).filter(|x| x.is_finite()))
        .collect();
    let present: Vec<f64> = numbers.iter().flatten().copied().collect();
    let n = present.len();
    numbers
        .iter()
        .map(|x| {
            x.map(|x| {
                let below = present.iter().filter(|&&y| y < x).count();
                format!("bin {}", BINS * below / n)
            })
        })
        .collect()
}

/// The correlation ratio of `ys` grouped by `groups` (`None` is a group too): between-
/// group over total sum of squares; 0 when the total is 0.
fn eta_squared(ys: &[f64], groups: &[Option<String>]) -> f64 {
    let n = ys.len() as f64;
    let mean = ys.iter().sum::<f64>() / n;
    let total: f64 = ys.iter().map(|y| (y - mean).powi(2)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut sums: BTreeMap<&Option<String>, (f64, usize)> = BTreeMap::new();
    for (y, g) in ys.iter().zip(groups) {
        let e = sums.entry(g).or_insert((0.0, 0));
        e.0 += y;
        e.1 += 1;
    }
    let between: f64 = sums
        .values()
        .map(|&(sum, count)| count as f64 * (sum / count as f64 - mean).powi(2))
        .sum();
    (between / total).clamp(0.0, 1.0)
}

/// One bar of the importance chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The parameter's short name, with `(log)` for a log parameter.
    pub label: String,
    /// Its normalised importance, 0 to 1.
    pub value: f64,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImportanceChart {
    /// `<experiment>: parameter importance`, with a caveat when all are zero or the
    /// trials are too few to bin numbers.
    pub title: String,
    /// What the measure is and over how many trials.
    pub note: String,
    /// The bars, largest first (top).
    pub bars: Vec<Bar>,
    /// The right end of the axis: a little beyond the largest bar, at most 1.
    pub x_max: f64,
    /// Width in pixels of the labels left of the bars.
    pub label_width: u32,
}

/// Prepares the importance chart; `None` without searched keys or with fewer than two
/// complete trials.
pub fn prepare(view: &SearchView) -> Option<ImportanceChart> {
    let scores = importance(view);
    if scores.is_empty() {
        return None;
    }
    let names = view.names();
    let bars: Vec<Bar> = scores
        .iter()
        .map(|(key, value)| {
            let at = view.space.iter().position(|p| &p.key == key);
            let name = at.map_or_else(|| key.clone(), |i| names[i].clone());
            let log = at.is_some_and(|i| is_log(&view.space[i].distribution));
            Bar {
                label: if log { format!("{name} (log)") } else { name },
                value: *value,
            }
        })
        .collect();
    let largest = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let complete = view
        .trials
        .iter()
        .filter(|t| t.objective().is_some())
        .count();
    let note = format!(
        "η² of the validation RMSE of {complete} complete trials grouped by each key's value \
         (numbers: {BINS} equal-count bins), scaled to sum to 1"
    );
    // A caveat, when there is one, goes in the title: the note has no room left.
    let caveat = if largest == 0.0 {
        " (no key separates the trials)"
    } else if complete <= BINS {
        " (few trials: each number its own bin)"
    } else {
        ""
    };
    let widest = bars
        .iter()
        .map(|b| text_width(&b.label, TICK_PX))
        .fold(0.0, f64::max);
    Some(ImportanceChart {
        title: format!("{}: parameter importance{caveat}", view.experiment),
        note,
        x_max: (largest * 1.15).clamp(0.1, 1.0),
        label_width: (widest as u32 + 20).clamp(80, WIDTH / 3),
        bars,
    })
}

/// Draws an [`ImportanceChart`] as a PNG at `path`: one horizontal bar per parameter,
/// largest on top, its value printed at its end.
pub fn draw(chart: &ImportanceChart, path: &Path) -> Result<(), ReportError> {
    ensure_registered()?;
    let staged = Staged::new(path)?;
    let root = BitMapBackend::new(staged.path(), (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let area = titled_with_note(&root, &chart.title, &chart.note, path)?;
    let n = chart.bars.len().max(1) as f64;
    let mut plot = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_right(MARGIN + 50)
        .x_label_area_size(50)
        .y_label_area_size(chart.label_width)
        .build_cartesian_2d(0.0..chart.x_max, -0.5..n - 0.5)
        .map_err(draw_err(path))?;
    plot.configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(6)
        .x_label_formatter(&|x| format!("{x:.2}"))
        .label_style((FAMILY, TICK_PX))
        .axis_desc_style((FAMILY, 16.0))
        .x_desc("importance (share of explained variance)")
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(draw_err(path))?;
    let y = |i: usize| n - 1.0 - i as f64;
    let colour = PALETTE[0];
    plot.draw_series(chart.bars.iter().enumerate().map(|(i, b)| {
        Rectangle::new(
            [(0.0, y(i) - 0.32), (b.value.min(chart.x_max), y(i) + 0.32)],
            colour.filled(),
        )
    }))
    .map_err(draw_err(path))?;
    let label_style = TextStyle::from((FAMILY, TICK_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let value_style = TextStyle::from((FAMILY, VALUE_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, bar) in chart.bars.iter().enumerate() {
        let (lx, ly) = plot.backend_coord(&(0.0, y(i)));
        root.draw(&Text::new(
            bar.label.clone(),
            (lx - 8, ly),
            label_style.clone(),
        ))
        .map_err(draw_err(path))?;
        let (vx, _) = plot.backend_coord(&(bar.value.min(chart.x_max), y(i)));
        root.draw(&Text::new(
            format!("{:.3}", bar.value),
            (vx + 6, ly),
            value_style.clone(),
        ))
        .map_err(draw_err(path))?;
    }
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{demo, param, trial};
    use super::super::{Parameter, TrialState};
    use super::*;
    use crate::search::spec::Condition;

    fn choice(key: &str, values: &[&str]) -> Parameter {
        param(
            key,
            Distribution::Choice {
                values: values.iter().map(|&v| v.into()).collect(),
            },
        )
    }

    fn view(space: Vec<Parameter>, trials: Vec<super::super::TrialView>) -> SearchView {
        SearchView {
            experiment: "e".into(),
            space,
            trials,
        }
    }

    fn close(a: &[(String, f64)], b: &[(&str, f64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() < 1e-12)
    }

    #[test]
    fn a_choice_that_fixes_the_value_takes_all_the_importance() {
        // Objectives 1, 1, 3, 3. `a` groups them {1, 1} {3, 3}: means 1 and 3 around the
        // mean 2, between = 2·1² + 2·1² = 4 = total, η² = 1. `b` groups them {1, 3}
        // {1, 3}: both means 2, η² = 0. Normalised: 1 and 0.
        let c = TrialState::Complete;
        let t = |n, a: &str, b: &str, y| trial(n, &[("a", a.into()), ("b", b.into())], c, Some(y));
        let v = view(
            vec![choice("b", &["p", "q"]), choice("a", &["x", "y"])],
            vec![
                t(0, "x", "p", 1.0),
                t(1, "x", "q", 1.0),
                t(2, "y", "p", 3.0),
                t(3, "y", "q", 3.0),
            ],
        );
        assert!(close(&importance(&v), &[("a", 1.0), ("b", 0.0)]));
    }

    #[test]
    fn partial_separation_is_shared_in_proportion() {
        // Objectives 1, 2, 3, 4 (mean 2.5, total SS = 2.25 + 0.25 + 0.25 + 2.25 = 5).
        // `a` = {1, 2} {3, 4}: means 1.5, 3.5, between = 2·1 + 2·1 = 4, η² = 0.8.
        // `b` = {1, 3} {2, 4}: means 2, 3, between = 2·0.25 + 2·0.25 = 1, η² = 0.2.
        // The sum is 1, so normalising leaves 0.8 and 0.2.
        let c = TrialState::Complete;
        let t = |n, a: &str, b: &str, y| trial(n, &[("a", a.into()), ("b", b.into())], c, Some(y));
        let v = view(
            vec![choice("a", &["x", "y"]), choice("b", &["p", "q"])],
            vec![
                t(0, "x", "p", 1.0),
                t(1, "x", "q", 2.0),
                t(2, "y", "p", 3.0),
                t(3, "y", "q", 4.0),
            ],
        );
        assert!(close(&importance(&v), &[("a", 0.8), ("b", 0.2)]));
        // Halving both raw scores changes nothing after normalisation; doubling the
        // objectives neither.
        let mut doubled = v.clone();
        for t in &mut doubled.trials {
            t.value = t.value.map(|y| 2.0 * y);
        }
        assert!(close(&importance(&doubled), &[("a", 0.8), ("b", 0.2)]));
    }

    #[test]
    fn numbers_fall_in_eight_equal_count_bins() {
        // 16 trials, x = y = 1..16: bins of two neighbours. Within each bin the SS is
        // 2 · 0.5² = 0.5, 4 in all; the total is n(n² − 1)/12 = 16 · 255 / 12 = 340, so
        // η²(x) = 336 / 340. `z` alternates two choices: means 8 and 9 around 8.5,
        // between = 16 · 0.25 = 4, η²(z) = 4 / 340. Normalised: 336/340 and 4/340.
        let trials = (0..16)
            .map(|i| {
                let z = if i % 2 == 0 { "even" } else { "odd" };
                trial(
                    i,
                    &[("x", ((i + 1) as f64).into()), ("z", z.into())],
                    TrialState::Complete,
                    Some((i + 1) as f64),
                )
            })
            .collect();
        let space = vec![
            param(
                "x",
                Distribution::Uniform {
                    low: 0.0,
                    high: 20.0,
                },
            ),
            choice("z", &["even", "odd"]),
        ];
        let v = view(space, trials);
        assert!(close(
            &importance(&v),
            &[("x", 336.0 / 340.0), ("z", 4.0 / 340.0)]
        ));
        // The bins themselves: ties share a bin, fewer than 8 values one bin each.
        let vals: Vec<toml::Value> = [0.1, 0.1, 0.2, 0.3].iter().map(|&x| x.into()).collect();
        let refs: Vec<Option<&toml::Value>> = vals.iter().map(Some).collect();
        let names: Vec<Option<String>> = bins(&refs);
        // ranks 0, 0, 2, 3 of 4 → bins 0, 0, 4, 6
        assert_eq!(
            names,
            [Some("bin 0"), Some("bin 0"), Some("bin 4"), Some("bin 6")]
                .map(|s| s.map(String::from))
        );
    }

    #[test]
    fn an_absent_conditional_key_is_a_group_of_its_own() {
        // `layers` applies to trials 0 and 1 only (value [64,32] both); trials 2 and 3
        // do without. Objectives 1, 1, 3, 3: the groups {1, 1} (applied) and {3, 3}
        // (absent) separate them completely, η² = 1; the other key `d` pairs them
        // {1, 3} {1, 3}, η² = 0.
        let layers = toml::Value::Array(vec![64.into(), 32.into()]);
        let c = TrialState::Complete;
        let mut when = choice("layers", &[]);
        when.distribution = Distribution::Choice {
            values: vec![layers.clone()],
        };
        when.when = Some(Condition {
            key: "d".into(),
            values: vec!["p".into()],
        });
        let v = view(
            vec![choice("d", &["p", "q"]), when],
            vec![
                trial(
                    0,
                    &[("d", "p".into()), ("layers", layers.clone())],
                    c,
                    Some(1.0),
                ),
                trial(1, &[("d", "q".into()), ("layers", layers)], c, Some(1.0)),
                trial(2, &[("d", "p".into())], c, Some(3.0)),
                trial(3, &[("d", "q".into())], c, Some(3.0)),
            ],
        );
        assert!(close(&importance(&v), &[("layers", 1.0), ("d", 0.0)]));
    }

    #[test]
    fn too_few_trials_equal_values_and_non_finite_values() {
        let c = TrialState::Complete;
        let space = vec![choice("a", &["x", "y"])];
        // One complete trial (the pruned and the NaN one do not count): nothing.
        let one = view(
            space.clone(),
            vec![
                trial(0, &[("a", "x".into())], c, Some(1.0)),
                trial(1, &[("a", "y".into())], TrialState::Pruned, Some(0.5)),
                trial(2, &[("a", "y".into())], c, Some(f64::NAN)),
                trial(3, &[("a", "y".into())], c, Some(f64::INFINITY)),
                trial(4, &[("a", "y".into())], TrialState::Running, None),
            ],
        );
        assert!(importance(&one).is_empty());
        assert!(prepare(&one).is_none());
        // Every objective equal: all zero, and the chart says so.
        let flat = view(
            space,
            vec![
                trial(0, &[("a", "x".into())], c, Some(1.0)),
                trial(1, &[("a", "y".into())], c, Some(1.0)),
            ],
        );
        assert!(close(&importance(&flat), &[("a", 0.0)]));
        let chart = prepare(&flat).expect("two complete trials");
        assert_eq!(
            chart.title,
            "e: parameter importance (no key separates the trials)"
        );
        assert_eq!(chart.x_max, 0.1);
    }

    #[test]
    fn the_demo_chart_lists_every_key_largest_first() {
        let v = demo();
        let scores = importance(&v);
        assert_eq!(scores.len(), 4);
        let sum: f64 = scores.iter().map(|s| s.1).sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        assert!(scores.windows(2).all(|w| w[0].1 >= w[1].1));
        let chart = prepare(&v).expect("7 complete trials");
        assert_eq!(
            chart.title,
            "search-demo: parameter importance (few trials: each number its own bin)"
        );
        assert_eq!(chart.bars.len(), 4);
        assert!(chart.bars.iter().any(|b| b.label == "learning_rate (log)"));
        assert!(
            chart
                .note
                .starts_with("η² of the validation RMSE of 7 complete trials")
        );
    }
}
