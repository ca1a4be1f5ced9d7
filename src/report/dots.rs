//! A metric by configuration as a dot plot: one row per configuration, best at the top,
//! the mean over folds as a point and ± 1 standard deviation as a whisker.
//!
//! Points rather than bars: a bar's length reads as the value, so a bar axis must start
//! at zero, and at zero the differences of a few thousandths that a sweep is about
//! vanish. A point has no length, so the axis can span just the values and still not
//! mislead. Rows rather than columns keep every configuration's label horizontal and
//! readable however many parameters it names. Points are coloured by the report's
//! [`ColourKey`] with a legend naming its values; a configuration scored on one fold has
//! no spread to show and gets a point without whisker.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::charts::{
    LEGEND_PX, LegendEntry, MARGIN, MAX_LEGEND_CHARS, PALETTE, TICK_PX, VALUE_PX, WIDTH,
    abbreviate, draw_err, draw_legend, folds_phrase, house_mesh, legend_rows, param_names,
    text_width, three_decimals, titled_with_note, value_lines,
};
use super::colours::ColourKey;
use super::compare::{ConfigSummary, rank};
use super::font::{FAMILY, ensure_registered};
use super::metric::Metric;
use crate::output::Staged;

/// Preferred height of one row in pixels.
const ROW_PX: u32 = 26;
/// The chart's height never goes below this (nor above [`MAX_HEIGHT`]).
const MIN_HEIGHT: u32 = 600;
/// The tallest dot plot; more rows than fit at [`ROW_PX`] get thinner.
const MAX_HEIGHT: u32 = 1000;
/// Pixels of a dot plot that are not rows: title band, margins, the x axis.
const FRAME_PX: u32 = 176;
/// Width of the column of printed values right of the plot.
const VALUE_COLUMN: u32 = 130;

/// Whether a metric-by-configuration chart says anything: it compares configurations,
/// so it needs at least two.
pub fn worth_drawing(summaries: &[ConfigSummary]) -> bool {
    summaries.len() >= 2
}

/// One configuration's row.
#[derive(Debug, Clone, PartialEq)]
pub struct DotRow {
    /// The parameter values, comma-separated (`biased-mf, 32`).
    pub label: String,
    /// The mean over folds.
    pub mean: f64,
    /// The whisker's half-length: the standard deviation over folds; `None` for a single
    /// fold (or no finite spread), drawn as a point alone.
    pub std: Option<f64>,
    /// The value as printed right of the plot: `0.8409 ± 0.0034`, or `0.8961`.
    pub value: String,
    /// Index into [`PALETTE`], from the report's [`ColourKey`].
    pub colour: usize,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct DotChart {
    /// `<experiment>: test RMSE by configuration`.
    pub title: String,
    /// What the point and whisker are, and which way is better.
    pub note: String,
    /// The x-axis description, with unit.
    pub x_desc: String,
    /// The heading above the row labels: the swept keys.
    pub label_heading: String,
    /// The rows, best first (drawn top to bottom).
    pub rows: Vec<DotRow>,
    /// The x range: the whiskers' span, padded; not forced to include zero.
    pub x_range: (f64, f64),
    /// The colour legend's heading (the key's name); empty without a key.
    pub legend_title: String,
    /// The colour legend: each key value and its palette index; empty without a key.
    pub legend: Vec<(String, usize)>,
    /// Width in pixels of the row labels' area.
    pub label_width: u32,
    /// Width in pixels of the legend panel (0 without a legend).
    pub legend_width: u32,
    /// Height of the PNG: grows with the number of rows.
    pub height: u32,
}

/// Prepares the dot plot of `metric`: one row per configuration, ranked best first.
pub fn prepare(experiment: &str, summaries: &[ConfigSummary], metric: &Metric) -> DotChart {
    let key = ColourKey::choose(summaries);
    let mut ranked = summaries.to_vec();
    rank(&mut ranked, metric);
    let rows: Vec<DotRow> = ranked
        .iter()
        .map(|s| {
            let stat = s.stat(metric.name());
            let std = (s.folds >= 2 && stat.std.is_finite()).then_some(stat.std);
            DotRow {
                label: abbreviate(&value_lines(s).join(", "), MAX_LEGEND_CHARS),
                mean: stat.mean,
                std,
                value: match std {
                    Some(sd) => format!("{:.4} ± {sd:.4}", stat.mean),
                    None => format!("{:.4}", stat.mean),
                },
                colour: key.index(s),
            }
        })
        .collect();
    let names = param_names(summaries);
    let label_heading = if names.is_empty() {
        "configuration".to_string()
    } else {
        names.join(", ")
    };
    let label_width = rows
        .iter()
        .map(|r| text_width(&r.label, TICK_PX))
        .chain([text_width(&label_heading, TICK_PX)])
        .fold(0.0, f64::max) as u32
        + 24;
    let legend = key.legend();
    let legend_width = if legend.is_empty() {
        0
    } else {
        let widest = legend
            .iter()
            .map(|(l, _)| text_width(l, LEGEND_PX) + 60.0)
            .chain([text_width(&key.name, LEGEND_PX) + 24.0])
            .fold(0.0, f64::max);
        (widest as u32).clamp(140, 260)
    };
    let n = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let folds = folds_phrase(summaries);
    let spread = if rows.iter().any(|r| r.std.is_some()) {
        format!("mean ± 1 std over {folds}")
    } else {
        format!("{folds} each: no spread to show")
    };
    let single = if rows.iter().any(|r| r.std.is_some()) && rows.iter().any(|r| r.std.is_none()) {
        " (a point alone: one fold)"
    } else {
        ""
    };
    DotChart {
        title: format!("{experiment}: test {} by configuration", metric.label()),
        note: format!(
            "{spread}{single}; best at the top; {}",
            metric.direction().phrase()
        ),
        x_desc: format!("test {}", metric.label_with_unit()),
        label_heading,
        x_range: dot_range(&rows),
        rows,
        legend_title: key.name.clone(),
        legend,
        label_width: label_width.clamp(120, 340),
        legend_width,
        height: n
            .saturating_mul(ROW_PX)
            .saturating_add(FRAME_PX)
            .clamp(MIN_HEIGHT, MAX_HEIGHT),
    }
}

/// The x range of a dot plot: the whiskers' span padded 8 % each way (at least 1 % of
/// the value when every point is the same); (0, 1) when nothing is finite.
fn dot_range(rows: &[DotRow]) -> (f64, f64) {
    let finite = rows.iter().filter(|r| r.mean.is_finite());
    let lo = finite
        .clone()
        .map(|r| r.mean - r.std.unwrap_or(0.0))
        .fold(f64::INFINITY, f64::min);
    let hi = finite
        .map(|r| r.mean + r.std.unwrap_or(0.0))
        .fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        0.08 * (hi - lo)
    } else {
        (hi.abs() * 0.01).max(0.001)
    };
    (lo - pad, hi + pad)
}

