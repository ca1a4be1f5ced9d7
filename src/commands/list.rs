//! `exp list`: the names an experiment file can use, one line each, from the same
//! vocabularies the validator checks against (so the list cannot drift from what loads).

use std::process::ExitCode;

use crate::cli::{ListArgs, ListWhat};
use crate::config::spec::{
    Architecture, DataSpec, DatasetName, LossName, MetricName, OptimizerName, RankingKind,
};
use crate::data::{self, Source};

/// Prints the vocabulary `args.what` names.
pub fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<(String, String)> = match args.what {
        ListWhat::Models => Architecture::ALL
            .iter()
            .map(|a| (a.as_str().to_string(), a.description().to_string()))
            .collect(),
        ListWhat::Datasets => DatasetName::ALL
            .iter()
            .map(|&d| {
                let about = format!("{}; {}", d.description(), availability(d));
                (d.as_str().to_string(), about)
            })
            .collect(),
        ListWhat::Metrics => MetricName::ALL
            .iter()
            .map(|m| (m.as_str().to_string(), m.description().to_string()))
            .chain(RankingKind::ALL.iter().map(|k| {
                let name = if k.k_optional() {
                    k.as_str().to_string()
                } else {
                    format!("{}@k", k.as_str())
                };
                (name, k.description().to_string())
            }))
            .collect(),
        ListWhat::Optimizers => OptimizerName::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), o.description().to_string()))
            .collect(),
        ListWhat::Losses => LossName::ALL
            .iter()
            .map(|l| (l.as_str().to_string(), l.description().to_string()))
            .collect(),
    };
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, about) in rows {
        println!("{name:<width$}  {about}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `exp run` would read `dataset` from on this machine, or how to get it.
fn availability(dataset: DatasetName) -> String {
    match data::source_for(&DataSpec::new(dataset)) {
        Ok(Source::Embedded) => "embedded in exp: works offline".to_string(),
        Ok(Source::Dir { path, .. }) if path.is_dir() => format!("found in {}", path.display()),
        Ok(Source::Dir { path, .. }) => format!("not found (looked in {})", path.display()),
        Err(_) if dataset == DatasetName::AmazonMoviesTv => {
            "not here: `exp data download amazon-movies-tv` says where to get it".to_string()
        }
        Err(_) => format!("not here: `exp data download {}`", dataset.as_str()),
    }
}
