//! The slice chart: the objective of every complete trial against each searched
//! parameter's value, one small panel per parameter, so a reader sees where in each
//! range the good trials lie and whether the range should move.
//!
//! Unlike a grid's sensitivity chart nothing is held fixed (every trial differs in every
//! key), so the spread at one value is the other keys' doing. Log parameters
//! (`log_uniform`, `int` with `log = true`) are placed by their logarithm, choices at
//! evenly spaced positions labelled with their values. Points are coloured by trial
//! number, later trials darker, which shows where a sampler like TPE concentrated.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::ReportError;
use super::super::charts::{
    HEIGHT, MARGIN, NOTE_BAND, TICK_PX, WIDTH, abbreviate, draw_err, house_mesh, padded_range,
    titled_with_note,
};
use super::super::colormap;
use super::super::font::{FAMILY, ensure_registered};
use super::{SearchView, is_log, number, number_label, value_label};
use crate::output::Staged;
use crate::search::spec::Distribution;

/// Panels per row.
const COLUMNS: usize = 3;
/// Height in pixels of one row of panels when there are more than two rows.
const ROW_HEIGHT: u32 = 265;

/// How a panel places values along x.
#[derive(Debug, Clone, PartialEq)]
pub enum SliceAxis {
    /// By value, on a linear scale.
    Linear,
    /// By the base-10 logarithm of the value; ticks show the value.
    Log,
    /// Evenly spaced categories 0, 1, …, labelled.
    Categories(Vec<String>),
}

/// One trial in a panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlicePoint {
    /// Position along x: the value, its log10, or its category's index.
    pub x: f64,
    /// The objective.
    pub value: f64,
    /// The trial number (for its colour).
    pub number: usize,
}

/// One parameter's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct SlicePanel {
    /// The x-axis description: the short name, with `(log scale)` where it is.
    pub x_desc: String,
    /// How x is placed.
    pub axis: SliceAxis,
    /// The x range, padded.
    pub x_range: (f64, f64),
    /// Ticks drawn by hand at these x positions with these labels (categories, and
    /// 1-2-5 values on log axes); empty: plotters' own ticks (linear axes).
    pub ticks: Vec<(f64, String)>,
    /// The complete trials where the key applied, in trial order.
    pub points: Vec<SlicePoint>,
}

/// Everything [`draw`] draws, decided by [`prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct SliceChart {
    /// `<experiment>: validation RMSE against each parameter`.
    pub title: String,
    /// How many trials and what the colours mean.
    pub note: String,
    /// One per searched key, in space order.
    pub panels: Vec<SlicePanel>,
    /// The y range shared by every panel.
    pub y_range: (f64, f64),
    /// The largest trial number drawn (the darkest colour).
    pub last_number: usize,
    /// The image's height: [`HEIGHT`], taller when there are more than two rows.
    pub height: u32,
}

impl SliceChart {
    /// Rows and columns of the panel grid.
    pub fn grid(&self) -> (usize, usize) {
        let n = self.panels.len().max(1);
        let columns = n.min(COLUMNS);
        (n.div_ceil(columns), columns)
    }
}

/// The colour of trial `number` when the last is `last`: viridis, later darker.
pub fn trial_colour(number: usize, last: usize) -> RGBColor {
    colormap::colour(1.0 - number as f64 / last.max(1) as f64)
}

/// Ticks for a log axis spanning `range` (base-10 logarithms): the powers of ten inside
/// it when there are at least two, else 1, 2 and 5 times them, else (less than a factor
/// of 2.5) three values spread across it; labelled with the values.
pub(crate) fn log_ticks(range: (f64, f64)) -> Vec<(f64, String)> {
    let (lo, hi) = range;
    let tick = |v: f64| (v.log10(), number_label(v));
    let mut ticks: Vec<(f64, String)> = Vec::new();
    if lo.is_finite() && hi.is_finite() && hi - lo < 40.0 {
        let decades: Vec<i32> = (lo.ceil() as i32..=hi.floor() as i32).collect();
        if decades.len() >= 2 {
            let every = decades.len().div_ceil(6);
            ticks = decades
                .iter()
                .step_by(every)
                .map(|&k| tick(10f64.powi(k)))
                .collect();
        } else {
            for k in lo.floor() as i32..=hi.ceil() as i32 {
                for m in [1.0, 2.0, 5.0] {
                    let v = m * 10f64.powi(k);
                    if (lo..=hi).contains(&v.log10()) {
                        ticks.push(tick(v));
                    }
                }
            }
        }
    }
    if ticks.len() < 2 && lo.is_finite() && hi.is_finite() {
        ticks = [0.2, 0.5, 0.8]
            .iter()
            .map(|&q| lo + q * (hi - lo))
            .map(|x| (x, number_label(10f64.powf(x))))
            .collect();
    }
    ticks
}

