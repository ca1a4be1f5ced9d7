//! Accuracy against training time: one point per configuration, the Pareto front (the
//! configurations no other beats on both time and accuracy) joined and labelled.
//!
//! Points are coloured by the report's [`ColourKey`]; the best configurations (all of a
//! small sweep, see [`highlight`](super::highlight)) carry their rank and are listed in
//! the legend, so a point can be traced to its configuration without a legend entry
//! per point.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::charts::{
    HEIGHT, LEGEND_PX, LegendEntry, MARGIN, MAX_LEGEND_CHARS, PALETTE, TICK_PX, WIDTH,
    Y_LABEL_AREA, abbreviate, canvas_with_panel, draw_err, draw_legend, draw_marker, folds_phrase,
    house_mesh, legend_rows, param_names, text_width, value_lines,
};
use super::colours::ColourKey;
use super::compare::{ConfigSummary, rank};
use super::font::FAMILY;
use super::highlight;
use super::metric::Metric;
use crate::output::Staged;

/// One configuration in a [`ParetoChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoPoint {
    /// Legend text: the parameter values.
    pub label: String,
    /// Index into [`PALETTE`], from the report's [`ColourKey`].
    pub colour: usize,
    /// The configuration's rank (1 = best) when the chart names it.
    pub rank: Option<usize>,
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
    /// The legend's second heading line: which configurations it lists.
    pub legend_note: String,
    /// The legend: the named configurations by rank, a line for the others, then the
    /// colour key's values.
    pub legend: Vec<LegendEntry>,
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

/// A box in pixels: left, top, width, height.
type Boxed = (i32, i32, i32, i32);

