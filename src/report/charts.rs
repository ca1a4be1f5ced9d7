//! PNG charts of an experiment: the learning curves, the charts `exp run` draws, and the
//! drawing pieces every report chart shares (canvas, title, legend, markers, palette).
//!
//! As in criterion's plotters backend, each chart is two functions: a pure one that
//! prepares the series (what to draw: values, labels, ranges, colours; unit-tested
//! without touching a file) and a thin one that draws them with plotters. A
//! configuration's colour comes from the report's [`ColourKey`] (the value of one
//! categorical parameter, the same in every chart); crowded charts name only the best
//! few configurations ([`highlight`](super::highlight)).
//!
//! Text is drawn with the bundled DejaVu Sans (see `font.rs`), so charts look the same
//! on machines without any fonts installed.

use std::path::{Path, PathBuf};

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::colours::ColourKey;
use super::compare::{ConfigSummary, rank, short_names, summarize, superseded_runs};
use super::font::{FAMILY, ensure_registered};
use super::metric::{Metric, file_stem};
use super::{ReportError, missing_experiment};
use super::{dots, highlight};
use crate::output::Staged;
use crate::store::Store;
use crate::store::records::{EpochRecord, RunStatus, StoredRun};

/// Width of every chart in pixels.
pub const WIDTH: u32 = 1000;
/// Height of every chart in pixels.
pub const HEIGHT: u32 = 600;

/// Ten colours that stay distinct on white and for most colour-vision deficiencies
/// (matplotlib's `tab10`). Value *i* of the report's colour key gets `PALETTE[i]`
/// ([`ColourKey`]); a key never has more values than the palette has colours.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4), // blue
    RGBColor(0xff, 0x7f, 0x0e), // orange
    RGBColor(0x2c, 0xa0, 0x2c), // green
    RGBColor(0xd6, 0x27, 0x28), // red
    RGBColor(0x94, 0x67, 0xbd), // purple
    RGBColor(0x8c, 0x56, 0x4b), // brown
    RGBColor(0xe3, 0x77, 0xc2), // pink
    RGBColor(0x7f, 0x7f, 0x7f), // grey
    RGBColor(0xbc, 0xbd, 0x22), // olive
    RGBColor(0x17, 0xbe, 0xcf), // cyan
];

/// The colour of the configurations a crowded chart draws without naming them.
pub const UNNAMED: RGBColor = RGBColor(0xbb, 0xbb, 0xbb);

// Layout, in pixels. The prepare functions estimate text widths from character counts
// so they stay pure: at plotters' font sizes DejaVu Sans measures 0.43–0.54 px per
// character per px of size (lower case to digits), so 0.55 errs on the wide side.
pub(crate) const MARGIN: u32 = 20;
pub(crate) const Y_LABEL_AREA: u32 = 80;
pub(crate) const TITLE_PX: f64 = 22.0;
pub(crate) const TITLE_BAND: u32 = 48;
pub(crate) const DESC_PX: f64 = 16.0;
pub(crate) const TICK_PX: f64 = 14.0;

/// The report's mesh style for a chart of metric values: the report font for ticks and
/// axis descriptions, y labels to three decimals, no minor grid lines and faint major
/// ones. Callers add their own label counts and x-axis choices.
pub(crate) fn house_mesh<'m, 'a, 'b, X, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, RangedCoordf64, DB>,
    x_desc: &str,
    y_desc: &str,
) -> &'m mut MeshStyle<'a, 'b, X, RangedCoordf64, DB>
where
    X: Ranged,
    DB: DrawingBackend,
{
    mesh.y_label_formatter(&three_decimals)
        .label_style((FAMILY, TICK_PX))
        .axis_desc_style((FAMILY, DESC_PX))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
}

/// A tick label with three decimals.
pub(crate) fn three_decimals(y: &f64) -> String {
    format!("{y:.3}")
}
pub(crate) const VALUE_PX: f64 = 13.0;
pub(crate) const LEGEND_PX: f64 = 14.0;
pub(crate) const CHAR_EM: f64 = 0.55;
/// Legend: top of the first entry, row height and font size when there is room.
pub(crate) const LEGEND_TOP: u32 = 74;
pub(crate) const LEGEND_ROW: u32 = 24;
/// The smallest legend row before entries are left out.
pub(crate) const LEGEND_MIN_ROW: u32 = 14;
/// Legend labels longer than this are cut with `…`.
pub(crate) const MAX_LEGEND_CHARS: usize = 36;

/// Estimated width in pixels of `text` at `px`.
pub(crate) fn text_width(text: &str, px: f64) -> f64 {
    text.chars().count() as f64 * px * CHAR_EM
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub(crate) fn abbreviate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// A font size that fits `text` into `width` pixels, at most `max_px`.
pub(crate) fn fit_font(text: &str, width: f64, max_px: f64) -> f64 {
    let needed = text_width(text, max_px);
    if needed <= width {
        max_px
    } else {
        (max_px * width / needed).max(10.0)
    }
}

/// "5 folds", "1 fold", or "3–5 folds" when configurations differ.
pub(crate) fn folds_phrase(summaries: &[ConfigSummary]) -> String {
    let min = summaries.iter().map(|s| s.folds).min().unwrap_or(0);
    let max = summaries.iter().map(|s| s.folds).max().unwrap_or(0);
    match (min, max) {
        (1, 1) => "1 fold".to_string(),
        (a, b) if a == b => format!("{a} folds"),
        (a, b) => format!("{a}–{b} folds"),
    }
}

/// Short names of the swept keys, in sweep order (`architecture`, `embedding_size`).
pub(crate) fn param_names(summaries: &[ConfigSummary]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in summaries.iter().flat_map(|s| &s.params) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let names = short_names(&keys);
    keys.iter().map(|k| names[k].clone()).collect()
}

/// A configuration's parameter values, or `base` when nothing is swept.
pub(crate) fn value_lines(summary: &ConfigSummary) -> Vec<String> {
    if summary.params.is_empty() {
        vec!["base".to_string()]
    } else {
        summary.values()
    }
}

/// One line of a [`CurvePanel`].
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The parameter values, comma-separated.
    pub label: String,
    /// Index into [`PALETTE`], from the report's [`ColourKey`].
    pub colour: usize,
    /// The configuration's rank (1 = best) when the chart names it: drawn in colour and
    /// tagged with the rank; `None`: drawn thin and grey, unnamed.
    pub rank: Option<usize>,
    /// `(epoch, mean value)` in epoch order.
    pub points: Vec<(usize, f64)>,
}