/// Prepares the slice chart; `None` without searched keys or complete trials.
pub fn prepare(view: &SearchView) -> Option<SliceChart> {
    let complete: Vec<(&super::TrialView, f64)> = view
        .trials
        .iter()
        .filter_map(|t| t.objective().map(|v| (t, v)))
        .collect();
    if complete.is_empty() || view.space.is_empty() {
        return None;
    }
    let names = view.names();
    let panels: Vec<SlicePanel> = view
        .space
        .iter()
        .zip(&names)
        .map(|(p, name)| {
            let log = is_log(&p.distribution);
            let axis = match &p.distribution {
                Distribution::Choice { values } => {
                    let mut labels: Vec<String> = values.iter().map(value_label).collect();
                    for (t, _) in &complete {
                        if let Some(label) = t.param(&p.key).map(value_label)
                            && !labels.contains(&label)
                        {
                            labels.push(label);
                        }
                    }
                    SliceAxis::Categories(labels)
                }
                _ if log => SliceAxis::Log,
                _ => SliceAxis::Linear,
            };
            let x_of = |v: &toml::Value| -> Option<f64> {
                match &axis {
                    SliceAxis::Categories(labels) => {
                        let label = value_label(v);
                        labels.iter().position(|l| *l == label).map(|i| i as f64)
                    }
                    SliceAxis::Log => number(v).filter(|x| *x > 0.0).map(f64::log10),
                    SliceAxis::Linear => number(v),
                }
                .filter(|x| x.is_finite())
            };
            let mut points: Vec<SlicePoint> = complete
                .iter()
                .filter_map(|(t, value)| {
                    Some(SlicePoint {
                        x: x_of(t.param(&p.key)?)?,
                        value: *value,
                        number: t.number,
                    })
                })
                .collect();
            points.sort_by_key(|p| p.number);
            let (x_range, ticks) = match &axis {
                SliceAxis::Categories(labels) => (
                    (-0.5, labels.len().max(1) as f64 - 0.5),
                    labels
                        .iter()
                        .cloned()
                        .enumerate()
                        .map(|(i, l)| (i as f64, l))
                        .collect(),
                ),
                SliceAxis::Log => {
                    let range = padded_range(points.iter().map(|p| p.x));
                    (range, log_ticks(range))
                }
                SliceAxis::Linear => (padded_range(points.iter().map(|p| p.x)), Vec::new()),
            };
            SlicePanel {
                x_desc: if log {
                    format!("{name} (log scale)")
                } else {
                    name.clone()
                },
                axis,
                x_range,
                ticks,
                points,
            }
        })
        .collect();
    let y_range = padded_range(complete.iter().map(|c| c.1));
    let last_number = complete.iter().map(|c| c.0.number).max().unwrap_or(0);
    let rows = panels.len().div_ceil(panels.len().clamp(1, COLUMNS));
    let height = if rows <= 2 {
        HEIGHT
    } else {
        NOTE_BAND + ROW_HEIGHT * u32::try_from(rows).unwrap_or(u32::MAX / ROW_HEIGHT / 2)
    };
    Some(SliceChart {
        title: format!(
            "{}: validation RMSE against each parameter",
            view.experiment
        ),
        note: format!(
            "{} complete trials (a key's panel shows the trials it applied to); \
             colour: trial number, later darker; lower is better",
            complete.len()
        ),
        panels,
        y_range,
        last_number,
        height,
    })
}

