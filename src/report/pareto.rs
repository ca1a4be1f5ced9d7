//! Accuracy against training time: one point per configuration, the Pareto front (the
//! configurations no other beats on both time and accuracy) joined and labelled.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::charts::{
    HEIGHT, LEGEND_PX, LegendEntry, MARGIN, MAX_LEGEND_CHARS, PALETTE, TICK_PX, WIDTH,
    Y_LABEL_AREA, abbreviate, canvas_with_panel, draw_err, draw_legend, draw_marker, folds_phrase,
    house_mesh, legend_rows, param_names, text_width, value_lines,
};
use super::compare::{ConfigSummary, rank};
use super::font::FAMILY;
use super::metric::Metric;

/// One configuration in a [`ParetoChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoPoint {
    /// Legend text: the parameter values.
    pub label: String,
    /// Index into [`PALETTE`] (by grid position, as in every chart).
    pub colour: usize,
    /// Marker kind (by grid position: the eleventh configuration on changes shape).
    pub marker: usize,
    /// Mean seconds per run.
    pub seconds: f64,
    /// Mean of the metric.
    pub value: f64,
    /// Whether no other configuration is at least as fast and at least as good, and
    /// strictly better on one of the two.
    pub on_front: bool,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoChart {
    /// `<experiment>: test RMSE against training time`.
    pub title: String,
    /// What a point is and what the front means.
    pub note: String,
    /// The x-axis description, with unit and scale.
    pub x_desc: String,
    /// The y-axis description, with unit.
    pub y_desc: String,
    /// Points ranked by the metric, best first (the legend's order).
    pub points: Vec<ParetoPoint>,
    /// Whether x is drawn on a log scale (times spanning a factor of 10 or more).
    pub x_log: bool,
    /// Tick positions (in drawn coordinates) and labels of the x axis.
    pub x_ticks: Vec<(f64, String)>,
    /// The x range in drawn coordinates.
    pub x_range: (f64, f64),
    /// The y range.
    pub y_range: (f64, f64),
    /// Legend heading.
    pub legend_title: String,
    /// Width of the legend panel.
    pub legend_width: u32,
}

impl ParetoChart {
    /// The drawn x coordinate of `seconds`.
    pub fn x(&self, seconds: f64) -> f64 {
        if self.x_log { seconds.ln() } else { seconds }
    }
}

/// Which of `points` (seconds, metric value) are on the Pareto front: no other point is
/// at least as fast and at least as good, and strictly better on one of the two.
/// Points with a non-finite coordinate are never on it.
pub fn front(points: &[(f64, f64)], metric: &Metric) -> Vec<bool> {
    points
        .iter()
        .map(|&(t, v)| {
            t.is_finite()
                && v.is_finite()
                && !points.iter().any(|&(t2, v2)| {
                    let as_good = t2 <= t && !metric.better(v, v2);
                    let strictly = t2 < t || metric.better(v2, v);
                    t2.is_finite() && v2.is_finite() && as_good && strictly
                })
        })
        .collect()
}

/// Font size of the labels of front points.
const LABEL_PX: f64 = 13.0;

/// Where to put the label `text` of the point at pixel `at`: the first of a few spots
/// around it (right above, right below, left above, left below, then further out) whose
/// box overlaps none of `placed` boxes `(x, y, w, h)`; the first spot when all do.
fn label_spot(text: &str, at: (i32, i32), placed: &[(i32, i32, i32, i32)]) -> (i32, i32, i32, i32) {
    let w = text_width(text, LABEL_PX) as i32 + 2;
    let h = 17;
    let (x, y) = at;
    let spots = [
        (x + 12, y - 8 - h),
        (x + 12, y + 8),
        (x - 12 - w, y - 8 - h),
        (x - 12 - w, y + 8),
        (x + 12, y - 8 - 2 * h),
        (x + 12, y + 8 + h),
        (x - 12 - w, y - 8 - 2 * h),
        (x - 12 - w, y + 8 + h),
    ];
    let overlaps = |(sx, sy): (i32, i32)| {
        placed
            .iter()
            .any(|&(px, py, pw, ph)| sx < px + pw && px < sx + w && sy < py + ph && py < sy + h)
    };
    let (sx, sy) = spots
        .iter()
        .copied()
        .find(|&s| !overlaps(s))
        .unwrap_or(spots[0]);
    (sx, sy, w, h)
}

