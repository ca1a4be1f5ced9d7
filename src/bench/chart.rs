//! The benchmark chart: training throughput per setup and batch size, one panel per data
//! set, on a log scale (the setups span two orders of magnitude).
//!
//! [`panels`] prepares the numbers (pure, unit-tested); [`draw`] renders them to a PNG.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{BenchData, Measurement};
use crate::output::Staged;
use crate::report::ReportError;
use crate::report::charts::PALETTE;
use crate::report::font::{FAMILY, ensure_registered};

/// One data set's panel: a group of bars per setup, one bar per batch size.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// E.g. `ml-100k (90,000 training ratings)`.
    pub title: String,
    /// Setups on the x axis, in first-measured order.
    pub setups: Vec<String>,
    /// Batch sizes, ascending; bar colour *i* is `PALETTE[i]`.
    pub batches: Vec<usize>,
    /// `values[s][b]`: million ratings per second of setup `s` at batch `batches[b]`
    /// (lazy updates only), `None` where the case was not run.
    pub values: Vec<Vec<Option<f64>>>,
}

/// The panels of `measurements`, one per data set that has any, in [`BenchData::ALL`]
/// order. Dense-reference cases are left out: they measure accuracy, not speed.
pub fn panels(measurements: &[Measurement]) -> Vec<Panel> {
    let lazy: Vec<&Measurement> = measurements.iter().filter(|m| !m.case.dense).collect();
    let mut batches: Vec<usize> = lazy.iter().map(|m| m.case.batch_size).collect();
    batches.sort_unstable();
    batches.dedup();
    BenchData::ALL
        .into_iter()
        .filter_map(|data| {
            let here: Vec<&&Measurement> = lazy.iter().filter(|m| m.case.data == data).collect();
            let first = here.first()?;
            let mut setups: Vec<String> = Vec::new();
            for m in &here {
                if !setups.contains(&m.case.setup) {
                    setups.push(m.case.setup.clone());
                }
            }
            let values = setups
                .iter()
                .map(|s| {
                    batches
                        .iter()
                        .map(|&b| {
                            here.iter()
                                .find(|m| &m.case.setup == s && m.case.batch_size == b)
                                .map(|m| m.ratings_per_second / 1e6)
                        })
                        .collect()
                })
                .collect();
            Some(Panel {
                title: format!(
                    "{} ({} training ratings)",
                    data.name(),
                    thousands(first.train_ratings)
                ),
                setups,
                batches: batches.clone(),
                values,
            })
        })
        .collect()
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The y range shared by all panels: whole decades around the values, with the smallest
/// at least a factor 2 above the axis so that its bar stays visible.
fn y_range(panels: &[Panel]) -> (f64, f64) {
    let values = panels
        .iter()
        .flat_map(|p| p.values.iter().flatten().flatten().copied());
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || hi <= 0.0 {
        return (0.01, 10.0);
    }
    let floor = (lo / 2.0).log10().floor();
    (
        10f64.powf(floor),
        10f64.powf(hi.log10().ceil().max(floor + 1.0)),
    )
}

/// Chart size: two panels per row.
const WIDTH: u32 = 1400;
const PANEL_HEIGHT: u32 = 430;

/// Draws `panels` as a PNG at `path`.
pub fn draw(panels: &[Panel], path: &Path) -> Result<(), ReportError> {
    ensure_registered()?;
    let rows = panels.len().div_ceil(2).max(1) as u32;
    let height = 60 + 40 + rows * PANEL_HEIGHT;
    let err = |e: DrawingAreaErrorKind<_>| ReportError::Draw {
        path: path.to_owned(),
        source: Box::new(e),
    };
    let staged = Staged::new(path)?;
    let root = BitMapBackend::new(staged.path(), (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (title, rest) = root.split_vertically(60);
    title
        .draw(&Text::new(
            "Training throughput (million ratings per second, log scale; higher is better)",
            (WIDTH as i32 / 2, 30),
            TextStyle::from((FAMILY, 24).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)?;
    let (legend, grid) = rest.split_vertically(40);
    let batches = panels.first().map_or(&[][..], |p| &p.batches[..]);
    for (i, b) in batches.iter().enumerate() {
        let x = WIDTH as i32 / 2 - 150 + 140 * i as i32;
        let colour = PALETTE[i % PALETTE.len()];
        legend
            .draw(&Rectangle::new([(x, 12), (x + 18, 30)], colour.filled()))
            .map_err(err)?;
        legend
            .draw(&Text::new(
                format!("batch {b}"),
                (x + 24, 21),
                TextStyle::from((FAMILY, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
    }
    let (y0, y1) = y_range(panels);
    let areas = grid.split_evenly((rows as usize, 2));
    for (panel, area) in panels.iter().zip(areas) {
        let n = panel.setups.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.title, (FAMILY, 18))
            .margin(12)
            .x_label_area_size(70)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n - 0.5, (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("M ratings / s")
            .y_label_formatter(&|y| format!("{y}"))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        let width = 0.8 / panel.batches.len().max(1) as f64;
        for (s, values) in panel.values.iter().enumerate() {
            for (b, value) in values.iter().enumerate() {
                let Some(v) = value else { continue };
                let x0 = s as f64 - 0.4 + b as f64 * width;
                let colour = PALETTE[b % PALETTE.len()];
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, y0), (x0 + width * 0.9, *v)],
                        colour.mix(0.85).filled(),
                    )))
                    .map_err(err)?;
            }
        }
        for (s, setup) in panel.setups.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(s as f64, y0));
            area.draw(&Text::new(
                setup.clone(),
                (x - area.get_base_pixel().0, y - area.get_base_pixel().1 + 8),
                TextStyle::from((FAMILY, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(err)?;
        }
    }
    root.present().map_err(err)?;
    Ok(staged.commit()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Case;

    fn measured(data: BenchData, setup: &str, batch: usize, rps: f64, dense: bool) -> Measurement {
        Measurement {
            case: Case {
                data,
                setup: setup.to_string(),
                batch_size: batch,
                epochs: 2,
                dense,
                graph: false,
                threads: 1,
            },
            architecture: setup.to_string(),
            train_ratings: 90_000,
            seconds_per_epoch: 90_000.0 / rps,
            min_seconds: 0.0,
            max_seconds: 0.0,
            ratings_per_second: rps,
            eval_seconds: 0.0,
            test_rmse: 1.0,
            load_seconds: 0.0,
            peak_rss_bytes: None,
        }
    }

    #[test]
    fn panels_group_by_data_set_setup_and_batch() {
        let ms = [
            measured(BenchData::Ml100k, "dot-mf", 64, 2e6, false),
            measured(BenchData::Ml100k, "dot-mf", 1024, 8e6, false),
            measured(BenchData::Ml100k, "dot-mf", 64, 1e6, true),
            measured(BenchData::Ml100k, "ncf", 64, 5e5, false),
            measured(BenchData::MlLatestSmall, "ncf", 1024, 3e6, false),
        ];
        let p = panels(&ms);
        // ml-latest-small comes first (BenchData::ALL order), then ml-100k.
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].title, "ml-latest-small (90,000 training ratings)");
        assert_eq!(p[1].setups, ["dot-mf", "ncf"]);
        assert_eq!(p[1].batches, [64, 1024]);
        // The dense case is not drawn: dot-mf at 64 is the lazy 2M ratings/s.
        assert_eq!(p[1].values, [[Some(2.0), Some(8.0)], [Some(0.5), None]]);
        assert_eq!(p[0].values, [[None, Some(3.0)]]);
    }

    #[test]
    fn y_range_spans_whole_decades() {
        let p = panels(&[
            measured(BenchData::Ml100k, "a", 64, 3e5, false),
            measured(BenchData::Ml100k, "b", 64, 2.5e7, false),
        ]);
        assert_eq!(y_range(&p), (0.1, 100.0));
        // 0.106 M/s would sit on a 0.1 axis: the axis drops a decade.
        let p = panels(&[measured(BenchData::Ml100k, "a", 64, 1.06e5, false)]);
        assert_eq!(y_range(&p), (0.01, 1.0));
        assert_eq!(y_range(&[]), (0.01, 10.0));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(90_000), "90,000");
        assert_eq!(thousands(9_000_000), "9,000,000");
    }

    #[test]
    fn draws_a_png() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bench.png");
        let p = panels(&[
            measured(BenchData::Ml100k, "dot-mf", 64, 2e6, false),
            measured(BenchData::Synthetic1m, "dot-mf", 64, 2e6, false),
            measured(BenchData::SyntheticLarge, "dot-mf", 64, 2e6, false),
        ]);
        draw(&p, &path).expect("draw");
        let decoder = png::Decoder::new(std::fs::File::open(&path).expect("open"));
        let reader = decoder.read_info().expect("png header");
        assert_eq!(reader.info().width, WIDTH);
        assert_eq!(reader.info().height, 60 + 40 + 2 * PANEL_HEIGHT);
    }
}