/// Where to put the label `text` of the point at pixel `at`: the first of the spots
/// around it (right above, right below, left above, left below, then further out, up
/// to four rows away) whose box stays inside `bounds` and overlaps none of the `placed`
/// boxes; when every spot inside overlaps something, the one that overlaps least; the
/// first spot when none fits inside.
fn label_spot(text: &str, at: (i32, i32), placed: &[Boxed], bounds: Boxed) -> Boxed {
    let w = text_width(text, LABEL_PX) as i32 + 2;
    let h = 17;
    let (x, y) = at;
    let spots: Vec<(i32, i32)> = (0..4)
        .flat_map(|k| {
            [
                (x + 12, y - 8 - h - k * h),
                (x + 12, y + 8 + k * h),
                (x - 12 - w, y - 8 - h - k * h),
                (x - 12 - w, y + 8 + k * h),
            ]
        })
        .collect();
    let (bx, by, bw, bh) = bounds;
    let inside =
        |&(sx, sy): &(i32, i32)| sx >= bx && sy >= by && sx + w <= bx + bw && sy + h <= by + bh;
    let overlap = |&(sx, sy): &(i32, i32)| -> i32 {
        placed
            .iter()
            .map(|&(px, py, pw, ph)| {
                let dx = (sx + w).min(px + pw) - sx.max(px);
                let dy = (sy + h).min(py + ph) - sy.max(py);
                dx.max(0) * dy.max(0)
            })
            .sum()
    };
    let (sx, sy) = spots
        .iter()
        .filter(|s| inside(s))
        .min_by_key(|s| overlap(s))
        .copied()
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
    let key = ColourKey::choose(summaries);
    let mut ranked = summaries.to_vec();
    rank(&mut ranked, metric);
    let coords: Vec<(f64, f64)> = ranked
        .iter()
        .map(|s| (s.seconds.mean, s.stat(metric.name()).mean))
        .collect();
    let on_front = front(&coords, metric);
    let count = ranked.len();
    let points: Vec<ParetoPoint> = ranked
        .iter()
        .zip(&coords)
        .zip(on_front)
        .enumerate()
        .map(|(i, ((s, &(seconds, value)), on_front))| ParetoPoint {
            label: abbreviate(&value_lines(s).join(", "), MAX_LEGEND_CHARS),
            colour: key.index(s),
            rank: highlight::is_named(i, count).then_some(i + 1),
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
    let named = highlight::named(count);
    let mut legend: Vec<LegendEntry> = points
        .iter()
        .filter_map(|p| {
            let front = if p.on_front { " (front)" } else { "" };
            p.rank.map(|r| {
                LegendEntry::marker(
                    &format!("{r}  {}{front}", p.label),
                    PALETTE[p.colour % PALETTE.len()],
                    0,
                )
            })
        })
        .collect();
    if named < count {
        legend.push(LegendEntry::text(&format!(
            "{} others: points without rank",
            count - named
        )));
    }
    if let Some(phrase) = key.phrase() {
        legend.push(LegendEntry::text(&phrase));
        for (value, i) in key.legend() {
            legend.push(LegendEntry::marker(&value, PALETTE[i % PALETTE.len()], 0));
        }
    }
    let legend_note = if named < count {
        format!("best {named}, ranked")
    } else {
        "ranked, best first".to_string()
    };
    let widest = legend
        .iter()
        .map(|e| text_width(&e.label, LEGEND_PX) + 50.0)
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
        legend_note,
        legend,
        legend_width: (widest as u32).clamp(200, 340),
    }
}

/// Draws a [`ParetoChart`] as a PNG at `path`, the legend in its own panel.
pub fn draw(chart: &ParetoChart, path: &Path) -> Result<(), ReportError> {
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
        draw_marker(&root, at, 0, 6, colour, path)?;
    }
    // Labels, best first: each tries a few spots around its point and takes the first
    // that overlaps no label placed before it, so close points stay readable. Front
    // points get their name (with the rank when named), other named points their rank.
    let label_style = TextStyle::from((FAMILY, LABEL_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Top));
    // Every point is an obstacle too, so no label covers a point.
    let (xs, ys) = plot.plotting_area().get_pixel_range();
    let bounds = (xs.start, ys.start, xs.end - xs.start, ys.end - ys.start);
    let mut placed: Vec<Boxed> = chart
        .points
        .iter()
        .filter(|p| p.seconds.is_finite() && p.value.is_finite())
        .map(|p| {
            let (x, y) = plot.backend_coord(&(chart.x(p.seconds), p.value));
            (x - 8, y - 8, 16, 16)
        })
        .collect();
    for p in &chart.points {
        if !(p.seconds.is_finite() && p.value.is_finite()) {
            continue;
        }
        let text = match (p.on_front, p.rank) {
            (true, Some(r)) => format!("{r}  {}", p.label),
            (true, None) => p.label.clone(),
            (false, Some(r)) => r.to_string(),
            (false, None) => continue,
        };
        let point = plot.backend_coord(&(chart.x(p.seconds), p.value));
        let at = label_spot(&text, point, &placed, bounds);
        placed.push(at);
        // A label pushed away from its point gets a leader line back to it.
        let anchor = (
            // The label's nearest x to the point (not `clamp`, which panics when the
            // box is left of the point).
            point.0.max(at.0).min(at.0 + at.2),
            if at.1 > point.1 { at.1 } else { at.1 + at.3 },
        );
        if (anchor.1 - point.1).abs() > 20 {
            root.draw(&PathElement::new(
                vec![point, anchor],
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(draw_err(path))?;
        }
        root.draw(&Text::new(text, (at.0, at.1), label_style.clone()))
            .map_err(draw_err(path))?;
    }
    let (row, hidden) = legend_rows(chart.legend.len(), HEIGHT);
    draw_legend(
        &legend,
        (&chart.legend_title, &chart.legend_note),
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
        let bounds = (50, 50, 500, 400);
        let first = label_spot("biased-mf, 8, 0.01", (100, 300), &[], bounds);
        // right of the point, above it
        assert_eq!((first.0, first.1 + first.3), (112, 292));
        let second = label_spot("biased-mf, 32, 0.01", (110, 302), &[first], bounds);
        assert!(second.1 >= first.1 + first.3 || second.0 + second.2 <= first.0);
        // Near the left edge a label never goes left of the plot.
        let edge = label_spot("dot-mf, 8, 0.001", (60, 300), &[first, second], bounds);
        assert!(edge.0 >= 50, "{edge:?}");
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
