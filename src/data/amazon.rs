//! Amazon reviews, Movies & TV (UCSD, McAuley lab): the 2018 JSON-lines review file, the
//! 2014 5-core JSON lines, and the ratings-only CSV, each plain or gzip-compressed, plus the
//! optional 2018 metadata file for titles and categories.
//!
//! The full 2018 category file has 8.8 million reviews and is 3 GB of JSON, so reading is
//! streamed: one line at a time from a `BufRead`, deserialised by serde_json into a struct
//! that borrows the few fields used (`reviewerID`, `asin`, `overall`, `verified`,
//! `unixReviewTime` / `reviewTime`) and skips the rest (review text, images) without
//! allocating. Memory grows with the ratings kept (20 bytes each, plus each distinct id
//! once), not with the text. The year and verified filters apply while reading, so dropped
//! reviews cost nothing; the count filters run afterwards (`filter.rs`).
//!
//! Every malformed line is `file:line: what was expected`, or is skipped and counted under
//! `data.on_bad_line = "skip"`.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use serde::Deserialize;

use super::DataError;
use super::dataset::{Dataset, IdMap, ItemInfo, LoadReport, Ratings, SkippedLines};
use super::filter::year_of;
use super::movielens::{
    WHOLE_STARS, on_bad_line, parse_rating, parse_timestamp, shown, split_exact,
};
use crate::config::spec::{BadLinePolicy, FilterSpec};

/// Review files looked for in a folder, first found wins: the 2018 file, its 5-core, the
/// 2014 5-core and full files, then the ratings-only CSVs; each `.gz` before plain.
pub const REVIEW_FILES: [&str; 14] = [
    "Movies_and_TV.json.gz",
    "Movies_and_TV.json",
    "Movies_and_TV_5.json.gz",
    "Movies_and_TV_5.json",
    "reviews_Movies_and_TV_5.json.gz",
    "reviews_Movies_and_TV_5.json",
    "reviews_Movies_and_TV.json.gz",
    "reviews_Movies_and_TV.json",
    "ratings_Movies_and_TV.csv.gz",
    "ratings_Movies_and_TV.csv",
    "Movies_and_TV.csv.gz",
    "Movies_and_TV.csv",
    "ratings.csv.gz",
    "ratings.csv",
];

/// Metadata files looked for beside the reviews (2018 JSON lines).
pub const METADATA_FILES: [&str; 2] = ["meta_Movies_and_TV.json.gz", "meta_Movies_and_TV.json"];

/// Where to get the files (the site asks users to fill in a form, so exp cannot download
/// them).
pub const DOWNLOAD_PAGE: &str = "https://nijianmo.github.io/amazon/index.html";

/// The 2014 files' page.
pub const DOWNLOAD_PAGE_2014: &str = "https://jmcauley.ucsd.edu/data/amazon/links.html";

/// The two layouts of a review file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (2018 and 2014 share the fields exp reads).
    JsonLines,
    /// `user,item,rating,timestamp`, no header.
    RatingsCsv,
}

/// The files one Amazon data set is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    /// The review (or ratings) file.
    pub reviews: PathBuf,
    /// Its layout, from its name (`.csv` / `.csv.gz` is the ratings CSV).
    pub format: Format,
    /// The metadata file beside it, if there is one.
    pub metadata: Option<PathBuf>,
}

/// The files at `path`: a review file itself, or a folder holding one of
/// [`REVIEW_FILES`]. `None` when there is none.
pub fn find_files(path: &Path) -> Option<Files> {
    let (reviews, dir) = if path.is_file() {
        (path.to_path_buf(), path.parent().unwrap_or(Path::new(".")))
    } else {
        let reviews = REVIEW_FILES
            .iter()
            .map(|name| path.join(name))
            .find(|p| p.is_file())?;
        (reviews, path)
    };
    let name = reviews
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let format = if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        Format::RatingsCsv
    } else {
        Format::JsonLines
    };
    let metadata = METADATA_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file());
    Some(Files {
        reviews,
        format,
        metadata,
    })
}

