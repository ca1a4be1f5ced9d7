//! The optimisation history: each trial's objective against its number and against the
//! time it ended, with the best so far as a step line, so a reader sees whether the
//! search was still improving when it stopped and what the time went to.
//!
//! Complete trials are dots at their objective; pruned trials are triangles at the
//! validation RMSE of the last epoch they trained (they have no objective, and that
//! value is what the pruner judged). The best so far runs over complete trials only.

use std::path::Path;

use plotters::prelude::*;

use super::super::ReportError;
use super::super::charts::{
    LegendEntry, MARGIN, PALETTE, Y_LABEL_AREA, canvas_with_panel, draw_err, draw_legend,
    draw_marker, house_mesh, legend_rows, padded_range,
};
use super::{SearchView, counts_phrase, number_label};
use crate::output::Staged;

/// The colour of complete trials.
pub(crate) const COMPLETE: RGBColor = PALETTE[0];
/// The colour of pruned trials.
pub(crate) const PRUNED: RGBColor = PALETTE[1];
/// The colour of the best-so-far line.
const BEST: RGBColor = RGBColor(0x33, 0x33, 0x33);
/// Width of the legend panel.
const LEGEND_WIDTH: u32 = 190;

/// One side of the history: the trials against one x quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPanel {
    /// The x-axis description.
    pub x_desc: String,
    /// The x range, padded.
    pub x_range: (f64, f64),
    /// Whether x is a trial number (integer ticks).
    pub integer_x: bool,
    /// `(x, objective)` of the complete trials, in x order.
    pub complete: Vec<(f64, f64)>,
    /// `(x, last intermediate value)` of the pruned trials, in x order.
    pub pruned: Vec<(f64, f64)>,
    /// The best-so-far step line's corners, left to right, ending at the panel's last
    /// trial.
    pub best: Vec<(f64, f64)>,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryChart {
    /// `<experiment>: optimisation history, best trial 6 (validation RMSE 0.8734)`.
    pub title: String,
    /// The trials by state and how to read the markers.
    pub note: String,
    /// Against trial number, then against time.
    pub panels: Vec<HistoryPanel>,
    /// The y range shared by both panels, padded.
    pub y_range: (f64, f64),
    /// The legend entries.
    pub legend: Vec<LegendEntry>,
}

/// How to show seconds on an axis: the divisor and the unit's name, chosen so the
/// largest value reads as a small number.
fn time_unit(max_seconds: f64) -> (f64, &'static str) {
    if max_seconds >= 2.0 * 3600.0 {
        (3600.0, "hours")
    } else if max_seconds >= 120.0 {
        (60.0, "minutes")
    } else {
        (1.0, "seconds")
    }
}

/// The corners of the best-so-far step line through `points` (sorted by x), ending at
/// `x_end`: flat until a better point, then straight down to it.
pub(crate) fn best_steps(points: &[(f64, f64)], x_end: f64) -> Vec<(f64, f64)> {
    let mut corners = Vec::new();
    let mut best = f64::INFINITY;
    for &(x, y) in points {
        if corners.is_empty() {
            corners.push((x, y));
            best = y;
        } else if y < best {
            corners.push((x, best));
            corners.push((x, y));
            best = y;
        }
    }
    if let Some(&(last_x, _)) = corners.last()
        && x_end > last_x
    {
        corners.push((x_end, best));
    }
    corners
}

