//! PNG charts of a data set for `exp data stats`: the rating histogram, the 20 most rated
//! items and most active users, and the long-tail curve.
//!
//! Same shape and look as the experiment charts in `report::charts`: a pure function
//! prepares each chart (labels, values, ranges; unit-tested), a thin one draws it with
//! plotters, with the bundled font and the shared palette and size.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::stats::{DataStats, head_share, rating_label};
use crate::output::Staged;
use crate::report::ReportError;
use crate::report::charts::{HEIGHT, PALETTE, WIDTH};
use crate::report::font::{FAMILY, ensure_registered};

/// The files [`write_stats_charts`] writes, in order.
pub const STATS_CHART_FILES: [&str; 4] = [
    "rating-histogram.png",
    "top-items.png",
    "top-users.png",
    "long-tail.png",
];

const MARGIN: u32 = 20;
const TITLE_PX: f64 = 22.0;
const TICK_PX: f64 = 14.0;
const DESC_PX: f64 = 16.0;
const VALUE_PX: f64 = 13.0;
/// Labels of the ranked bar charts longer than this are cut with `…`.
const MAX_LABEL_CHARS: usize = 42;

/// A vertical bar chart (the rating histogram).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Chart title.
    pub title: String,
    /// (x label, value), left to right.
    pub bars: Vec<(String, f64)>,
    /// Y axis description.
    pub y_desc: String,
}

/// A horizontal bar chart of ranked entities (top items, top users).
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Chart title.
    pub title: String,
    /// (label, count), largest first (drawn top to bottom).
    pub rows: Vec<(String, usize)>,
    /// X axis description.
    pub x_desc: String,
}

/// A line chart with the diagonal for reference (the long-tail curve).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Chart title.
    pub title: String,
    /// Points in [0, 1]², left to right.
    pub points: Vec<(f64, f64)>,
    /// A note drawn inside the plot, e.g. the share of the top 20 %.
    pub note: String,
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
fn abbreviate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// The rating histogram of `stats`: one bar per rating value, its share of ratings.
pub fn rating_histogram(stats: &DataStats) -> Histogram {
    let total = stats.ratings.max(1) as f64;
    Histogram {
        title: format!(
            "{}: rating distribution ({} ratings)",
            stats.name, stats.ratings
        ),
        bars: stats
            .distribution
            .iter()
            .map(|&(v, c)| (rating_label(v), 100.0 * c as f64 / total))
            .collect(),
        y_desc: "share of ratings (%)".to_owned(),
    }
}

/// The most rated items, labelled by title (raw id where there is none).
pub fn top_items(stats: &DataStats) -> Ranked {
    Ranked {
        title: format!(
            "{}: the {} most rated items",
            stats.name,
            stats.top_items.len()
        ),
        rows: stats
            .top_items
            .iter()
            .map(|(label, c)| (abbreviate(label, MAX_LABEL_CHARS), *c))
            .collect(),
        x_desc: "ratings".to_owned(),
    }
}

/// The most active users, labelled by raw id.
pub fn top_users(stats: &DataStats) -> Ranked {
    Ranked {
        title: format!(
            "{}: the {} most active users",
            stats.name,
            stats.top_users.len()
        ),
        rows: stats
            .top_users
            .iter()
            .map(|(label, c)| (format!("user {}", abbreviate(label, MAX_LABEL_CHARS)), *c))
            .collect(),
        x_desc: "ratings".to_owned(),
    }
}

/// The long-tail curve: share of ratings against share of items, most popular first.
pub fn long_tail(stats: &DataStats) -> Curve {
    Curve {
        title: format!("{}: long tail ({} items)", stats.name, stats.items),
        points: stats.long_tail.clone(),
        note: format!(
            "the most rated 20% of items hold {:.1}% of ratings",
            100.0 * head_share(&stats.long_tail, 0.2)
        ),
    }
}

