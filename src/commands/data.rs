//! `exp data download` and `exp data stats`: fetch a GroupLens data set; describe any data
//! set on stdout and in PNG charts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{DataCommand, DownloadArgs, StatsArgs};
use crate::config::{self, spec::DataSpec, spec::DatasetName};
use crate::data::{self, charts, download, stats};

/// Runs an `exp data` subcommand.
pub fn data(command: &DataCommand) -> anyhow::Result<ExitCode> {
    match command {
        DataCommand::Download(args) => download_command(args),
        DataCommand::Stats(args) => stats_command(args),
        DataCommand::Split(args) => super::split::split(args),
    }
}

/// The data set called `name`, or an error listing the names.
fn dataset_named(name: &str) -> anyhow::Result<DatasetName> {
    DatasetName::ALL
        .into_iter()
        .find(|d| d.as_str() == name)
        .with_context(|| {
            let names: Vec<&str> = DatasetName::ALL.iter().map(|d| d.as_str()).collect();
            format!(
                "unknown data set `{name}`: expected one of {}",
                names.join(", ")
            )
        })
}

fn download_command(args: &DownloadArgs) -> anyhow::Result<ExitCode> {
    let dataset = dataset_named(&args.dataset)?;
    let root = download::download_root()?;
    let options = download::Options {
        sha256: args.sha256.clone(),
        force: args.force,
        stall: download::stall_from_env()?,
        ..download::Options::new(
            args.base_url
                .clone()
                .unwrap_or_else(download::base_url_from_env),
        )
    };
    // On Ctrl-C or SIGTERM the drop guards of the download never run: remove this
    // process's partial files here. (Ones left by a harder kill are removed by the next
    // download, see `download::remove_stale`.)
    let partial = download::partial_paths(dataset, &root);
    ctrlc::set_handler(move || {
        for path in &partial {
            download::remove_partial(path);
        }
        eprintln!("\ninterrupted: the partial download was removed");
        std::process::exit(130);
    })
    .context("installing the Ctrl-C handler")?;
    for path in download::remove_stale(&root) {
        eprintln!(
            "removed {}, left by an interrupted download",
            path.display()
        );
    }
    let mut last_mb = 0;
    let mut progress = |bytes: u64, total: Option<u64>| {
        let mb = bytes / (1 << 20);
        if mb > last_mb {
            last_mb = mb;
            match total {
                Some(t) => eprint!("\r{mb} / {} MiB", t.div_ceil(1 << 20)),
                None => eprint!("\r{mb} MiB"),
            }
        }
    };
    let done = download::download(dataset, &root, &options, &mut progress);
    if last_mb > 0 {
        eprintln!();
    }
    let done = done?;
    match (&done.url, &done.sha256) {
        (Some(url), Some(sha)) => {
            eprintln!(
                "downloaded {url} ({} bytes, SHA-256 {sha}, verified)",
                done.bytes
            );
            println!("{}", done.dir.display());
        }
        _ => {
            eprintln!(
                "{} is already in {} (use --force to download again)",
                dataset.as_str(),
                done.dir.display()
            );
            println!("{}", done.dir.display());
        }
    }
    if std::env::var_os(data::DATA_DIR_ENV).is_none() {
        eprintln!(
            "exp run finds it there when neither data.path nor {} is set",
            data::DATA_DIR_ENV
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The `[data]` section `target` names: a data set name, or an experiment file's.
fn data_spec(args: &StatsArgs) -> anyhow::Result<DataSpec> {
    let target = Path::new(&args.target);
    let is_file = args.target.ends_with(".toml") || target.is_file();
    if is_file {
        if args.path.is_some() {
            bail!("--path goes with a data set name; an experiment file sets data.path itself");
        }
        let experiment = config::load_experiment(target)?;
        return Ok(experiment.base.data);
    }
    let mut spec = DataSpec::new(dataset_named(&args.target)?);
    spec.path = args.path.clone();
    Ok(spec)
}

fn stats_command(args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let spec = data_spec(args)?;
    let started = std::time::Instant::now();
    let dataset =
        data::load(&spec).with_context(|| format!("loading data set {}", spec.dataset.as_str()))?;
    for line in dataset.report.lines() {
        eprintln!("{line}");
    }
    eprintln!(
        "{}: loaded in {:.1} s",
        dataset.name,
        started.elapsed().as_secs_f64()
    );
    let s = stats::compute(&dataset, args.top);
    print!("{}", stats::render(&s));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/data").join(&dataset.name));
    let paths = charts::write_stats_charts(&s, &out)?;
    for path in paths {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
