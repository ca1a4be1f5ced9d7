//! Parsers for the three MovieLens formats: ML-100K (`u.data`, `u.item`, `u.genre`),
//! ML-1M (`ratings.dat`, `movies.dat`) and ml-latest-small (`ratings.csv`, `movies.csv`).
//!
//! Each parser takes the file's bytes and the name to show in errors, so the same code
//! reads files from disk and the embedded copy. The ratings file is read first: it fixes
//! the dense ids (first-seen order); the metadata file then fills `item_info` for the
//! items that were rated and is otherwise ignored.
//!
//! Every malformed line is an error `file:line: what was expected, found what`; nothing
//! here panics on any input. The hot loop (one iteration per rating, 1M for ML-1M) splits
//! fields in place on the byte slice and allocates only when a new raw id is first seen.

use std::collections::HashMap;
use std::str::FromStr;

use super::DataError;
use super::dataset::{
    Dataset, DuplicatePairs, IdMap, ItemInfo, LoadReport, Ratings, SkippedLines, UserInfo,
};
use super::features::title_year;
use crate::config::spec::{BadLinePolicy, DatasetName};

/// The valid ratings of a data set: `min..=max` in steps of `step`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    /// Smallest rating.
    pub min: f32,
    /// Largest rating.
    pub max: f32,
    /// Distance between two valid ratings.
    pub step: f32,
}

/// ML-100K and ML-1M: whole stars 1..5.
pub(crate) const WHOLE_STARS: Scale = Scale {
    min: 1.0,
    max: 5.0,
    step: 1.0,
};

/// ml-latest-small: half stars 0.5..5.
pub(crate) const HALF_STARS: Scale = Scale {
    min: 0.5,
    max: 5.0,
    step: 0.5,
};

impl Scale {
    /// True when `v` is a valid rating of this scale.
    pub(crate) fn contains(self, v: f32) -> bool {
        // NaN fails the comparisons; the division is exact for the scales above.
        v >= self.min && v <= self.max && ((v - self.min) / self.step).fract() == 0.0
    }
}

/// The 19 ML-100K genres in `u.item` flag order, from the data set's README; used when
/// `u.genre` is absent.
pub(crate) const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// ML-100K `u.data`: `user<TAB>item<TAB>rating<TAB>timestamp`.
#[cfg(test)]
pub(crate) fn ml100k_ratings(bytes: &[u8], file: &str) -> Result<RatingsTable, DataError> {
    ml100k_ratings_with(bytes, file, BadLinePolicy::Error)
}

/// [`ml100k_ratings`] with a policy for malformed lines.
pub(crate) fn ml100k_ratings_with(
    bytes: &[u8],
    file: &str,
    policy: BadLinePolicy,
) -> Result<RatingsTable, DataError> {
    let layout = "user<TAB>item<TAB>rating<TAB>timestamp";
    delimited_ratings(bytes, file, b"\t", layout, policy)
}

/// ML-1M `ratings.dat`: `UserID::MovieID::Rating::Timestamp`.
#[cfg(test)]
pub(crate) fn ml1m_ratings(bytes: &[u8], file: &str) -> Result<RatingsTable, DataError> {
    ml1m_ratings_with(bytes, file, BadLinePolicy::Error)
}

/// [`ml1m_ratings`] with a policy for malformed lines.
pub(crate) fn ml1m_ratings_with(
    bytes: &[u8],
    file: &str,
    policy: BadLinePolicy,
) -> Result<RatingsTable, DataError> {
    let layout = "UserID::MovieID::Rating::Timestamp";
    delimited_ratings(bytes, file, b"::", layout, policy)
}

/// Ratings with their dense id maps, before metadata is attached.
#[derive(Debug)]
pub(crate) struct RatingsTable {
    ratings: Ratings,
    users: DenseIds,
    items: DenseIds,
    skipped: SkippedLines,
    /// Ratings dropped by [`RatingsTable::keep_last_of_each_pair`].
    duplicates: usize,
}

impl RatingsTable {
    fn with_capacity(n: usize) -> Self {
        let mut ratings = Ratings::default();
        ratings.users.reserve_exact(n);
        ratings.items.reserve_exact(n);
        ratings.values.reserve_exact(n);
        ratings.timestamps.reserve_exact(n);
        Self {
            ratings,
            users: DenseIds::default(),
            items: DenseIds::default(),
            skipped: SkippedLines::new(""),
            duplicates: 0,
        }
    }

    /// Drops every rating of a repeated (user, item) pair but the last in file order (a
    /// user who re-rated an item changed their mind), keeping the rest in file order, and
    /// counts what was dropped for the load summary. A repeated pair would otherwise
    /// count twice in training, or land in both the training and the test split.
    fn keep_last_of_each_pair(&mut self) {
        let r = &mut self.ratings;
        let key = |i: usize| (u64::from(r.users[i]) << 32) | u64::from(r.items[i]);
        let mut order: Vec<(u64, usize)> = (0..r.len()).map(|i| (key(i), i)).collect();
        order.sort_unstable();
        let mut keep = vec![true; r.len()];
        for pair in order.windows(2) {
            if pair[0].0 == pair[1].0 {
                keep[pair[0].1] = false;
            }
        }
        let dropped = keep.iter().filter(|&&k| !k).count();
        if dropped == 0 {
            return;
        }
        let mut kept = keep.iter();
        r.users.retain(|_| *kept.next().unwrap_or(&true));
        let mut kept = keep.iter();
        r.items.retain(|_| *kept.next().unwrap_or(&true));
        let mut kept = keep.iter();
        r.values.retain(|_| *kept.next().unwrap_or(&true));
        let mut kept = keep.iter();
        r.timestamps.retain(|_| *kept.next().unwrap_or(&true));
        self.duplicates = dropped;
    }

