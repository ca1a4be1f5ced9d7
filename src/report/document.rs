//! `exp report`: every chart of an experiment and `report.md`, a Markdown page that
//! shows them with the comparison table.
//!
//! The page links its PNGs by relative path, so the directory can be moved or viewed
//! on any Markdown renderer. Chart file names are derived from metric and parameter
//! names, so re-running the report overwrites the same files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::charts::{draw_learning_curves, learning_curves};
use super::colours::ColourKey;
use super::compare::{
    Comparison, ConfigSummary, Format, check_metric, metric_names, summarize, superseded_runs,
};
use super::grid::{self, Axis};
use super::metric::{Metric, file_stem, label};
use super::{
    ReportError, dots, heatmap, highlight, missing_experiment, parallel, pareto, sensitivity,
};
use crate::store::Store;
use crate::store::records::{RunStatus, StoredRun};

/// File name of the Markdown report.
pub const REPORT_FILE: &str = "report.md";

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The Markdown file.
    pub markdown: PathBuf,
    /// Every PNG, in the order the report shows them.
    pub charts: Vec<PathBuf>,
}

/// What a chart of the report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chart {
    /// A metric (by name) by configuration, as a dot plot.
    ByConfig(String),
    /// Training loss and validation (or test) RMSE per epoch.
    LearningCurves,
    /// A metric (by name) against one numeric parameter (full key).
    Sensitivity {
        /// The metric's name.
        metric: String,
        /// The parameter's full key.
        axis: String,
    },
    /// The ranking metric over a pair of parameters (full keys).
    Heatmap(String, String),
    /// The ranking metric against training time.
    Pareto,
    /// Every configuration across all swept parameters and the ranking metric.
    Parallel,
}

/// One chart of the report: what it shows, its file name and the caption under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// What to draw.
    pub chart: Chart,
    /// File name inside the report directory.
    pub file: String,
    /// Alt text and caption.
    pub caption: String,
}

/// A section of the report: a heading, a sentence on how to read it, its charts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `## ` heading text.
    pub heading: String,
    /// How to read the charts.
    pub text: String,
    /// The charts.
    pub charts: Vec<Planned>,
}

/// The file name of the heatmap of axes `a` × `b`.
fn heatmap_file(a: &Axis, b: &Axis) -> String {
    format!("heatmap_{}_{}.png", file_stem(&a.name), file_stem(&b.name))
}

/// The file name of the sensitivity chart of `metric` to `axis`.
fn sensitivity_file(metric: &str, axis: &Axis) -> String {
    format!(
        "sensitivity_{}_{}.png",
        file_stem(metric),
        file_stem(&axis.name)
    )
}

/// What the colours mean, for the report's text.
fn colour_sentence(key: &ColourKey) -> String {
    match &key.key {
        Some(_) => {
            let values: Vec<String> = key.legend().into_iter().map(|(v, _)| v).collect();
            format!(
                "Colours show the {} ({}), the same in every chart.",
                key.name,
                values.join(", ")
            )
        }
        None => "No categorical parameter is swept, so every configuration has the same colour."
            .to_string(),
    }
}

