//! `exp blend`: the equal-weight average of two or more experiments' saved test
//! predictions, scored fold by fold.
//!
//! Averaging models that err differently (a factor model and an item autoencoder, say) is
//! the oldest way to a lower RMSE: the Netflix Prize was won by blends. The weights here are
//! equal and fixed, so nothing is chosen by looking at the test ratings; each member must
//! have been tuned on its own validation data. Runs pair by (fold, repeat), and a pair
//! is blended only if both members predicted the very same test ratings (same users,
//! items and ratings, in the same order), which holds for runs of one data set and split.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::listing::columns;
use crate::cli::BlendArgs;
use crate::metrics::{self, Scores};
use crate::report::missing_experiment;
use crate::store::Store;
use crate::store::predictions::Prediction;
use crate::store::records::RunStatus;

/// One experiment's finished runs with saved predictions: (fold, repeat) → (run id,
/// predictions in test order).
type SavedRuns = BTreeMap<(usize, usize), (i64, Vec<Prediction>)>;

/// Prints each member's and the blend's RMSE and MAE per (fold, repeat), and their means.
pub fn blend(args: &BlendArgs) -> anyhow::Result<ExitCode> {
    if args.experiments.len() < 2 {
        bail!("a blend needs at least two experiments; pass -e NAME twice or more");
    }
    if args.db.is_missing_file() {
        bail!("no database at `{}`; pass --db", args.db);
    }
    let store = Store::open_location_read_only(&args.db)?;
    // Per experiment: (fold, repeat) → (run id, predictions).
    let mut members = Vec::with_capacity(args.experiments.len());
    for name in &args.experiments {
        members.push(saved_predictions(&store, name)?);
    }
    let first = &members[0];
    let mut rows = Vec::new();
    let mut sums = vec![(0.0f64, 0.0f64); members.len() + 1];
    for &(fold, repeat) in first.keys() {
        let mut runs = Vec::with_capacity(members.len());
        for (name, member) in args.experiments.iter().zip(&members) {
            let Some(run) = member.get(&(fold, repeat)) else {
                bail!(
                    "experiment `{name}` has no finished run with saved predictions for fold \
                     {}, repeat {} (`{}` has one); blended experiments must cover the same \
                     folds and repeats",
                    fold + 1,
                    repeat + 1,
                    args.experiments[0]
                );
            };
            runs.push(run);
        }
        let lists: Vec<&[Prediction]> = runs.iter().map(|(_, p)| p.as_slice()).collect();
        let blended = average(&lists).with_context(|| {
            let ids: Vec<String> = runs.iter().map(|(id, _)| id.to_string()).collect();
            format!(
                "blending fold {}, repeat {} (runs {})",
                fold + 1,
                repeat + 1,
                ids.join(", ")
            )
        })?;
        let actual: Vec<f32> = lists[0].iter().map(|p| p.rating).collect();
        let mut scores: Vec<Scores> = lists
            .iter()
            .map(|list| {
                let predicted: Vec<f32> = list.iter().map(|p| p.prediction).collect();
                metrics::score(&predicted, &actual)
            })
            .collect();
        scores.push(metrics::score(&blended, &actual));
        for (sum, s) in sums.iter_mut().zip(&scores) {
            sum.0 += s.rmse;
            sum.1 += s.mae;
        }
        rows.push(row(
            format!("{}", fold + 1),
            format!("{}", repeat + 1),
            Some(actual.len()),
            &scores,
        ));
    }
    let n = first.len() as f64;
    let means: Vec<Scores> = sums
        .iter()
        .map(|&(rmse, mae)| Scores {
            rmse: rmse / n,
            mae: mae / n,
        })
        .collect();
    if first.len() > 1 {
        rows.push(row("mean".into(), String::new(), None, &means));
    }
    let mut header = vec!["fold".to_string(), "repeat".into(), "ratings".into()];
    for name in &args.experiments {
        header.push(format!("{name} RMSE"));
    }
    header.push("blend RMSE".into());
    header.push("blend MAE".into());
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut numeric = vec![true; header.len()];
    numeric[0] = false;
    println!(
        "Equal-weight blend of {} experiments' saved test predictions:",
        members.len()
    );
    print!("{}", columns(&header, &rows, &numeric));
    Ok(ExitCode::SUCCESS)
}