    /// Attaches user demographics by raw user id (users who rated nothing are dropped;
    /// raters without an entry get an empty [`UserInfo`]).
    pub(crate) fn into_dataset_with_users(
        self,
        name: &str,
        scale: Scale,
        metadata: impl IntoIterator<Item = (u32, ItemInfo)>,
        users: impl IntoIterator<Item = (u32, UserInfo)>,
    ) -> Dataset {
        let mut user_info = vec![UserInfo::default(); self.users.map.len()];
        for (raw, info) in users {
            if let Some(dense) = self.users.get(raw) {
                user_info[dense as usize] = info;
            }
        }
        let mut dataset = self.into_dataset(name, scale, metadata);
        dataset.user_info = user_info;
        dataset
    }

    /// The finished data set; `metadata` gives the info of raw item ids (unrated ones
    /// are dropped, rated ones without metadata get an empty [`ItemInfo`], and of an id
    /// listed twice the last entry wins).
    pub(crate) fn into_dataset(
        self,
        name: &str,
        scale: Scale,
        metadata: impl IntoIterator<Item = (u32, ItemInfo)>,
    ) -> Dataset {
        let mut item_info = vec![ItemInfo::default(); self.items.map.len()];
        for (raw, info) in metadata {
            if let Some(dense) = self.items.get(raw) {
                item_info[dense as usize] = info;
            }
        }
        let duplicates = if self.duplicates > 0 {
            vec![DuplicatePairs {
                file: self.skipped.file.clone(),
                dropped: self.duplicates,
            }]
        } else {
            Vec::new()
        };
        let skipped = if self.skipped.count > 0 {
            vec![self.skipped]
        } else {
            Vec::new()
        };
        Dataset {
            name: name.to_owned(),
            ratings: self.ratings,
            users: self.users.map,
            items: self.items.map,
            item_info,
            user_info: Vec::new(),
            rating_range: (scale.min, scale.max),
            report: LoadReport {
                skipped,
                filtered: None,
                duplicates,
            },
        }
    }

    /// The dense item id of raw (numeric) item id `raw`, if it was rated.
    #[cfg(test)]
    fn item(&self, raw: u32) -> Option<u32> {
        self.items.get(raw)
    }
}

/// Numeric raw ids → dense ids, with an [`IdMap`] kept in step.
///
/// Raw ids are parsed as numbers, so `007` and `7` are the same id and the `IdMap` holds
/// the canonical decimal form (`"7"`). Lookups go through a plain vector for ids below
/// [`DenseIds::TABLE_LIMIT`] (all MovieLens ids), so the per-rating cost is one index, not
/// a string hash; larger ids fall back to a hash map.
#[derive(Debug, Default)]
struct DenseIds {
    map: IdMap,
    /// `table[raw]` is the dense id + 1, or 0 when unseen.
    table: Vec<u32>,
    large: HashMap<u32, u32>,
}

impl DenseIds {
    /// Raw ids below this are looked up in `table` (at most 8 MiB).
    const TABLE_LIMIT: u32 = 1 << 21;

    fn intern(&mut self, raw: u32) -> u32 {
        if let Some(id) = self.get(raw) {
            return id;
        }
        let id = self.map.intern(&raw.to_string());
        if raw < Self::TABLE_LIMIT {
            let slot = raw as usize;
            if slot >= self.table.len() {
                self.table.resize((slot + 1).next_power_of_two(), 0);
            }
            self.table[slot] = id + 1;
        } else {
            self.large.insert(raw, id);
        }
        id
    }

    fn get(&self, raw: u32) -> Option<u32> {
        if raw < Self::TABLE_LIMIT {
            match self.table.get(raw as usize) {
                Some(&v) if v > 0 => Some(v - 1),
                _ => None,
            }
        } else {
            self.large.get(&raw).copied()
        }
    }
}

/// Ratings in a line format with fields separated by `sep` (ML-100K, ML-1M).
fn delimited_ratings(
    bytes: &[u8],
    file: &str,
    sep: &[u8],
    layout: &str,
    policy: BadLinePolicy,
) -> Result<RatingsTable, DataError> {
    let mut table = RatingsTable::with_capacity(count_lines(bytes));
    table.skipped = SkippedLines::new(file);
    for (line_no, line) in lines(bytes) {
        let parsed = (|| -> Result<_, String> {
            let [user, item, rating, timestamp] = split_exact::<4>(line, sep).map_err(|found| {
                format!(
                    "expected 4 fields `{layout}`, found {found} in `{}`",
                    shown(line)
                )
            })?;
            Ok((
                parse_id(user, "a user id")?,
                parse_id(item, "an item id")?,
                parse_rating(rating, WHOLE_STARS)?,
                parse_timestamp(timestamp)?,
            ))
        })();
        let (user, item, value, timestamp) = match parsed {
            Ok(fields) => fields,
            Err(message) => {
                on_bad_line(policy, &mut table.skipped, file, line_no, message)?;
                continue;
            }
        };
        let (user, item) = (table.users.intern(user), table.items.intern(item));
        table.ratings.push(user, item, value, timestamp);
    }
    if table.ratings.is_empty() {
        return Err(DataError::no_ratings(file, &table.skipped));
    }
    table.keep_last_of_each_pair();
    Ok(table)
}

/// One rating of a ratings file with the 1-based line it is on: what a `predefined`
/// split's files are read into before each rating is matched to the loaded data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RatingLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// Raw user id.
    pub user: u32,
    /// Raw item id.
    pub item: u32,
    /// The rating.
    pub value: f32,
}

