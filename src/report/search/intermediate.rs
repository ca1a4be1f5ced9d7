//! Intermediate values: each trial's validation RMSE per epoch, the values a pruner
//! judges, so a reader sees where pruned trials stood when they were stopped and
//! whether the pruner stopped any that were still heading below the best.
//!
//! Complete trials are blue, pruned ones orange and end in a cross at the epoch they
//! stopped, the best trial is drawn last, thick and black; running and failed trials are
//! thin and grey.

use std::path::Path;

use plotters::prelude::*;

use super::super::ReportError;
use super::super::charts::{
    HEIGHT, LegendEntry, MARGIN, UNNAMED, Y_LABEL_AREA, canvas_with_panel, draw_err, draw_legend,
    house_mesh, legend_rows, padded_range,
};
use super::history::{COMPLETE, PRUNED};
use super::{SearchView, TrialState, counts_phrase};
use crate::output::Staged;

/// The colour of the best trial's line.
const BEST: RGBColor = RGBColor(0, 0, 0);
/// Width of the legend panel.
const LEGEND_WIDTH: u32 = 230;

/// What a line stands for, which decides how it is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineKind {
    /// A running or failed trial: thin and grey.
    Other,
    /// A complete trial.
    Complete,
    /// A pruned trial, a cross at its last epoch.
    Pruned,
    /// The best complete trial, drawn last.
    Best,
}

/// One trial's line.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialLine {
    /// The trial number.
    pub number: usize,
    /// How it is drawn.
    pub kind: LineKind,
    /// `(epoch, validation RMSE)`, finite values only, in epoch order.
    pub points: Vec<(usize, f64)>,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct IntermediateChart {
    /// `<experiment>: validation RMSE per epoch of every trial`.
    pub title: String,
    /// The trials by state.
    pub note: String,
    /// The lines in drawing order: others, complete, pruned, then the best.
    pub lines: Vec<TrialLine>,
    /// The last epoch of any line (at least 2, so the axis has a width).
    pub max_epoch: usize,
    /// The y range, padded.
    pub y_range: (f64, f64),
    /// The legend entries.
    pub legend: Vec<LegendEntry>,
}

