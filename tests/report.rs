//! End-to-end tests of `exp compare` and `exp report` on a real (tiny) sweep: the
//! machine formats parse, filters and metric names are checked, and the report's
//! Markdown and every PNG it links exist and decode.

use std::path::{Path, PathBuf};

mod common;
use common::{exp, text};

/// Runs the tiny 2 × 2 × 2-fold sweep into `<dir>/results/exp.sqlite`.
fn sweep(dir: &Path) -> PathBuf {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-grid.toml");
    let db = dir.join("results/exp.sqlite");
    let out = exp(
        &[
            "run",
            file.to_str().expect("utf-8 path"),
            "--db",
            db.to_str().expect("utf-8 path"),
            "--jobs",
            "2",
        ],
        dir,
    );
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    db
}

/// Decodes a PNG and returns its size.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (info.width, info.height)
}

#[test]
fn compare_formats_parse_and_report_writes_every_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sweep(dir.path());
    let db_arg = db.to_str().expect("utf-8 path");
    let compare = |extra: &[&str]| {
        let mut args = vec!["compare", "--db", db_arg, "--experiment", "tiny-grid"];
        args.extend_from_slice(extra);
        exp(&args, dir.path())
    };

    // CSV: one row per configuration, every row as wide as the header.
    let out = compare(&["--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header = reader.headers().expect("csv header").clone();
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("csv rows");
    assert_eq!(rows.len(), 4, "2 architectures × 2 sizes");
    for column in [
        "model.architecture",
        "model.embedding_size",
        "rmse_mean",
        "rmse_ci95_low",
        "p_ttest",
        "p_wilcoxon",
    ] {
        assert!(header.iter().any(|h| h == column), "no column {column}");
    }
    let rmse = header
        .iter()
        .position(|h| h == "rmse_mean")
        .expect("rmse_mean");
    let means: Vec<f64> = rows
        .iter()
        .map(|r| r[rmse].parse().expect("a number"))
        .collect();
    assert!(means.windows(2).all(|w| w[0] <= w[1]), "ranked: {means:?}");

    // JSON: the method is stated, configurations carry their tests.
    let out = compare(&["--format", "json", "--metric", "mae"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(doc["metric"], "mae");
    assert!(
        doc["significance"]["pairing"]
            .as_str()
            .is_some_and(|p| p.contains("fold"))
    );
    let configs = doc["configurations"].as_array().expect("array");
    assert_eq!(configs.len(), 4);
    assert!(configs[0]["significance"].is_null());
    assert_eq!(configs[1]["significance"]["paired_folds"], 2);

    // Markdown with filters: the footer names the tests.
    let out = compare(&[
        "--format",
        "markdown",
        "--where",
        "architecture=biased-mf",
        "--top",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = text(&out.stdout);
    assert_eq!(md.lines().filter(|l| l.starts_with("| 1 |")).count(), 1);
    assert!(
        !md.lines().any(|l| l.starts_with("| 2 |")) && !md.contains("dot-mf"),
        "{md}"
    );
    assert!(
        md.contains("paired t-test") && md.contains("Wilcoxon"),
        "{md}"
    );

    // Mistakes name what exists.
    let out = compare(&["--metric", "ndcg@10"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown metric `ndcg@10`: the runs have rmse, mae"),
        "{}",
        text(&out.stderr)
    );
    let out = compare(&["--where", "size=4"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("swept: model.architecture, model.embedding_size"),
        "{}",
        text(&out.stderr)
    );

    // The report: report.md next to the charts, every linked PNG decodes.
    let out = exp(&["report", "tiny-grid", "--db", db_arg], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report_dir = dir.path().join("results/tiny-grid");
    let md = std::fs::read_to_string(report_dir.join("report.md")).expect("report.md");
    assert!(md.starts_with("# Report: tiny-grid"), "{md}");
    let linked: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("!["))
        .filter_map(|l| l.split("](").nth(1))
        .filter_map(|l| l.strip_suffix(')'))
        .collect();
    for expected in [
        "rmse_by_config.png",
        "mae_by_config.png",
        "learning_curves.png",
        "sensitivity_rmse_embedding_size.png",
        "sensitivity_mae_embedding_size.png",
        "heatmap_architecture_embedding_size.png",
        "pareto_rmse_time.png",
        "parallel_rmse.png",
    ] {
        assert!(linked.contains(&expected), "{expected} not in report.md");
    }
    for file in linked {
        let (w, h) = png_size(&report_dir.join(file));
        assert!(
            (800..=1600).contains(&w) && (500..=1000).contains(&h),
            "{file}: {w}×{h}"
        );
    }

    let out = exp(&["report", "nope", "--db", db_arg], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no experiment named `nope` (it has: tiny-grid)"),
        "{}",
        text(&out.stderr)
    );
}