/// The ratings of a file in `dataset`'s own ratings format (ML-100K `u.data`, ML-1M
/// `ratings.dat`, ml-latest-small `ratings.csv` with its header line), each with its line
/// number, in file order and with repeats kept (the caller decides what a repeat means).
/// `None` for a data set without a MovieLens format. Any malformed line is an error.
pub(crate) fn rating_lines(
    bytes: &[u8],
    file: &str,
    dataset: DatasetName,
) -> Option<Result<Vec<RatingLine>, DataError>> {
    let (sep, layout, scale, header): (&[u8], &str, Scale, Option<&[u8]>) = match dataset {
        DatasetName::Ml100k => (
            b"\t",
            "user<TAB>item<TAB>rating<TAB>timestamp",
            WHOLE_STARS,
            None,
        ),
        DatasetName::Ml1m => (
            b"::",
            "UserID::MovieID::Rating::Timestamp",
            WHOLE_STARS,
            None,
        ),
        DatasetName::MlLatestSmall => (
            b",",
            "userId,movieId,rating,timestamp",
            HALF_STARS,
            Some(b"userId,movieId,rating,timestamp"),
        ),
        DatasetName::AmazonMoviesTv => return None,
    };
    let parse = || {
        let mut out = Vec::with_capacity(count_lines(bytes));
        for (line_no, line) in lines(bytes) {
            if line_no == 1 && header.is_some_and(|h| line == h) {
                continue;
            }
            let parsed = (|| -> Result<_, String> {
                let [user, item, rating, timestamp] =
                    split_exact::<4>(line, sep).map_err(|found| {
                        format!(
                            "expected 4 fields `{layout}`, found {found} in `{}`",
                            shown(line)
                        )
                    })?;
                parse_timestamp(timestamp)?;
                Ok(RatingLine {
                    line: line_no,
                    user: parse_id(user, "a user id")?,
                    item: parse_id(item, "an item id")?,
                    value: parse_rating(rating, scale)?,
                })
            })();
            out.push(parsed.map_err(|message| parse_error(file, line_no, message))?);
        }
        Ok(out)
    };
    Some(parse())
}

/// ML-100K `u.genre`: `name|index` lines, indices `0..n` in order; a blank last line.
pub(crate) fn ml100k_genres(bytes: &[u8], file: &str) -> Result<Vec<String>, DataError> {
    let mut names = Vec::new();
    for (line_no, line) in lines(bytes) {
        let err = |message: String| parse_error(file, line_no, message);
        let [name, index] = split_exact::<2>(line, b"|").map_err(|found| {
            err(format!(
                "expected 2 fields `name|index`, found {found} in `{}`",
                shown(line)
            ))
        })?;
        let index: usize = parse_num(index)
            .ok_or_else(|| err(format!("expected a genre index, found {}", found(index))))?;
        if index != names.len() {
            return Err(err(format!(
                "expected genre index {}, found {index}",
                names.len()
            )));
        }
        names.push(decode_text(name));
    }
    Ok(names)
}

/// ML-100K `u.item`: `id|title|release date|video release date|IMDb URL|` and one 0/1
/// flag per genre of `genres`.
pub(crate) fn ml100k_items(
    bytes: &[u8],
    file: &str,
    genres: &[String],
) -> Result<Vec<(u32, ItemInfo)>, DataError> {
    let expected = 5 + genres.len();
    let mut items = Vec::new();
    let mut fields: Vec<&[u8]> = Vec::with_capacity(expected);
    for (line_no, line) in lines(bytes) {
        let err = |message: String| parse_error(file, line_no, message);
        fields.clear();
        fields.extend(line.split(|&b| b == b'|'));
        if fields.len() != expected {
            return Err(err(format!(
                "expected {expected} `|`-separated fields (id|title|release date|video \
                 release date|IMDb URL and {} genre flags), found {}",
                genres.len(),
                fields.len()
            )));
        }
        let id = parse_id(fields[0], "an item id").map_err(err)?;
        let mut item_genres = Vec::new();
        for (name, flag) in genres.iter().zip(&fields[5..]) {
            match *flag {
                b"1" => item_genres.push(name.clone()),
                b"0" => {}
                other => {
                    return Err(err(format!(
                        "expected genre flag 0 or 1 for {name}, found {}",
                        found(other)
                    )));
                }
            }
        }
        let release_date = ml100k_date(fields[2]);
        let year = release_date.as_deref().and_then(|d| d[..4].parse().ok());
        let title = decode_text(fields[1]);
        items.push((
            id,
            ItemInfo {
                year: year.or_else(|| title_year(&title)),
                title,
                genres: item_genres,
                release_date,
            },
        ));
    }
    Ok(items)
}

/// ML-1M `movies.dat`: `MovieID::Title::Genres`, genres `|`-separated (latin-1).
///
/// The title is everything between the first and the last `::`, so a title that
/// itself contained `::` would still parse.
pub(crate) fn ml1m_movies(bytes: &[u8], file: &str) -> Result<Vec<(u32, ItemInfo)>, DataError> {
    let mut items = Vec::new();
    for (line_no, line) in lines(bytes) {
        let err = |message: String| parse_error(file, line_no, message);
        let (id, rest) = split_once(line, b"::");
        let parts = rest.and_then(|rest| rsplit_once(rest, b"::"));
        let Some((title, genres)) = parts else {
            return Err(err(format!(
                "expected 3 fields `MovieID::Title::Genres`, found `{}`",
                shown(line)
            )));
        };
        let id = parse_id(id, "a movie id").map_err(err)?;
        let title = decode_text(title);
        items.push((
            id,
            ItemInfo {
                year: title_year(&title),
                title,
                genres: split_genres(genres, b""),
                release_date: None,
            },
        ));
    }
    Ok(items)
}

