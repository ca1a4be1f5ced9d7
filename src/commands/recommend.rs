//! `exp recommend`: a stored run's top-N items for one user.
//!
//! The run is rebuilt ([`crate::reload`]), the user's scores of every item come from one
//! block of [`crate::models::RatingModel::score_items`], and the best items the user did
//! not rate in the training part of the split are listed with their titles. With
//! `--rated`, the items the user did rate follow, true rating beside the prediction.

use std::process::ExitCode;

use anyhow::{Context, bail};

use super::listing::{self, columns, genres, short_title, title};
use crate::cli::RecommendArgs;
use crate::rank::{self, Ranker};

/// Prints the top-N list (and with `--rated` the rated items) of `args.user` in the run `args.choice` names.
pub fn recommend(args: &RecommendArgs) -> anyhow::Result<ExitCode> {
    let run_id = listing::chosen_run(&args.db, &args.choice)?;
    let reloaded = listing::open_run(&args.db, run_id)?;
    let data = &reloaded.data;
    let Some(user) = data.users.get(args.user.trim()) else {
        let examples: Vec<&str> = (0..data.n_users().min(3) as u32)
            .map(|u| data.users.raw(u))
            .collect();
        bail!(
            "user `{}` is not in data set {} (run {}); users are given by their raw id as in \
             the data files, e.g. {}",
            args.user,
            data.name,
            run_id,
            examples.join(", ")
        );
    };
    let n_items = data.n_items();
    let scores = rank::score_block(reloaded.model.as_ref(), &[user], n_items)
        .with_context(|| format!("scoring every item for user {}", args.user))?;
    let training = reloaded.training_items();
    let seen = training.of(user);
    let top = Ranker::new(n_items).top(&scores, seen, args.n);
    let (lo, hi) = data.rating_range;

    println!(
        "{}: top {} for user {}",
        reloaded.describe(),
        top.len(),
        args.user
    );
    println!(
        "ranked by predicted rating among the {} items user {} did not rate in training \
         ({} rated); predictions clipped to [{lo}, {hi}]",
        n_items - distinct(seen),
        args.user,
        distinct(seen)
    );
    let rows: Vec<Vec<String>> = top
        .iter()
        .enumerate()
        .map(|(rank, &(item, score))| {
            vec![
                (rank + 1).to_string(),
                data.items.raw(item).to_string(),
                format!("{:.2}", score.clamp(lo, hi)),
                short_title(title(data, item)),
                genres(data, item),
            ]
        })
        .collect();
    print!(
        "{}",
        columns(
            &["rank", "item", "predicted", "title", "genres"],
            &rows,
            &[true, true, true, false, false]
        )
    );

    if args.rated {
        println!();
        print_rated(&reloaded, user, &scores, &args.user);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every rating of `user`, best first, with the model's prediction and the split part the
/// rating fell in.
fn print_rated(reloaded: &crate::reload::Reloaded, user: u32, scores: &[f32], raw_user: &str) {
    let data = &reloaded.data;
    let ratings = &data.ratings;
    let mut part = vec![""; ratings.len()];
    for (indices, name) in [
        (&reloaded.split.train, "train"),
        (&reloaded.split.validation, "validation"),
        (&reloaded.split.test, "test"),
    ] {
        for &i in indices {
            part[i] = name;
        }
    }
    let (lo, hi) = data.rating_range;
    let mut rated: Vec<(f32, f32, u32, &str)> = (0..ratings.len())
        .filter(|&i| ratings.users[i] == user)
        .map(|i| {
            let item = ratings.items[i];
            let predicted = scores[item as usize].clamp(lo, hi);
            (ratings.values[i], predicted, item, part[i])
        })
        .collect();
    rated.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.total_cmp(&a.1))
            .then(a.2.cmp(&b.2))
    });
    let count = |name: &str| rated.iter().filter(|r| r.3 == name).count();
    println!(
        "user {raw_user} rated {} items ({} train, {} validation, {} test): true rating beside \
         the prediction",
        rated.len(),
        count("train"),
        count("validation"),
        count("test")
    );
    let rows: Vec<Vec<String>> = rated
        .iter()
        .map(|&(rating, predicted, item, part)| {
            vec![
                data.items.raw(item).to_string(),
                format!("{rating:.1}"),
                format!("{predicted:.2}"),
                part.to_string(),
                short_title(title(data, item)),
                genres(data, item),
            ]
        })
        .collect();
    print!(
        "{}",
        columns(
            &["item", "rating", "predicted", "split", "title", "genres"],
            &rows,
            &[true, true, true, false, false, false]
        )
    );
}

/// Distinct items in `items` (a user may, in some data sets, rate an item twice).
fn distinct(items: &[u32]) -> usize {
    let mut sorted = items.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len()
}