fn draw_err<E>(path: &Path) -> impl FnOnce(E) -> ReportError + '_
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| ReportError::Draw {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

/// A drawing area on a PNG file.
type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A white canvas of the standard width drawn into `staged` (see [`Staged`]), its title
/// drawn; returns the root and the area below the title.
fn canvas<'a>(
    staged: &'a Staged,
    title: &str,
    height: u32,
) -> Result<(Area<'a>, Area<'a>), ReportError> {
    ensure_registered()?;
    let path = staged.dest();
    let root = BitMapBackend::new(staged.path(), (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let (band, rest) = root.split_vertically(48);
    let style =
        TextStyle::from((FAMILY, TITLE_PX).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    let centre = (i32::try_from(WIDTH / 2).unwrap_or(0), 26);
    band.draw(&Text::new(abbreviate(title, 80), centre, style))
        .map_err(draw_err(path))?;
    Ok((root, rest))
}

/// Draws a [`Histogram`] at `path`.
pub fn draw_histogram(chart: &Histogram, path: &Path) -> Result<(), ReportError> {
    let staged = Staged::new(path)?;
    let (root, area) = canvas(&staged, &chart.title, HEIGHT)?;
    let n = chart.bars.len().max(1);
    let top = chart.bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0) * 1.12;
    let mut plot = ChartBuilder::on(&area)
        .margin(MARGIN)
        .x_label_area_size(50)
        .y_label_area_size(80)
        // A segmented range `0..m` has m + 1 segments: `0..n - 1` gives one per bar.
        .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)
        .map_err(draw_err(path))?;
    let labels: Vec<String> = chart.bars.iter().map(|b| b.0.clone()).collect();
    plot.configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FAMILY, TICK_PX))
        .axis_desc_style((FAMILY, DESC_PX))
        .x_desc("rating")
        .y_desc(chart.y_desc.as_str())
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(draw_err(path))?;
    let colour = PALETTE[0];
    plot.draw_series(chart.bars.iter().enumerate().map(|(i, b)| {
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), b.1),
            ],
            colour.mix(0.85).filled(),
        );
        bar.set_margin(0, 0, 8, 8);
        bar
    }))
    .map_err(draw_err(path))?;
    let style =
        TextStyle::from((FAMILY, VALUE_PX).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    plot.draw_series(chart.bars.iter().enumerate().map(|(i, b)| {
        EmptyElement::at((SegmentValue::CenterOf(i), b.1))
            + Text::new(format!("{:.1}%", b.1), (0, -4), style.clone())
    }))
    .map_err(draw_err(path))?;
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

/// Draws a [`Ranked`] chart at `path`: one horizontal bar per row, the label on the left.
pub fn draw_ranked(chart: &Ranked, path: &Path) -> Result<(), ReportError> {
    let rows = chart.rows.len().max(1);
    let height = (48 + 80 + 26 * rows as u32).max(HEIGHT);
    let staged = Staged::new(path)?;
    let (root, area) = canvas(&staged, &chart.title, height)?;
    let longest = chart
        .rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(4);
    // DejaVu Sans at 14 px is at most ~7.7 px per character.
    let label_area = (longest as f64 * TICK_PX * 0.55) as u32 + 24;
    let max = chart.rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut plot = ChartBuilder::on(&area)
        .margin(MARGIN)
        .x_label_area_size(50)
        .y_label_area_size(label_area.min(WIDTH / 2))
        // One segment per row (see `draw_histogram`).
        .build_cartesian_2d(0.0..max, (0..rows - 1).into_segmented())
        .map_err(draw_err(path))?;
    let labels: Vec<String> = chart.rows.iter().map(|r| r.0.clone()).collect();
    plot.configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&|y| match y {
            // Row 0 (the largest) is drawn at the top.
            SegmentValue::CenterOf(i) => labels
                .get(rows.saturating_sub(1 + *i))
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style((FAMILY, TICK_PX))
        .axis_desc_style((FAMILY, DESC_PX))
        .x_desc(chart.x_desc.as_str())
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(draw_err(path))?;
    let colour = PALETTE[1];
    plot.draw_series(chart.rows.iter().enumerate().map(|(k, r)| {
        let i = rows - 1 - k;
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (r.1 as f64, SegmentValue::Exact(i + 1)),
            ],
            colour.mix(0.85).filled(),
        );
        bar.set_margin(3, 3, 0, 0);
        bar
    }))
    .map_err(draw_err(path))?;
    let style =
        TextStyle::from((FAMILY, VALUE_PX).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    plot.draw_series(chart.rows.iter().enumerate().map(|(k, r)| {
        let i = rows - 1 - k;
        EmptyElement::at((r.1 as f64, SegmentValue::CenterOf(i)))
            + Text::new(r.1.to_string(), (4, 0), style.clone())
    }))
    .map_err(draw_err(path))?;
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

/// Draws a [`Curve`] at `path`, in percent on both axes, with the diagonal (every item
/// equally popular) dashed for reference.
pub fn draw_curve(chart: &Curve, path: &Path) -> Result<(), ReportError> {
    let staged = Staged::new(path)?;
    let (root, area) = canvas(&staged, &chart.title, HEIGHT)?;
    let mut plot = ChartBuilder::on(&area)
        .margin(MARGIN)
        .margin_right(40)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..100.0, 0.0..100.0)
        .map_err(draw_err(path))?;
    plot.configure_mesh()
        .x_labels(11)
        .y_labels(11)
        .x_label_formatter(&|x| format!("{x:.0}%"))
        .y_label_formatter(&|y| format!("{y:.0}%"))
        .label_style((FAMILY, TICK_PX))
        .axis_desc_style((FAMILY, DESC_PX))
        .x_desc("share of items, most rated first")
        .y_desc("share of ratings")
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(draw_err(path))?;
    plot.draw_series(DashedLineSeries::new(
        [(0.0, 0.0), (100.0, 100.0)],
        6,
        4,
        PALETTE[7].stroke_width(1),
    ))
    .map_err(draw_err(path))?;
    plot.draw_series(LineSeries::new(
        chart.points.iter().map(|&(x, y)| (100.0 * x, 100.0 * y)),
        PALETTE[3].stroke_width(3),
    ))
    .map_err(draw_err(path))?;
    let style = TextStyle::from((FAMILY, DESC_PX).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
    plot.draw_series(std::iter::once(
        EmptyElement::at((35.0, 30.0)) + Text::new(chart.note.clone(), (0, 0), style),
    ))
    .map_err(draw_err(path))?;
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

/// Writes the four charts of `stats` into `dir` (created if missing); returns their
/// paths in [`STATS_CHART_FILES`] order.
pub fn write_stats_charts(stats: &DataStats, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let paths: Vec<PathBuf> = STATS_CHART_FILES.iter().map(|f| dir.join(f)).collect();
    draw_histogram(&rating_histogram(stats), &paths[0])?;
    draw_ranked(&top_items(stats), &paths[1])?;
    draw_ranked(&top_users(stats), &paths[2])?;
    draw_curve(&long_tail(stats), &paths[3])?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::stats::Quantiles;

    fn stats() -> DataStats {
        DataStats {
            name: "t".into(),
            users: 2,
            items: 2,
            ratings: 4,
            sparsity: 0.0,
            per_user: Quantiles::of(&[2, 2]),
            per_item: Quantiles::of(&[3, 1]),
            distribution: vec![(1.0, 1), (4.5, 3)],
            mean_rating: 3.625,
            time_range: None,
            top_items: vec![
                (
                    "A title far longer than anything a chart label can hold".into(),
                    3,
                ),
                ("b".into(), 1),
            ],
            top_users: vec![("u1".into(), 2), ("u2".into(), 2)],
            long_tail: vec![(0.0, 0.0), (0.5, 0.75), (1.0, 1.0)],
        }
    }

    #[test]
    fn series_are_shares_and_labels_are_cut() {
        let s = stats();
        let h = rating_histogram(&s);
        assert_eq!(h.bars, [("1".to_owned(), 25.0), ("4.5".to_owned(), 75.0)]);
        let t = top_items(&s);
        assert_eq!(t.rows[0].0.chars().count(), MAX_LABEL_CHARS);
        assert!(t.rows[0].0.ends_with('…'));
        assert_eq!(top_users(&s).rows[1], ("user u2".to_owned(), 2));
        // 20 % of items: 0.4 of the way to the first half → 0.4 · 0.75 = 30 %.
        assert_eq!(
            long_tail(&s).note,
            "the most rated 20% of items hold 30.0% of ratings"
        );
    }
}