/// One plot of a [`CurveChart`]: a quantity per epoch, one curve per configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePanel {
    /// The y-axis description, e.g. `training loss (MSE)` or `validation RMSE`.
    pub y_desc: String,
    /// Curves in the chart's ranking, best first.
    pub curves: Vec<Curve>,
    /// The y-axis range, padded 5 % each way.
    pub y_range: (f64, f64),
}

/// Everything [`draw_learning_curves`] draws, decided by [`learning_curves`].
#[derive(Debug, Clone, PartialEq)]
pub struct CurveChart {
    /// `<experiment>: learning curves (mean over N folds)`.
    pub title: String,
    /// Heading of the legend: the swept keys.
    pub legend_title: String,
    /// The second legend heading line: what the order means.
    pub legend_note: String,
    /// Training loss on top, validation (or test) RMSE below.
    pub panels: Vec<CurvePanel>,
    /// The last epoch of any curve (at least 1).
    pub max_epoch: usize,
    /// The legend: the named curves by rank, a line for the unnamed ones, then the
    /// colour key's values.
    pub legend: Vec<LegendEntry>,
    /// Width in pixels of the legend panel right of the plots.
    pub legend_width: u32,
    /// Height in pixels of one legend row (smaller when there are many entries).
    pub legend_row: u32,
    /// How many entries (the last) the legend leaves out for lack of room; the legend
    /// then ends with `… N more`.
    pub legend_hidden: usize,
}

/// Height of the learning-curve chart: two panels stacked.
pub const CURVES_HEIGHT: u32 = 800;

/// The training loss's name for the axis, from the runs' resolved configuration
/// (`training.loss`), e.g. `MSE`; `None` when the runs do not say or disagree.
fn loss_name<'a>(runs: impl Iterator<Item = &'a StoredRun>) -> Option<String> {
    let mut names = runs.map(|r| {
        serde_json::from_str::<serde_json::Value>(&r.config_json)
            .ok()
            .and_then(|v| v["training"]["loss"].as_str().map(str::to_ascii_uppercase))
    });
    let first = names.next()??;
    names
        .all(|n| n.as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// Mean per epoch of `value` over the runs' epochs (skipping non-finite values).
fn per_epoch_mean<'a>(
    epochs: impl Iterator<Item = &'a EpochRecord>,
    value: impl Fn(&EpochRecord) -> Option<f64>,
) -> Vec<(usize, f64)> {
    let mut sums: Vec<(f64, usize)> = Vec::new();
    for e in epochs.filter(|e| e.epoch > 0) {
        let Some(v) = value(e).filter(|v| v.is_finite()) else {
            continue;
        };
        if sums.len() < e.epoch {
            sums.resize(e.epoch, (0.0, 0));
        }
        sums[e.epoch - 1].0 += v;
        sums[e.epoch - 1].1 += 1;
    }
    sums.iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(i, (sum, n))| (i + 1, sum / *n as f64))
        .collect()
}

/// A y range over `values` padded 5 % each way; (0, 1) when there are none.
pub(crate) fn padded_range(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lo = values
        .clone()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = values
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi.is_finite() {
        let pad = if hi > lo {
            0.05 * (hi - lo)
        } else {
            (hi.abs() * 0.05).max(0.01)
        };
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    }
}

