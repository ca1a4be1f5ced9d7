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

/// What is known about an item besides its ratings (used for listings and later models).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemInfo {
    /// Title as in the source, e.g. `Toy Story (1995)`; empty when unknown.
    pub title: String,
    /// Genre names, e.g. `["Animation", "Children's", "Comedy"]`.
    pub genres: Vec<String>,
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
    /// Smallest and largest possible rating (e.g. 0.5 and 5.0), the range a
    /// sigmoid-scaled model predicts in.
    pub rating_range: (f32, f32),
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
