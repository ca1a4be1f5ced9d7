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
        "run_ids",
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
    ] {
        assert!(linked.contains(&expected), "{expected} not in report.md");
    }
    // Two swept parameters: no parallel coordinates (the heatmap shows the pair), and
    // the page neither links nor mentions one.
    assert!(!report_dir.join("parallel_rmse.png").exists());
    assert!(
        !md.contains("parallel_rmse.png") && !md.contains("## Parallel"),
        "{md}"
    );
    assert!(
        md.contains("Colours show the architecture (dot-mf, biased-mf)"),
        "{md}"
    );
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

/// Experiments that share data, split and seed rank together in one table, with run ids;
/// one with another seed is refused, naming what differs; `exp report` pools the same.
#[test]
fn experiments_with_the_same_folds_rank_in_one_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("exp.sqlite");
    let db_arg = db.to_str().expect("utf-8 path");
    for (name, architecture, seed) in [
        ("pool-a", "dot-mf", 7),
        ("pool-b", "biased-mf", 7),
        ("pool-c", "biased-mf", 8),
    ] {
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &file,
            format!(
                "[experiment]\nname = \"{name}\"\nseed = {seed}\n[data]\ndataset = \"ml-latest-small\"\n\
                 [split]\nkind = \"kfold\"\nk = 2\n[model]\narchitecture = \"{architecture}\"\n\
                 embedding_size = 8\n[training]\nepochs = 1\nbatch_size = 1024\nlearning_rate = 0.01\n"
            ),
        )
        .expect("write experiment");
        let out = exp(&["run", file.to_str().unwrap(), "--db", db_arg], dir.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let compare = |extra: &[&str]| {
        let mut args = vec!["compare", "--db", db_arg];
        args.extend_from_slice(extra);
        exp(&args, dir.path())
    };

    let out = compare(&["-e", "pool-a", "-e", "pool-b", "--ids"]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let header = table.lines().next().expect("header");
    assert!(header.starts_with("rank  experiment"), "{table}");
    assert!(
        header.contains("runs") && header.contains("p Wilcoxon"),
        "{table}"
    );
    let rows: Vec<&str> = table
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    // Runs are numbered in training order: pool-a's two folds, then pool-b's.
    let row = |name: &str| rows.iter().find(|r| r.contains(name)).expect("row");
    assert!(row("pool-a").contains(" 1-2 "), "{table}");
    assert!(row("pool-b").contains(" 3-4 "), "{table}");
    // Both folds are paired: the second row has a p-value, not `–`.
    assert!(!rows[1].trim_end().ends_with('–'), "{table}");

    let out = compare(&["-e", "pool-a", "-e", "pool-b", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let configs = doc["configurations"].as_array().expect("array");
    let ids: Vec<&serde_json::Value> = configs.iter().map(|c| &c["run_ids"]).collect();
    assert!(ids.contains(&&serde_json::json!([1, 2])), "{ids:?}");
    assert!(ids.contains(&&serde_json::json!([3, 4])), "{ids:?}");
    assert_eq!(configs[1]["significance"]["paired_folds"], 2);

    for args in [&["-e", "pool-a", "-e", "pool-c"][..], &["--all"][..]] {
        let out = compare(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("cannot rank experiment `pool-c` with `pool-a`")
                && stderr.contains("their seeds differ (7 vs 8)"),
            "{stderr}"
        );
    }

    let out = exp(&["report", "pool-a", "pool-b", "--db", db_arg], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(dir.path().join("pool-a+pool-b/report.md")).expect("report");
    assert!(md.starts_with("# Report: pool-a + pool-b"), "{md}");
    assert!(
        md.contains("| pool-a |") && md.contains("| pool-b |"),
        "{md}"
    );
    // Two single-configuration experiments pooled: compared by experiment, coloured by
    // it; every linked chart exists.
    assert!(
        md.contains("](rmse_by_config.png)")
            && md.contains("Colours show the experiment (pool-a, pool-b)"),
        "{md}"
    );
    let report_dir = dir.path().join("pool-a+pool-b");
    for file in md
        .lines()
        .filter_map(|l| l.strip_prefix("!["))
        .filter_map(|l| l.split("](").nth(1))
        .filter_map(|l| l.strip_suffix(')'))
    {
        png_size(&report_dir.join(file));
    }
    // One experiment of one configuration: only its learning curves, nothing compared.
    let out = exp(&["report", "pool-a", "--db", db_arg], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(dir.path().join("pool-a/report.md")).expect("report");
    let linked: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("!["))
        .filter_map(|l| l.split("](").nth(1))
        .filter_map(|l| l.strip_suffix(')'))
        .collect();
    assert_eq!(linked, ["learning_curves.png"], "{md}");
    assert!(!dir.path().join("pool-a/rmse_by_config.png").exists());
}
