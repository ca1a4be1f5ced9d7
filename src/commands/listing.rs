//! What `exp recommend` and `exp similar` share: opening a stored run, finding an item by
//! id or title, and printing item lists as aligned columns.

use anyhow::{Context, bail};

use crate::cli::RunChoice;
use crate::data::Dataset;
use crate::reload::{self, Reloaded, Weights};
use crate::report::{Metric, compare, missing_experiment};
use crate::store::{Location, Store};

/// The id of the run `choice` names: `--run ID` as given, or with `--experiment NAME
/// --best` the run of the experiment's best configuration by `--metric` on `--fold` (the
/// first finished fold by default), said on stderr.
pub fn chosen_run(db: &Location, choice: &RunChoice) -> anyhow::Result<i64> {
    if let Some(id) = choice.run {
        return Ok(id);
    }
    let Some(experiment) = choice.experiment.as_deref() else {
        bail!("name a run with --run ID, or an experiment with --experiment NAME --best");
    };
    if db.is_missing_file() {
        bail!("database `{db}` does not exist; train runs with `exp run` first, or pass --db");
    }
    let store = Store::open_location_read_only(db)?;
    let runs = store.runs(Some(experiment))?;
    let metric = Metric::new(choice.metric.trim());
    let best = compare::best_runs(&runs, &metric)
        .with_context(|| format!("--best for experiment `{experiment}`"))?;
    let Some(first) = best.first() else {
        return Err(missing_experiment(&store, experiment).into());
    };
    let run = match choice.fold {
        None => first,
        Some(fold) => {
            let folds: Vec<String> = best.iter().map(|r| (r.fold + 1).to_string()).collect();
            best.iter().find(|r| r.fold + 1 == fold).with_context(|| {
                format!(
                    "--fold {fold}: the best configuration of `{experiment}` has finished \
                         runs on fold(s) {} only",
                    folds.join(", ")
                )
            })?
        }
    };
    eprintln!(
        "run {}: the best configuration of `{experiment}` by {} ({}), fold {}",
        run.id,
        metric.label(),
        run.params_json,
        run.fold + 1
    );
    Ok(run.id)
}

/// Rebuilds finished run `run_id` of the database at `db`, and says on stderr where its
/// weights came from and whether its test RMSE matches the stored one (it does when the
/// rebuild is exact).
pub fn open_run(db: &Location, run_id: i64) -> anyhow::Result<Reloaded> {
    if db.is_missing_file() {
        bail!("database `{db}` does not exist; train runs with `exp run` first, or pass --db");
    }
    let store = Store::open_location_read_only(db)?;
    let reloaded = reload::reload(&store, run_id)?;
    let weights = match &reloaded.weights {
        Weights::Checkpoint(path) => format!("weights from {}", path.display()),
        Weights::Refitted => "closed form, fitted again on its training split".to_string(),
        Weights::Retrained { missing, seconds } if missing.is_empty() => format!(
            "no weights were saved (training.checkpoint = \"none\"), so it was trained again \
             from its stored configuration and seed in {seconds:.1} s; set \
             training.checkpoint = \"best\" to save them"
        ),
        Weights::Retrained { missing, seconds } => format!(
            "its checkpoint is gone (looked for {}), so it was trained again from its stored \
             configuration and seed in {seconds:.1} s",
            missing
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    };
    let rmse = reloaded
        .test_rmse()
        .with_context(|| format!("scoring run {run_id} on its test split"))?;
    let check = match reloaded.stored.rmse {
        Some(stored) if (stored - rmse).abs() <= 1e-4 => format!("test RMSE {rmse:.4} as stored"),
        Some(stored) => format!(
            "warning: test RMSE {rmse:.4} differs from the stored {stored:.4}; the data set \
             may have changed since the run"
        ),
        None => format!("test RMSE {rmse:.4}"),
    };
    eprintln!("{}: {weights}; {check}", reloaded.describe());
    if let Some(stored) = &reloaded.stored.data_sha256 {
        let now = crate::data::fingerprint(&reloaded.data);
        if *stored != now {
            eprintln!(
                "warning: data set {} is not the one run {run_id} trained on (its ratings' \
                 SHA-256 is {now}, the run recorded {stored}); its split and answers may differ",
                reloaded.data.name
            );
        }
    }
    Ok(reloaded)
}

/// What an `--item` argument matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemMatch {
    /// One item (dense id).
    One(u32),
    /// Several items whose titles contain the text, none exactly it (dense ids, in order).
    Several(Vec<u32>),
    /// Nothing.
    None,
}

