//! `exp similar`: the items nearest to one item by the cosine similarity of a stored
//! run's item vectors ([`crate::models::RatingModel::item_vectors`]).

use std::process::ExitCode;

use anyhow::{Context, bail};

use super::listing::{self, ItemMatch, columns, genres, short_title, title};
use crate::cli::SimilarArgs;
use crate::config::spec::Architecture;
use crate::models::two_tower::similar_items;

/// Most candidates an ambiguous `--item` lists.
const SHOWN_CANDIDATES: usize = 25;

/// Prints the `args.n` items most similar to `args.item` in the run `args.choice` names.
pub fn similar(args: &SimilarArgs) -> anyhow::Result<ExitCode> {
    let run_id = listing::chosen_run(&args.db, &args.choice)?;
    let reloaded = listing::open_run(&args.db, run_id)?;
    let data = &reloaded.data;
    let architecture = reloaded.run.config.model.architecture;
    let Some(vectors) = reloaded
        .model
        .item_vectors()
        .with_context(|| format!("reading the item vectors of run {}", run_id))?
    else {
        bail!(
            "run {} is a {} model, which has no item vectors; `exp similar` needs a model \
             with item embeddings (dot-mf, biased-mf, funk-svd, ncf, mlp or two-tower)",
            run_id,
            architecture.as_str()
        );
    };
    let item = match listing::find_item(data, &args.item) {
        ItemMatch::One(item) => item,
        ItemMatch::None => bail!(
            "no item of {} has the id `{}` or a title containing it",
            data.name,
            args.item
        ),
        ItemMatch::Several(items) => {
            let mut lines: Vec<String> = items
                .iter()
                .take(SHOWN_CANDIDATES)
                .map(|&i| format!("  {:>7}  {}", data.items.raw(i), title(data, i)))
                .collect();
            if items.len() > SHOWN_CANDIDATES {
                lines.push(format!("  … and {} more", items.len() - SHOWN_CANDIDATES));
            }
            bail!(
                "`{}` matches {} titles; pass one of these item ids (or the whole title) to \
                 --item:\n{}",
                args.item,
                items.len(),
                lines.join("\n")
            );
        }
    };
    let mut support = vec![0usize; data.n_items()];
    for &i in &reloaded.split.train {
        support[data.ratings.items[i] as usize] += 1;
    }
    let mut nearest = similar_items(&vectors, item, data.n_items())
        .with_context(|| format!("comparing item vectors of run {}", run_id))?;
    nearest.retain(|&(other, _)| support[other as usize] >= args.min_ratings);
    nearest.truncate(args.n);

    println!(
        "{}: the {} items nearest to {} \"{}\" ({})",
        reloaded.describe(),
        nearest.len(),
        data.items.raw(item),
        title(data, item),
        genres(data, item)
    );
    let among = match args.min_ratings {
        0 => String::new(),
        n => format!(", among items with at least {n} training ratings"),
    };
    println!(
        "by cosine similarity of the model's item vectors ({}){among}",
        vector_kind(architecture)
    );
    let rows: Vec<Vec<String>> = nearest
        .iter()
        .enumerate()
        .map(|(rank, &(other, cosine))| {
            vec![
                (rank + 1).to_string(),
                data.items.raw(other).to_string(),
                format!("{cosine:.3}"),
                short_title(title(data, other)),
                genres(data, other),
            ]
        })
        .collect();
    print!(
        "{}",
        columns(
            &["rank", "item", "cosine", "title", "genres"],
            &rows,
            &[true, true, true, false, false]
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// What the item vectors of `architecture` are, for the output header.
fn vector_kind(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::DotMf => "item factors",
        Architecture::BiasedMf | Architecture::FunkSvd | Architecture::SvdPp => {
            "item factors, biases left out"
        }
        Architecture::Ncf | Architecture::Mlp | Architecture::Gmf => "item embeddings",
        Architecture::TwoTower => "item-tower outputs",
        Architecture::AutoRec => "item codes, the encoder's sigmoid units",
        Architecture::GlobalMean | Architecture::Biases => "none",
    }
}