/// A panel from `(x, trial)` pairs (x finite).
fn panel(view: &SearchView, x_of: impl Fn(&super::TrialView) -> Option<f64>) -> HistoryPanel {
    let sort = |v: &mut Vec<(f64, f64)>| v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut complete: Vec<(f64, f64)> = view
        .trials
        .iter()
        .filter_map(|t| Some((x_of(t)?, t.objective()?)))
        .collect();
    let mut pruned: Vec<(f64, f64)> = view
        .trials
        .iter()
        .filter(|t| t.state == super::TrialState::Pruned)
        .filter_map(|t| Some((x_of(t)?, t.last_value()?)))
        .collect();
    sort(&mut complete);
    sort(&mut pruned);
    let xs = complete.iter().chain(&pruned).map(|p| p.0);
    let (lo, hi) = xs
        .clone()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    let x_range = if lo.is_finite() {
        let pad = (0.04 * (hi - lo)).max(0.5);
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let best = best_steps(&complete, if hi.is_finite() { hi } else { 0.0 });
    HistoryPanel {
        x_desc: String::new(),
        x_range,
        integer_x: false,
        complete,
        pruned,
        best,
    }
}

/// Prepares the history; `None` when no complete or pruned trial has a value to show.
pub fn prepare(view: &SearchView) -> Option<HistoryChart> {
    let mut by_number = panel(view, |t| Some(t.number as f64));
    if by_number.complete.is_empty() && by_number.pruned.is_empty() {
        return None;
    }
    by_number.x_desc = "trial number".to_string();
    by_number.integer_x = true;
    let max_seconds = view
        .trials
        .iter()
        .filter_map(|t| t.ended_after.filter(|s| s.is_finite()))
        .fold(0.0, f64::max);
    let (unit, unit_name) = time_unit(max_seconds);
    let mut by_time = panel(view, |t| {
        t.ended_after.filter(|s| s.is_finite()).map(|s| s / unit)
    });
    by_time.x_desc = if by_time.complete.is_empty() && by_time.pruned.is_empty() {
        "time (no end times recorded)".to_string()
    } else {
        format!("{unit_name} from the first trial's start to the trial's end")
    };
    let y_range = padded_range(
        by_number
            .complete
            .iter()
            .chain(&by_number.pruned)
            .map(|p| p.1),
    );
    let title = match view.best().and_then(|t| Some((t.number, t.objective()?))) {
        Some((n, v)) => format!(
            "{}: optimisation history, best trial {n} (validation RMSE {v:.4})",
            view.experiment
        ),
        None => format!(
            "{}: optimisation history, no complete trial yet",
            view.experiment
        ),
    };
    let note = format!(
        "{}; pruned trials at the validation RMSE of their last epoch; lower is better",
        counts_phrase(view)
    );
    let mut legend = vec![LegendEntry::marker("complete trial", COMPLETE, 0)];
    if !by_number.pruned.is_empty() {
        legend.push(LegendEntry::marker("pruned trial", PRUNED, 1));
    }
    if !by_number.best.is_empty() {
        legend.push(LegendEntry::thin_line("best so far", BEST));
    }
    Some(HistoryChart {
        title,
        note,
        panels: vec![by_number, by_time],
        y_range,
        legend,
    })
}

/// Draws a [`HistoryChart`] as a PNG at `path`: the two panels side by side, the legend
/// on the right.
pub fn draw(chart: &HistoryChart, path: &Path) -> Result<(), ReportError> {
    let staged = Staged::new(path)?;
    let (root, plots, legend) =
        canvas_with_panel(&staged, &chart.title, &chart.note, LEGEND_WIDTH)?;
    let areas = plots.split_evenly((1, chart.panels.len().max(1)));
    let (y0, y1) = chart.y_range;
    for (panel, area) in chart.panels.iter().zip(&areas) {
        let (x0, x1) = panel.x_range;
        let mut plot = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_top(10)
            .x_label_area_size(50)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err(path))?;
        let integer = |x: &f64| {
            if (x - x.round()).abs() < 1e-9 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        };
        let real = |x: &f64| number_label(*x);
        let x_format: &dyn Fn(&f64) -> String = if panel.integer_x { &integer } else { &real };
        house_mesh(&mut plot.configure_mesh(), &panel.x_desc, "validation RMSE")
            .x_label_formatter(x_format)
            .x_labels(8)
            .y_labels(8)
            .draw()
            .map_err(draw_err(path))?;
        plot.draw_series(LineSeries::new(
            panel.best.iter().copied(),
            BEST.stroke_width(2),
        ))
        .map_err(draw_err(path))?;
        for p in &panel.pruned {
            draw_marker(&root, plot.backend_coord(p), 1, 4, PRUNED, path)?;
        }
        for p in &panel.complete {
            draw_marker(&root, plot.backend_coord(p), 0, 4, COMPLETE, path)?;
        }
    }
    let (row, hidden) = legend_rows(chart.legend.len(), super::super::charts::HEIGHT);
    draw_legend(
        &legend,
        ("trials", "objective per trial"),
        &chart.legend,
        row,
        hidden,
        path,
    )?;
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

#[cfg(test)]
mod tests {
    use super::super::TrialState;
    use super::super::tests::{demo, trial};
    use super::*;

    #[test]
    fn the_best_so_far_steps_down_at_each_improvement() {
        // 1.0 at x 0, worse at 1, better (0.8) at 2, worse at 3: flat to 2, down to 0.8,
        // flat to the end at 5.
        let steps = best_steps(&[(0.0, 1.0), (1.0, 1.2), (2.0, 0.8), (3.0, 0.9)], 5.0);
        assert_eq!(steps, [(0.0, 1.0), (2.0, 1.0), (2.0, 0.8), (5.0, 0.8)]);
        assert!(best_steps(&[], 3.0).is_empty());
        assert_eq!(best_steps(&[(4.0, 1.0)], 4.0), [(4.0, 1.0)]);
    }

    #[test]
    fn the_demo_history_by_number_and_by_time() {
        let chart = prepare(&demo()).expect("trials to show");
        // Trial 6: lr 0.004, base 0.86 + 0.03·|ln 0.8| = 0.866694, + 0.3 / 6 at epoch 6.
        let best = 0.86 + 0.03 * (0.8f64).ln().abs() + 0.05;
        assert_eq!(
            chart.title,
            format!("search-demo: optimisation history, best trial 6 (validation RMSE {best:.4})")
        );
        assert_eq!(
            chart.note,
            "7 complete, 3 pruned; pruned trials at the validation RMSE of their last epoch; \
             lower is better"
        );
        let by_number = &chart.panels[0];
        assert_eq!(by_number.x_desc, "trial number");
        let xs: Vec<f64> = by_number.complete.iter().map(|p| p.0).collect();
        assert_eq!(xs, [0.0, 1.0, 3.0, 4.0, 6.0, 7.0, 9.0]);
        let pruned: Vec<f64> = by_number.pruned.iter().map(|p| p.0).collect();
        assert_eq!(pruned, [2.0, 5.0, 8.0]);
        // Improvements at 1 (lr 0.01) and 6; the line ends at trial 9.
        let corners: Vec<f64> = by_number.best.iter().map(|p| p.0).collect();
        assert_eq!(corners, [0.0, 1.0, 1.0, 6.0, 6.0, 9.0]);
        assert!((by_number.best[5].1 - best).abs() < 1e-12);
        // Padded by half a trial.
        assert_eq!(by_number.x_range, (-0.5, 9.5));
        // Times end at 300 s: shown in minutes (30 s per trial, pruned ones 15 s early).
        let by_time = &chart.panels[1];
        assert_eq!(
            by_time.x_desc,
            "minutes from the first trial's start to the trial's end"
        );
        assert!((by_time.complete[0].0 - 0.5).abs() < 1e-12);
        assert!((by_time.pruned[0].0 - 1.25).abs() < 1e-12);
        assert_eq!(chart.legend.len(), 3);
    }

    #[test]
    fn nothing_to_show_or_only_pruned_trials() {
        let mut view = demo();
        for t in &mut view.trials {
            t.state = TrialState::Running;
        }
        assert!(prepare(&view).is_none());
        // Only pruned trials: drawn, titled as such, no best line; no times: said so.
        for t in &mut view.trials {
            t.state = TrialState::Pruned;
            t.ended_after = None;
        }
        let chart = prepare(&view).expect("pruned trials have values");
        assert!(
            chart.title.ends_with("no complete trial yet"),
            "{}",
            chart.title
        );
        assert!(chart.panels[0].best.is_empty());
        assert_eq!(chart.panels[1].x_desc, "time (no end times recorded)");
        assert_eq!(chart.panels[1].x_range, (0.0, 1.0));
        // One complete trial with equal everything: the flat y range is widened.
        let one = SearchView {
            experiment: "one".into(),
            space: Vec::new(),
            trials: vec![trial(0, &[], TrialState::Complete, Some(0.9))],
        };
        let chart = prepare(&one).expect("one trial");
        let (lo, hi) = chart.y_range;
        assert!(lo < 0.9 && hi > 0.9, "{lo} {hi}");
        assert_eq!(chart.panels[0].x_range, (-0.5, 0.5));
    }
}