/// Opens `path` for reading lines, decompressing gzip when the file starts with the
/// gzip magic bytes (whatever its name).
pub(crate) fn open_lines(path: &Path) -> Result<Box<dyn BufRead>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 18, file);
    let gzip = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            1 << 18,
            MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Calls `each(line_no, line)` for every non-blank line of `reader` (1-based numbers,
/// without `\n` / `\r\n`), reusing one buffer.
fn for_each_line(
    reader: &mut dyn BufRead,
    path: &Path,
    mut each: impl FnMut(usize, &[u8]) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| DataError::ReadLine {
                path: path.to_owned(),
                line: line_no + 1,
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        each(line_no, line)?;
    }
}

/// The fields of one review that exp reads; everything else in the line is skipped by
/// serde without being stored.
#[derive(Deserialize)]
struct Review<'a> {
    #[serde(rename = "reviewerID", borrow)]
    reviewer: Cow<'a, str>,
    #[serde(borrow)]
    asin: Cow<'a, str>,
    overall: f64,
    #[serde(default)]
    verified: Option<bool>,
    #[serde(rename = "unixReviewTime", default)]
    unix_time: Option<i64>,
    #[serde(rename = "reviewTime", default, borrow)]
    review_time: Option<Cow<'a, str>>,
}

/// One metadata line: the item and its title and categories.
#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow)]
    asin: Cow<'a, str>,
    #[serde(default, borrow)]
    title: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    category: Vec<Cow<'a, str>>,
}

/// A rating read from a line, before interning.
struct Row<'a> {
    user: Cow<'a, str>,
    item: Cow<'a, str>,
    value: f32,
    timestamp: i64,
    verified: Option<bool>,
}

/// What the in-stream filters (year, verified) removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamFiltered {
    /// Reviews outside the year range.
    pub by_year: usize,
    /// Reviews not marked verified.
    pub unverified: usize,
}

/// Reads the reviews of `files` into a data set (no titles yet: see
/// [`attach_metadata`]), applying the year and verified filters of `filters` on the way.
pub(crate) fn read_reviews(
    name: &str,
    files: &Files,
    policy: BadLinePolicy,
    filters: &FilterSpec,
) -> Result<(Dataset, StreamFiltered), DataError> {
    let path = &files.reviews;
    let file = path.display().to_string();
    let mut reader = open_lines(path)?;
    let mut ratings = Ratings::default();
    let (mut users, mut items) = (IdMap::default(), IdMap::default());
    let mut skipped = SkippedLines::new(&file);
    let mut filtered = StreamFiltered::default();
    for_each_line(&mut *reader, path, |line_no, line| {
        let row = match files.format {
            Format::JsonLines => json_row(line),
            Format::RatingsCsv => csv_row(line),
        };
        let row = match row.and_then(|row| check_verified(row, filters)) {
            Ok(row) => row,
            Err(message) => return on_bad_line(policy, &mut skipped, &file, line_no, message),
        };
        if filters.verified_only && row.verified != Some(true) {
            filtered.unverified += 1;
            return Ok(());
        }
        if !in_years(row.timestamp, filters) {
            filtered.by_year += 1;
            return Ok(());
        }
        let (user, item) = (users.intern(&row.user), items.intern(&row.item));
        ratings.push(user, item, row.value, row.timestamp);
        Ok(())
    })?;
    if ratings.is_empty() {
        return Err(DataError::no_ratings(&file, &skipped));
    }
    let n_items = items.len();
    let skipped = if skipped.count > 0 {
        vec![skipped]
    } else {
        Vec::new()
    };
    let dataset = Dataset {
        name: name.to_owned(),
        ratings,
        users,
        items,
        item_info: vec![ItemInfo::default(); n_items],
        user_info: Vec::new(),
        rating_range: (WHOLE_STARS.min, WHOLE_STARS.max),
        report: LoadReport {
            skipped,
            filtered: None,
            duplicates: Vec::new(),
        },
    };
    Ok((dataset, filtered))
}