/// Plans the report's sections and chart files (pure: decides what exists, draws
/// nothing). Metrics by configuration and sensitivity cover every metric; heatmaps, the
/// time trade-off and parallel coordinates show `metric`. Charts that would say
/// nothing are left out: a comparison of configurations when there is one, parallel
/// coordinates for fewer than [`parallel::MIN_PARAMS`] parameters.
pub fn plan(summaries: &[ConfigSummary], metric: &Metric) -> Vec<Section> {
    let metrics = metric_names(summaries);
    let axes = grid::axes(summaries);
    let key = ColourKey::choose(summaries);
    let numeric: Vec<&Axis> = axes
        .iter()
        .filter(|a| a.numeric && a.values.len() >= 2)
        .collect();
    let m = metric.label();
    let several = dots::worth_drawing(summaries);
    let mut sections = Vec::new();
    if several {
        sections.push(Section {
            heading: "Metrics by configuration".to_string(),
            text: format!(
                "One row per configuration, best at the top: the mean over folds as a point, \
                 ± 1 standard deviation over folds as a whisker (a point alone: one fold). \
                 Without bars the axis need not start at zero, so it spans just the values. {}",
                colour_sentence(&key)
            ),
            charts: metrics
                .iter()
                .map(|name| Planned {
                    chart: Chart::ByConfig(name.clone()),
                    file: format!("{}_by_config.png", file_stem(name)),
                    caption: format!("test {} by configuration", label(name)),
                })
                .collect(),
        });
    }
    let count = summaries.len();
    let named = highlight::named(count);
    let curves_text = if named < count {
        format!(
            " The best {named} configurations by test {m} are drawn in colour with their rank at the end of the line; the other {} thin and grey.",
            count - named
        )
    } else if several {
        " Each line carries its configuration's rank at its end.".to_string()
    } else {
        String::new()
    };
    sections.push(Section {
        heading: "Learning curves".to_string(),
        text: format!("Training loss (top) and validation RMSE (bottom; the test RMSE when the runs had no validation split) per epoch, averaged over folds.{curves_text}"),
        charts: vec![Planned {
            chart: Chart::LearningCurves,
            file: "learning_curves.png".to_string(),
            caption: "learning curves".to_string(),
        }],
    });
    if !numeric.is_empty() {
        sections.push(Section {
            heading: "Sensitivity".to_string(),
            text: "Each metric against each numeric parameter, one line per value of the categorical parameters, ± 1 std over folds shaded. Parameters not on the chart are held at the best configuration's values.".to_string(),
            charts: metrics
                .iter()
                .flat_map(|name| {
                    numeric.iter().map(move |a| Planned {
                        chart: Chart::Sensitivity {
                            metric: name.clone(),
                            axis: a.key.clone(),
                        },
                        file: sensitivity_file(name, a),
                        caption: format!("test {} vs {}", label(name), a.name),
                    })
                })
                .collect(),
        });
    }
    let pairs: Vec<(&Axis, &Axis)> = axes
        .iter()
        .enumerate()
        .flat_map(|(i, a)| axes[i + 1..].iter().map(move |b| (a, b)))
        .collect();
    if !pairs.is_empty() {
        sections.push(Section {
            heading: "Heatmaps".to_string(),
            text: format!("Test {m} for every pair of swept parameters; each cell is one configuration's mean over folds (other parameters at the best configuration's values); darker is better, the best cell is outlined."),
            charts: pairs
                .iter()
                .map(|(a, b)| Planned {
                    chart: Chart::Heatmap(a.key.clone(), b.key.clone()),
                    file: heatmap_file(a, b),
                    caption: format!("test {m} by {} × {}", a.name, b.name),
                })
                .collect(),
        });
    }
    if several {
        let ranks = if named < count {
            format!("the best {named} carry their rank")
        } else {
            "each carries its rank".to_string()
        };
        sections.push(Section {
            heading: "Accuracy against training time".to_string(),
            text: format!("Test {m} against seconds per run, one point per configuration ({ranks}); the line joins the Pareto front, the configurations that no other beats on both time and accuracy (circled and labelled)."),
            charts: vec![Planned {
                chart: Chart::Pareto,
                file: format!("pareto_{}_time.png", file_stem(metric.name())),
                caption: format!("test {m} against training time"),
            }],
        });
    }
    if parallel::worth_drawing(&axes) {
        let colour = match &key.key {
            Some(_) => format!("coloured by {}", key.name),
            None => format!("coloured by test {m} (darker is better)"),
        };
        sections.push(Section {
            heading: "Parallel coordinates".to_string(),
            text: format!("Every configuration as a line across the swept parameters and test {m} (the last axis, best at the top), {colour}; the best are drawn on top."),
            charts: vec![Planned {
                chart: Chart::Parallel,
                file: format!("parallel_{}.png", file_stem(metric.name())),
                caption: format!("parallel coordinates of test {m}"),
            }],
        });
    }
    sections
}