/// The item `query` names: a raw item id; else the one title equal to it or containing
/// it, ignoring case (an exact title wins over titles that merely contain it).
pub fn find_item(data: &Dataset, query: &str) -> ItemMatch {
    if let Some(id) = data.items.get(query.trim()) {
        return ItemMatch::One(id);
    }
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return ItemMatch::None;
    }
    let matches: Vec<u32> = (0..data.n_items() as u32)
        .filter(|&i| title(data, i).to_lowercase().contains(&needle))
        .collect();
    let exact: Vec<u32> = matches
        .iter()
        .copied()
        .filter(|&i| title(data, i).to_lowercase() == needle)
        .collect();
    match (matches.as_slice(), exact.as_slice()) {
        ([], _) => ItemMatch::None,
        ([one], _) | (_, [one]) => ItemMatch::One(*one),
        _ => ItemMatch::Several(matches),
    }
}

/// The title of dense item `item`, or `?` when the data set has none.
pub fn title(data: &Dataset, item: u32) -> &str {
    data.item_info
        .get(item as usize)
        .map(|info| info.title.as_str())
        .filter(|t| !t.is_empty())
        .unwrap_or("?")
}

/// The genres of dense item `item`, joined by `|`.
pub fn genres(data: &Dataset, item: u32) -> String {
    data.item_info
        .get(item as usize)
        .map(|info| info.genres.join("|"))
        .unwrap_or_default()
}

/// Titles longer than this are cut, so the genre column stays readable.
const TITLE_WIDTH: usize = 60;

/// `text` cut to [`TITLE_WIDTH`] characters, with `…` when cut.
pub fn short_title(text: &str) -> String {
    if text.chars().count() <= TITLE_WIDTH {
        return text.to_string();
    }
    let cut: String = text.chars().take(TITLE_WIDTH - 1).collect();
    cut + "…"
}

/// Renders rows as columns separated by two spaces: `numeric` columns right-aligned, the
/// others left-aligned, the last column unpadded.
pub fn columns(header: &[&str], rows: &[Vec<String>], numeric: &[bool]) -> String {
    let width = |c: usize| {
        rows.iter()
            .map(|row| row[c].chars().count())
            .chain([header[c].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = widths[c].saturating_sub(cell.chars().count());
                if c == last && !numeric[c] {
                    cell.to_string()
                } else if numeric[c] {
                    format!("{}{cell}", " ".repeat(pad))
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{IdMap, ItemInfo, Ratings};

    fn catalogue(titles: &[&str]) -> Dataset {
        let mut items = IdMap::default();
        let mut info = Vec::new();
        for (i, t) in titles.iter().enumerate() {
            items.intern(&(10 + i).to_string());
            info.push(ItemInfo {
                title: t.to_string(),
                genres: vec!["Comedy".into(), "Drama".into()],
                ..Default::default()
            });
        }
        Dataset {
            name: "t".into(),
            ratings: Ratings::default(),
            users: IdMap::default(),
            items,
            item_info: info,
            user_info: Vec::new(),
            rating_range: (1.0, 5.0),
            report: Default::default(),
        }
    }

    #[test]
    fn items_are_found_by_raw_id_then_by_title() {
        let data = catalogue(&["Toy Story (1995)", "Toy Story 2 (1999)", "Heat (1995)"]);
        assert_eq!(find_item(&data, "12"), ItemMatch::One(2), "raw id");
        assert_eq!(find_item(&data, "heat"), ItemMatch::One(2), "unique piece");
        assert_eq!(
            find_item(&data, "toy story"),
            ItemMatch::Several(vec![0, 1])
        );
        assert_eq!(
            find_item(&data, "TOY STORY (1995)"),
            ItemMatch::One(0),
            "an exact title wins over longer ones containing it"
        );
        assert_eq!(find_item(&data, "alien"), ItemMatch::None);
        assert_eq!(find_item(&data, "  "), ItemMatch::None);
        assert_eq!(genres(&data, 1), "Comedy|Drama");
    }

    #[test]
    fn columns_align_numbers_right_and_text_left() {
        let rows = vec![
            vec!["1".to_string(), "4.50".to_string(), "Heat".to_string()],
            vec!["10".to_string(), "3.25".to_string(), "Up".to_string()],
        ];
        let text = columns(&["rank", "score", "title"], &rows, &[true, true, false]);
        assert_eq!(
            text,
            "rank  score  title\n   1   4.50  Heat\n  10   3.25  Up\n"
        );
        assert_eq!(short_title(&"x".repeat(61)).chars().count(), 60);
        assert!(short_title(&"x".repeat(61)).ends_with('…'));
    }
}