/// Draws a [`SliceChart`] as a PNG at `path`: the panels in rows of three.
pub fn draw(chart: &SliceChart, path: &Path) -> Result<(), ReportError> {
    ensure_registered()?;
    let staged = Staged::new(path)?;
    let root = BitMapBackend::new(staged.path(), (WIDTH, chart.height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let area = titled_with_note(&root, &chart.title, &chart.note, path)?;
    let (rows, columns) = chart.grid();
    let areas = area.split_evenly((rows, columns));
    let (y0, y1) = chart.y_range;
    let linear_label = |x: &f64| number_label(*x);
    for (panel, area) in chart.panels.iter().zip(&areas) {
        let (x0, x1) = panel.x_range;
        let mut plot = ChartBuilder::on(area)
            .margin(MARGIN / 2)
            .margin_right(MARGIN)
            .x_label_area_size(46)
            .y_label_area_size(62)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err(path))?;
        let mut mesh = plot.configure_mesh();
        house_mesh(&mut mesh, &panel.x_desc, "validation RMSE").y_labels(6);
        if panel.ticks.is_empty() {
            mesh.x_labels(5).x_label_formatter(&linear_label);
        } else {
            mesh.x_labels(0).disable_x_mesh();
        }
        mesh.draw().map_err(draw_err(path))?;
        if !panel.ticks.is_empty() {
            // Category and log ticks by hand: plotters' ticks are evenly spaced numbers.
            plot.draw_series(
                panel
                    .ticks
                    .iter()
                    .map(|(x, _)| PathElement::new(vec![(*x, y0), (*x, y1)], BLACK.mix(0.12))),
            )
            .map_err(draw_err(path))?;
            let width = f64::from(plot.plotting_area().dim_in_pixel().0);
            let room = width / panel.ticks.len() as f64;
            let chars = ((room / (TICK_PX * 0.55)) as usize).max(3);
            let style = TextStyle::from((FAMILY, TICK_PX).into_font())
                .pos(Pos::new(HPos::Center, VPos::Top));
            for (x, label) in &panel.ticks {
                let (px, py) = plot.backend_coord(&(*x, y0));
                root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))
                    .map_err(draw_err(path))?;
                root.draw(&Text::new(
                    abbreviate(label, chars),
                    (px, py + 8),
                    style.clone(),
                ))
                .map_err(draw_err(path))?;
            }
        }
        plot.draw_series(panel.points.iter().map(|p| {
            Circle::new(
                (p.x, p.value),
                4,
                trial_colour(p.number, chart.last_number).filled(),
            )
        }))
        .map_err(draw_err(path))?;
    }
    root.present().map_err(draw_err(path))?;
    Ok(staged.commit()?)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{demo, param, trial};
    use super::super::{SearchView, TrialState};
    use super::*;

    #[test]
    fn the_demo_slices_each_parameter_on_its_own_scale() {
        let chart = prepare(&demo()).expect("complete trials");
        assert_eq!(
            chart.title,
            "search-demo: validation RMSE against each parameter"
        );
        assert!(chart.note.starts_with("7 complete trials"));
        assert_eq!(chart.panels.len(), 4);
        assert_eq!(chart.grid(), (2, 3));
        assert_eq!(chart.height, HEIGHT);
        assert_eq!(chart.last_number, 9);
        // Learning rate: log10 of the value; trial 0 has 0.0003.
        let lr = &chart.panels[0];
        assert_eq!(lr.x_desc, "learning_rate (log scale)");
        assert_eq!(lr.axis, SliceAxis::Log);
        assert_eq!(lr.points.len(), 7);
        assert!((lr.points[0].x - 0.0003f64.log10()).abs() < 1e-12);
        // Complete trials span 0.0003 … 0.02: the powers of ten inside are two.
        let labels: Vec<&str> = lr.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0.001", "0.01"]);
        assert!((lr.ticks[0].0 + 3.0).abs() < 1e-12);
        // Embedding size: linear, trial 1 has 16.
        let size = &chart.panels[1];
        assert_eq!(size.axis, SliceAxis::Linear);
        assert_eq!((size.points[1].number, size.points[1].x), (1, 16.0));
        // Architecture: two categories, ncf (trial 0) at 1.
        let arch = &chart.panels[2];
        assert_eq!(
            arch.axis,
            SliceAxis::Categories(vec!["biased-mf".into(), "ncf".into()])
        );
        assert_eq!(arch.points[0].x, 1.0);
        assert_eq!(arch.x_range, (-0.5, 1.5));
        // Hidden layers: only the complete ncf trials 0, 3, 6, 9, shown as written.
        let layers = &chart.panels[3];
        assert_eq!(
            layers.axis,
            SliceAxis::Categories(vec!["[64,32]".into(), "[32]".into()])
        );
        let numbers: Vec<usize> = layers.points.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [0, 3, 6, 9]);
        let xs: Vec<f64> = layers.points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [0.0, 1.0, 0.0, 1.0]);
        // Later trials darker: trial 9 is the darkest viridis colour.
        assert_eq!(trial_colour(9, 9), colormap::colour(0.0));
        assert_eq!(trial_colour(0, 9), colormap::colour(1.0));
    }

    #[test]
    fn log_ticks_fit_the_span() {
        let labels = |lo: f64, hi: f64| -> Vec<String> {
            log_ticks((lo, hi)).into_iter().map(|t| t.1).collect()
        };
        // Less than a decade: 1-2-5 values.
        assert_eq!(labels(-1.9, -0.9), ["0.02", "0.05", "0.1"]);
        // Fourteen decades: every third power of ten.
        assert_eq!(labels(-0.5, 13.5).len(), 5);
        // A single value widened a little: three ticks around it, none on the frame.
        let narrow = log_ticks((-2.01, -1.99));
        assert_eq!(narrow.len(), 3);
        assert_eq!(narrow[1].1, "0.01");
        assert!(log_ticks((f64::NEG_INFINITY, 0.0)).is_empty());
    }

    #[test]
    fn unlisted_strange_and_missing_values_do_not_break_it() {
        let c = TrialState::Complete;
        let view = SearchView {
            experiment: "odd".into(),
            space: vec![
                param(
                    "a",
                    Distribution::Choice {
                        values: vec!["x".into()],
                    },
                ),
                param(
                    "b",
                    Distribution::LogUniform {
                        low: 0.1,
                        high: 1.0,
                    },
                ),
                param(
                    "c",
                    Distribution::Uniform {
                        low: 0.0,
                        high: 1.0,
                    },
                ),
                param(
                    "d",
                    Distribution::Uniform {
                        low: 0.0,
                        high: 1.0,
                    },
                ),
            ],
            trials: vec![
                // A choice value not in the list is appended; a negative value on a log
                // axis, a string on a number axis are left out.
                trial(
                    0,
                    &[
                        ("a", "y".into()),
                        ("b", (-1.0).into()),
                        ("c", "s".into()),
                        ("d", 0.5.into()),
                    ],
                    c,
                    Some(1.0),
                ),
                trial(1, &[("a", "x".into()), ("b", 0.5.into())], c, Some(1.0)),
                trial(2, &[("a", "x".into())], c, Some(f64::NAN)),
            ],
        };
        let chart = prepare(&view).expect("two complete trials");
        assert_eq!(
            chart.panels[0].axis,
            SliceAxis::Categories(vec!["x".into(), "y".into()])
        );
        assert_eq!(chart.panels[0].points.len(), 2);
        assert_eq!(chart.panels[1].points.len(), 1);
        assert!(chart.panels[2].points.is_empty());
        assert_eq!(chart.panels[2].x_range, (0.0, 1.0));
        // One point: its flat range is widened around it.
        let (lo, hi) = chart.panels[3].x_range;
        assert!(lo < 0.5 && hi > 0.5);
        // Equal objectives: a widened y range.
        assert!(chart.y_range.0 < 1.0 && chart.y_range.1 > 1.0);
        // Seven keys: three rows, a taller image.
        let mut many = view.clone();
        many.space = (0..7)
            .map(|i| {
                param(
                    &format!("k{i}"),
                    Distribution::Uniform {
                        low: 0.0,
                        high: 1.0,
                    },
                )
            })
            .collect();
        let chart = prepare(&many).expect("keys");
        assert_eq!(chart.grid(), (3, 3));
        assert_eq!(chart.height, NOTE_BAND + 3 * ROW_HEIGHT);
        many.space.clear();
        assert!(prepare(&many).is_none());
    }
}