/// Writes every chart of `experiments` and `report.md` into `out_dir` (created if
/// needed), ranked by `metric`. Several experiments are pooled into one ranking
/// ([`pool`](super::pool)), which needs them to share data, split and seed.
///
/// Fails before writing anything when an experiment is unknown, has no finished runs,
/// cannot be pooled, or its runs lack `metric` (the error lists the metrics they have).
pub fn write_report(
    store: &Store,
    experiments: &[String],
    metric: &Metric,
    out_dir: &Path,
) -> Result<Written, ReportError> {
    let runs = match experiments {
        [one] => store.runs(Some(one))?,
        several => super::pool::pool(store, several)?,
    };
    let title = experiments.join(" + ");
    let experiment = title.as_str();
    let summaries = summarize(&runs);
    if summaries.is_empty() {
        return Err(missing_experiment(store, experiment));
    }
    check_metric(&summaries, metric)?;
    let superseded = superseded_runs(&runs);
    let mut with_epochs = Vec::new();
    let current = |r: &&StoredRun| r.status == RunStatus::Finished && !superseded.contains(&r.id);
    for run in runs.iter().filter(current) {
        with_epochs.push((run.clone(), store.epochs(run.id)?));
    }
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::CreateDir {
        dir: out_dir.to_path_buf(),
        source,
    })?;
    let planned = plan(&summaries, metric);
    let (sections, charts) = draw_all(
        experiment,
        &summaries,
        &with_epochs,
        metric,
        &planned,
        out_dir,
    )?;
    let markdown = out_dir.join(REPORT_FILE);
    // Saved test predictions (RMSE, MAE) or per-user values (ranking metrics) add the
    // per-rating or per-user tests.
    let saved = super::significance::load_saved(store, &runs, &summaries, metric)?;
    let text = markdown_text(
        experiment,
        store.path(),
        &runs,
        &summaries,
        metric,
        &sections,
        &saved,
    );
    let (mut text, mut charts) = (text, charts);
    if let [one] = experiments
        && let Some(view) = super::search::stored::search_view(store, one)?
    {
        let paths = super::search::write_search_charts(&view, out_dir)?;
        text.push_str(&search_section(&view, &paths));
        charts.extend(paths);
    }
    crate::output::write(&markdown, text)?;
    Ok(Written { markdown, charts })
}

/// The report's section on a search: its trials by state, the best trial, each
/// parameter's share of the objective's spread, and the search charts.
fn search_section(view: &super::search::SearchView, charts: &[PathBuf]) -> String {
    let [complete, pruned, failed, running] = view.counts();
    let mut out = format!(
        "\n## Search\n\n{} trials: {complete} complete, {pruned} pruned, {failed} failed, \
         {running} unfinished.",
        view.trials.len()
    );
    if let Some(best) = view.best() {
        let test = best
            .test_rmse
            .map(|t| format!(", test RMSE {t:.4}"))
            .unwrap_or_default();
        out.push_str(&format!(
            " Best trial: {} ({}), objective {:.4}{test}.",
            best.number,
            crate::sweep::params_label(&best.params),
            best.value.unwrap_or(f64::NAN)
        ));
    }
    out.push_str("\n\n");
    let importance = super::search::importance(view);
    if !importance.is_empty() {
        out.push_str("Parameter importance (share of the objective's variance explained, η²):\n\n");
        for (key, share) in importance {
            out.push_str(&format!("- `{key}`: {share:.2}\n"));
        }
        out.push('\n');
    }
    for chart in charts {
        if let Some(name) = chart.file_name().and_then(|n| n.to_str()) {
            out.push_str(&format!("![{name}]({name})\n\n"));
        }
    }
    out
}