/// With `verified_only`, a review must say whether it is verified (the 2014 format
/// does not).
fn check_verified<'a>(row: Row<'a>, filters: &FilterSpec) -> Result<Row<'a>, String> {
    if filters.verified_only && row.verified.is_none() {
        return Err(
            "no `verified` field, which data.verified_only needs (the 2014 format and \
             the ratings CSV have none)"
                .to_owned(),
        );
    }
    Ok(row)
}

fn in_years(timestamp: i64, filters: &FilterSpec) -> bool {
    if filters.min_year.is_none() && filters.max_year.is_none() {
        return true;
    }
    let year = year_of(timestamp);
    filters.min_year.is_none_or(|lo| year >= lo) && filters.max_year.is_none_or(|hi| year <= hi)
}

/// serde_json's message without its `at line 1 column N` (each line is its own
/// document), the column kept.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.rsplit_once(" at line ") {
        Some((head, _)) => head.to_owned(),
        None => text,
    };
    format!("invalid review JSON: {text} (column {})", e.column())
}

/// The text of `line`, or where its UTF-8 breaks.
fn utf8(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line).map_err(|e| {
        format!(
            "not valid UTF-8 (bad byte at column {}); the files are UTF-8",
            e.valid_up_to() + 1
        )
    })
}

fn json_row(line: &[u8]) -> Result<Row<'_>, String> {
    let text = utf8(line)?;
    let review: Review<'_> = serde_json::from_str(text).map_err(|e| json_message(&e))?;
    let value = review.overall as f32;
    if !WHOLE_STARS.contains(value) {
        return Err(format!(
            "expected `overall` from 1 to 5 in steps of 1, found {}",
            review.overall
        ));
    }
    let timestamp = match (review.unix_time, &review.review_time) {
        (Some(t), _) => t,
        (None, Some(date)) => review_date(date).ok_or_else(|| {
            format!(
                "expected `reviewTime` like `11 9, 2012`, found `{}`",
                shown(date.as_bytes())
            )
        })?,
        (None, None) => {
            return Err("missing field `unixReviewTime` (or `reviewTime`)".to_owned());
        }
    };
    if review.reviewer.is_empty() || review.asin.is_empty() {
        return Err("empty `reviewerID` or `asin`".to_owned());
    }
    Ok(Row {
        user: review.reviewer,
        item: review.asin,
        value,
        timestamp,
        verified: review.verified,
    })
}

fn csv_row(line: &[u8]) -> Result<Row<'_>, String> {
    let [user, item, rating, timestamp] = split_exact::<4>(line, b",").map_err(|found| {
        format!(
            "expected 4 fields `user,item,rating,timestamp`, found {found} in `{}`",
            shown(line)
        )
    })?;
    let (user, item) = (utf8(user)?, utf8(item)?);
    if user.is_empty() || item.is_empty() {
        return Err("empty user or item id".to_owned());
    }
    Ok(Row {
        user: Cow::Borrowed(user),
        item: Cow::Borrowed(item),
        value: parse_rating(rating, WHOLE_STARS)?,
        timestamp: parse_timestamp(timestamp)?,
        verified: None,
    })
}

