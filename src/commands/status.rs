//! `exp status`: the experiments in a database and their runs by status.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::StatusArgs;
use crate::store::Store;
use crate::store::records::{HostCounts, StatusCounts};

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
    // Where the runs were trained, when more than one host could have trained them.
    let hosts = store.host_counts()?;
    let several = hosts.windows(2).any(|w| w[0].experiment == w[1].experiment);
    if store.is_server() || several {
        println!();
        print!("{}", render_hosts(&hosts));
    }
    Ok(ExitCode::SUCCESS)
}

/// The runs per experiment and worker host: one aligned row each.
pub fn render_hosts(hosts: &[HostCounts]) -> String {
    let header = [
        "experiment",
        "worker host",
        "processes",
        "finished",
        "running",
        "failed/interrupted",
    ];
    let rows: Vec<Vec<String>> = hosts
        .iter()
        .map(|h| {
            vec![
                h.experiment.clone(),
                h.host.clone(),
                h.processes.to_string(),
                h.finished.to_string(),
                h.running.to_string(),
                h.ended_otherwise.to_string(),
            ]
        })
        .collect();
    table(&header, &rows, 2)
}

/// `header` and `rows` as aligned text: the first `left` columns left-aligned, the rest
/// right-aligned.
fn table(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            if i < left {
                out.push_str(&format!("{cell:<w$}"));
            } else {
                out.push_str(&format!("{cell:>w$}"));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
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
    let rows: Vec<Vec<String>> = counts
        .iter()
        .map(|c| {
            vec![
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
    table(&header, &rows, 1)
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

    #[test]
    fn the_host_table_gives_each_workers_host_its_runs() {
        let hosts = [
            HostCounts {
                experiment: "sweep".into(),
                host: "node01".into(),
                processes: 2,
                finished: 21,
                running: 1,
                ended_otherwise: 1,
            },
            HostCounts {
                experiment: "sweep".into(),
                host: "gpu-node-17".into(),
                processes: 1,
                finished: 17,
                ..Default::default()
            },
        ];
        assert_eq!(
            render_hosts(&hosts),
            "experiment  worker host  processes  finished  running  failed/interrupted\n\
             sweep       node01               2        21        1                   1\n\
             sweep       gpu-node-17          1        17        0                   0\n"
        );
    }
}