/// Draws every planned chart. Returns the sections cut to the charts actually drawn (a
/// chart whose data turn out empty is left out, and a section left without charts goes
/// too), so the page never links a missing file, and the paths in plan order.
fn draw_all(
    experiment: &str,
    summaries: &[ConfigSummary],
    with_epochs: &[(StoredRun, Vec<crate::store::records::EpochRecord>)],
    metric: &Metric,
    sections: &[Section],
    out_dir: &Path,
) -> Result<(Vec<Section>, Vec<PathBuf>), ReportError> {
    let axes = grid::axes(summaries);
    let axis = |key: &str| axes.iter().find(|a| a.key == key);
    let mut drawn_sections = Vec::new();
    let mut paths = Vec::new();
    for section in sections {
        let mut drawn = Vec::new();
        for planned in &section.charts {
            let path = out_dir.join(&planned.file);
            let done = match &planned.chart {
                Chart::ByConfig(name) => {
                    let m = Metric::new(name.clone());
                    dots::draw(&dots::prepare(experiment, summaries, &m), &path)?;
                    true
                }
                Chart::LearningCurves => {
                    let chart = learning_curves(experiment, summaries, with_epochs, metric);
                    draw_learning_curves(&chart, &path)?;
                    true
                }
                Chart::Sensitivity {
                    metric: name,
                    axis: key,
                } => {
                    let m = Metric::new(name.clone());
                    match axis(key)
                        .and_then(|a| sensitivity::prepare(experiment, summaries, &m, a, &axes))
                    {
                        Some(chart) => sensitivity::draw(&chart, &path).map(|()| true)?,
                        None => false,
                    }
                }
                Chart::Heatmap(a, b) => match (axis(a), axis(b)) {
                    (Some(a), Some(b)) => {
                        match heatmap::prepare(experiment, summaries, metric, a, b, &axes) {
                            Some(chart) => heatmap::draw(&chart, &path).map(|()| true)?,
                            None => false,
                        }
                    }
                    _ => false,
                },
                Chart::Pareto => {
                    pareto::draw(&pareto::prepare(experiment, summaries, metric), &path)?;
                    true
                }
                Chart::Parallel => match parallel::prepare(experiment, summaries, metric, &axes) {
                    Some(chart) => parallel::draw(&chart, &path).map(|()| true)?,
                    None => false,
                },
            };
            if done {
                paths.push(path);
                drawn.push(planned.clone());
            }
        }
        if !drawn.is_empty() {
            drawn_sections.push(Section {
                charts: drawn,
                ..section.clone()
            });
        }
    }
    Ok((drawn_sections, paths))
}