/// ML-100K's release date `01-Jan-1995` as ISO `1995-01-01`; `None` for an empty or
/// unreadable date (a few items have none).
fn ml100k_date(field: &[u8]) -> Option<String> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let [day, month, year] = split_exact::<3>(field, b"-").ok()?;
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let day = parse_digits(day).filter(|d| (1..=31).contains(d))?;
    let year = parse_digits(year).filter(|y| (1000..=9999).contains(y))?;
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

/// ML-100K `u.user`: `user id|age|gender|occupation|zip code`.
pub(crate) fn ml100k_users(bytes: &[u8], file: &str) -> Result<Vec<(u32, UserInfo)>, DataError> {
    let mut users = Vec::new();
    for (line_no, line) in lines(bytes) {
        let err = |message: String| parse_error(file, line_no, message);
        let [id, age, gender, occupation, zip] = split_exact::<5>(line, b"|").map_err(|n| {
            err(format!(
                "expected 5 fields `user id|age|gender|occupation|zip code`, found {n} in `{}`",
                shown(line)
            ))
        })?;
        let id = parse_id(id, "a user id").map_err(err)?;
        let age = parse_digits(age)
            .and_then(|a| u8::try_from(a).ok())
            .ok_or_else(|| err(format!("expected an age in years, found {}", found(age))))?;
        users.push((
            id,
            UserInfo {
                gender: Some(decode_text(gender)),
                age: Some(age),
                occupation: Some(decode_text(occupation)),
                zip: Some(decode_text(zip)),
            },
        ));
    }
    Ok(users)
}

/// ML-1M occupation codes 0–20, from the data set's README.
const ML1M_OCCUPATIONS: [&str; 21] = [
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
];

/// ML-1M `users.dat`: `UserID::Gender::Age::Occupation::Zip-code`; ages are group codes
/// (1, 18, 25, 35, 45, 50, 56), occupations codes 0–20.
pub(crate) fn ml1m_users(bytes: &[u8], file: &str) -> Result<Vec<(u32, UserInfo)>, DataError> {
    let mut users = Vec::new();
    for (line_no, line) in lines(bytes) {
        let err = |message: String| parse_error(file, line_no, message);
        let [id, gender, age, occupation, zip] = split_exact::<5>(line, b"::").map_err(|n| {
            err(format!(
                "expected 5 fields `UserID::Gender::Age::Occupation::Zip-code`, found {n} in `{}`",
                shown(line)
            ))
        })?;
        let id = parse_id(id, "a user id").map_err(err)?;
        let age = parse_digits(age)
            .and_then(|a| u8::try_from(a).ok())
            .filter(|a| [1, 18, 25, 35, 45, 50, 56].contains(a))
            .ok_or_else(|| {
                err(format!(
                    "expected an age group (1, 18, 25, 35, 45, 50 or 56), found {}",
                    found(age)
                ))
            })?;
        let occupation = parse_digits(occupation)
            .and_then(|o| ML1M_OCCUPATIONS.get(usize::try_from(o).ok()?))
            .ok_or_else(|| {
                err(format!(
                    "expected an occupation code 0 to 20, found {}",
                    found(occupation)
                ))
            })?;
        users.push((
            id,
            UserInfo {
                gender: Some(decode_text(gender)),
                age: Some(age),
                occupation: Some((*occupation).to_owned()),
                zip: Some(decode_text(zip)),
            },
        ));
    }
    Ok(users)
}

/// ml-latest-small `ratings.csv`: header `userId,movieId,rating,timestamp`.
#[cfg(test)]
pub(crate) fn latest_small_ratings(bytes: &[u8], file: &str) -> Result<RatingsTable, DataError> {
    latest_small_ratings_with(bytes, file, BadLinePolicy::Error)
}

/// [`latest_small_ratings`] with a policy for malformed records (the header and CSV
/// syntax errors always stop loading).
pub(crate) fn latest_small_ratings_with(
    bytes: &[u8],
    file: &str,
    policy: BadLinePolicy,
) -> Result<RatingsTable, DataError> {
    let bytes = strip_bom(bytes);
    let mut table = RatingsTable::with_capacity(count_lines(bytes));
    table.skipped = SkippedLines::new(file);
    let mut reader = csv_reader(bytes);
    let mut record = csv::ByteRecord::new();
    expect_header(
        bytes,
        &mut reader,
        &mut record,
        file,
        "userId,movieId,rating,timestamp",
    )?;
    while next_record(bytes, &mut reader, &mut record, file)? {
        let parsed = (|| -> Result<_, String> {
            let [user, item, rating, timestamp] = record_fields::<4>(&record).map_err(|found| {
                format!("expected 4 fields `userId,movieId,rating,timestamp`, found {found}")
            })?;
            Ok((
                parse_id(user, "a user id")?,
                parse_id(item, "a movie id")?,
                parse_rating(rating, HALF_STARS)?,
                parse_timestamp(timestamp)?,
            ))
        })();
        let (user, item, value, timestamp) = match parsed {
            Ok(fields) => fields,
            Err(message) => {
                // The line number is only worked out for a bad record (it costs a scan).
                let line = record_line(bytes, &record);
                on_bad_line(policy, &mut table.skipped, file, line, message)?;
                continue;
            }
        };
        let (user, item) = (table.users.intern(user), table.items.intern(item));
        table.ratings.push(user, item, value, timestamp);
    }
    if table.ratings.is_empty() {
        return Err(DataError::no_ratings(file, &table.skipped));
    }
    table.keep_last_of_each_pair();
    Ok(table)
}

