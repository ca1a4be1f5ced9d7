//! Sensitivity charts: a metric against one numeric swept parameter, one line per value
//! of the categorical parameters (e.g. RMSE against embedding size, one line per
//! architecture), with the spread over folds shaded.
//!
//! Other numeric parameters are held at the best configuration's values (a slice, see
//! [`grid`](super::grid)), so each point is one configuration's mean over folds. A line
//! takes the colour of its configurations' value of the report's [`ColourKey`]; lines
//! that share a colour (a second categorical parameter) are told apart by dashes and
//! markers.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::charts::{
    HEIGHT, LEGEND_PX, LegendEntry, MARGIN, MAX_LEGEND_CHARS, PALETTE, Sample, TICK_PX, WIDTH,
    Y_LABEL_AREA, abbreviate, canvas_with_panel, draw_err, draw_legend, draw_marker, folds_phrase,
    house_mesh, legend_rows, text_width,
};
use super::colours::ColourKey;
use super::compare::{ConfigSummary, display_value};
use super::font::FAMILY;
use super::grid::{self, Axis};
use super::metric::Metric;
use crate::output::Staged;

/// One point of a [`Line`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Position on the x axis (the logarithm of the value on log axes).
    pub x: f64,
    /// Mean over folds.
    pub mean: f64,
    /// Standard deviation over folds: the shaded band is mean ± std.
    pub std: f64,
}

/// One line: the configurations sharing the values of the categorical parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend text: the categorical values (`biased-mf`), or `all configurations`.
    pub label: String,
    /// Index into [`PALETTE`], from the report's [`ColourKey`].
    pub colour: usize,
    /// Whether the line is dashed: it shares its colour with an earlier line.
    pub dashed: bool,
    /// The marker kind (see `draw_marker`): how many earlier lines share its colour.
    pub marker: usize,
    /// Points in ascending x.
    pub points: Vec<Point>,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityChart {
    /// `<experiment>: test RMSE vs embedding_size`.
    pub title: String,
    /// What the band is and what is held fixed.
    pub note: String,
    /// The x-axis description (with `log scale` where it is).
    pub x_desc: String,
    /// The y-axis description with unit.
    pub y_desc: String,
    /// Tick positions and labels: the swept values.
    pub ticks: Vec<(f64, String)>,
    /// The x range, padded so end points are not on the frame.
    pub x_range: (f64, f64),
    /// The y range over every band, padded 5 %.
    pub y_range: (f64, f64),
    /// The lines, in grid order of their first configuration.
    pub lines: Vec<Line>,
    /// Legend heading: the categorical parameters.
    pub legend_title: String,
    /// Width of the legend panel.
    pub legend_width: u32,
}

