//! Heatmaps: a metric over a pair of swept parameters, one cell per pair of values,
//! annotated with the value.
//!
//! With more than two parameters swept, the others are held at the best configuration's
//! values (a slice, see [`grid`](super::grid)), so every cell is one configuration's
//! mean over folds. Colours use the shared scale of [`colormap`](super::colormap):
//! darker is better.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::charts::{
    DESC_PX, MARGIN, TICK_PX, abbreviate, canvas_with_panel, draw_colour_bar, draw_err, fit_font,
    folds_phrase,
};
use super::colormap::{Scale, white_text_on};
use super::compare::{ConfigSummary, display_value};
use super::font::FAMILY;
use super::grid::{self, Axis};
use super::metric::Metric;
use crate::output::Staged;

/// Width of the colour-bar panel on the right.
const BAR_PANEL: u32 = 170;
/// Room for the row labels left of the cells and the column labels below.
const ROW_LABELS: u32 = 110;
const COLUMN_LABELS: u32 = 70;

/// One cell of a [`HeatmapChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Column (x value index).
    pub col: usize,
    /// Row (y value index; row 0 is drawn at the bottom).
    pub row: usize,
    /// The configuration's mean, `None` where no configuration has these values.
    pub value: Option<f64>,
    /// The annotation: the mean with 4 decimals, or `–`.
    pub text: String,
    /// Whether this is the best cell (outlined).
    pub best: bool,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapChart {
    /// `<experiment>: test RMSE by embedding_size × learning_rate`.
    pub title: String,
    /// What a cell is and what is held fixed.
    pub note: String,
    /// The x parameter's name.
    pub x_desc: String,
    /// The y parameter's name.
    pub y_desc: String,
    /// Column labels (x values).
    pub columns: Vec<String>,
    /// Row labels (y values), bottom to top.
    pub rows: Vec<String>,
    /// Every cell, row-major from the bottom.
    pub cells: Vec<Cell>,
    /// The colour scale over the cells' values.
    pub scale: Scale,
    /// The colour bar's heading: `test RMSE`.
    pub colour_desc: String,
}

/// Prepares the heatmap of `metric` over parameters `x` and `y`; `None` when nothing
/// has the metric.
pub fn prepare(
    experiment: &str,
    summaries: &[ConfigSummary],
    metric: &Metric,
    x: &Axis,
    y: &Axis,
    axes: &[Axis],
) -> Option<HeatmapChart> {
    let best = grid::best(summaries, metric)?;
    let free = [x.key.as_str(), y.key.as_str()];
    let slice = grid::slice(summaries, &best, &free);
    let mut cells = Vec::new();
    for (row, yv) in y.values.iter().enumerate() {
        for (col, xv) in x.values.iter().enumerate() {
            let value = slice
                .iter()
                .find(|s| s.param(&x.key) == Some(xv) && s.param(&y.key) == Some(yv))
                .map(|s| s.stat(metric.name()).mean)
                .filter(|v| v.is_finite());
            cells.push(Cell {
                col,
                row,
                value,
                text: value.map_or_else(|| "–".to_string(), |v| format!("{v:.4}")),
                best: best.param(&x.key) == Some(xv) && best.param(&y.key) == Some(yv),
            });
        }
    }
    let scale = Scale::new(cells.iter().filter_map(|c| c.value), metric);
    let fixed = grid::fixed_phrase(axes, &best, &free);
    let mut note = format!(
        "cell: mean over {}; outlined: best; {}",
        folds_phrase(summaries),
        metric.direction().phrase()
    );
    if !fixed.is_empty() {
        note.push_str(&format!("; {fixed} as in the best configuration"));
    }
    let labels = |a: &Axis| -> Vec<String> {
        a.values
            .iter()
            .map(|v| abbreviate(&display_value(v), 18))
            .collect()
    };
    Some(HeatmapChart {
        title: format!(
            "{experiment}: test {} by {} × {}",
            metric.label(),
            x.name,
            y.name
        ),
        note,
        x_desc: x.name.clone(),
        y_desc: y.name.clone(),
        columns: labels(x),
        rows: labels(y),
        cells,
        scale,
        colour_desc: format!("test {}", metric.label()),
    })
}

