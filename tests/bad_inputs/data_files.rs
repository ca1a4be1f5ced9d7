//! Ratings and item files in each data set's format with one fault each: the error must
//! name the file and the line (or, with `on_bad_line = "skip"`, the run must count what
//! it skipped).

use crate::Case;

const USERS: u32 = 10;
const ITEMS: u32 = 6;

/// Every user rates every item: 60 ratings in the given line format.
fn ratings(line: impl Fn(u32, u32, &str) -> String) -> Vec<String> {
    let mut lines = Vec::new();
    for u in 1..=USERS {
        for i in 1..=ITEMS {
            let stars = ["1", "2", "3", "4", "5"][((u + i) % 5) as usize];
            lines.push(line(u, i, stars));
        }
    }
    lines
}

/// An experiment on `dataset` read from the folder `d`, with extra `[data]` lines.
fn experiment(dataset: &str, data_lines: &str) -> String {
    format!(
        "[experiment]\nname = \"data\"\nseed = 1\n\n[data]\ndataset = \"{dataset}\"\npath = \"d\"\n{data_lines}\n\n\
         [split]\nkind = \"holdout\"\ntest_fraction = 0.2\n\n[model]\narchitecture = \"biased-mf\"\n\
         embedding_size = 4\n\n[training]\nepochs = 1\nbatch_size = 16\nlearning_rate = 0.01\n"
    )
}

/// The three formats: files and how to build them with one line replaced.
#[derive(Clone, Copy)]
enum Format {
    LatestSmall,
    Ml100k,
    Ml1m,
}