/// Prepares the learning curves: for each configuration, the training loss and the
/// validation RMSE of each epoch, averaged over the folds (finished runs) that reached
/// it; the test RMSE instead of the validation RMSE when no run has a validation split.
/// With early stopping the later epochs of a curve therefore average fewer folds.
/// Non-finite values are skipped.
///
/// `runs` pairs each run with its epochs (see [`Store::epochs`]); runs that are not
/// finished, or whose `params_json` matches no summary, are ignored. Curves are listed
/// in the order of `metric`'s ranking, best first.
pub fn learning_curves(
    experiment: &str,
    summaries: &[ConfigSummary],
    runs: &[(StoredRun, Vec<EpochRecord>)],
    metric: &Metric,
) -> CurveChart {
    let key = ColourKey::choose(summaries);
    let mut ranked = summaries.to_vec();
    rank(&mut ranked, metric);
    let count = ranked.len();
    let finished = || runs.iter().filter(|(r, _)| r.status == RunStatus::Finished);
    let validation = finished()
        .flat_map(|(_, e)| e)
        .any(|e| e.validation_rmse.is_some_and(f64::is_finite));
    let curves = |value: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<Curve> {
        ranked
            .iter()
            .enumerate()
            .map(|(i, s)| Curve {
                label: abbreviate(&value_lines(s).join(", "), MAX_LEGEND_CHARS),
                colour: key.index(s),
                rank: highlight::is_named(i, count).then_some(i + 1),
                points: per_epoch_mean(
                    finished()
                        .filter(|(r, _)| r.params_json == s.params_json)
                        .flat_map(|(_, e)| e),
                    value,
                ),
            })
            .collect()
    };
    let loss = curves(&|e| Some(e.train_loss));
    let rmse = if validation {
        curves(&|e| e.validation_rmse)
    } else {
        curves(&|e| Some(e.rmse))
    };
    let max_epoch = loss
        .iter()
        .chain(&rmse)
        .filter_map(|c| c.points.last().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let panel = |y_desc: String, curves: Vec<Curve>| CurvePanel {
        y_range: padded_range(curves.iter().flat_map(|c| c.points.iter().map(|p| p.1))),
        y_desc,
        curves,
    };
    let loss_desc = match loss_name(finished().map(|(r, _)| r)) {
        Some(name) => format!("training loss ({name})"),
        None => "training loss".to_string(),
    };
    let rmse_desc = format!(
        "{} RMSE (rating points)",
        if validation { "validation" } else { "test" }
    );
    let named = highlight::named(count);
    let mut legend: Vec<LegendEntry> = loss
        .iter()
        .filter_map(|c| {
            c.rank.map(|r| {
                let label = if count > 1 {
                    format!("{r}  {}", c.label)
                } else {
                    c.label.clone()
                };
                LegendEntry::line(&label, PALETTE[c.colour % PALETTE.len()])
            })
        })
        .collect();
    if named < count {
        legend.push(LegendEntry::thin_line(
            &format!("{} others (grey)", count - named),
            UNNAMED,
        ));
    }
    if let Some(phrase) = key.phrase() {
        legend.push(LegendEntry::text(&phrase));
        for (value, i) in key.legend() {
            legend.push(LegendEntry::line(&value, PALETTE[i % PALETTE.len()]));
        }
    }
    let (legend_row, legend_hidden) = legend_rows(legend.len(), CURVES_HEIGHT);
    let names = param_names(summaries);
    let legend_title = if names.is_empty() {
        "configuration".to_string()
    } else {
        names.join(", ")
    };
    let legend_note = if count == 1 {
        "one configuration".to_string()
    } else if named < count {
        format!("best {named} by test {}, ranked", metric.label())
    } else {
        format!("ranked by test {}, best first", metric.label())
    };
    let widest = legend
        .iter()
        .map(|e| text_width(&e.label, LEGEND_PX) + 50.0)
        .chain([
            text_width(&legend_title, LEGEND_PX) + 20.0,
            text_width(&legend_note, LEGEND_PX) + 20.0,
        ])
        .fold(0.0, f64::max);
    CurveChart {
        title: format!(
            "{experiment}: learning curves (mean over {})",
            folds_phrase(summaries)
        ),
        legend_title,
        legend_note,
        panels: vec![panel(loss_desc, loss), panel(rmse_desc, rmse)],
        max_epoch,
        legend,
        legend_width: (widest as u32).clamp(160, 360),
        legend_row,
        legend_hidden,
    }
}

/// Legend row height and the number of entries left out, for `n` entries in a chart of
/// `height` pixels: rows shrink from [`LEGEND_ROW`] to fit the panel, and below
/// [`LEGEND_MIN_ROW`] the last entries give way to a `… N more` line.
pub(crate) fn legend_rows(n: usize, height: u32) -> (u32, usize) {
    let available = height - TITLE_BAND - LEGEND_TOP - 10;
    let n32 = u32::try_from(n).unwrap_or(u32::MAX).max(1);
    let row = (available / n32).min(LEGEND_ROW);
    if row >= LEGEND_MIN_ROW {
        (row, 0)
    } else {
        let fit = (available / LEGEND_MIN_ROW) as usize;
        // One row goes to the "… N more" line.
        (LEGEND_MIN_ROW, n - (fit - 1))
    }
}

/// Wraps a plotters error with the chart's path.
pub(crate) fn draw_err<E>(path: &Path) -> impl FnOnce(E) -> ReportError + '_
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| ReportError::Draw {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

/// Draws the title centred in a band across the top of `root`; returns the area below.
/// (plotters' own `titled` puts the glyphs flush against the top edge.)
pub(crate) fn titled<'a>(
    root: &DrawingArea<BitMapBackend<'a>, Shift>,
    title: &str,
    path: &Path,
) -> Result<DrawingArea<BitMapBackend<'a>, Shift>, ReportError> {
    let width = root.dim_in_pixel().0;
    let px = fit_font(title, f64::from(width.saturating_sub(2 * MARGIN)), TITLE_PX);
    let (band, rest) = root.split_vertically(TITLE_BAND);
    let style = TextStyle::from((FAMILY, px).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    let centre = (
        i32::try_from(width / 2).unwrap_or(0),
        i32::try_from(TITLE_BAND / 2).unwrap_or(0) + 2,
    );
    band.draw(&Text::new(title.to_string(), centre, style))
        .map_err(draw_err(path))?;
    Ok(rest)
}

/// Height of the title band with a note line under the title.
pub(crate) const NOTE_BAND: u32 = 70;
/// Font size of the note line.
pub(crate) const NOTE_PX: f64 = 15.0;

/// A drawing area on a chart's PNG.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// The canvas of a report chart with a side panel: a white `WIDTH × HEIGHT` PNG drawn
/// into `staged` (see [`Staged`]) in the bundled font, with `title` and `note` on
/// top, split into the plot area and a right panel `panel_width` wide (legend or colour
/// bar). Returns (root, plot area, panel); present the root and commit `staged` when done.
pub(crate) fn canvas_with_panel<'a>(
    staged: &'a Staged,
    title: &str,
    note: &str,
    panel_width: u32,
) -> Result<(Area<'a>, Area<'a>, Area<'a>), ReportError> {
    ensure_registered()?;
    let path = staged.dest();
    let root = BitMapBackend::new(staged.path(), (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let area = titled_with_note(&root, title, note, path)?;
    let (plot, panel) = area.split_horizontally(WIDTH - panel_width);
    Ok((root, plot, panel))
}

/// Draws the title and, under it, a grey note (what is held fixed, what the colours
/// mean), centred; returns the area below.
pub(crate) fn titled_with_note<'a>(
    root: &DrawingArea<BitMapBackend<'a>, Shift>,
    title: &str,
    note: &str,
    path: &Path,
) -> Result<DrawingArea<BitMapBackend<'a>, Shift>, ReportError> {
    let width = root.dim_in_pixel().0;
    let usable = f64::from(width.saturating_sub(2 * MARGIN));
    let (band, rest) = root.split_vertically(NOTE_BAND);
    let centre = i32::try_from(width / 2).unwrap_or(0);
    let title_style = TextStyle::from((FAMILY, fit_font(title, usable, TITLE_PX)).into_font())
        .pos(Pos::new(HPos::Center, VPos::Center));
    band.draw(&Text::new(title.to_string(), (centre, 24), title_style))
        .map_err(draw_err(path))?;
    let grey = BLACK.mix(0.65);
    let note_style = TextStyle::from((FAMILY, fit_font(note, usable, NOTE_PX)).into_font())
        .color(&grey)
        .pos(Pos::new(HPos::Center, VPos::Center));
    band.draw(&Text::new(note.to_string(), (centre, 52), note_style))
        .map_err(draw_err(path))?;
    Ok(rest)
}

