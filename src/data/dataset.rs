//! The in-memory form of a ratings data set: dense ids, ratings as columns, and the
//! mapping back to raw ids and titles that recommendations need later.

use std::collections::HashMap;

/// Ratings as parallel columns (one entry per rating), indexed by dense user/item ids.
///
/// Columns rather than a `Vec<struct>` so batches can be gathered with plain slices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ratings {
    /// Dense user id of each rating, in `0..users.len()`.
    pub users: Vec<u32>,
    /// Dense item id of each rating, in `0..items.len()`.
    pub items: Vec<u32>,
    /// The rating value, e.g. 1..5 or 0.5..5 in half stars.
    pub values: Vec<f32>,
    /// Unix seconds when the rating was made (0 where the source has none).
    pub timestamps: Vec<i64>,
}

impl Ratings {
    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no ratings.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Appends one rating.
    pub fn push(&mut self, user: u32, item: u32, value: f32, timestamp: i64) {
        self.users.push(user);
        self.items.push(item);
        self.values.push(value);
        self.timestamps.push(timestamp);
    }
}

/// A dense re-indexing of raw ids (`"196"`, `"B00005JNOG"`) to `0..n`, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdMap {
    raw: Vec<String>,
    dense: HashMap<String, u32>,
}

impl IdMap {
    /// The dense id of `raw`, assigning the next free one if it is new.
    pub fn intern(&mut self, raw: &str) -> u32 {
        if let Some(&id) = self.dense.get(raw) {
            return id;
        }
        let id = self.raw.len() as u32;
        self.raw.push(raw.to_owned());
        self.dense.insert(raw.to_owned(), id);
        id
    }

    /// The dense id of `raw`, if it was seen.
    pub fn get(&self, raw: &str) -> Option<u32> {
        self.dense.get(raw).copied()
    }

    /// The raw id of dense id `id`.
    pub fn raw(&self, id: u32) -> &str {
        &self.raw[id as usize]
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when no id was seen.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// What is known about an item besides its ratings (used for listings, content models
/// and recommendations).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemInfo {
    /// Title as in the source, e.g. `Toy Story (1995)`; empty when unknown.
    pub title: String,
    /// Genre names, e.g. `["Animation", "Children's", "Comedy"]`; for Amazon the
    /// metadata's categories below `Movies & TV`.
    pub genres: Vec<String>,
    /// Release year: from ML-100K's release date, else the title's trailing `(YYYY)`.
    pub year: Option<u16>,
    /// Release date as ISO `YYYY-MM-DD` where the source has one (ML-100K `u.item`).
    pub release_date: Option<String>,
}

/// What is known about a user besides their ratings: the demographics MovieLens 100K
/// (`u.user`) and 1M (`users.dat`) ship. Fields a source lacks are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// `M` or `F` as in the source.
    pub gender: Option<String>,
    /// Age in years (ML-100K); for ML-1M the lower bound of the age group
    /// (1 = under 18, 18, 25, 35, 45, 50, 56 = 56 and over).
    pub age: Option<u8>,
    /// Occupation name, e.g. `technician` (ML-1M's codes are mapped to its README's names).
    pub occupation: Option<String>,
    /// Zip code as written (not always numeric).
    pub zip: Option<String>,
}

/// What loading left out, for the summary commands print on stderr.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Malformed lines skipped under `data.on_bad_line = "skip"`, per file.
    pub skipped: Vec<SkippedLines>,
    /// What the `[data]` filters removed; `None` when no filter is set.
    pub filtered: Option<FilterReport>,
    /// Repeated (user, item) pairs dropped while loading, per file (MovieLens: the last
    /// rating of each pair is kept); files without repeats are not listed.
    pub duplicates: Vec<DuplicatePairs>,
}

/// Repeated (user, item) pairs in one ratings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatePairs {
    /// The file as shown to the user.
    pub file: String,
    /// Ratings dropped: every rating of a pair but the last in file order.
    pub dropped: usize,
}

/// Malformed lines skipped in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLines {
    /// The file as shown to the user.
    pub file: String,
    /// How many lines were skipped.
    pub count: usize,
    /// The first few skipped line numbers (1-based), at most [`SkippedLines::KEEP`].
    pub first_lines: Vec<usize>,
    /// The first problem, as the error would have said it.
    pub first_message: String,
}

impl SkippedLines {
    /// How many line numbers are kept for the summary.
    pub const KEEP: usize = 5;

    /// An empty tally for `file`.
    pub fn new(file: &str) -> Self {
        SkippedLines {
            file: file.to_owned(),
            count: 0,
            first_lines: Vec::new(),
            first_message: String::new(),
        }
    }

