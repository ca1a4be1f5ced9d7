//! Parallel coordinates: every configuration as a line across one vertical axis per
//! swept parameter and a last axis for the metric, so patterns across all parameters
//! show at once.
//!
//! Lines take the report's [`ColourKey`] colours (with a legend), as in every other
//! chart; when no categorical parameter is swept they are coloured by the metric
//! instead (darker is better, with a colour bar). The chart is drawn only for
//! [`MIN_PARAMS`] or more swept parameters: with one it is a single axis against the
//! metric (a tangle of crossing lines that a dot plot shows better), with two the
//! heatmap shows every value.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::charts::{
    HEIGHT, LegendEntry, MARGIN, PALETTE, TICK_PX, abbreviate, canvas_with_panel, draw_colour_bar,
    draw_err, draw_legend, folds_phrase, legend_rows,
};
use super::colormap::Scale;
use super::colours::ColourKey;
use super::compare::ConfigSummary;
use super::font::FAMILY;
use super::grid::Axis;
use super::metric::Metric;
use crate::output::Staged;

/// Width of the colour-bar or legend panel on the right.
const BAR_PANEL: u32 = 170;

/// The fewest swept parameters worth a parallel-coordinates chart.
pub const MIN_PARAMS: usize = 3;

/// One vertical axis.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelAxis {
    /// The heading: parameter name (with `log` where it is) or the metric.
    pub name: String,
    /// Tick heights in [0, 1] (0 bottom) and labels.
    pub ticks: Vec<(f64, String)>,
}

/// One configuration's line.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelLine {
    /// Height on each axis, in [0, 1]; the last is the metric (best at the top).
    pub ys: Vec<f64>,
    /// The metric's mean (the colour when there is no colour key).
    pub value: f64,
    /// Index into [`PALETTE`] from the report's [`ColourKey`]; `None` without a key.
    pub colour: Option<usize>,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelChart {
    /// `<experiment>: parallel coordinates of test RMSE`.
    pub title: String,
    /// How to read it.
    pub note: String,
    /// The parameter axes, then the metric axis.
    pub axes: Vec<ParallelAxis>,
    /// Lines, worst first so the best are drawn on top.
    pub lines: Vec<ParallelLine>,
    /// The metric's colour scale, used when there is no colour key.
    pub scale: Scale,
    /// The heading of the panel on the right: the key's name, or the metric for the
    /// colour bar.
    pub colour_desc: String,
    /// The colour key's values and palette indices; empty: lines are coloured by the
    /// metric and the panel is a colour bar.
    pub legend: Vec<(String, usize)>,
}

/// Height in [0, 1] of `position` among `positions` (categorical: evenly spaced by
/// index; numeric: by value between the smallest and largest); 0.5 for a single value.
fn height(axis: &Axis, value: &serde_json::Value) -> Option<f64> {
    let positions: Vec<f64> = axis
        .values
        .iter()
        .filter_map(|v| axis.position(v))
        .collect();
    let lo = positions.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = positions.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let p = axis.position(value)?;
    Some(if hi > lo { (p - lo) / (hi - lo) } else { 0.5 })
}

/// Whether a sweep with these `axes` gets a parallel-coordinates chart.
pub fn worth_drawing(axes: &[Axis]) -> bool {
    axes.len() >= MIN_PARAMS
}