/// Draws a [`DotChart`] as a PNG at `path`: row labels on the left, values in a column
/// on the right, the colour legend in its own panel when there is a key.
pub fn draw(chart: &DotChart, path: &Path) -> Result<(), ReportError> {
    ensure_registered()?;
    let staged = Staged::new(path)?;
    let root = BitMapBackend::new(staged.path(), (WIDTH, chart.height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let area = titled_with_note(&root, &chart.title, &chart.note, path)?;
    let (left, legend) = area.split_horizontally(WIDTH - chart.legend_width.min(WIDTH / 3));
    let n = chart.rows.len().max(1) as f64;
    let (x0, x1) = chart.x_range;
    let mut plot = ChartBuilder::on(&left)
        .margin(MARGIN)
        .margin_top(30)
        .margin_right(VALUE_COLUMN)
        .x_label_area_size(56)
        .y_label_area_size(chart.label_width)
        .build_cartesian_2d(x0..x1, -0.5..n - 0.5)
        .map_err(draw_err(path))?;
    house_mesh(&mut plot.configure_mesh(), &chart.x_desc, "")
        .x_label_formatter(&three_decimals)
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(8)
        .draw()
        .map_err(draw_err(path))?;
    let y = |i: usize| n - 1.0 - i as f64;
    // A faint guide per row, so the eye follows a label to its point.
    plot.draw_series(
        (0..chart.rows.len())
            .map(|i| PathElement::new(vec![(x0, y(i)), (x1, y(i))], BLACK.mix(0.08))),
    )
    .map_err(draw_err(path))?;
    let whisker = BLACK.mix(0.75).stroke_width(2);
    for (i, row) in chart.rows.iter().enumerate() {
        if !row.mean.is_finite() {
            continue;
        }
        if let Some(sd) = row.std {
            let (lo, hi) = (row.mean - sd, row.mean + sd);
            let cap = 0.18;
            plot.draw_series([
                PathElement::new(vec![(lo, y(i)), (hi, y(i))], whisker),
                PathElement::new(vec![(lo, y(i) - cap), (lo, y(i) + cap)], whisker),
                PathElement::new(vec![(hi, y(i) - cap), (hi, y(i) + cap)], whisker),
            ])
            .map_err(draw_err(path))?;
        }
        let colour = PALETTE[row.colour % PALETTE.len()];
        plot.draw_series([
            Circle::new((row.mean, y(i)), 6, colour.filled()),
            Circle::new((row.mean, y(i)), 6, BLACK.mix(0.6).stroke_width(1)),
        ])
        .map_err(draw_err(path))?;
    }

    // Row labels and values by hand: plotters' labels are for numeric ticks.
    let row_px = (f64::from(plot.plotting_area().dim_in_pixel().1) / n).max(1.0);
    let px = TICK_PX.min(row_px - 2.0).max(8.0);
    let label_style = TextStyle::from((FAMILY, px).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let value_style = TextStyle::from((FAMILY, VALUE_PX.min(px)).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, row) in chart.rows.iter().enumerate() {
        let (lx, ly) = plot.backend_coord(&(x0, y(i)));
        root.draw(&Text::new(
            row.label.clone(),
            (lx - 10, ly),
            label_style.clone(),
        ))
        .map_err(draw_err(path))?;
        let (rx, _) = plot.backend_coord(&(x1, y(i)));
        root.draw(&Text::new(
            row.value.clone(),
            (rx + 10, ly),
            value_style.clone(),
        ))
        .map_err(draw_err(path))?;
    }
    let (lx, top) = plot.backend_coord(&(x0, n - 0.5));
    let grey = BLACK.mix(0.65);
    let heading = TextStyle::from((FAMILY, TICK_PX).into_font())
        .color(&grey)
        .pos(Pos::new(HPos::Right, VPos::Bottom));
    root.draw(&Text::new(
        chart.label_heading.clone(),
        (lx - 10, top - 6),
        heading,
    ))
    .map_err(draw_err(path))?;

    if !chart.legend.is_empty() {
        let entries: Vec<LegendEntry> = chart
            .legend
            .iter()
            .map(|(label, colour)| LegendEntry::marker(label, PALETTE[colour % PALETTE.len()], 0))
            .collect();
        let (row, hidden) = legend_rows(entries.len(), chart.height);
        draw_legend(
            &legend,
            (&chart.legend_title, "colour of the points"),
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
    use crate::store::records::StoredRun;

    fn run(id: i64, arch: &str, size: u32, fold: usize, rmse: f64) -> StoredRun {
        StoredRun::finished_for_test(
            id,
            &format!(r#"{{"model.architecture":"{arch}","model.embedding_size":{size}}}"#),
            fold,
            rmse,
        )
    }

    #[test]
    fn rows_are_ranked_coloured_by_architecture_with_whiskers_for_several_folds() {
        let s = summarize(&[
            run(1, "dot-mf", 8, 0, 0.99),
            run(2, "dot-mf", 8, 1, 1.01),
            run(3, "biased-mf", 8, 0, 0.89),
            run(4, "biased-mf", 8, 1, 0.91),
            // one fold only: a point without whisker
            run(5, "biased-mf", 16, 0, 0.95),
        ]);
        let chart = prepare("mf", &s, &Metric::rmse());
        assert_eq!(chart.title, "mf: test RMSE by configuration");
        assert_eq!(
            chart.note,
            "mean ± 1 std over 1–2 folds (a point alone: one fold); best at the top; lower is better"
        );
        assert_eq!(chart.x_desc, "test RMSE (rating points)");
        assert_eq!(chart.label_heading, "architecture, embedding_size");
        let rows: Vec<(&str, usize, &str)> = chart
            .rows
            .iter()
            .map(|r| (r.label.as_str(), r.colour, r.value.as_str()))
            .collect();
        // std of 0.89, 0.91 = sqrt(2 · 0.01² / 1) = 0.0141
        assert_eq!(
            rows,
            [
                ("biased-mf, 8", 1, "0.9000 ± 0.0141"),
                ("biased-mf, 16", 1, "0.9500"),
                ("dot-mf, 8", 0, "1.0000 ± 0.0141"),
            ]
        );
        assert_eq!(chart.rows[1].std, None);
        assert_eq!(chart.legend_title, "architecture");
        assert_eq!(
            chart.legend,
            [("dot-mf".to_string(), 0), ("biased-mf".to_string(), 1)]
        );
        // whiskers span 0.8859 .. 1.0141; padded 8 % of 0.1283: not down to zero
        let (lo, hi) = chart.x_range;
        assert!((lo - (0.9 - 0.014_142 - 0.010_263)).abs() < 1e-5, "{lo}");
        assert!((hi - (1.0 + 0.014_142 + 0.010_263)).abs() < 1e-5, "{hi}");
        assert_eq!(chart.height, 600);
    }

    #[test]
    fn single_fold_sweeps_say_so_and_tall_sweeps_grow() {
        let s = summarize(
            &(0..30)
                .map(|i| {
                    run(
                        i + 1,
                        "dot-mf",
                        8 * (i as u32 + 1),
                        0,
                        0.9 + i as f64 * 0.001,
                    )
                })
                .collect::<Vec<_>>(),
        );
        let chart = prepare("wide", &s, &Metric::mae());
        assert!(chart.rows.iter().all(|r| r.std.is_none()));
        assert!(
            chart.note.starts_with("1 fold each: no spread to show;"),
            "{}",
            chart.note
        );
        // 30 rows × 26 px + 176 = 956
        assert_eq!(chart.height, 956);
        // Nothing categorical swept: one colour, no legend.
        assert!(chart.legend.is_empty() && chart.legend_width == 0);
        assert!(chart.rows.iter().all(|r| r.colour == 0));
        assert_eq!(dot_range(&[]), (0.0, 1.0));
    }

    #[test]
    fn one_configuration_is_not_worth_a_chart() {
        let one = summarize(&[run(1, "dot-mf", 8, 0, 0.9), run(2, "dot-mf", 8, 1, 0.9)]);
        assert!(!worth_drawing(&one));
        let two = summarize(&[run(1, "dot-mf", 8, 0, 0.9), run(2, "dot-mf", 16, 0, 0.9)]);
        assert!(worth_drawing(&two));
    }
}