/// Prepares the intermediate values; `None` when no trial has a finite epoch value.
pub fn prepare(view: &SearchView) -> Option<IntermediateChart> {
    let best = view.best().map(|t| t.number);
    let mut lines: Vec<TrialLine> = view
        .trials
        .iter()
        .map(|t| {
            let mut points: Vec<(usize, f64)> = t
                .epochs
                .iter()
                .copied()
                .filter(|&(e, v)| e > 0 && v.is_finite())
                .collect();
            points.sort_by_key(|p| p.0);
            let kind = match t.state {
                _ if Some(t.number) == best => LineKind::Best,
                TrialState::Complete => LineKind::Complete,
                TrialState::Pruned => LineKind::Pruned,
                TrialState::Failed | TrialState::Running => LineKind::Other,
            };
            TrialLine {
                number: t.number,
                kind,
                points,
            }
        })
        .filter(|l| !l.points.is_empty())
        .collect();
    if lines.is_empty() {
        return None;
    }
    lines.sort_by_key(|l| (l.kind, l.number));
    let max_epoch = lines
        .iter()
        .filter_map(|l| l.points.last().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(2);
    let y_range = padded_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
    let count = |k: LineKind| lines.iter().filter(|l| l.kind == k).count();
    let mut legend = Vec::new();
    if let Some(n) = best.filter(|_| count(LineKind::Best) > 0) {
        legend.push(LegendEntry::line(&format!("best: trial {n}"), BEST));
    }
    if count(LineKind::Complete) > 0 {
        legend.push(LegendEntry::thin_line(
            &format!("complete ({})", count(LineKind::Complete)),
            COMPLETE,
        ));
    }
    if count(LineKind::Pruned) > 0 {
        legend.push(LegendEntry::thin_line(
            &format!("pruned ({}): × = stopped", count(LineKind::Pruned)),
            PRUNED,
        ));
    }
    if count(LineKind::Other) > 0 {
        legend.push(LegendEntry::thin_line(
            &format!("running or failed ({})", count(LineKind::Other)),
            UNNAMED,
        ));
    }
    Some(IntermediateChart {
        title: format!(
            "{}: validation RMSE per epoch of every trial",
            view.experiment
        ),
        note: format!(
            "{}; mean over the folds that reached each epoch; lower is better",
            counts_phrase(view)
        ),
        lines,
        max_epoch,
        y_range,
        legend,
    })
}

/// Draws an [`IntermediateChart`] as a PNG at `path`, the legend in its own panel.
pub fn draw(chart: &IntermediateChart, path: &Path) -> Result<(), ReportError> {
    let staged = Staged::new(path)?;
    let (root, area, legend) = canvas_with_panel(&staged, &chart.title, &chart.note, LEGEND_WIDTH)?;
    let max_epoch = i32::try_from(chart.max_epoch).unwrap_or(i32::MAX);
    let (y0, y1) = chart.y_range;
    let mut plot = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_top(10)
        .x_label_area_size(50)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(1..max_epoch, y0..y1)
        .map_err(draw_err(path))?;
    house_mesh(&mut plot.configure_mesh(), "epoch", "validation RMSE")
        .x_labels(chart.max_epoch.clamp(2, 20))
        .y_labels(8)
        .draw()
        .map_err(draw_err(path))?;
    let to_i32 = |e: usize| i32::try_from(e).unwrap_or(i32::MAX);
    for line in &chart.lines {
        let points: Vec<(i32, f64)> = line.points.iter().map(|&(e, v)| (to_i32(e), v)).collect();
        let (style, dot) = match line.kind {
            LineKind::Other => (UNNAMED.stroke_width(1), 0),
            LineKind::Complete => (COMPLETE.mix(0.7).stroke_width(1), 2),
            LineKind::Pruned => (PRUNED.mix(0.8).stroke_width(1), 2),
            LineKind::Best => (BEST.stroke_width(3), 3),
        };
        plot.draw_series(LineSeries::new(points.clone(), style))
            .map_err(draw_err(path))?;
        if dot > 0 {
            plot.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, dot, style.color.filled())),
            )
            .map_err(draw_err(path))?;
        }
        if line.kind == LineKind::Pruned
            && let Some(&last) = points.last()
        {
            plot.draw_series(std::iter::once(Cross::new(last, 6, PRUNED.stroke_width(2))))
                .map_err(draw_err(path))?;
        }
    }
    let (row, hidden) = legend_rows(chart.legend.len(), HEIGHT);
    draw_legend(
        &legend,
        ("trials", "one line per trial"),
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
    use super::super::tests::{demo, trial};
    use super::*;

    #[test]
    fn the_demo_lines_by_kind_with_the_best_last() {
        let chart = prepare(&demo()).expect("epochs");
        assert_eq!(
            chart.title,
            "search-demo: validation RMSE per epoch of every trial"
        );
        let order: Vec<(LineKind, usize)> =
            chart.lines.iter().map(|l| (l.kind, l.number)).collect();
        use LineKind::{Best, Complete, Pruned};
        assert_eq!(
            order,
            [
                (Complete, 0),
                (Complete, 1),
                (Complete, 3),
                (Complete, 4),
                (Complete, 7),
                (Complete, 9),
                (Pruned, 2),
                (Pruned, 5),
                (Pruned, 8),
                (Best, 6),
            ]
        );
        // Trial 5 was pruned after 3 epochs.
        assert_eq!(chart.lines[7].points.len(), 3);
        assert_eq!(chart.max_epoch, 6);
        let legend: Vec<&str> = chart.legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            legend,
            ["best: trial 6", "complete (6)", "pruned (3): × = stopped"]
        );
        // y spans the worst first epoch (trial 8, lr 0.0001: 0.86 + 0.03 ln 50 + 0.3) to
        // the best last one.
        let worst = 0.86 + 0.03 * 50f64.ln() + 0.3;
        let best = 0.86 + 0.03 * 0.8f64.ln().abs() + 0.05;
        let pad = 0.05 * (worst - best);
        assert!((chart.y_range.0 - (best - pad)).abs() < 1e-12);
        assert!((chart.y_range.1 - (worst + pad)).abs() < 1e-12);
    }

    #[test]
    fn non_finite_epochs_are_skipped_and_no_epochs_means_no_chart() {
        let mut one = trial(0, &[], TrialState::Running, None);
        one.epochs = vec![(1, f64::NAN), (2, 0.9), (3, f64::INFINITY)];
        let view = SearchView {
            experiment: "e".into(),
            space: Vec::new(),
            trials: vec![one, trial(1, &[], TrialState::Failed, None)],
        };
        let chart = prepare(&view).expect("one finite epoch");
        assert_eq!(chart.lines.len(), 1);
        assert_eq!(chart.lines[0].points, [(2, 0.9)]);
        assert_eq!(chart.lines[0].kind, LineKind::Other);
        assert_eq!(chart.max_epoch, 2);
        let (lo, hi) = chart.y_range;
        assert!(lo < 0.9 && hi > 0.9);
        assert_eq!(chart.legend.len(), 1);
        let mut empty = view.clone();
        empty.trials[0].epochs.clear();
        assert!(prepare(&empty).is_none());
    }
}