/// ml-latest-small `movies.csv`: header `movieId,title,genres`, CSV quoting, genres
/// `|`-separated with `(no genres listed)` meaning none.
pub(crate) fn latest_small_movies(
    bytes: &[u8],
    file: &str,
) -> Result<Vec<(u32, ItemInfo)>, DataError> {
    let bytes = strip_bom(bytes);
    let mut items = Vec::new();
    let mut reader = csv_reader(bytes);
    let mut record = csv::ByteRecord::new();
    expect_header(
        bytes,
        &mut reader,
        &mut record,
        file,
        "movieId,title,genres",
    )?;
    while next_record(bytes, &mut reader, &mut record, file)? {
        // The line number is only worked out for an error (it costs a scan of the file).
        let err = |message: String| parse_error(file, record_line(bytes, &record), message);
        let [id, title, genres] = record_fields::<3>(&record).map_err(|found| {
            err(format!(
                "expected 3 fields `movieId,title,genres`, found {found}"
            ))
        })?;
        let id = parse_id(id, "a movie id").map_err(err)?;
        let title = decode_text(title);
        items.push((
            id,
            ItemInfo {
                year: title_year(&title),
                title,
                genres: split_genres(genres, b"(no genres listed)"),
                release_date: None,
            },
        ));
    }
    Ok(items)
}

// ---------------------------------------------------------------------------------------
// Line and field helpers.

/// A malformed line: an error under [`BadLinePolicy::Error`], else counted in `skipped`.
pub(crate) fn on_bad_line(
    policy: BadLinePolicy,
    skipped: &mut SkippedLines,
    file: &str,
    line: usize,
    message: String,
) -> Result<(), DataError> {
    match policy {
        BadLinePolicy::Error => Err(parse_error(file, line, message)),
        BadLinePolicy::Skip => {
            skipped.record(line, || format!("line {line}: {message}"));
            Ok(())
        }
    }
}

pub(crate) fn parse_error(file: &str, line: usize, message: String) -> DataError {
    DataError::Parse {
        file: file.to_owned(),
        line,
        message,
    }
}

/// `bytes` without a leading UTF-8 byte-order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// A cheap upper bound on the number of records, to allocate the columns once.
fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count() + 1
}

/// The non-blank lines of `bytes` with their 1-based numbers, without `\n` / `\r\n`.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    strip_bom(bytes)
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.is_empty())
}

/// `line` split on `sep` into exactly `N` fields, or the number of fields found.
pub(crate) fn split_exact<'a, const N: usize>(
    line: &'a [u8],
    sep: &[u8],
) -> Result<[&'a [u8]; N], usize> {
    let mut out: [&[u8]; N] = [&[]; N];
    let mut count = 0;
    let mut rest = Some(line);
    while let Some(current) = rest {
        let (field, next) = split_once(current, sep);
        if let Some(slot) = out.get_mut(count) {
            *slot = field;
        }
        count += 1;
        rest = next;
    }
    if count == N { Ok(out) } else { Err(count) }
}

/// `(before, Some(after))` around the first `sep`, or `(line, None)`.
fn split_once<'a>(line: &'a [u8], sep: &[u8]) -> (&'a [u8], Option<&'a [u8]>) {
    let at = match sep {
        [b] => line.iter().position(|c| c == b),
        _ => line.windows(sep.len()).position(|w| w == sep),
    };
    match at {
        Some(i) => (&line[..i], Some(&line[i + sep.len()..])),
        None => (line, None),
    }
}

/// `(before, after)` around the last `sep`.
fn rsplit_once<'a>(line: &'a [u8], sep: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let i = line.windows(sep.len()).rposition(|w| w == sep)?;
    Some((&line[..i], &line[i + sep.len()..]))
}

/// `|`-separated genre names; empty or equal to `none` means no genre.
fn split_genres(field: &[u8], none: &[u8]) -> Vec<String> {
    if field.is_empty() || field == none {
        return Vec::new();
    }
    field
        .split(|&b| b == b'|')
        .filter(|g| !g.is_empty())
        .map(decode_text)
        .collect()
}

/// Text as UTF-8 when it is valid UTF-8, else as latin-1 (ISO-8859-1).
///
/// The ML-100K and ML-1M files are latin-1, ml-latest-small is UTF-8; reading each
/// field as UTF-8 first also handles copies that were converted to UTF-8. A latin-1
/// title that happens to be valid UTF-8 would need a byte pair like `Ã©`, which does not
/// occur in these files.
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn parse_num<T: FromStr>(field: &[u8]) -> Option<T> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// A non-negative decimal integer of ASCII digits only (no sign, no spaces), checked for
/// overflow. Hand-written because it is the hot path (three fields per rating) and skips
/// the UTF-8 validation of `str::parse`.
pub(crate) fn parse_digits(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 19 {
        // 19 digits always fit in a u64; longer is out of range for our uses anyway.
        return None;
    }
    field.iter().try_fold(0u64, |acc, &b| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then(|| acc * 10 + u64::from(d))
    })
}

fn parse_id(field: &[u8], what: &str) -> Result<u32, String> {
    parse_digits(field)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| {
            format!(
                "expected {what} (an integer from 0 to {}), found {}",
                u32::MAX,
                found(field)
            )
        })
}