/// One table row: the members' RMSEs, the blend's RMSE and MAE (the last of `scores`);
/// `ratings` is blank on the row of means.
fn row(fold: String, repeat: String, ratings: Option<usize>, scores: &[Scores]) -> Vec<String> {
    let mut row = vec![
        fold,
        repeat,
        ratings.map(|n| n.to_string()).unwrap_or_default(),
    ];
    let (blend, members) = scores.split_last().expect("the blend's scores come last");
    row.extend(members.iter().map(|s| format!("{:.4}", s.rmse)));
    row.push(format!("{:.4}", blend.rmse));
    row.push(format!("{:.4}", blend.mae));
    row
}

/// Experiment `name`'s finished runs with saved predictions by (fold, repeat); an error
/// naming the experiment if it has none, or two for one (fold, repeat) (a sweep: blend
/// needs one configuration per experiment).
fn saved_predictions(store: &Store, name: &str) -> anyhow::Result<SavedRuns> {
    let runs = store.runs(Some(name))?;
    if runs.is_empty() {
        return Err(missing_experiment(store, name).into());
    }
    let mut out = BTreeMap::new();
    for run in runs.iter().filter(|r| r.status == RunStatus::Finished) {
        let Some(predictions) = store.predictions(run.id)? else {
            continue;
        };
        if let Some((other, _)) = out.insert((run.fold, run.repeat), (run.id, predictions)) {
            bail!(
                "experiment `{name}` has runs {other} and {} for fold {}, repeat {}: blend \
                 takes one configuration per experiment (a sweep's best can be trained as \
                 an experiment of its own)",
                run.id,
                run.fold + 1,
                run.repeat + 1
            );
        }
    }
    if out.is_empty() {
        bail!(
            "experiment `{name}` has no finished run with saved test predictions; set \
             `metrics.save_predictions = true` in its file, remove its runs (`exp rm -e \
             {name} --all`) and run it again"
        );
    }
    Ok(out)
}

/// The element-wise mean of the members' predictions, or an error saying where two
/// members disagree on the test ratings they predicted.
fn average(members: &[&[Prediction]]) -> anyhow::Result<Vec<f32>> {
    let first = members[0];
    for (m, member) in members.iter().enumerate().skip(1) {
        if member.len() != first.len() {
            bail!(
                "member {} predicted {} test ratings, member 1 {}: not the same test split",
                m + 1,
                member.len(),
                first.len()
            );
        }
        if let Some(n) = (0..first.len()).find(|&n| {
            let (a, b) = (first[n], member[n]);
            (a.user, a.item, a.rating) != (b.user, b.item, b.rating)
        }) {
            let (a, b) = (first[n], member[n]);
            bail!(
                "test rating {} differs: member 1 has (user {}, item {}, rating {}), member {} \
                 (user {}, item {}, rating {}): not the same test split",
                n + 1,
                a.user,
                a.item,
                a.rating,
                m + 1,
                b.user,
                b.item,
                b.rating
            );
        }
    }
    let k = members.len() as f32;
    Ok((0..first.len())
        .map(|n| members.iter().map(|m| m[n].prediction).sum::<f32>() / k)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::predictions::test_prediction as p;

    #[test]
    fn averages_the_members_prediction_by_prediction() {
        let a = [p(0, 1, 4.0, 3.0), p(1, 2, 2.0, 2.5)];
        let b = [p(0, 1, 4.0, 5.0), p(1, 2, 2.0, 1.5)];
        let c = [p(0, 1, 4.0, 4.0), p(1, 2, 2.0, 3.5)];
        assert_eq!(average(&[&a, &b]).unwrap(), vec![4.0, 2.0]);
        assert_eq!(average(&[&a, &b, &c]).unwrap(), vec![4.0, 2.5]);
        // Errors of opposite sign cancel: each member has RMSE 1, the blend 0.
        let blended = average(&[&a, &b]).unwrap();
        let s = metrics::score(&blended, &[4.0, 2.0]);
        assert_eq!((s.rmse, s.mae), (0.0, 0.0));
    }

    #[test]
    fn refuses_members_that_predicted_other_test_ratings() {
        let a = [p(0, 1, 4.0, 3.0), p(1, 2, 2.0, 2.5)];
        let short = [p(0, 1, 4.0, 3.0)];
        let other = [p(0, 1, 4.0, 3.0), p(1, 3, 2.0, 2.5)];
        let err = average(&[&a, &short]).unwrap_err().to_string();
        assert!(
            err.contains("member 2 predicted 1 test ratings, member 1 2"),
            "{err}"
        );
        let err = average(&[&a, &other]).unwrap_err().to_string();
        assert!(
            err.contains("test rating 2 differs") && err.contains("item 3"),
            "{err}"
        );
    }
}