    /// Counts line `line`, skipped because of `message`.
    pub fn record(&mut self, line: usize, message: impl FnOnce() -> String) {
        if self.count == 0 {
            self.first_message = message();
        }
        self.count += 1;
        if self.first_lines.len() < Self::KEEP {
            self.first_lines.push(line);
        }
    }
}

/// Sizes before and after the `[data]` filters, and how many ratings each step removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterReport {
    /// (users, items, ratings) as read.
    pub before: (usize, usize, usize),
    /// Ratings outside `min_year..=max_year`.
    pub by_year: usize,
    /// Amazon reviews not marked verified.
    pub unverified: usize,
    /// Ratings of users or items below `min_user_ratings` / `min_item_ratings`.
    pub by_min_ratings: usize,
    /// Ratings removed by the k-core rounds.
    pub by_k_core: usize,
    /// Rounds the k-core took until nothing changed.
    pub k_core_rounds: usize,
    /// (users, items, ratings) kept.
    pub after: (usize, usize, usize),
}

impl LoadReport {
    /// One line per note, for stderr: skipped lines (count and first line numbers) and
    /// what the filters removed.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.skipped {
            if s.count == 0 {
                continue;
            }
            let lines: Vec<String> = s.first_lines.iter().map(ToString::to_string).collect();
            let more = if s.count > s.first_lines.len() {
                ", …"
            } else {
                ""
            };
            out.push(format!(
                "{}: skipped {} malformed line(s) (lines {}{more}); first: {}",
                s.file,
                s.count,
                lines.join(", "),
                s.first_message
            ));
        }
        for d in &self.duplicates {
            out.push(format!(
                "{}: {} repeated (user, item) rating(s) dropped; the last rating of each pair \
                 in the file is kept",
                d.file, d.dropped
            ));
        }
        if let Some(f) = &self.filtered {
            let (u0, i0, r0) = f.before;
            let (u1, i1, r1) = f.after;
            let mut steps = Vec::new();
            for (n, what) in [
                (f.by_year, "outside the years"),
                (f.unverified, "unverified"),
                (f.by_min_ratings, "below the minimum ratings per user/item"),
                (f.by_k_core, "by the k-core"),
            ] {
                if n > 0 {
                    steps.push(format!("{n} {what}"));
                }
            }
            if f.k_core_rounds > 0 {
                steps.push(format!("k-core: {} round(s)", f.k_core_rounds));
            }
            let steps = if steps.is_empty() {
                "nothing removed".to_owned()
            } else {
                steps.join(", ")
            };
            out.push(format!(
                "filters: {u0} users, {i0} items, {r0} ratings → {u1} users, {i1} items, \
                 {r1} ratings ({steps})"
            ));
        }
        out
    }
}

/// A loaded data set, ready to split.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The data set's name, e.g. `ml-100k`.
    pub name: String,
    /// All ratings, in file order.
    pub ratings: Ratings,
    /// Raw ↔ dense user ids.
    pub users: IdMap,
    /// Raw ↔ dense item ids.
    pub items: IdMap,
    /// Per dense item id; items present in the metadata but never rated are not included.
    pub item_info: Vec<ItemInfo>,
    /// Per dense user id where the data set has demographics (ML-100K, ML-1M); empty
    /// otherwise.
    pub user_info: Vec<UserInfo>,
    /// Smallest and largest possible rating (e.g. 0.5 and 5.0), the range a
    /// sigmoid-scaled model predicts in.
    pub rating_range: (f32, f32),
    /// Lines skipped and ratings filtered out while loading.
    pub report: LoadReport,
}

#[cfg(test)]
impl Dataset {
    /// A small data set for tests: `(user, item, rating)` triples in that order (raw ids
    /// interned as they come, no timestamps), ratings 1–5, no item or user information.
    pub(crate) fn from_triples(ratings: &[(&str, &str, f32)]) -> Dataset {
        let mut data = Dataset {
            name: "tiny".into(),
            ratings: Ratings::default(),
            users: IdMap::default(),
            items: IdMap::default(),
            item_info: Vec::new(),
            user_info: Vec::new(),
            rating_range: (1.0, 5.0),
            report: Default::default(),
        };
        for &(user, item, value) in ratings {
            let (u, i) = (data.users.intern(user), data.items.intern(item));
            data.ratings.push(u, i, value, 0);
        }
        data
    }
}

impl Dataset {
    /// Number of distinct users.
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Number of distinct items.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }
}