pub(crate) fn parse_rating(field: &[u8], scale: Scale) -> Result<f32, String> {
    // Fast path for the forms in the files (`3`, `3.5`); anything else goes through the
    // full float parser, and the scale check applies to both.
    let value = match *field {
        [d] if d.is_ascii_digit() => Some(f32::from(d - b'0')),
        [d, b'.', f] if d.is_ascii_digit() && f.is_ascii_digit() => {
            Some(f32::from(d - b'0') + f32::from(f - b'0') / 10.0)
        }
        _ => parse_num::<f32>(field),
    };
    match value {
        Some(v) if scale.contains(v) => Ok(v),
        _ => Err(format!(
            "expected a rating from {} to {} in steps of {}, found {}",
            scale.min,
            scale.max,
            scale.step,
            found(field)
        )),
    }
}

pub(crate) fn parse_timestamp(field: &[u8]) -> Result<i64, String> {
    let value = match field.strip_prefix(b"-") {
        Some(digits) => parse_digits(digits).and_then(|v| 0i64.checked_sub_unsigned(v)),
        None => parse_digits(field).and_then(|v| i64::try_from(v).ok()),
    };
    value.ok_or_else(|| {
        format!(
            "expected a timestamp (integer Unix seconds), found {}",
            found(field)
        )
    })
}

/// A field for an error message: `` `text` `` (shortened), or "an empty field".
pub(crate) fn found(field: &[u8]) -> String {
    if field.is_empty() {
        "an empty field".to_owned()
    } else {
        format!("`{}`", shown(field))
    }
}