/// The Markdown page: a summary line, the comparison table with its footer, then each
/// section's text and images.
fn markdown_text(
    experiment: &str,
    db: &Path,
    runs: &[StoredRun],
    summaries: &[ConfigSummary],
    metric: &Metric,
    sections: &[Section],
    saved: &super::significance::Saved,
) -> String {
    let count = |s: RunStatus| runs.iter().filter(|r| r.status == s).count();
    let mut md = String::new();
    let _ = writeln!(md, "# Report: {experiment}\n");
    let _ = writeln!(
        md,
        "{} finished runs ({} failed, {} unfinished) in {} configurations, read from `{}`. \
         Metrics: {}. Ranked by test {} ({}).\n",
        count(RunStatus::Finished),
        count(RunStatus::Failed),
        count(RunStatus::Running),
        summaries.len(),
        db.display(),
        metric_names(summaries).join(", "),
        metric.label(),
        metric.direction().phrase()
    );
    let _ = writeln!(md, "## Ranking\n");
    md.push_str(
        &Comparison::new(summaries, metric)
            .with_saved(saved)
            .render(Format::Markdown),
    );
    for section in sections {
        let _ = writeln!(md, "\n## {}\n\n{}\n", section.heading, section.text);
        for chart in &section.charts {
            let _ = writeln!(md, "![{}]({})\n", chart.caption, chart.file);
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{EpochRecord, NewRun, RunOutcome};

    /// A 2 × 2 × 2 grid (architecture × embedding size × learning rate), 2 folds, 2
    /// epochs, with an ndcg@10 besides RMSE and MAE.
    fn store() -> Store {
        let mut store = Store::open_in_memory().expect("store");
        let exp = store
            .upsert_experiment("demo", "demo.toml", "")
            .expect("exp");
        let mut k = 0;
        for (arch, a) in [("dot-mf", 0.95), ("biased-mf", 0.86)] {
            for (size, b) in [(8, 0.01), (64, 0.0)] {
                for (lr, c) in [(0.001, 0.03), (0.01, 0.0)] {
                    for fold in 0..2 {
                        k += 1;
                        let run = NewRun {
                            key: format!("k{k}"),
                            params_json: format!(
                                r#"{{"model.architecture":"{arch}","model.embedding_size":{size},"training.learning_rate":{lr}}}"#
                            ),
                            config_json: r#"{"training":{"loss":"mse"}}"#.into(),
                            fold,
                            repeat: 0,
                            trial: None,
                        };
                        let id = store.claim(exp, &run).expect("claim").expect("new");
                        let rmse = a + b + c + 0.004 * fold as f64;
                        for epoch in 1..=2 {
                            let e = EpochRecord {
                                epoch,
                                train_loss: 1.0 / epoch as f64,
                                rmse: rmse + 0.05 / epoch as f64,
                                mae: rmse * 0.78,
                                seconds: 0.1,
                                train_seconds: None,
                                validation_rmse: None,
                                validation_mae: None,
                            };
                            store
                                .add_epoch(id, &crate::store::Store::test_owner(), &e)
                                .expect("epoch");
                        }
                        let outcome = RunOutcome::Finished {
                            rmse,
                            mae: rmse * 0.78,
                            best_epoch: 2,
                            seconds: f64::from(size) / 8.0 * (1.0 + fold as f64 * 0.1),
                            checkpoint: None,
                            engine: None,
                            metrics: vec![("ndcg@10".to_string(), 1.0 - rmse)],
                        };
                        store
                            .finish_run(id, &crate::store::Store::test_owner(), &outcome)
                            .expect("finish");
                    }
                }
            }
        }
        store
    }

    #[test]
    fn plan_lists_every_chart_of_a_three_parameter_sweep() {
        let store = store();
        let s = summarize(&store.runs(Some("demo")).expect("runs"));
        let sections = plan(&s, &Metric::rmse());
        let files: Vec<&str> = sections
            .iter()
            .flat_map(|s| s.charts.iter().map(|c| c.file.as_str()))
            .collect();
        assert_eq!(
            files,
            [
                "rmse_by_config.png",
                "mae_by_config.png",
                "ndcg_at_10_by_config.png",
                "learning_curves.png",
                "sensitivity_rmse_embedding_size.png",
                "sensitivity_rmse_learning_rate.png",
                "sensitivity_mae_embedding_size.png",
                "sensitivity_mae_learning_rate.png",
                "sensitivity_ndcg_at_10_embedding_size.png",
                "sensitivity_ndcg_at_10_learning_rate.png",
                "heatmap_architecture_embedding_size.png",
                "heatmap_architecture_learning_rate.png",
                "heatmap_embedding_size_learning_rate.png",
                "pareto_rmse_time.png",
                "parallel_rmse.png",
            ]
        );
    }

    fn files(sections: &[Section]) -> Vec<&str> {
        sections
            .iter()
            .flat_map(|s| s.charts.iter().map(|c| c.file.as_str()))
            .collect()
    }

    #[test]
    fn charts_that_would_say_nothing_are_not_planned() {
        let run = |id, params: &str, fold| StoredRun::finished_for_test(id, params, fold, 0.9);
        // One configuration: nothing to compare, only its learning curves.
        let one = summarize(&[run(1, "{}", 0), run(2, "{}", 1)]);
        let sections = plan(&one, &Metric::rmse());
        assert_eq!(files(&sections), ["learning_curves.png"]);
        assert!(!sections[0].text.contains("rank"), "{}", sections[0].text);
        // Two parameters: no parallel coordinates (the heatmap shows the pair).
        let two = summarize(&[
            run(
                1,
                r#"{"model.architecture":"dot-mf","model.embedding_size":8}"#,
                0,
            ),
            run(
                2,
                r#"{"model.architecture":"biased-mf","model.embedding_size":8}"#,
                0,
            ),
            run(
                3,
                r#"{"model.architecture":"dot-mf","model.embedding_size":16}"#,
                0,
            ),
        ]);
        assert_eq!(
            files(&plan(&two, &Metric::rmse())),
            [
                "rmse_by_config.png",
                "mae_by_config.png",
                "learning_curves.png",
                "sensitivity_rmse_embedding_size.png",
                "sensitivity_mae_embedding_size.png",
                "heatmap_architecture_embedding_size.png",
                "pareto_rmse_time.png",
            ]
        );
        // Pooled experiments without swept parameters: coloured by experiment.
        let pooled = summarize(&[
            run(1, r#"{"experiment":"seed-ncf"}"#, 0),
            run(2, r#"{"experiment":"seed-dot-mf"}"#, 0),
        ]);
        let sections = plan(&pooled, &Metric::rmse());
        assert_eq!(
            files(&sections),
            [
                "rmse_by_config.png",
                "mae_by_config.png",
                "learning_curves.png",
                "pareto_rmse_time.png",
            ]
        );
        assert!(
            sections[0].text.ends_with(
                "Colours show the experiment (seed-ncf, seed-dot-mf), the same in every chart."
            ),
            "{}",
            sections[0].text
        );
    }

    #[test]
    fn an_architecture_has_one_colour_in_every_chart() {
        let store = store();
        let s = summarize(&store.runs(Some("demo")).expect("runs"));
        let rmse = Metric::rmse();
        let axes = grid::axes(&s);
        // Sweep order: dot-mf first.
        let expected = |label: &str| usize::from(label.starts_with("biased-mf"));
        let mut seen: Vec<(&str, String, usize)> = Vec::new();
        for row in dots::prepare("demo", &s, &rmse).rows {
            seen.push(("dots", row.label, row.colour));
        }
        let curves = learning_curves("demo", &s, &[], &rmse);
        for c in &curves.panels[1].curves {
            seen.push(("curves", c.label.clone(), c.colour));
        }
        for p in pareto::prepare("demo", &s, &rmse).points {
            seen.push(("pareto", p.label, p.colour));
        }
        let size = &axes[1];
        let chart = sensitivity::prepare("demo", &s, &rmse, size, &axes).expect("sensitivity");
        for line in chart.lines {
            seen.push(("sensitivity", line.label, line.colour));
        }
        assert_eq!(seen.len(), 8 + 8 + 8 + 2);
        for (chart, label, colour) in &seen {
            assert_eq!(*colour, expected(label), "{chart}: {label}");
        }
        // Parallel coordinates: the architecture axis puts dot-mf at 0, biased-mf at 1.
        let chart = parallel::prepare("demo", &s, &rmse, &axes).expect("parallel");
        for line in &chart.lines {
            let biased = line.ys[0] > 0.5;
            assert_eq!(line.colour, Some(usize::from(biased)));
        }
    }

    #[test]
    fn report_writes_every_planned_png_and_the_markdown_that_links_them() {
        let store = store();
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("demo");
        let metric = Metric::new("ndcg@10");
        let written = write_report(&store, &["demo".to_string()], &metric, &out).expect("report");
        let s = summarize(&store.runs(Some("demo")).expect("runs"));
        let planned: Vec<PathBuf> = plan(&s, &metric)
            .iter()
            .flat_map(|s| s.charts.iter().map(|c| out.join(&c.file)))
            .collect();
        assert_eq!(written.charts, planned);
        let md = std::fs::read_to_string(&written.markdown).expect("report.md");
        assert!(md.starts_with("# Report: demo\n"), "{md}");
        assert!(md.contains("16 finished runs (0 failed, 0 unfinished) in 8 configurations"));
        assert!(md.contains("Ranked by test nDCG@10 (higher is better)"));
        assert!(md.contains("| rank | architecture | embedding_size | learning_rate | nDCG@10 |"));
        assert!(md.contains("paired by fold number"));
        assert!(
            md.contains(
                "Colours show the architecture (dot-mf, biased-mf), the same in every chart."
            ) && !md.contains("grid order"),
            "{md}"
        );
        for path in &written.charts {
            let file = path.file_name().and_then(|f| f.to_str()).expect("name");
            assert!(md.contains(&format!("]({file})")), "{file} not linked");
            let bytes = std::fs::read(path).expect("png written");
            let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
            let mut reader = decoder.read_info().expect("png header");
            let mut buf = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut buf).expect("png decodes");
            assert_eq!(info.width, 1000, "{file}");
            assert!(info.height == 600 || info.height == 800, "{file}");
            // Not blank: more than a few distinct colours.
            let mut colours: Vec<&[u8]> = buf[..info.buffer_size()].chunks_exact(3).collect();
            colours.sort_unstable();
            colours.dedup();
            assert!(colours.len() > 20, "{file} looks blank");
        }
    }

    #[test]
    fn report_of_a_missing_metric_lists_the_metrics() {
        let store = store();
        let dir = tempfile::tempdir().expect("tempdir");
        let err = write_report(
            &store,
            &["demo".to_string()],
            &Metric::new("recall@10"),
            dir.path(),
        )
        .expect_err("unknown metric");
        assert_eq!(
            err.to_string(),
            "unknown metric `recall@10`: the runs have rmse, mae, ndcg@10"
        );
        assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
    }
}