/// Prepares the sensitivity of `metric` to the numeric parameter `axis`; `None` when the
/// axis is not numeric or has fewer than two values, or nothing has the metric.
pub fn prepare(
    experiment: &str,
    summaries: &[ConfigSummary],
    metric: &Metric,
    axis: &Axis,
    axes: &[Axis],
) -> Option<SensitivityChart> {
    if !axis.numeric || axis.values.len() < 2 {
        return None;
    }
    let best = grid::best(summaries, metric)?;
    let categorical: Vec<&Axis> = axes.iter().filter(|a| !a.numeric).collect();
    let mut free: Vec<&str> = vec![axis.key.as_str()];
    free.extend(categorical.iter().map(|a| a.key.as_str()));
    let slice = grid::slice(summaries, &best, &free);

    let key = ColourKey::choose(summaries);
    let mut groups: Vec<(String, usize, Vec<Point>)> = Vec::new();
    for s in slice {
        let stat = s.stat(metric.name());
        let (Some(x), true) = (
            s.param(&axis.key).and_then(|v| axis.position(v)),
            stat.mean.is_finite(),
        ) else {
            continue;
        };
        let label = if categorical.is_empty() {
            "all configurations".to_string()
        } else {
            categorical
                .iter()
                .map(|a| s.param(&a.key).map_or_else(String::new, display_value))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let point = Point {
            x,
            mean: stat.mean,
            std: if stat.std.is_finite() { stat.std } else { 0.0 },
        };
        match groups.iter_mut().find(|(l, _, _)| *l == label) {
            Some((_, _, points)) => points.push(point),
            None => groups.push((label, key.index(s), vec![point])),
        }
    }
    if groups.is_empty() {
        return None;
    }
    let mut lines: Vec<Line> = Vec::with_capacity(groups.len());
    for (label, colour, mut points) in groups {
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        let earlier = lines.iter().filter(|l| l.colour == colour).count();
        lines.push(Line {
            label: abbreviate(&label, MAX_LEGEND_CHARS),
            colour,
            dashed: earlier > 0,
            marker: earlier,
            points,
        });
    }

    let ticks = axis.ticks();
    let (x_lo, x_hi) = ticks
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (x, _)| {
            (lo.min(*x), hi.max(*x))
        });
    let pad = 0.06 * (x_hi - x_lo).max(1e-9);
    let y_range = super::charts::padded_range(lines.iter().flat_map(|l| {
        l.points
            .iter()
            .flat_map(|p| [p.mean - p.std, p.mean + p.std])
    }));
    let fixed = grid::fixed_phrase(axes, &best, &free);
    let mut note = format!(
        "mean (line) ± 1 std (band) over {}; {}",
        folds_phrase(summaries),
        metric.direction().phrase()
    );
    if !fixed.is_empty() {
        note.push_str(&format!("; {fixed} as in the best configuration"));
    }
    let legend_title = if categorical.is_empty() {
        "configurations".to_string()
    } else {
        categorical
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let widest = lines
        .iter()
        .map(|l| text_width(&l.label, LEGEND_PX) + 50.0)
        .chain([text_width(&legend_title, LEGEND_PX) + 20.0, 150.0])
        .fold(0.0, f64::max);
    Some(SensitivityChart {
        title: format!("{experiment}: test {} vs {}", metric.label(), axis.name),
        note,
        x_desc: if axis.log {
            format!("{} (log scale)", axis.name)
        } else {
            axis.name.clone()
        },
        y_desc: format!("test {}", metric.label_with_unit()),
        ticks,
        x_range: (x_lo - pad, x_hi + pad),
        y_range,
        lines,
        legend_title,
        legend_width: (widest as u32).clamp(170, 320),
    })
}

/// Draws a [`SensitivityChart`] as a PNG at `path`, the legend in its own panel.
pub fn draw(chart: &SensitivityChart, path: &Path) -> Result<(), ReportError> {
    let legend_width = chart.legend_width.min(WIDTH / 2);
    let staged = Staged::new(path)?;
    let (root, left, legend) = canvas_with_panel(&staged, &chart.title, &chart.note, legend_width)?;
    let (x0, x1) = chart.x_range;
    let (y0, y1) = chart.y_range;
    let mut plot = ChartBuilder::on(&left)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(56)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err(path))?;
    house_mesh(&mut plot.configure_mesh(), &chart.x_desc, &chart.y_desc)
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .draw()
        .map_err(draw_err(path))?;
    // Ticks at the swept values only, with faint vertical guides.
    plot.draw_series(
        chart
            .ticks
            .iter()
            .map(|(x, _)| PathElement::new(vec![(*x, y0), (*x, y1)], BLACK.mix(0.12))),
    )
    .map_err(draw_err(path))?;
    let tick_style =
        TextStyle::from((FAMILY, TICK_PX).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (x, label) in &chart.ticks {
        let (px, py) = plot.backend_coord(&(*x, y0));
        root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))
            .map_err(draw_err(path))?;
        root.draw(&Text::new(label.clone(), (px, py + 8), tick_style.clone()))
            .map_err(draw_err(path))?;
    }
    for line in &chart.lines {
        let colour = PALETTE[line.colour % PALETTE.len()];
        let mut band: Vec<(f64, f64)> = line.points.iter().map(|p| (p.x, p.mean + p.std)).collect();
        band.extend(line.points.iter().rev().map(|p| (p.x, p.mean - p.std)));
        plot.draw_series(std::iter::once(Polygon::new(
            band,
            colour.mix(0.18).filled(),
        )))
        .map_err(draw_err(path))?;
    }
    for line in &chart.lines {
        let colour = PALETTE[line.colour % PALETTE.len()];
        let points: Vec<(f64, f64)> = line.points.iter().map(|p| (p.x, p.mean)).collect();
        if line.dashed {
            plot.draw_series(DashedLineSeries::new(
                points.clone(),
                10,
                6,
                colour.stroke_width(3),
            ))
            .map_err(draw_err(path))?;
        } else {
            plot.draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
                .map_err(draw_err(path))?;
        }
        for p in &points {
            draw_marker(&root, plot.backend_coord(p), line.marker, 5, colour, path)?;
        }
    }
    let entries: Vec<LegendEntry> = chart
        .lines
        .iter()
        .map(|l| LegendEntry {
            label: l.label.clone(),
            colour: PALETTE[l.colour % PALETTE.len()],
            sample: Sample::Line {
                width: 3,
                dashed: l.dashed,
                marker: Some(l.marker),
            },
        })
        .collect();
    let (row, hidden) = legend_rows(entries.len(), HEIGHT);
    draw_legend(
        &legend,
        (&chart.legend_title, "shaded: ± 1 std"),
        &entries,
        row,
        hidden,
        path,
    )?;
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::summarize;
    use crate::store::records::StoredRun;

    fn run(id: i64, arch: &str, size: u32, lr: f64, fold: usize, rmse: f64) -> StoredRun {
        StoredRun::finished_for_test(
            id,
            &format!(
                r#"{{"model.architecture":"{arch}","model.embedding_size":{size},"training.learning_rate":{lr}}}"#
            ),
            fold,
            rmse,
        )
    }

    /// dot-mf and biased-mf at sizes 8 and 64, learning rates 0.01 and 0.001; two folds
    /// each (rmse ± 0.01).
    fn summaries() -> Vec<ConfigSummary> {
        let mut runs = Vec::new();
        let mut id = 0;
        for (arch, base) in [("dot-mf", 0.95), ("biased-mf", 0.85)] {
            for (size, ds) in [(8, 0.02), (64, 0.0)] {
                for (lr, dl) in [(0.01, 0.0), (0.001, 0.05)] {
                    for (fold, noise) in [(0, -0.01), (1, 0.01)] {
                        id += 1;
                        runs.push(run(id, arch, size, lr, fold, base + ds + dl + noise));
                    }
                }
            }
        }
        summarize(&runs)
    }

    #[test]
    fn one_line_per_architecture_at_the_best_learning_rate() {
        let s = summaries();
        let axes = grid::axes(&s);
        let chart = prepare("demo", &s, &Metric::rmse(), &axes[1], &axes).expect("numeric axis");
        assert_eq!(chart.title, "demo: test RMSE vs embedding_size");
        assert_eq!(
            chart.note,
            "mean (line) ± 1 std (band) over 2 folds; lower is better; learning_rate=0.01 as in the best configuration"
        );
        assert_eq!(chart.x_desc, "embedding_size");
        assert_eq!(chart.y_desc, "test RMSE (rating points)");
        assert_eq!(chart.legend_title, "architecture");
        let labels: Vec<&str> = chart.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["dot-mf", "biased-mf"]);
        // biased-mf at lr 0.01: size 8 → 0.87, size 64 → 0.85; std of ±0.01 over two
        // folds = sqrt(2 · 0.01² / 1) = 0.0141421
        let b = &chart.lines[1].points;
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].x, b[1].x), (8.0, 64.0));
        assert!((b[0].mean - 0.87).abs() < 1e-12 && (b[1].mean - 0.85).abs() < 1e-12);
        assert!((b[0].std - 0.014_142_135_623_730_95).abs() < 1e-12);
        assert_eq!(
            chart.ticks,
            [(8.0, "8".to_string()), (64.0, "64".to_string())]
        );
        // x padded by 6 % of 56 each way
        assert!((chart.x_range.0 - (8.0 - 3.36)).abs() < 1e-9);
    }

    #[test]
    fn log_axes_and_categorical_axes() {
        let s = summaries();
        let axes = grid::axes(&s);
        let lr = prepare("demo", &s, &Metric::mae(), &axes[2], &axes).expect("numeric axis");
        assert_eq!(lr.x_desc, "learning_rate (log scale)");
        assert!(
            lr.note
                .ends_with("embedding_size=64 as in the best configuration")
        );
        assert!((lr.ticks[0].0 - 0.001f64.ln()).abs() < 1e-12);
        assert_eq!(lr.ticks[0].1, "0.001");
        assert!(prepare("demo", &s, &Metric::rmse(), &axes[0], &axes).is_none());
    }
}