/// Prepares the parallel coordinates of `metric` over every swept parameter; `None`
/// when fewer than [`MIN_PARAMS`] parameters are swept or nothing has the metric.
pub fn prepare(
    experiment: &str,
    summaries: &[ConfigSummary],
    metric: &Metric,
    axes: &[Axis],
) -> Option<ParallelChart> {
    if !worth_drawing(axes) {
        return None;
    }
    let key = ColourKey::choose(summaries);
    let values: Vec<f64> = summaries
        .iter()
        .map(|s| s.stat(metric.name()).mean)
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return None;
    }
    let scale = Scale::new(values.into_iter(), metric);
    let mut lines: Vec<ParallelLine> = summaries
        .iter()
        .filter_map(|s| {
            let value = s.stat(metric.name()).mean;
            if !value.is_finite() {
                return None;
            }
            let mut ys = Vec::with_capacity(axes.len() + 1);
            for a in axes {
                ys.push(s.param(&a.key).and_then(|v| height(a, v))?);
            }
            ys.push(1.0 - scale.t(value));
            let colour = key.is_keyed().then(|| key.index(s));
            Some(ParallelLine { ys, value, colour })
        })
        .collect();
    // Worst first: the best lines are drawn last, on top.
    lines.sort_by(|a, b| metric.compare(b.value, a.value));
    let mut chart_axes: Vec<ParallelAxis> = axes
        .iter()
        .map(|a| ParallelAxis {
            name: if a.log {
                format!("{} (log)", a.name)
            } else {
                a.name.clone()
            },
            ticks: a
                .values
                .iter()
                .filter_map(|v| {
                    height(a, v).map(|h| (h, abbreviate(&super::compare::display_value(v), 14)))
                })
                .collect(),
        })
        .collect();
    let (best, worst) = scale.best_worst();
    chart_axes.push(ParallelAxis {
        name: format!("test {}", metric.label()),
        ticks: (0..=4)
            .map(|k| {
                let f = f64::from(k) / 4.0;
                (1.0 - f, format!("{:.4}", best + (worst - best) * f))
            })
            .collect(),
    });
    Some(ParallelChart {
        title: format!(
            "{experiment}: parallel coordinates of test {}",
            metric.label()
        ),
        note: format!(
            "one line per configuration (mean over {}); last axis: the metric, best at the top; {}",
            folds_phrase(summaries),
            key.phrase()
                .unwrap_or_else(|| "darker is better".to_string())
        ),
        axes: chart_axes,
        lines,
        scale,
        colour_desc: if key.is_keyed() {
            key.name.clone()
        } else {
            format!("test {}", metric.label())
        },
        legend: key.legend(),
    })
}