/// Draws a vertical colour bar for `scale` in `area`: the best value at the top, the
/// worst at the bottom, five labelled ticks, and `desc` above it.
pub(crate) fn draw_colour_bar(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    scale: &crate::report::colormap::Scale,
    desc: &str,
    path: &Path,
) -> Result<(), ReportError> {
    let (_, h) = area.dim_in_pixel();
    let h = i32::try_from(h).unwrap_or(400);
    let (x0, x1, top, bottom) = (14, 36, 60, h - 50);
    let heading = TextStyle::from((FAMILY, LEGEND_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(desc.to_string(), (8, 20), heading.clone()))
        .map_err(draw_err(path))?;
    area.draw(&Text::new(
        "darker is better".to_string(),
        (8, 40),
        heading.color(&BLACK.mix(0.6)),
    ))
    .map_err(draw_err(path))?;
    let span = f64::from((bottom - top).max(1));
    for y in top..=bottom {
        let t = f64::from(y - top) / span;
        let c = crate::report::colormap::colour(t);
        area.draw(&PathElement::new(vec![(x0, y), (x1, y)], c))
            .map_err(draw_err(path))?;
    }
    area.draw(&Rectangle::new([(x0, top), (x1, bottom)], BLACK.mix(0.5)))
        .map_err(draw_err(path))?;
    let (best, worst) = scale.best_worst();
    let label = TextStyle::from((FAMILY, TICK_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for k in 0..=4 {
        let t = f64::from(k) / 4.0;
        let value = best + (worst - best) * t;
        let y = top + (t * span).round() as i32;
        area.draw(&PathElement::new(vec![(x1, y), (x1 + 5, y)], BLACK))
            .map_err(draw_err(path))?;
        area.draw(&Text::new(
            format!("{value:.4}"),
            (x1 + 9, y),
            label.clone(),
        ))
        .map_err(draw_err(path))?;
    }
    Ok(())
}

/// What a legend entry shows left of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// A line with a marker on it, `width` pixels thick, dashed or solid.
    Line {
        /// Stroke width in pixels.
        width: u32,
        /// Whether the line is dashed.
        dashed: bool,
        /// The marker on it (see [`draw_marker`]), if any.
        marker: Option<usize>,
    },
    /// A marker alone, for charts of points.
    Marker(usize),
    /// Nothing: the entry is a grey sub-heading.
    Heading,
}

/// One entry of a legend drawn by [`draw_legend`].
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// The text.
    pub label: String,
    /// The sample's colour.
    pub colour: RGBColor,
    /// What is drawn left of the text.
    pub sample: Sample,
}

impl LegendEntry {
    /// A solid line with a circle on it: a named curve or a colour-key value.
    pub fn line(label: &str, colour: RGBColor) -> LegendEntry {
        LegendEntry {
            label: label.to_string(),
            colour,
            sample: Sample::Line {
                width: 3,
                dashed: false,
                marker: Some(0),
            },
        }
    }

    /// A thin line without marker: the curves a crowded chart leaves unnamed.
    pub fn thin_line(label: &str, colour: RGBColor) -> LegendEntry {
        LegendEntry {
            label: label.to_string(),
            colour,
            sample: Sample::Line {
                width: 1,
                dashed: false,
                marker: None,
            },
        }
    }

    /// A marker alone, for charts of points.
    pub fn marker(label: &str, colour: RGBColor, kind: usize) -> LegendEntry {
        LegendEntry {
            label: label.to_string(),
            colour,
            sample: Sample::Marker(kind),
        }
    }

    /// A grey sub-heading (`colour: architecture`).
    pub fn text(label: &str) -> LegendEntry {
        LegendEntry {
            label: label.to_string(),
            colour: BLACK,
            sample: Sample::Heading,
        }
    }
}

/// Draws marker `kind` at `at` (pixel coordinates): 0 a circle, 1 a triangle, 2 a
/// square; markers tell apart configurations whose palette colours repeat.
pub(crate) fn draw_marker(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    at: (i32, i32),
    kind: usize,
    size: i32,
    colour: RGBColor,
    path: &Path,
) -> Result<(), ReportError> {
    let (x, y) = at;
    let style = colour.filled();
    match kind % 3 {
        0 => area.draw(&Circle::new(at, size, style)),
        1 => area.draw(&Polygon::new(
            vec![
                (x, y - size - 1),
                (x - size - 1, y + size),
                (x + size + 1, y + size),
            ],
            style,
        )),
        _ => area.draw(&Rectangle::new(
            [(x - size, y - size), (x + size, y + size)],
            style,
        )),
    }
    .map_err(draw_err(path))
}

/// Draws a legend into its own panel: a heading, a grey note, then one line sample and
/// label per entry (`row` pixels apart), and `… N more` when `hidden` entries did not
/// fit.
pub(crate) fn draw_legend(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    heading: (&str, &str),
    entries: &[LegendEntry],
    row: u32,
    hidden: usize,
    path: &Path,
) -> Result<(), ReportError> {
    let style = TextStyle::from((FAMILY, LEGEND_PX).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(heading.0.to_string(), (8, 24), style.clone()))
        .map_err(draw_err(path))?;
    area.draw(&Text::new(
        heading.1.to_string(),
        (8, 44),
        style.color(&BLACK.mix(0.6)),
    ))
    .map_err(draw_err(path))?;
    let row_px = i32::try_from(row).unwrap_or(LEGEND_ROW as i32);
    let entry_px = LEGEND_PX.min(f64::from(row) - 2.0);
    let entry_style = TextStyle::from((FAMILY, entry_px).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let shown = entries.len() - hidden.min(entries.len());
    let top = LEGEND_TOP as i32;
    for (k, entry) in entries.iter().take(shown).enumerate() {
        let y = top + row_px * k as i32;
        let colour = entry.colour;
        match entry.sample {
            Sample::Heading => {
                area.draw(&Text::new(
                    entry.label.clone(),
                    (8, y),
                    entry_style.color(&BLACK.mix(0.6)),
                ))
                .map_err(draw_err(path))?;
                continue;
            }
            Sample::Line {
                width,
                dashed,
                marker,
            } => {
                let stroke = colour.stroke_width(width);
                let segments = if dashed {
                    vec![vec![(8, y), (18, y)], vec![(30, y), (40, y)]]
                } else {
                    vec![vec![(8, y), (40, y)]]
                };
                for segment in segments {
                    area.draw(&PathElement::new(segment, stroke))
                        .map_err(draw_err(path))?;
                }
                if let Some(kind) = marker {
                    draw_marker(area, (24, y), kind, 4, colour, path)?;
                }
            }
            Sample::Marker(kind) => draw_marker(area, (24, y), kind, 5, colour, path)?,
        }
        area.draw(&Text::new(
            entry.label.clone(),
            (48, y),
            entry_style.clone(),
        ))
        .map_err(draw_err(path))?;
    }
    if hidden > 0 {
        let y = top + row_px * shown as i32;
        area.draw(&Text::new(
            format!("… {hidden} more"),
            (48, y),
            entry_style.color(&BLACK.mix(0.6)),
        ))
        .map_err(draw_err(path))?;
    }
    Ok(())
}

/// Draws a [`CurveChart`] as a PNG at `path`: the panels stacked on the left, the legend
/// in its own panel on the right so it never hides a line.
pub fn draw_learning_curves(chart: &CurveChart, path: &Path) -> Result<(), ReportError> {
    ensure_registered()?;
    let staged = Staged::new(path)?;
    let root = BitMapBackend::new(staged.path(), (WIDTH, CURVES_HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let area = titled(&root, &chart.title, path)?;
    let legend_width = chart.legend_width.min(WIDTH / 2);
    let (left, legend) = area.split_horizontally(WIDTH - legend_width);
    let max_epoch = i32::try_from(chart.max_epoch).unwrap_or(i32::MAX).max(2);
    let to_i32 = |e: usize| i32::try_from(e).unwrap_or(i32::MAX);
    let panels = left.split_evenly((chart.panels.len().max(1), 1));
    for (panel, area) in chart.panels.iter().zip(&panels) {
        let (y0, y1) = panel.y_range;
        let mut plot = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_top(6)
            .margin_right(MARGIN + 20)
            .x_label_area_size(50)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(1..max_epoch, y0..y1)
            .map_err(draw_err(path))?;
        house_mesh(&mut plot.configure_mesh(), "epoch", &panel.y_desc)
            .x_labels(chart.max_epoch.clamp(2, 20))
            .y_labels(6)
            .draw()
            .map_err(draw_err(path))?;
        // The unnamed curves first, thin and grey, then the named ones worst first, so
        // the best ends up on top.
        for curve in panel.curves.iter().rev().filter(|c| c.rank.is_none()) {
            let points: Vec<(i32, f64)> =
                curve.points.iter().map(|&(e, v)| (to_i32(e), v)).collect();
            plot.draw_series(LineSeries::new(points, UNNAMED.stroke_width(1)))
                .map_err(draw_err(path))?;
        }
        let mut tags: Vec<(i32, i32, String, RGBColor)> = Vec::new();
        for curve in panel.curves.iter().rev() {
            let Some(rank) = curve.rank else { continue };
            let colour = PALETTE[curve.colour % PALETTE.len()];
            let points: Vec<(i32, f64)> =
                curve.points.iter().map(|&(e, v)| (to_i32(e), v)).collect();
            plot.draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(draw_err(path))?;
            plot.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(draw_err(path))?;
            if let (Some(&last), true) = (points.last(), panel.curves.len() > 1) {
                let (x, y) = plot.backend_coord(&last);
                tags.push((x, y, rank.to_string(), colour));
            }
        }
        // Rank tags right of each named curve's last point, pushed apart where curves
        // end close together.
        let (_, rows) = plot.plotting_area().get_pixel_range();
        let (top, bottom) = (rows.start + TAG_GAP / 2, rows.end - TAG_GAP / 2);
        let mut columns: Vec<i32> = tags.iter().map(|t| t.0).collect();
        columns.sort_unstable();
        columns.dedup();
        let tag_style =
            TextStyle::from((FAMILY, TAG_PX).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        for x in columns {
            let column: Vec<&(i32, i32, String, RGBColor)> =
                tags.iter().filter(|t| t.0 == x).collect();
            let ys: Vec<i32> = column.iter().map(|t| t.1).collect();
            let placed = spread(&ys, TAG_GAP, top, bottom);
            for (tag, y) in column.iter().zip(placed) {
                if y != tag.1 {
                    root.draw(&PathElement::new(
                        vec![(x + 3, tag.1), (x + 8, y)],
                        tag.3.stroke_width(1),
                    ))
                    .map_err(draw_err(path))?;
                }
                root.draw(&Text::new(
                    tag.2.clone(),
                    (x + 9, y),
                    tag_style.color(&tag.3),
                ))
                .map_err(draw_err(path))?;
            }
        }
    }
    draw_legend(
        &legend,
        (&chart.legend_title, &chart.legend_note),
        &chart.legend,
        chart.legend_row,
        chart.legend_hidden,
        path,
    )?;
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

/// Font size of the rank tags at the end of named learning curves.
const TAG_PX: f64 = 13.0;
/// The least vertical distance between two rank tags, in pixels.
const TAG_GAP: i32 = 14;

/// Label positions for points at heights `ys` (pixels, down is positive): each label as
/// near its point as it can be while keeping `gap` pixels from the others and staying
/// within `top..=bottom` (when they fit). Returned in the order of `ys`.
pub(crate) fn spread(ys: &[i32], gap: i32, top: i32, bottom: i32) -> Vec<i32> {
    let mut order: Vec<usize> = (0..ys.len()).collect();
    order.sort_by_key(|&i| ys[i]);
    let mut placed: Vec<i32> = Vec::with_capacity(ys.len());
    for &i in &order {
        let y = match placed.last() {
            Some(&prev) => ys[i].max(prev + gap),
            None => ys[i].max(top),
        };
        placed.push(y);
    }
    // Pushed past the bottom: shift the run that overflows back up.
    if placed.last().is_some_and(|&last| last > bottom) {
        let mut limit = bottom;
        for y in placed.iter_mut().rev() {
            if *y <= limit {
                break;
            }
            *y = limit;
            limit -= gap;
        }
    }
    let mut out = vec![0; ys.len()];
    for (&i, &y) in order.iter().zip(&placed) {
        out[i] = y;
    }
    out
}

/// A chart `exp run` draws after a sweep.
#[derive(Debug, Clone, PartialEq)]
pub enum RunChart {
    /// A metric by configuration ([`dots`]).
    ByConfig(Metric),
    /// The learning curves.
    LearningCurves,
}

impl RunChart {
    /// The chart's file name, the same as in `exp report`.
    pub fn file(&self) -> String {
        match self {
            RunChart::ByConfig(m) => format!("{}_by_config.png", file_stem(m.name())),
            RunChart::LearningCurves => "learning_curves.png".to_string(),
        }
    }
}

/// The charts [`write_experiment_charts`] draws for `summaries`, in order: RMSE and
/// MAE by configuration when there are at least two configurations to compare, then
/// the learning curves.
pub fn run_charts(summaries: &[ConfigSummary]) -> Vec<RunChart> {
    let mut charts = Vec::new();
    if dots::worth_drawing(summaries) {
        charts.push(RunChart::ByConfig(Metric::rmse()));
        charts.push(RunChart::ByConfig(Metric::mae()));
    }
    charts.push(RunChart::LearningCurves);
    charts
}

/// Writes the charts of `experiment` that `exp run` shows into `out_dir` (created if
/// needed; see [`run_charts`]) and returns their paths.
///
/// Fails with [`ReportError::UnknownExperiment`] or [`ReportError::NoFinishedRuns`]
/// before writing anything when there is nothing to draw.
pub fn write_experiment_charts(
    store: &Store,
    experiment: &str,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let runs = store.runs(Some(experiment))?;
    let summaries = summarize(&runs);
    if summaries.is_empty() {
        return Err(missing_experiment(store, experiment));
    }
    let superseded = superseded_runs(&runs);
    let mut with_epochs = Vec::new();
    let current = |r: &StoredRun| r.status == RunStatus::Finished && !superseded.contains(&r.id);
    for run in runs.into_iter().filter(current) {
        let epochs = store.epochs(run.id)?;
        with_epochs.push((run, epochs));
    }
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::CreateDir {
        dir: out_dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for chart in run_charts(&summaries) {
        let path = out_dir.join(chart.file());
        match &chart {
            RunChart::ByConfig(metric) => {
                dots::draw(&dots::prepare(experiment, &summaries, metric), &path)?;
            }
            RunChart::LearningCurves => draw_learning_curves(
                &learning_curves(experiment, &summaries, &with_epochs, &Metric::rmse()),
                &path,
            )?,
        }
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::{Format, Stat};

    fn stat(mean: f64, std: f64) -> Stat {
        Stat {
            mean,
            std,
            n: 5,
            ci95: crate::report::stats::ci95_half_width(std, 5),
        }
    }
    use crate::store::records::{NewRun, RunOutcome};

    fn summary(grid_index: usize, arch: &str, size: u32, rmse: f64, std: f64) -> ConfigSummary {
        let params = vec![
            (
                "model.architecture".to_string(),
                serde_json::Value::from(arch),
            ),
            (
                "model.embedding_size".to_string(),
                serde_json::Value::from(size),
            ),
        ];
        ConfigSummary {
            superseded: 0,
            params_json: format!(
                r#"{{"model.architecture":"{arch}","model.embedding_size":{size}}}"#
            ),
            label: format!("architecture={arch} embedding_size={size}"),
            params,
            grid_index,
            folds: 5,
            run_ids: vec![1, 2, 3, 4, 5],
            metrics: [
                ("rmse".to_string(), stat(rmse, std)),
                ("mae".to_string(), stat(rmse * 0.78, std)),
            ]
            .into(),
            fold_values: Default::default(),
            seconds: stat(10.0, 1.0),
        }
    }

    #[test]
    fn run_charts_compare_configurations_only_when_there_are_several() {
        let files = |s: &[ConfigSummary]| -> Vec<String> {
            run_charts(s).iter().map(RunChart::file).collect()
        };
        assert_eq!(
            files(&realistic_summaries()),
            [
                "rmse_by_config.png",
                "mae_by_config.png",
                "learning_curves.png"
            ]
        );
        let one = [summary(0, "dot-mf", 8, 1.0, 0.0)];
        assert_eq!(files(&one), ["learning_curves.png"]);
    }

    #[test]
    fn tags_keep_their_distance_and_stay_inside() {
        // Far apart: unchanged.
        assert_eq!(spread(&[100, 10, 50], 14, 0, 200), [100, 10, 50]);
        // Three ends within 5 px: pushed down one gap at a time, in height order.
        assert_eq!(spread(&[52, 50, 55], 14, 0, 200), [64, 50, 78]);
        // Pushed past the bottom: the run moves back up.
        assert_eq!(spread(&[195, 198], 14, 0, 200), [186, 200]);
        // Above the top: moved down to it.
        assert_eq!(spread(&[-5], 14, 0, 200), [0]);
        assert!(spread(&[], 14, 0, 200).is_empty());
    }

    #[test]
    fn helpers_format_and_fit_text() {
        assert_eq!(abbreviate("short", 10), "short");
        assert_eq!(abbreviate("abcdefghijkl", 6), "abcde…");
        assert_eq!(fit_font("abc", 1000.0, 22.0), 22.0);
        // 100 chars at 22 px ≈ 100 × 22 × 0.55 = 1210 px; to fit 605 px the font halves.
        assert!((fit_font(&"x".repeat(100), 605.0, 22.0) - 11.0).abs() < 1e-9);
        let mut s = vec![summary(0, "a", 1, 1.0, 0.0)];
        assert_eq!(folds_phrase(&s), "5 folds");
        s[0].folds = 1;
        assert_eq!(folds_phrase(&s), "1 fold");
        s.push(summary(1, "a", 2, 1.0, 0.0));
        assert_eq!(folds_phrase(&s), "1–5 folds");
    }

    fn stored(id: i64, s: &ConfigSummary, status: RunStatus) -> StoredRun {
        StoredRun {
            status,
            ..StoredRun::finished_for_test(id, &s.params_json, 0, 1.0)
        }
    }

    fn epochs(rmse: &[f64]) -> Vec<EpochRecord> {
        rmse.iter()
            .enumerate()
            .map(|(i, &r)| EpochRecord {
                epoch: i + 1,
                train_loss: r * 2.0,
                rmse: r,
                mae: r * 0.8,
                seconds: 1.0,
                train_seconds: None,
                validation_rmse: None,
                validation_mae: None,
            })
            .collect()
    }

    fn close_points(p: &[(usize, f64)], q: &[(usize, f64)]) -> bool {
        p.len() == q.len()
            && p.iter()
                .zip(q)
                .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() < 1e-12)
    }

    #[test]
    fn curves_average_folds_per_epoch() {
        let a = summary(0, "dot-mf", 8, 1.00, 0.0);
        let b = summary(1, "biased-mf", 8, 0.90, 0.0);
        let mut mse = stored(1, &a, RunStatus::Finished);
        mse.config_json = r#"{"training":{"loss":"mse"}}"#.into();
        let runs = vec![
            // a: fold 0 stops early at epoch 2; fold 1 runs 3 epochs.
            (mse, epochs(&[1.4, 1.2])),
            (stored(2, &a, RunStatus::Finished), epochs(&[1.2, 1.0, 0.9])),
            // b: NaN epoch 2 of one fold is skipped; the failed run is ignored.
            (stored(3, &b, RunStatus::Finished), epochs(&[1.0, f64::NAN])),
            (stored(4, &b, RunStatus::Finished), epochs(&[1.2, 0.8])),
            (stored(5, &b, RunStatus::Failed), epochs(&[9.0, 9.0])),
        ];
        let chart = learning_curves("mf", &[a, b], &runs, &Metric::rmse());
        assert_eq!(chart.title, "mf: learning curves (mean over 5 folds)");
        assert_eq!(chart.legend_title, "architecture, embedding_size");
        assert_eq!(chart.legend_note, "ranked by test RMSE, best first");
        assert_eq!(chart.panels.len(), 2);
        // The runs disagree on the loss (one says mse, the others nothing).
        assert_eq!(chart.panels[0].y_desc, "training loss");
        // No validation split: the test RMSE is drawn.
        assert_eq!(chart.panels[1].y_desc, "test RMSE (rating points)");
        let rmse = &chart.panels[1];
        // Legend order is the RMSE ranking: b (0.90) before a (1.00).
        assert_eq!(rmse.curves[0].label, "biased-mf, 8");
        assert_eq!(rmse.curves[0].colour, 1);
        // b: epoch 1 (1.0 + 1.2) / 2 = 1.1; epoch 2 only 0.8
        assert!(
            close_points(&rmse.curves[0].points, &[(1, 1.1), (2, 0.8)]),
            "{:?}",
            rmse.curves[0]
        );
        // a: epoch 1 (1.4 + 1.2) / 2 = 1.3; epoch 2 (1.2 + 1.0) / 2 = 1.1; epoch 3 0.9
        assert!(close_points(
            &rmse.curves[1].points,
            &[(1, 1.3), (2, 1.1), (3, 0.9)]
        ));
        // Training loss is 2 × RMSE in this fixture: a's epoch 1 is 2.6.
        assert!((chart.panels[0].curves[1].points[0].1 - 2.6).abs() < 1e-12);
        assert_eq!(chart.max_epoch, 3);
        // values 0.8 .. 1.3, padded by 5 % of 0.5
        let (lo, hi) = rmse.y_range;
        assert!(
            (lo - 0.775).abs() < 1e-12 && (hi - 1.325).abs() < 1e-12,
            "{lo} {hi}"
        );
        // Two configurations: both named, by rank.
        let ranks: Vec<Option<usize>> = rmse.curves.iter().map(|c| c.rank).collect();
        assert_eq!(ranks, [Some(1), Some(2)]);
        let legend: Vec<&str> = chart.legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(
            legend,
            [
                "1  biased-mf, 8",
                "2  dot-mf, 8",
                "colour: architecture",
                "dot-mf",
                "biased-mf"
            ]
        );
    }

    #[test]
    fn curves_prefer_the_validation_rmse_and_name_the_loss() {
        let a = summary(0, "dot-mf", 8, 1.00, 0.0);
        let mut run = stored(1, &a, RunStatus::Finished);
        run.config_json = r#"{"training":{"loss":"huber"}}"#.into();
        let mut e = epochs(&[1.0, 0.9]);
        e[0].validation_rmse = Some(1.05);
        e[1].validation_rmse = Some(0.95);
        let chart = learning_curves("v", &[a], &[(run, e)], &Metric::rmse());
        assert_eq!(chart.panels[0].y_desc, "training loss (HUBER)");
        assert_eq!(chart.panels[1].y_desc, "validation RMSE (rating points)");
        assert!(close_points(
            &chart.panels[1].curves[0].points,
            &[(1, 1.05), (2, 0.95)]
        ));
    }

    #[test]
    fn legend_rows_shrink_then_leave_out_the_worst() {
        // At 600 px the panel has 600 - 48 - 74 - 10 = 468 px for entries.
        assert_eq!(legend_rows(8, 600), (24, 0));
        // 468 / 24 = 19.5 → 19 px rows, all shown
        assert_eq!(legend_rows(24, 600), (19, 0));
        // 468 / 40 = 11.7 < 14: 468 / 14 = 33 rows, 32 entries + "… 8 more"
        assert_eq!(legend_rows(40, 600), (14, 8));
        assert_eq!(legend_rows(0, 600), (24, 0));
        // At 800 px: 668 px; 40 entries of 16 px fit.
        assert_eq!(legend_rows(40, 800), (16, 0));
    }

    #[test]
    fn crowded_curves_name_the_best_five_and_grey_the_rest() {
        let summaries: Vec<ConfigSummary> = (0..11)
            .map(|i| summary(i, "dot-mf", i as u32, 1.0 + i as f64 * 0.01, 0.0))
            .collect();
        let chart = learning_curves("e", &summaries, &[], &Metric::rmse());
        let curves = &chart.panels[1].curves;
        assert_eq!(curves.len(), 11);
        let ranks: Vec<Option<usize>> = curves.iter().map(|c| c.rank).collect();
        assert_eq!(ranks[..5], [Some(1), Some(2), Some(3), Some(4), Some(5)]);
        assert!(ranks[5..].iter().all(Option::is_none));
        assert_eq!(chart.legend_note, "best 5 by test RMSE, ranked");
        // Five named entries and one for the rest; one architecture: no colour key.
        assert_eq!(chart.legend.len(), 6);
        assert_eq!(chart.legend[5].label, "6 others (grey)");
        assert_eq!(chart.legend[5].colour, UNNAMED);
        assert_eq!(chart.max_epoch, 1);
        assert_eq!(chart.panels[1].y_range, (0.0, 1.0));
    }

    // ---- fake store and PNG checks -------------------------------------------------

    /// A deterministic pseudo-random number in [-1, 1) from a seed (splitmix64).
    fn noise(seed: u64) -> f64 {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// The grid of the demo: dot-mf / biased-mf × 8 / 16 / 32 / 64.
    const ARCHS: [&str; 2] = ["dot-mf", "biased-mf"];
    const SIZES: [u32; 4] = [8, 16, 32, 64];

    /// A store like a real 5-fold sweep of 10 epochs: biased MF settles near 0.87–0.90,
    /// dot MF near 0.95–1.08 and overfits as the embedding grows.
    fn realistic_store() -> Store {
        let mut store = Store::open_in_memory().expect("store");
        fill_realistic(&mut store, "movielens-mf", &ARCHS, &SIZES);
        store
    }

    fn fill_realistic(store: &mut Store, name: &str, archs: &[&str], sizes: &[u32]) {
        let exp = store
            .upsert_experiment(name, "experiments/mf.toml", "[experiment]")
            .expect("experiment");
        let mut seed = 0u64;
        for &arch in archs {
            for (si, &size) in sizes.iter().enumerate() {
                let (best, overfit) = if arch == "biased-mf" {
                    (0.875 + 0.008 * si as f64, 0.002)
                } else {
                    (0.95 + 0.04 * si as f64, 0.006 * (si + 1) as f64)
                };
                for fold in 0..5 {
                    seed += 1;
                    let params = format!(
                        r#"{{"model.architecture":"{arch}","model.embedding_size":{size}}}"#
                    );
                    let run = NewRun {
                        key: format!("{arch}-{size}-{fold}"),
                        params_json: params,
                        config_json: "{}".into(),
                        fold,
                        repeat: 0,
                        trial: None,
                    };
                    let id = store.claim(exp, &run).expect("claim").expect("new");
                    let offset = 0.012 * noise(seed);
                    let mut best_epoch = (0, f64::INFINITY);
                    for epoch in 1..=10usize {
                        let t = epoch as f64;
                        let rmse = best
                            + offset
                            + 0.55 * (-0.6 * (t - 1.0)).exp()
                            + overfit * (t - 6.0).max(0.0)
                            + 0.004 * noise(seed * 100 + epoch as u64);
                        if rmse < best_epoch.1 {
                            best_epoch = (epoch, rmse);
                        }
                        let record = EpochRecord {
                            epoch,
                            train_loss: 1.2 * (-0.3 * t).exp() + 0.5,
                            rmse,
                            mae: rmse * 0.78,
                            seconds: 0.8 + 0.01 * f64::from(size),
                            train_seconds: None,
                            validation_rmse: None,
                            validation_mae: None,
                        };
                        store
                            .add_epoch(id, &crate::store::Store::test_owner(), &record)
                            .expect("epoch");
                    }
                    let outcome = RunOutcome::Finished {
                        rmse: best_epoch.1,
                        mae: best_epoch.1 * 0.78,
                        best_epoch: best_epoch.0,
                        seconds: 10.0 * (0.8 + 0.01 * f64::from(size)),
                        checkpoint: None,
                        engine: None,
                        metrics: Vec::new(),
                    };
                    store
                        .finish_run(id, &crate::store::Store::test_owner(), &outcome)
                        .expect("finish");
                }
            }
        }
    }

    fn realistic_summaries() -> Vec<ConfigSummary> {
        summarize(&realistic_store().runs(None).expect("runs"))
    }

    /// Checks the PNG signature and IHDR size, decodes the image, and returns how many
    /// pixels have each palette colour.
    fn decode_png(path: &Path) -> (u32, u32, Vec<usize>) {
        let bytes = std::fs::read(path).expect("read png");
        assert_eq!(
            &bytes[..8],
            b"\x89PNG\r\n\x1a\n",
            "{} is not a PNG",
            path.display()
        );
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let (w, h) = (be(&bytes[16..20]), be(&bytes[20..24]));
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let mut counts = vec![0usize; PALETTE.len()];
        for px in buf[..info.buffer_size()].chunks_exact(3) {
            // Shapes are opaque or at 85 % opacity on white: accept either.
            for (c, colour) in PALETTE.iter().enumerate() {
                let blend = |v: u8| (f64::from(v) * 0.85 + 255.0 * 0.15).round() as i32;
                let near = |a: u8, b: i32| (i32::from(a) - b).abs() <= 2;
                let opaque = px == [colour.0, colour.1, colour.2];
                let mixed = near(px[0], blend(colour.0))
                    && near(px[1], blend(colour.1))
                    && near(px[2], blend(colour.2));
                if opaque || mixed {
                    counts[c] += 1;
                }
            }
        }
        (w, h, counts)
    }

    #[test]
    fn experiment_charts_are_real_pngs() {
        let store = realistic_store();
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("charts/movielens-mf");
        let paths = write_experiment_charts(&store, "movielens-mf", &out).expect("charts");
        let expected: Vec<PathBuf> = run_charts(&realistic_summaries())
            .iter()
            .map(|c| out.join(c.file()))
            .collect();
        assert_eq!(paths, expected);
        for path in &paths {
            let size = std::fs::metadata(path).expect("written").len();
            assert!(size > 10_000, "{} is only {size} bytes", path.display());
            let (w, h, counts) = decode_png(path);
            assert_eq!(w, WIDTH);
            assert!(h == HEIGHT || h == CURVES_HEIGHT, "{h}");
            // Both architectures are drawn in their colour.
            for (c, n) in counts.iter().enumerate().take(2) {
                assert!(
                    *n > 50,
                    "{}: colour {c} has only {n} pixels",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn charts_of_unknown_or_unfinished_experiments_fail_clearly() {
        let mut store = realistic_store();
        let dir = tempfile::tempdir().expect("tempdir");
        let err = write_experiment_charts(&store, "nope", dir.path()).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "database `:memory:` has no experiment named `nope` (it has: movielens-mf)"
        );
        let id = store
            .upsert_experiment("fresh", "f.toml", "")
            .expect("fresh");
        let run = NewRun {
            key: "k".into(),
            params_json: "{}".into(),
            config_json: "{}".into(),
            fold: 0,
            repeat: 0,
            trial: None,
        };
        store.claim(id, &run).expect("claim");
        let err = write_experiment_charts(&store, "fresh", dir.path()).expect_err("unfinished");
        assert!(matches!(err, ReportError::NoFinishedRuns { .. }), "{err}");
        assert!(
            std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
            "nothing written"
        );
    }

    /// Draws every chart of a realistic and of a crowded experiment (24 configurations, a
    /// long name, labels that must turn). To keep them for eyeballing:
    /// `EXP_CHART_DEMO_DIR=/tmp/demo cargo test --release --lib demo_charts -- --nocapture`.
    #[test]
    fn demo_charts() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = std::env::var_os("EXP_CHART_DEMO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| temp.path().to_path_buf());
        let db = dir.join("results.db");
        let _ = std::fs::remove_file(&db);
        let mut store = Store::open(&db).expect("demo store");
        fill_realistic(&mut store, "movielens-mf", &ARCHS, &SIZES);
        let runs = store.runs(Some("movielens-mf")).expect("runs");
        let table = crate::report::render(&summarize(&runs), &Metric::rmse(), Format::Table);
        println!("{table}");
        let written = write_experiment_charts(&store, "movielens-mf", &dir).expect("charts");
        assert!(written.len() >= 3, "{written:?}");
        for path in &written {
            assert!(path.is_file(), "{}", path.display());
            println!("{}", path.display());
        }
        // A crowded grid: 24 configurations, a long name, labels that must turn.
        let name = "amazon-books-neural-collaborative-filtering-wide-embedding-sweep";
        let archs = ["dot-mf", "biased-mf", "neural-collaborative-filtering"];
        let sizes = [4, 8, 16, 32, 64, 128, 256, 512];
        fill_realistic(&mut store, name, &archs, &sizes);
        let wide = write_experiment_charts(&store, name, &dir.join("wide")).expect("wide");
        assert!(wide.len() >= 3, "{wide:?}");
        for path in &wide {
            assert!(path.is_file(), "{}", path.display());
            println!("{}", path.display());
        }
    }
}