/// Tick values for a log axis over [lo, hi]: 1, 2, 5 × powers of ten.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi * 1.000_001 {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m;
            if v >= lo * 0.999_999 && v <= hi * 1.000_001 {
                ticks.push(v);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// Formats seconds for a tick: as few decimals as the value needs.
fn seconds_label(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}").trim_end_matches(".0").to_string()
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Prepares the accuracy-against-time chart of `metric`.
pub fn prepare(experiment: &str, summaries: &[ConfigSummary], metric: &Metric) -> ParetoChart {
    let mut ranked = summaries.to_vec();
    rank(&mut ranked, metric);
    let coords: Vec<(f64, f64)> = ranked
        .iter()
        .map(|s| (s.seconds.mean, s.stat(metric.name()).mean))
        .collect();
    let on_front = front(&coords, metric);
    let points: Vec<ParetoPoint> = ranked
        .iter()
        .zip(&coords)
        .zip(on_front)
        .map(|((s, &(seconds, value)), on_front)| ParetoPoint {
            label: abbreviate(&value_lines(s).join(", "), MAX_LEGEND_CHARS),
            colour: s.grid_index % PALETTE.len(),
            marker: (s.grid_index / PALETTE.len()) % 3,
            seconds,
            value,
            on_front,
        })
        .collect();
    let finite = || {
        points
            .iter()
            .filter(|p| p.seconds.is_finite() && p.value.is_finite())
    };
    let t_lo = finite().map(|p| p.seconds).fold(f64::INFINITY, f64::min);
    let t_hi = finite()
        .map(|p| p.seconds)
        .fold(f64::NEG_INFINITY, f64::max);
    let x_log = t_lo.is_finite() && t_lo > 0.0 && t_hi >= 10.0 * t_lo;
    let (x_range, x_ticks) = if !t_lo.is_finite() {
        ((0.0, 1.0), vec![])
    } else if x_log {
        let (a, b) = (t_lo.ln(), t_hi.ln());
        let pad = 0.08 * (b - a);
        let ticks = log_ticks(t_lo, t_hi)
            .into_iter()
            .map(|v| (v.ln(), seconds_label(v)))
            .collect();
        ((a - pad, b + pad), ticks)
    } else {
        let pad = 0.08 * (t_hi - t_lo).max(t_hi.abs() * 0.1).max(0.01);
        let lo = (t_lo - pad).max(0.0);
        ((lo, t_hi + pad), vec![])
    };
    let y_range = super::charts::padded_range(finite().map(|p| p.value));
    let names = param_names(summaries);
    let legend_title = if names.is_empty() {
        "configuration".to_string()
    } else {
        names.join(", ")
    };
    let widest = points
        .iter()
        .map(|p| text_width(&p.label, LEGEND_PX) + 50.0)
        .chain([text_width(&legend_title, LEGEND_PX) + 20.0, 200.0])
        .fold(0.0, f64::max);
    ParetoChart {
        title: format!(
            "{experiment}: test {} against training time",
            metric.label()
        ),
        note: format!(
            "one point per configuration, means over {}; line: Pareto front (nothing is both faster and better); {}",
            folds_phrase(summaries),
            metric.direction().phrase()
        ),
        x_desc: format!(
            "seconds per run (training and evaluation){}",
            if x_log { ", log scale" } else { "" }
        ),
        y_desc: format!("test {}", metric.label_with_unit()),
        points,
        x_log,
        x_ticks,
        x_range,
        y_range,
        legend_title,
        legend_width: (widest as u32).clamp(200, 340),
    }
}

/// Draws a [`ParetoChart`] as a PNG at `path`, the legend in its own panel.
pub fn draw(chart: &ParetoChart, path: &Path) -> Result<(), ReportError> {
    let legend_width = chart.legend_width.min(WIDTH / 2);
    let (root, left, legend) = canvas_with_panel(path, &chart.title, &chart.note, legend_width)?;
    let (x0, x1) = chart.x_range;
    let (y0, y1) = chart.y_range;
    let mut plot = ChartBuilder::on(&left)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(56)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err(path))?;
    let log = chart.x_log;
    let mut mesh = plot.configure_mesh();
    house_mesh(&mut mesh, &chart.x_desc, &chart.y_desc)
        .y_labels(8)
        .x_label_formatter(&|x| seconds_label(*x));
    if log {
        mesh.disable_x_mesh().x_labels(0);
    } else {
        mesh.x_labels(8);
    }
    mesh.draw().map_err(draw_err(path))?;
    if log {
        plot.draw_series(
            chart
                .x_ticks
                .iter()
                .map(|(x, _)| PathElement::new(vec![(*x, y0), (*x, y1)], BLACK.mix(0.12))),
        )
        .map_err(draw_err(path))?;
        let style =
            TextStyle::from((FAMILY, TICK_PX).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (x, label) in &chart.x_ticks {
            let (px, py) = plot.backend_coord(&(*x, y0));
            root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))
                .map_err(draw_err(path))?;
            root.draw(&Text::new(label.clone(), (px, py + 8), style.clone()))
                .map_err(draw_err(path))?;
        }
    }
    // The front as a staircase: from each front point, across to the next one's time,
    // then down (or up) to its value.
    let mut front: Vec<(f64, f64)> = chart
        .points
        .iter()
        .filter(|p| p.on_front)
        .map(|p| (chart.x(p.seconds), p.value))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut steps = Vec::new();
    for (i, &(x, y)) in front.iter().enumerate() {
        if i > 0 {
            steps.push((x, front[i - 1].1));
        }
        steps.push((x, y));
    }
    plot.draw_series(std::iter::once(PathElement::new(
        steps,
        BLACK.mix(0.55).stroke_width(2),
    )))
    .map_err(draw_err(path))?;
    // Worst first, so the best points end up on top.
    for p in chart.points.iter().rev() {
        if !(p.seconds.is_finite() && p.value.is_finite()) {
            continue;
        }
        let at = plot.backend_coord(&(chart.x(p.seconds), p.value));
        let colour = PALETTE[p.colour % PALETTE.len()];
        if p.on_front {
            root.draw(&Circle::new(at, 10, BLACK.stroke_width(2)))
                .map_err(draw_err(path))?;
        }
        draw_marker(&root, at, p.marker, 6, colour, path)?;
    }
    // Front labels: each tries a few spots around its point and takes the first that
    // overlaps no label placed before it (best first), so close points stay readable.
    let label_style = TextStyle::from((FAMILY, LABEL_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Top));
    let mut front_points: Vec<&ParetoPoint> = chart.points.iter().filter(|p| p.on_front).collect();
    front_points.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    for p in front_points {
        let point = plot.backend_coord(&(chart.x(p.seconds), p.value));
        let at = label_spot(&p.label, point, &placed);
        placed.push(at);
        root.draw(&Text::new(
            p.label.clone(),
            (at.0, at.1),
            label_style.clone(),
        ))
        .map_err(draw_err(path))?;
    }
    let entries: Vec<LegendEntry> = chart
        .points
        .iter()
        .map(|p| LegendEntry {
            label: if p.on_front {
                format!("{} (front)", p.label)
            } else {
                p.label.clone()
            },
            colour: p.colour,
            dashed: false,
            line: false,
            marker: p.marker,
        })
        .collect();
    let (row, hidden) = legend_rows(entries.len(), HEIGHT);
    draw_legend(
        &legend,
        (&chart.legend_title, "ranked, best first"),
        &entries,
        row,
        hidden,
        path,
    )?;
    root.present().map_err(draw_err(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_what_nothing_beats_on_both() {
        // (seconds, rmse): a fast and bad, b slow and good, c dominated by b (slower and
        // worse), d as fast as a and better → a is dominated by d.
        let pts = [(1.0, 0.95), (5.0, 0.85), (6.0, 0.86), (1.0, 0.90)];
        assert_eq!(front(&pts, &Metric::rmse()), [false, true, false, true]);
        // For a higher-is-better metric a (fastest, highest) beats everything.
        assert_eq!(
            front(&pts, &Metric::new("ndcg@10")),
            [true, false, false, false]
        );
        // Exact duplicates are both on the front (neither is strictly better).
        assert_eq!(
            front(&[(1.0, 0.9), (1.0, 0.9)], &Metric::rmse()),
            [true, true]
        );
        assert_eq!(front(&[(f64::NAN, 0.9)], &Metric::rmse()), [false]);
    }

    #[test]
    fn labels_of_close_points_do_not_overlap() {
        let first = label_spot("biased-mf, 8, 0.01", (100, 300), &[]);
        // right of the point, above it
        assert_eq!((first.0, first.1 + first.3), (112, 292));
        let second = label_spot("biased-mf, 32, 0.01", (110, 302), &[first]);
        assert!(second.1 >= first.1 + first.3 || second.0 + second.2 <= first.0);
    }

    #[test]
    fn ticks_and_labels() {
        assert_eq!(log_ticks(0.3, 25.0), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]);
        assert_eq!(seconds_label(0.25), "0.25");
        assert_eq!(seconds_label(2.0), "2");
        assert_eq!(seconds_label(2.5), "2.5");
        assert_eq!(seconds_label(20.0), "20");
    }
}