impl Format {
    fn dataset(self) -> &'static str {
        match self {
            Format::LatestSmall => "ml-latest-small",
            Format::Ml100k => "ml-100k",
            Format::Ml1m => "ml-1m",
        }
    }

    fn ratings_file(self) -> &'static str {
        match self {
            Format::LatestSmall => "ratings.csv",
            Format::Ml100k => "u.data",
            Format::Ml1m => "ratings.dat",
        }
    }

    fn ratings(self) -> Vec<String> {
        match self {
            Format::LatestSmall => {
                let mut lines = vec!["userId,movieId,rating,timestamp".to_string()];
                lines.extend(ratings(|u, i, s| format!("{u},{i},{s}.0,96498270{i}")));
                lines
            }
            Format::Ml100k => ratings(|u, i, s| format!("{u}\t{i}\t{s}\t88125093{i}")),
            Format::Ml1m => ratings(|u, i, s| format!("{u}::{i}::{s}::97830076{i}")),
        }
    }

    /// The items file (and its name).
    fn items(self) -> (&'static str, String) {
        let titles = (1..=ITEMS).map(|i| (i, format!("Film {i} (199{i})")));
        match self {
            Format::LatestSmall => (
                "movies.csv",
                std::iter::once("movieId,title,genres".to_string())
                    .chain(titles.map(|(i, t)| format!("{i},{t},Drama|Comedy")))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n",
            ),
            Format::Ml100k => (
                "u.item",
                titles
                    .map(|(i, t)| {
                        format!(
                            "{i}|{t}|01-Jan-199{i}||http://x|0|0|0|0|0|1|0|0|1|0|0|0|0|0|0|0|0|0|0"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n",
            ),
            Format::Ml1m => (
                "movies.dat",
                titles
                    .map(|(i, t)| format!("{i}::{t}::Comedy|Drama"))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n",
            ),
        }
    }

    /// A case whose ratings file has `bad` as its line `line` (1-based; the header of
    /// ratings.csv is line 1), run with the given extra `[data]` lines.
    fn with_line(self, name: &str, line: usize, bad: &[u8], needles: &[&str]) -> Case {
        let mut lines: Vec<Vec<u8>> = self.ratings().into_iter().map(String::into_bytes).collect();
        lines[line - 1] = bad.to_vec();
        self.case(name, lines.join(&b"\n"[..]), needles)
    }

    /// A case with the whole ratings file given.
    fn case(self, name: &str, ratings: Vec<u8>, needles: &[&str]) -> Case {
        let (items_name, items) = self.items();
        Case::error(
            &format!("data/{}/{name}", self.dataset()),
            &["run", "bad.toml", "--db", "db.sqlite"],
            needles,
        )
        .file("bad.toml", experiment(self.dataset(), ""))
        .file(&format!("d/{}", self.ratings_file()), ratings)
        .file(&format!("d/{items_name}"), items)
    }
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for format in [Format::LatestSmall, Format::Ml100k, Format::Ml1m] {
        let file = format.ratings_file();
        // ratings.csv has a header, so its third line is the second rating.
        let at = 3;
        let here = format!("{file}:{at}");
        let sep = match format {
            Format::LatestSmall => ",",
            Format::Ml100k => "\t",
            Format::Ml1m => "::",
        };
        let row = |fields: &[&str]| fields.join(sep).into_bytes();
        let h = here.as_str();
        cases.extend([
            format.with_line(
                "rating-not-a-number",
                at,
                &row(&["1", "2", "four", "964982703"]),
                &[h],
            ),
            format.with_line(
                "rating-above-scale",
                at,
                &row(&["1", "2", "7", "964982703"]),
                &[h],
            ),
            format.with_line(
                "rating-negative",
                at,
                &row(&["1", "2", "-1", "964982703"]),
                &[h],
            ),
            format.with_line(
                "rating-nan",
                at,
                &row(&["1", "2", "nan", "964982703"]),
                &[h],
            ),
            format.with_line(
                "rating-inf",
                at,
                &row(&["1", "2", "inf", "964982703"]),
                &[h],
            ),
            format.with_line("too-few-fields", at, &row(&["1", "2"]), &[h]),
            format.with_line(
                "too-many-fields",
                at,
                &row(&["1", "2", "3", "964982703", "x"]),
                &[h],
            ),
            format.with_line(
                "user-negative",
                at,
                &row(&["-1", "2", "3", "964982703"]),
                &[h],
            ),
            format.with_line(
                "user-overflow",
                at,
                &row(&["99999999999999999999", "2", "3", "964982703"]),
                &[h],
            ),
            format.with_line("item-text", at, &row(&["1", "abc", "3", "964982703"]), &[h]),
            format.with_line(
                "timestamp-text",
                at,
                &row(&["1", "2", "3", "yesterday"]),
                &[h],
            ),
            format.with_line("not-utf8", at, &[0xff, 0xfe, 0x01, b'\t'], &[h]),
            format.with_line("nul-bytes", at, &[0, 0, 0, 0], &[h]),
            format.case("empty-file", Vec::new(), &[file]),
            format.case(
                "binary-file",
                vec![0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x13],
                &[file],
            ),
        ]);
        // A folder with the ratings file missing, or a folder where the file should be.
        let (items_name, items) = format.items();
        cases.push(
            Case::error(
                &format!("data/{}/ratings-missing", format.dataset()),
                &["run", "bad.toml", "--db", "db.sqlite"],
                &[file],
            )
            .file("bad.toml", experiment(format.dataset(), ""))
            .file(&format!("d/{items_name}"), items.clone()),
        );
        cases.push(
            Case::error(
                &format!("data/{}/ratings-is-a-folder", format.dataset()),
                &["run", "bad.toml", "--db", "db.sqlite"],
                &[file],
            )
            .file("bad.toml", experiment(format.dataset(), ""))
            .file(&format!("d/{file}/x"), "x")
            .file(&format!("d/{items_name}"), items.clone()),
        );
        // A blank line is not a rating: skipped without a word, like a final newline.
        let mut lines = format.ratings();
        lines[at - 1] = String::new();
        cases.push(
            Case::accepted(
                &format!("data/{}/blank-line", format.dataset()),
                &["run", "bad.toml", "--db", "db.sqlite"],
                &["59 ratings"],
            )
            .file("bad.toml", experiment(format.dataset(), ""))
            .file(&format!("d/{file}"), lines.join("\n"))
            .file(&format!("d/{items_name}"), items.clone()),
        );
        // Every line bad and skipped: nothing left to train on (ratings.csv keeps its header).
        let all_bad = format
            .ratings()
            .iter()
            .enumerate()
            .map(|(i, line)| {
                if i == 0 && matches!(format, Format::LatestSmall) {
                    line.clone()
                } else {
                    "x".to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        cases.push(
            Case::error(
                &format!("data/{}/every-line-skipped", format.dataset()),
                &["run", "bad.toml", "--db", "db.sqlite"],
                &[file, "skipped"],
            )
            .file(
                "bad.toml",
                experiment(format.dataset(), "on_bad_line = \"skip\""),
            )
            .file(&format!("d/{file}"), all_bad)
            .file(&format!("d/{items_name}"), items.clone()),
        );
        // One bad line skipped and counted: accepted.
        let mut lines = format.ratings();
        lines[at - 1] = "x".to_string();
        cases.push(
            Case::accepted(
                &format!("data/{}/one-line-skipped", format.dataset()),
                &["run", "bad.toml", "--db", "db.sqlite"],
                &["skipped 1"],
            )
            .file(
                "bad.toml",
                experiment(format.dataset(), "on_bad_line = \"skip\""),
            )
            .file(&format!("d/{file}"), lines.join("\n"))
            .file(&format!("d/{items_name}"), items),
        );
    }
    // The items files.
    let broken_items = [
        (
            Format::LatestSmall,
            "movies.csv",
            "movieId,title,genres\n1,\"Unclosed (1995),Drama\n2,Film 2 (1992),Drama\n",
        ),
        (
            Format::Ml100k,
            "u.item",
            "1|Film 1 (1991)\nnot an item line\n",
        ),
        (Format::Ml1m, "movies.dat", "1::Film 1 (1991)\n"),
    ];
    for (format, name, text) in broken_items {
        let mut case = format.case(
            "items-malformed",
            format.ratings().join("\n").into_bytes(),
            &[name],
        );
        case.files.retain(|(path, _)| !path.ends_with(name));
        cases.push(case.file(&format!("d/{name}"), text));
    }
    cases
}
