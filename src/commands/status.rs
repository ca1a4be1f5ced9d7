//! `exp status`: the experiments in a database and their runs by status.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::StatusArgs;
use crate::store::Store;
use crate::store::records::StatusCounts;

/// Prints one row per experiment: runs in the database by status and the range of their
/// ids (a table on stdout; `exp runs` lists them one by one).
pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    if args.db.is_missing_file() {
        bail!(
            "no database at `{}`: run an experiment first (exp run experiments/sweep.toml) or pass --db",
            args.db
        );
    }
    let store = Store::open_location_read_only(&args.db)?;
    let counts = store.status_counts()?;
    if counts.is_empty() {
        bail!("`{}` holds no experiment yet", args.db);
    }
    print!("{}", render(&counts));
    Ok(ExitCode::SUCCESS)
}

/// The table: a header, then one aligned row per experiment.
pub fn render(counts: &[StatusCounts]) -> String {
    let header = [
        "experiment",
        "runs",
        "finished",
        "running",
        "interrupted",
        "failed",
        "pruned",
        "run ids",
    ];
    let rows: Vec<[String; 8]> = counts
        .iter()
        .map(|c| {
            [
                c.experiment.clone(),
                c.total.to_string(),
                c.finished.to_string(),
                c.running.to_string(),
                c.interrupted.to_string(),
                c.failed.to_string(),
                c.pruned.to_string(),
                match c.ids {
                    Some((low, high)) if low == high => low.to_string(),
                    Some((low, high)) => format!("{low}–{high}"),
                    None => "–".to_string(),
                },
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let mut out = format!("{:<w$}", cells[0], w = widths[0]);
        for (cell, w) in cells.iter().zip(&widths).skip(1) {
            out.push_str(&format!("  {cell:>w$}"));
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_names_left_and_counts_right() {
        let counts = [
            StatusCounts {
                experiment: "sweep".into(),
                total: 40,
                finished: 38,
                running: 0,
                failed: 1,
                interrupted: 1,
                pruned: 3,
                ids: Some((1, 40)),
            },
            StatusCounts {
                experiment: "a-much-longer-name".into(),
                total: 2,
                finished: 2,
                ids: Some((41, 41)),
                ..Default::default()
            },
            StatusCounts {
                experiment: "empty".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            render(&counts),
            "experiment          runs  finished  running  interrupted  failed  pruned  run ids\n\
             sweep                 40        38        0            1       1       3     1–40\n\
             a-much-longer-name     2         2        0            0       0       0       41\n\
             empty                  0         0        0            0       0       0        –\n"
        );
    }
}