/// At most 60 characters of `bytes`, lossily decoded and with control characters
/// escaped, for quoting in an error message.
pub(crate) fn shown(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let text = decode_text(&bytes[..bytes.len().min(4 * MAX)]);
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > MAX || bytes.len() > 4 * MAX {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------------------
// CSV helpers (ml-latest-small).

/// A reader over `bytes`, which must already be without a byte-order mark (see
/// [`strip_bom`]) so that record offsets index `bytes`.
fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        // Field counts are checked here, to report them with the file and line.
        .flexible(true)
        .from_reader(bytes)
}

/// Reads the next record; false at the end of the file.
fn next_record(
    bytes: &[u8],
    reader: &mut csv::Reader<&[u8]>,
    record: &mut csv::ByteRecord,
    file: &str,
) -> Result<bool, DataError> {
    reader.read_byte_record(record).map_err(|e| {
        let line = e
            .position()
            .map_or(0, |p| line_at(bytes, p.byte() as usize));
        parse_error(file, line, format!("invalid CSV: {e}"))
    })
}

/// The 1-based line `record` starts on in `bytes` (the reader's input).
///
/// Computed from the record's byte offset rather than taken from `Position::line`: with
/// CRLF line ends the csv crate ends a record at the `\r` and counts the `\n` into the
/// next record, so its line numbers are one short after the first record. Only called
/// to report an error, so the linear count costs nothing on the happy path.
fn record_line(bytes: &[u8], record: &csv::ByteRecord) -> usize {
    record
        .position()
        .map_or(0, |p| line_at(bytes, p.byte() as usize))
}

/// The 1-based line of the record starting at byte `start` of `bytes`.
fn line_at(bytes: &[u8], start: usize) -> usize {
    let start = start.min(bytes.len());
    // Skip the line end(s) the record's position may still point at.
    let skip = bytes[start..]
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    1 + bytes[..start + skip]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn expect_header(
    bytes: &[u8],
    reader: &mut csv::Reader<&[u8]>,
    record: &mut csv::ByteRecord,
    file: &str,
    header: &str,
) -> Result<(), DataError> {
    if !next_record(bytes, reader, record, file)? {
        return Err(parse_error(
            file,
            1,
            format!("expected the header `{header}`, found an empty file"),
        ));
    }
    let fields: Vec<&[u8]> = record.iter().collect();
    let found = fields.join(&b","[..]);
    if found != header.as_bytes() {
        return Err(parse_error(
            file,
            record_line(bytes, record),
            format!("expected the header `{header}`, found `{}`", shown(&found)),
        ));
    }
    Ok(())
}

fn record_fields<const N: usize>(record: &csv::ByteRecord) -> Result<[&[u8]; N], usize> {
    if record.len() != N {
        return Err(record.len());
    }
    let mut out: [&[u8]; N] = [&[]; N];
    for (slot, field) in out.iter_mut().zip(record.iter()) {
        *slot = field;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(result: Result<impl std::fmt::Debug, DataError>) -> String {
        result.expect_err("expected a parse error").to_string()
    }

    #[test]
    fn ml100k_ratings_parse_and_reindex_in_first_seen_order() {
        let data = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t878887116\n";
        let table = ml100k_ratings(data, "u.data").unwrap();
        assert_eq!(table.ratings.users, [0, 1, 0]);
        assert_eq!(table.ratings.items, [0, 1, 1]);
        assert_eq!(table.ratings.values, [3.0, 3.0, 1.0]);
        assert_eq!(table.ratings.timestamps[2], 878887116);
        assert_eq!(table.users.map.raw(1), "186");
        assert_eq!(table.item(302), Some(1));
    }

    #[test]
    fn a_repeated_user_item_pair_keeps_its_last_rating_and_is_counted() {
        // User 1 rates item 10 three times (4, 2, then 5): only the 5 stays, in the place of
        // the last rating; user 2's ratings are untouched.
        let data = b"1\t10\t4\t100\n2\t10\t3\t101\n1\t10\t2\t102\n1\t11\t1\t103\n1\t10\t5\t104\n";
        let table = ml100k_ratings(data, "u.data").unwrap();
        assert_eq!(table.ratings.values, [3.0, 1.0, 5.0]);
        assert_eq!(table.ratings.timestamps, [101, 103, 104]);
        let dataset = table.into_dataset("ml-100k", WHOLE_STARS, []);
        assert_eq!(dataset.ratings.len(), 3);
        assert_eq!(
            dataset.report.lines(),
            [
                "u.data: 2 repeated (user, item) rating(s) dropped; the last rating of each pair \
              in the file is kept"
            ]
        );
        // The same in ML-1M's and ml-latest-small's formats.
        let ml1m = ml1m_ratings(b"1::10::4::100\n1::10::2::102\n", "ratings.dat").unwrap();
        assert_eq!(ml1m.ratings.values, [2.0]);
        let csv = b"userId,movieId,rating,timestamp\n1,10,4.5,1\n1,10,0.5,2\n";
        let small = latest_small_ratings(csv, "ratings.csv").unwrap();
        assert_eq!(small.ratings.values, [0.5]);
        assert_eq!(small.duplicates, 1);
        // Without repeats, nothing is said.
        let clean = ml100k_ratings(b"1\t10\t4\t100\n", "u.data").unwrap();
        assert!(
            clean
                .into_dataset("ml-100k", WHOLE_STARS, [])
                .report
                .lines()
                .is_empty()
        );
    }

    #[test]
    fn ids_are_numeric_so_leading_zeros_name_the_same_id() {
        let table = ml100k_ratings(b"07\t1\t3\t0\n7\t1\t4\t0\n", "u.data").unwrap();
        assert_eq!(table.users.map.len(), 1);
        assert_eq!(table.users.map.get("7"), Some(0));
    }

    #[test]
    fn large_ids_use_the_fallback_map() {
        let table = ml100k_ratings(b"4000000000\t1\t3\t0\n4000000000\t2\t3\t0\n", "u").unwrap();
        assert_eq!(table.ratings.users, [0, 0]);
        assert_eq!(table.users.map.raw(0), "4000000000");
    }

    #[test]
    fn crlf_and_blank_lines_are_accepted() {
        let table = ml1m_ratings(
            b"1::1193::5::978300760\r\n\r\n1::661::3::978302109\r\n",
            "r",
        )
        .unwrap();
        assert_eq!(table.ratings.len(), 2);
    }

    #[test]
    fn wrong_field_count_names_file_line_and_layout() {
        let msg = parse_err(ml100k_ratings(b"1\t2\t3\t4\n1\t2\t3\n", "/d/u.data"));
        assert_eq!(
            msg,
            "/d/u.data:2: expected 4 fields `user<TAB>item<TAB>rating<TAB>timestamp`, \
             found 3 in `1\\t2\\t3`"
        );
        let msg = parse_err(ml1m_ratings(b"1::2::3::4::5\n", "ratings.dat"));
        assert!(msg.starts_with("ratings.dat:1: expected 4 fields"), "{msg}");
    }

    #[test]
    fn bad_values_are_errors() {
        let cases: [(&[u8], &str); 6] = [
            (b"x\t1\t3\t0\n", "u:1: expected a user id"),
            (b"1\t-1\t3\t0\n", "u:1: expected an item id"),
            (
                b"1\t1\t6\t0\n",
                "u:1: expected a rating from 1 to 5 in steps of 1, found `6`",
            ),
            (b"1\t1\t3.5\t0\n", "found `3.5`"),
            (b"1\t1\tnan\t0\n", "found `nan`"),
            (
                b"1\t1\t3\t\n",
                "u:1: expected a timestamp (integer Unix seconds), found an empty field",
            ),
        ];
        for (input, expected) in cases {
            let msg = parse_err(ml100k_ratings(input, "u"));
            assert!(
                msg.contains(expected),
                "{msg:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn empty_ratings_file_is_an_error() {
        assert_eq!(
            parse_err(ml100k_ratings(b"\n", "u.data")),
            "u.data: no ratings found"
        );
        assert_eq!(
            parse_err(latest_small_ratings(
                b"userId,movieId,rating,timestamp\r\n",
                "r.csv"
            )),
            "r.csv: no ratings found"
        );
    }

    #[test]
    fn a_file_whose_every_line_was_skipped_says_so() {
        assert_eq!(
            parse_err(ml100k_ratings_with(
                b"x\n1\t2\n",
                "u.data",
                BadLinePolicy::Skip
            )),
            "u.data: no ratings found: all 2 lines were malformed and skipped \
             (data.on_bad_line = \"skip\"); the first: line 1: expected 4 fields \
             `user<TAB>item<TAB>rating<TAB>timestamp`, found 1 in `x`"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A crude fuzz over every parser: random bytes from a small alphabet that hits
        // the separators, digits, quotes and invalid UTF-8.
        use rand::{Rng, SeedableRng};
        let alphabet = b"0123456789:|\t,\"\r\n.-x\xE9\xFF";
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for _ in 0..3000 {
            let len = rng.random_range(0..80);
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let _ = ml100k_ratings(&input, "f");
            let _ = ml1m_ratings(&input, "f");
            let _ = ml100k_genres(&input, "f");
            let _ = ml100k_items(&input, "f", &[]);
            let _ = ml1m_movies(&input, "f");
            let mut csv = b"userId,movieId,rating,timestamp\n".to_vec();
            csv.extend_from_slice(&input);
            let _ = latest_small_ratings(&csv, "f");
            let mut csv = b"movieId,title,genres\n".to_vec();
            csv.extend_from_slice(&input);
            let _ = latest_small_movies(&csv, "f");
        }
    }

    #[test]
    fn ml100k_items_with_latin1_titles_and_genre_flags() {
        let genres: Vec<String> = ["unknown", "Action", "Drama"].map(String::from).to_vec();
        let items = ml100k_items(
            b"543|Mis\xE9rables, Les (1995)|01-Jan-1995||url|0|0|1\n",
            "u.item",
            &genres,
        )
        .unwrap();
        assert_eq!(items[0].0, 543);
        assert_eq!(items[0].1.title, "Misérables, Les (1995)");
        assert_eq!(items[0].1.genres, ["Drama"]);

        let msg = parse_err(ml100k_items(b"1|T|d||u|0|2|0\n", "u.item", &genres));
        assert_eq!(
            msg,
            "u.item:1: expected genre flag 0 or 1 for Action, found `2`"
        );
        let msg = parse_err(ml100k_items(b"1|T|d||u|0|1\n", "u.item", &genres));
        assert!(
            msg.starts_with("u.item:1: expected 8 `|`-separated fields"),
            "{msg}"
        );
    }

    #[test]
    fn ml100k_genres_checks_indices() {
        let names = ml100k_genres(b"unknown|0\nAction|1\n\n", "u.genre").unwrap();
        assert_eq!(names, ["unknown", "Action"]);
        let msg = parse_err(ml100k_genres(b"unknown|0\nAction|2\n", "u.genre"));
        assert_eq!(msg, "u.genre:2: expected genre index 1, found 2");
    }

    #[test]
    fn ml1m_movies_split_title_and_genres() {
        let items = ml1m_movies(
            b"1::Toy Story (1995)::Animation|Children's|Comedy\n73::Mis\xE9rables, Les (1995)::Drama|Musical\n",
            "movies.dat",
        )
        .unwrap();
        assert_eq!(items[0].1.genres, ["Animation", "Children's", "Comedy"]);
        assert_eq!(items[1].1.title, "Misérables, Les (1995)");
        let msg = parse_err(ml1m_movies(b"1::Toy Story (1995)\n", "movies.dat"));
        assert!(
            msg.starts_with("movies.dat:1: expected 3 fields `MovieID::Title::Genres`"),
            "{msg}"
        );
    }

    #[test]
    fn latest_small_csv_quoting_header_and_errors() {
        let movies = latest_small_movies(
            b"movieId,title,genres\r\n11,\"American President, The (1995)\",Comedy|Drama|Romance\r\n\
              7789,\"11'09\"\"01 - September 11 (2002)\",Drama\r\n1,X,(no genres listed)\r\n",
            "movies.csv",
        )
        .unwrap();
        assert_eq!(movies[0].1.title, "American President, The (1995)");
        assert_eq!(movies[1].1.title, "11'09\"01 - September 11 (2002)");
        assert!(movies[2].1.genres.is_empty());

        let msg = parse_err(latest_small_ratings(
            b"userId,movieId,rate,timestamp\r\n",
            "r.csv",
        ));
        assert_eq!(
            msg,
            "r.csv:1: expected the header `userId,movieId,rating,timestamp`, \
             found `userId,movieId,rate,timestamp`"
        );
        let msg = parse_err(latest_small_ratings(
            b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.25,964981247\r\n",
            "r.csv",
        ));
        assert_eq!(
            msg,
            "r.csv:3: expected a rating from 0.5 to 5 in steps of 0.5, found `4.25`"
        );
        let msg = parse_err(latest_small_ratings(
            b"userId,movieId,rating,timestamp\r\n1,1,4.0\r\n",
            "r.csv",
        ));
        assert_eq!(
            msg,
            "r.csv:2: expected 4 fields `userId,movieId,rating,timestamp`, found 3"
        );
    }

    #[test]
    fn csv_line_numbers_count_physical_lines() {
        // A quoted title spanning two lines: the next record starts on line 4.
        let msg = parse_err(latest_small_movies(
            b"movieId,title,genres\n1,\"Two\nLines\",Drama\nx,Bad,Drama\n",
            "movies.csv",
        ));
        assert!(
            msg.starts_with("movies.csv:4: expected a movie id"),
            "{msg}"
        );
    }

    #[test]
    fn number_parsers_agree_with_std() {
        for text in [
            "0",
            "7",
            "196",
            "4294967295",
            "4294967296",
            "",
            "-1",
            "+1",
            "1 ",
            "12a",
            "99999999999999999999",
        ] {
            let b = text.as_bytes();
            assert_eq!(
                parse_id(b, "x").ok(),
                text.parse::<u32>().ok().filter(|_| !text.starts_with('+')),
                "{text:?}"
            );
        }
        for text in [
            "0",
            "881250949",
            "-5",
            "9223372036854775807",
            "-9223372036854775807",
            "-9223372036854775808",
            "-9223372036854775809",
            "9223372036854775808",
            "",
            "-",
            "1.5",
            "--1",
        ] {
            assert_eq!(
                parse_timestamp(text.as_bytes()).ok(),
                text.parse::<i64>().ok(),
                "{text:?}"
            );
        }
        for text in [
            "0.5", "1", "3.0", "4.5", "5", "5.0", "5.5", "0", "0.0", "2.25", "1e0", "4.50", " 4",
            "inf", "-1",
        ] {
            let want = text.parse::<f32>().ok().filter(|&v| HALF_STARS.contains(v));
            assert_eq!(
                parse_rating(text.as_bytes(), HALF_STARS).ok(),
                want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn shown_shortens_long_fields() {
        let long = vec![b'a'; 500];
        let s = shown(&long);
        assert_eq!(s.chars().count(), 61);
        assert!(s.ends_with('…'));
    }
}