/// Draws a [`HeatmapChart`] as a PNG at `path`, the colour bar on the right.
pub fn draw(chart: &HeatmapChart, path: &Path) -> Result<(), ReportError> {
    let staged = Staged::new(path)?;
    let (root, left, bar) = canvas_with_panel(&staged, &chart.title, &chart.note, BAR_PANEL)?;
    let (ncols, nrows) = (chart.columns.len().max(1), chart.rows.len().max(1));
    let mut plot = ChartBuilder::on(&left)
        .margin(MARGIN)
        .margin_top(8)
        .x_label_area_size(COLUMN_LABELS)
        .y_label_area_size(ROW_LABELS)
        .build_cartesian_2d(0.0..ncols as f64, 0.0..nrows as f64)
        .map_err(draw_err(path))?;
    plot.configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .axis_desc_style((FAMILY, DESC_PX))
        .x_desc(chart.x_desc.as_str())
        .y_desc(chart.y_desc.as_str())
        .draw()
        .map_err(draw_err(path))?;
    let (w0, _) = plot.backend_coord(&(0.0, 0.0));
    let (w1, _) = plot.backend_coord(&(1.0, 0.0));
    let cell_px = f64::from((w1 - w0).max(1));
    for cell in &chart.cells {
        let (c, r) = (cell.col as f64, cell.row as f64);
        let fill = match cell.value {
            Some(v) => chart.scale.colour(v),
            None => RGBColor(0xee, 0xee, 0xee),
        };
        plot.draw_series([
            Rectangle::new([(c, r), (c + 1.0, r + 1.0)], fill.filled()),
            Rectangle::new([(c, r), (c + 1.0, r + 1.0)], WHITE.stroke_width(2)),
        ])
        .map_err(draw_err(path))?;
        if cell.best {
            // Black and white, so the outline shows on dark and light cells alike.
            plot.draw_series([
                Rectangle::new(
                    [(c + 0.03, r + 0.04), (c + 0.97, r + 0.96)],
                    BLACK.stroke_width(4),
                ),
                Rectangle::new(
                    [(c + 0.05, r + 0.07), (c + 0.95, r + 0.93)],
                    WHITE.stroke_width(3),
                ),
            ])
            .map_err(draw_err(path))?;
        }
        let text_colour = if cell.value.is_some() && white_text_on(fill) {
            WHITE
        } else {
            BLACK
        };
        let px = fit_font(&cell.text, cell_px - 10.0, 18.0);
        let style = TextStyle::from((FAMILY, px).into_font())
            .color(&text_colour)
            .pos(Pos::new(HPos::Center, VPos::Center));
        let (x, y) = plot.backend_coord(&(c + 0.5, r + 0.5));
        root.draw(&Text::new(cell.text.clone(), (x, y), style))
            .map_err(draw_err(path))?;
    }
    // Value labels: columns below the cells, rows left of them.
    let tick =
        |h: HPos, v: VPos| TextStyle::from((FAMILY, TICK_PX).into_font()).pos(Pos::new(h, v));
    for (i, label) in chart.columns.iter().enumerate() {
        let (x, y) = plot.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            label.clone(),
            (x, y + 8),
            tick(HPos::Center, VPos::Top),
        ))
        .map_err(draw_err(path))?;
    }
    for (i, label) in chart.rows.iter().enumerate() {
        let (x, y) = plot.backend_coord(&(0.0, i as f64 + 0.5));
        root.draw(&Text::new(
            label.clone(),
            (x - 8, y),
            tick(HPos::Right, VPos::Center),
        ))
        .map_err(draw_err(path))?;
    }
    draw_colour_bar(&bar, &chart.scale, &chart.colour_desc, path)?;
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::summarize;
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
    fn cells_are_the_slice_at_the_best_with_gaps_marked() {
        let s = summarize(&[
            run(1, "dot-mf", 8, 0.01, 0.95),
            run(2, "dot-mf", 64, 0.01, 0.93),
            run(3, "biased-mf", 8, 0.01, 0.86),
            // biased-mf / 64 / 0.01 missing (a failed run, say)
            run(4, "biased-mf", 8, 0.001, 0.84),
            run(5, "dot-mf", 8, 0.001, 0.99),
        ]);
        let axes = grid::axes(&s);
        let chart =
            prepare("demo", &s, &Metric::rmse(), &axes[0], &axes[1], &axes).expect("heatmap");
        assert_eq!(
            chart.title,
            "demo: test RMSE by architecture × embedding_size"
        );
        // The best is biased-mf / 8 / 0.001, so learning_rate is held at 0.001.
        assert_eq!(
            chart.note,
            "cell: mean over 1 fold; outlined: best; lower is better; learning_rate=0.001 as in the best configuration"
        );
        assert_eq!(chart.columns, ["dot-mf", "biased-mf"]);
        assert_eq!(chart.rows, ["8", "64"]);
        let texts: Vec<(usize, usize, &str, bool)> = chart
            .cells
            .iter()
            .map(|c| (c.col, c.row, c.text.as_str(), c.best))
            .collect();
        assert_eq!(
            texts,
            [
                (0, 0, "0.9900", false),
                (1, 0, "0.8400", true),
                (0, 1, "–", false),
                (1, 1, "–", false),
            ]
        );
        assert_eq!(chart.scale.best_worst(), (0.84, 0.99));
    }
}