/// `reviewTime` (`MM D, YYYY`, e.g. `11 9, 2012`) as Unix seconds at midnight UTC, the
/// way the files' `unixReviewTime` counts it.
fn review_date(text: &str) -> Option<i64> {
    let (month_day, year) = text.trim().split_once(", ")?;
    let (month, day) = month_day.split_once(' ')?;
    let (year, month, day): (i64, u32, u32) = (
        year.trim().parse().ok()?,
        month.trim().parse().ok()?,
        day.trim().parse().ok()?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Fills titles and categories of the items in `dataset` from the metadata file at
/// `path`; items it does not list keep an empty [`ItemInfo`]. Read after the filters, so
/// only kept items' titles are stored.
pub(crate) fn attach_metadata(
    dataset: &mut Dataset,
    path: &Path,
    policy: BadLinePolicy,
) -> Result<(), DataError> {
    let file = path.display().to_string();
    let mut reader = open_lines(path)?;
    let mut skipped = SkippedLines::new(&file);
    let items = &dataset.items;
    let info = &mut dataset.item_info;
    for_each_line(&mut *reader, path, |line_no, line| {
        let meta = utf8(line).and_then(|text| {
            serde_json::from_str::<Meta<'_>>(text).map_err(|e| {
                json_message(&e).replace("invalid review JSON", "invalid metadata JSON")
            })
        });
        let meta = match meta {
            Ok(meta) => meta,
            Err(message) => return on_bad_line(policy, &mut skipped, &file, line_no, message),
        };
        if let Some(id) = items.get(&meta.asin) {
            let slot = &mut info[id as usize];
            slot.title = meta.title.map(|t| t.trim().to_owned()).unwrap_or_default();
            slot.genres = meta
                .category
                .iter()
                .filter(|c| c.as_ref() != "Movies & TV" && !c.is_empty())
                .map(|c| c.to_string())
                .collect();
        }
        Ok(())
    })?;
    if skipped.count > 0 {
        dataset.report.skipped.push(skipped);
    }
    Ok(())
}