/// Draws a [`ParallelChart`] as a PNG at `path`, the legend or colour bar on the right.
pub fn draw(chart: &ParallelChart, path: &Path) -> Result<(), ReportError> {
    let staged = Staged::new(path)?;
    let (root, left, bar) = canvas_with_panel(&staged, &chart.title, &chart.note, BAR_PANEL)?;
    let n = chart.axes.len().max(2) as f64;
    // Room left and right of the outer axes for their tick labels, above for headings.
    let mut plot = ChartBuilder::on(&left)
        .margin(MARGIN)
        .margin_top(40)
        .margin_left(70)
        .margin_right(90)
        .build_cartesian_2d(0.0..n - 1.0, -0.03..1.03)
        .map_err(draw_err(path))?;
    for line in &chart.lines {
        let colour = match line.colour {
            Some(i) => PALETTE[i % PALETTE.len()],
            None => chart.scale.colour(line.value),
        };
        let points: Vec<(f64, f64)> = line
            .ys
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64, y))
            .collect();
        plot.draw_series(std::iter::once(PathElement::new(
            points,
            colour.stroke_width(3),
        )))
        .map_err(draw_err(path))?;
    }
    let heading = TextStyle::from((FAMILY, 15.0).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    let tick = TextStyle::from((FAMILY, TICK_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, axis) in chart.axes.iter().enumerate() {
        let x = i as f64;
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, 1.0)],
            BLACK.stroke_width(2),
        )))
        .map_err(draw_err(path))?;
        let (hx, hy) = plot.backend_coord(&(x, 1.0));
        root.draw(&Text::new(
            axis.name.clone(),
            (hx, hy - 14),
            heading.clone(),
        ))
        .map_err(draw_err(path))?;
        for (h, label) in &axis.ticks {
            let (px, py) = plot.backend_coord(&(x, *h));
            root.draw(&PathElement::new(vec![(px, py), (px + 6, py)], BLACK))
                .map_err(draw_err(path))?;
            // A white box under the label keeps it readable over the lines.
            let w = (label.chars().count() as f64 * TICK_PX * 0.6) as i32 + 6;
            root.draw(&Rectangle::new(
                [(px + 7, py - 9), (px + 7 + w, py + 9)],
                WHITE.mix(0.85).filled(),
            ))
            .map_err(draw_err(path))?;
            root.draw(&Text::new(label.clone(), (px + 9, py), tick.clone()))
                .map_err(draw_err(path))?;
        }
    }
    if chart.legend.is_empty() {
        draw_colour_bar(&bar, &chart.scale, &chart.colour_desc, path)?;
    } else {
        let entries: Vec<LegendEntry> = chart
            .legend
            .iter()
            .map(|(label, i)| LegendEntry::line(label, PALETTE[i % PALETTE.len()]))
            .collect();
        let (row, hidden) = legend_rows(entries.len(), HEIGHT);
        draw_legend(
            &bar,
            (&chart.colour_desc, "best drawn on top"),
            &entries,
            row,
            hidden,
            path,
        )?;
    }
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::summarize;
    use crate::report::grid;
    use crate::store::records::StoredRun;

    fn run(id: i64, arch: &str, size: u32, lr: f64, rmse: f64) -> StoredRun {
        StoredRun::finished_for_test(
            id,
            &format!(
                r#"{{"model.architecture":"{arch}","model.embedding_size":{size},"training.learning_rate":{lr}}}"#
            ),
            0,
            rmse,
        )
    }

    #[test]
    fn lines_place_values_put_the_best_on_top_and_take_the_key_colours() {
        let s = summarize(&[
            run(1, "dot-mf", 8, 0.001, 1.00),
            run(2, "dot-mf", 16, 0.1, 0.90),
            run(3, "biased-mf", 8, 0.01, 0.80),
            run(4, "ncf", 16, 0.1, 0.85),
        ]);
        let axes = grid::axes(&s);
        let chart = prepare("demo", &s, &Metric::rmse(), &axes).expect("chart");
        assert_eq!(chart.title, "demo: parallel coordinates of test RMSE");
        assert!(
            chart
                .note
                .ends_with("best at the top; colour: architecture")
        );
        let names: Vec<&str> = chart.axes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "architecture",
                "embedding_size",
                "learning_rate (log)",
                "test RMSE"
            ]
        );
        // Drawn worst first: dot-mf/0.001 (1.00) … biased-mf (0.80) last.
        let values: Vec<f64> = chart.lines.iter().map(|l| l.value).collect();
        assert_eq!(values, [1.00, 0.90, 0.85, 0.80]);
        // biased-mf: architecture index 1 of 3 → 0.5; size 8 → bottom; lr 0.01 halfway
        // between 0.001 and 0.1 on a log axis → 0.5; rmse best → top (1.0).
        let best = &chart.lines[3];
        assert!((best.ys[0] - 0.5).abs() < 1e-12);
        assert_eq!(best.ys[1], 0.0);
        assert!((best.ys[2] - 0.5).abs() < 1e-12);
        assert_eq!(best.ys[3], 1.0);
        assert_eq!(chart.lines[0].ys[3], 0.0);
        // The metric axis is labelled best at the top.
        assert_eq!(chart.axes[3].ticks[0], (1.0, "0.8000".to_string()));
        assert_eq!(chart.axes[3].ticks[4], (0.0, "1.0000".to_string()));
        // Colours by architecture, in sweep order: dot-mf, biased-mf, ncf.
        let colours: Vec<Option<usize>> = chart.lines.iter().map(|l| l.colour).collect();
        assert_eq!(colours, [Some(0), Some(0), Some(2), Some(1)]);
        assert_eq!(chart.colour_desc, "architecture");
        assert_eq!(chart.legend.len(), 3);
    }

    #[test]
    fn fewer_than_three_parameters_draw_nothing() {
        let two = summarize(&[
            StoredRun::finished_for_test(1, r#"{"a":"x","b":1}"#, 0, 0.9),
            StoredRun::finished_for_test(2, r#"{"a":"y","b":2}"#, 0, 0.8),
        ]);
        let axes = grid::axes(&two);
        assert!(!worth_drawing(&axes));
        assert!(prepare("demo", &two, &Metric::rmse(), &axes).is_none());
        let none = summarize(&[StoredRun::finished_for_test(1, "{}", 0, 0.9)]);
        assert!(prepare("demo", &none, &Metric::rmse(), &grid::axes(&none)).is_none());
    }

    #[test]
    fn without_a_categorical_parameter_lines_are_coloured_by_the_metric() {
        let s = summarize(&[
            StoredRun::finished_for_test(1, r#"{"a":1,"b":1,"c":1}"#, 0, 0.9),
            StoredRun::finished_for_test(2, r#"{"a":2,"b":2,"c":2}"#, 0, 0.8),
        ]);
        let chart = prepare("demo", &s, &Metric::rmse(), &grid::axes(&s)).expect("chart");
        assert!(chart.lines.iter().all(|l| l.colour.is_none()));
        assert!(chart.legend.is_empty());
        assert_eq!(chart.colour_desc, "test RMSE");
        assert!(chart.note.ends_with("darker is better"));
    }
}