/// Reads all of `reader` (for tests of the gzip detection).
#[cfg(test)]
fn read_all(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    open_lines(path)
        .expect("open")
        .read_to_end(&mut out)
        .expect("read");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, filters: &FilterSpec, policy: BadLinePolicy) -> Result<Dataset, DataError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Movies_and_TV.json");
        std::fs::write(&path, text).expect("write");
        let files = find_files(dir.path()).expect("found");
        read_reviews("amazon-movies-tv", &files, policy, filters).map(|(d, _)| d)
    }

    fn error(text: &str) -> String {
        let err =
            rows(text, &FilterSpec::default(), BadLinePolicy::Error).expect_err("a malformed line");
        // Drop the temporary folder from the message.
        let s = err.to_string();
        s[s.find("Movies_and_TV.json").unwrap_or(0)..].to_owned()
    }

    const GOOD: &str = r#"{"overall": 5.0, "verified": true, "reviewTime": "11 9, 2012", "reviewerID": "A1", "asin": "0005089549", "reviewText": "x", "unixReviewTime": 1352419200}"#;

    #[test]
    fn review_date_matches_unix_review_time() {
        // The first record of the 2018 sample: reviewTime `11 9, 2012`, unixReviewTime
        // 1352419200.
        assert_eq!(review_date("11 9, 2012"), Some(1_352_419_200));
        assert_eq!(review_date("02 29, 2000"), Some(951_782_400));
        assert_eq!(review_date("13 1, 2000"), None);
        assert_eq!(review_date("2012-11-09"), None);
        assert_eq!(year_of(1_352_419_200), 2012);
        assert_eq!(year_of(-1), 1969);
    }

    #[test]
    fn reads_the_fields_it_needs_and_ignores_the_rest() {
        let text = format!(
            "{GOOD}\n\n{}\n",
            GOOD.replace("A1", "A2").replace("5.0", "3.0")
        );
        let ds = rows(&text, &FilterSpec::default(), BadLinePolicy::Error).expect("valid");
        assert_eq!(ds.ratings.len(), 2);
        assert_eq!(ds.n_users(), 2);
        assert_eq!(ds.n_items(), 1);
        assert_eq!(ds.ratings.values, [5.0, 3.0]);
        assert_eq!(ds.ratings.timestamps, [1_352_419_200; 2]);
        assert_eq!(ds.items.raw(0), "0005089549");
    }

    #[test]
    fn escaped_strings_and_missing_unix_time_are_fine() {
        let line = r#"{"overall": 4, "reviewTime": "01 2, 2015", "reviewerID": "A\u00e9", "asin": "B\"1"}"#;
        let ds = rows(line, &FilterSpec::default(), BadLinePolicy::Error).expect("valid");
        assert_eq!(ds.users.raw(0), "Aé");
        assert_eq!(ds.items.raw(0), "B\"1");
        assert_eq!(
            ds.ratings.timestamps,
            [days_from_civil(2015, 1, 2) * 86_400]
        );
    }

    #[test]
    fn malformed_lines_name_file_line_and_problem() {
        let cases: [(String, &str); 7] = [
            (
                format!("{GOOD}\n{}", &GOOD[..40]),
                "Movies_and_TV.json:2: invalid review JSON: EOF while parsing",
            ),
            (
                GOOD.replace(r#""overall": 5.0, "#, ""),
                "Movies_and_TV.json:1: invalid review JSON: missing field `overall`",
            ),
            (
                GOOD.replace("5.0", "\"five\""),
                "Movies_and_TV.json:1: invalid review JSON: invalid type: string \"five\"",
            ),
            (
                GOOD.replace("5.0", "6.0"),
                "Movies_and_TV.json:1: expected `overall` from 1 to 5 in steps of 1, found 6",
            ),
            (
                GOOD.replace("5.0", "4.5"),
                "Movies_and_TV.json:1: expected `overall` from 1 to 5 in steps of 1, found 4.5",
            ),
            (
                GOOD.replace(r#""reviewTime": "11 9, 2012", "#, "")
                    .replace(r#", "unixReviewTime": 1352419200"#, ""),
                "Movies_and_TV.json:1: missing field `unixReviewTime` (or `reviewTime`)",
            ),
            (
                format!("{GOOD}\n{GOOD}\n[1, 2]"),
                "Movies_and_TV.json:3: invalid review JSON: invalid type",
            ),
        ];
        for (text, expected) in cases {
            let msg = error(&text);
            assert!(
                msg.starts_with(expected),
                "{msg:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn bad_encoding_is_reported_with_its_column() {
        let mut bytes = GOOD.as_bytes().to_vec();
        bytes[60] = 0xFF;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        std::fs::write(&path, &bytes).expect("write");
        let files = find_files(&path).expect("a file");
        let err = read_reviews("a", &files, BadLinePolicy::Error, &FilterSpec::default())
            .expect_err("bad UTF-8");
        assert!(
            err.to_string().ends_with(
                "r.json:1: not valid UTF-8 (bad byte at column 61); the files are UTF-8"
            ),
            "{err}"
        );
    }

    #[test]
    fn skip_counts_bad_lines_and_keeps_the_first_line_numbers() {
        let mut text = String::new();
        for i in 1..=10 {
            // Lines 2, 4, …, 10 are truncated.
            if i % 2 == 0 {
                text += &GOOD[..30];
            } else {
                text += &GOOD.replace("A1", &format!("A{i}"));
            }
            text.push('\n');
        }
        let ds = rows(&text, &FilterSpec::default(), BadLinePolicy::Skip).expect("skips");
        assert_eq!(ds.ratings.len(), 5);
        let skipped = &ds.report.skipped[0];
        assert_eq!(skipped.count, 5);
        assert_eq!(skipped.first_lines, [2, 4, 6, 8, 10]);
        let lines = ds.report.lines();
        assert!(
            lines[0].contains("skipped 5 malformed line(s) (lines 2, 4, 6, 8, 10)"),
            "{lines:?}"
        );
    }

    #[test]
    fn verified_and_year_filters_apply_while_reading() {
        let text = [
            GOOD.to_owned(),
            GOOD.replace("\"verified\": true", "\"verified\": false")
                .replace("A1", "A2"),
            // 2015-01-01.
            GOOD.replace("1352419200", "1420070400").replace("A1", "A3"),
        ]
        .join("\n");
        let filters = FilterSpec {
            verified_only: true,
            min_year: Some(2013),
            ..FilterSpec::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Movies_and_TV.json"), &text).expect("write");
        let files = find_files(dir.path()).expect("found");
        let (ds, filtered) =
            read_reviews("a", &files, BadLinePolicy::Error, &filters).expect("valid");
        assert_eq!(ds.users.raw(0), "A3");
        assert_eq!(ds.ratings.len(), 1);
        assert_eq!(
            filtered,
            StreamFiltered {
                by_year: 1,
                unverified: 1
            }
        );
        // The 2014 format has no verified flag: asking for it is an error on line 1.
        let line = GOOD.replace("\"verified\": true, ", "");
        let err = rows(&line, &filters, BadLinePolicy::Error).expect_err("no flag");
        assert!(err.to_string().contains(":1: no `verified` field"), "{err}");
    }

    #[test]
    fn ratings_csv_and_its_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ratings_Movies_and_TV.csv");
        std::fs::write(&path, "A1,0001,5.0,1352419200\nA2,0001,3.0,1352419200\n").expect("write");
        let files = find_files(dir.path()).expect("found");
        assert_eq!(files.format, Format::RatingsCsv);
        let (ds, _) =
            read_reviews("a", &files, BadLinePolicy::Error, &FilterSpec::default()).expect("valid");
        assert_eq!(ds.ratings.values, [5.0, 3.0]);

        for (text, expected) in [
            (
                "A1,0001,5.0\n",
                ":1: expected 4 fields `user,item,rating,timestamp`, found 3",
            ),
            (
                "A1,0001,x,1\n",
                ":1: expected a rating from 1 to 5 in steps of 1, found `x`",
            ),
            (
                "A1,0001,0,1\n",
                ":1: expected a rating from 1 to 5 in steps of 1, found `0`",
            ),
            ("A1,0001,1,1\nA1,0001,1,t\n", ":2: expected a timestamp"),
        ] {
            std::fs::write(&path, text).expect("write");
            let err = read_reviews("a", &files, BadLinePolicy::Error, &FilterSpec::default())
                .expect_err("bad");
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Movies_and_TV.json.gz");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).expect("create"),
            flate2::Compression::fast(),
        );
        writeln!(gz, "{GOOD}").expect("write");
        gz.finish().expect("finish");
        assert_eq!(read_all(&path), format!("{GOOD}\n").as_bytes());
        let ds = rows(GOOD, &FilterSpec::default(), BadLinePolicy::Error).expect("plain");
        let files = find_files(dir.path()).expect("found");
        let (gz, _) =
            read_reviews("a", &files, BadLinePolicy::Error, &FilterSpec::default()).expect("gzip");
        assert_eq!(gz.ratings, ds.ratings);
    }

    #[test]
    fn truncated_gzip_is_an_io_error_with_the_line() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Movies_and_TV.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for _ in 0..200 {
            writeln!(gz, "{GOOD}").expect("write");
        }
        let bytes = gz.finish().expect("finish");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
        let files = find_files(dir.path()).expect("found");
        let err = read_reviews("a", &files, BadLinePolicy::Error, &FilterSpec::default())
            .expect_err("truncated");
        assert!(err.to_string().starts_with("cannot read `"), "{err}");
        assert!(err.to_string().contains("at line"), "{err}");
    }

    #[test]
    fn metadata_fills_titles_and_categories_of_rated_items() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Movies_and_TV.json"), GOOD).expect("write");
        std::fs::write(
            dir.path().join("meta_Movies_and_TV.json"),
            "{\"asin\": \"0005089549\", \"title\": \"Everybody Rides the Carousel \", \
             \"category\": [\"Movies & TV\", \"Movies\"], \"description\": [\"long\"]}\n\
             {\"asin\": \"unrated\", \"title\": \"Other\"}\n",
        )
        .expect("write");
        let files = find_files(dir.path()).expect("found");
        let meta = files.metadata.clone().expect("metadata found");
        let (mut ds, _) =
            read_reviews("a", &files, BadLinePolicy::Error, &FilterSpec::default()).expect("ok");
        attach_metadata(&mut ds, &meta, BadLinePolicy::Error).expect("metadata");
        assert_eq!(ds.item_info[0].title, "Everybody Rides the Carousel");
        assert_eq!(ds.item_info[0].genres, ["Movies"]);
        assert_eq!(ds.item_info.len(), 1);
    }
}
