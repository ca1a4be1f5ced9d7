//! Property test: no ratings or metadata file, however broken, panics its reader. Lines
//! are built from fields that are almost right (ids, ratings and timestamps at and beyond
//! their limits, wrong separators, stray quotes and bytes); each reader must return the
//! data or an error, under both `on_bad_line` policies, never panic.

use proptest::prelude::*;

use super::amazon;
use super::movielens;
use crate::config::spec::{BadLinePolicy, FilterSpec};

/// Field values near and past the edges of what the readers accept.
const FIELDS: &[&str] = &[
    "1",
    "0",
    "-1",
    "5",
    "4.5",
    "0.5",
    "3.25",
    "nan",
    "inf",
    "1e39",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "874965758",
    "",
    " ",
    "\"",
    "\"a,b\"",
    "é",
    "\u{feff}",
    "\u{0}",
    "\u{fffd}",
    "Toy Story (1995)",
    "Action|Comedy",
    "(no genres listed)",
    "M",
    "F",
    "01-Jan-1995",
    "A1",
    "0005089549",
];

/// A line of `fields` joined by `sep`.
fn line(sep: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
            1 => "\\PC{0,8}",
        ],
        0..7,
    )
    .prop_map(move |fields| fields.join(sep))
}

/// A file of lines with one of the MovieLens separators, or arbitrary bytes.
fn file() -> impl Strategy<Value = Vec<u8>> {
    let sep = prop_oneof![Just("\t"), Just("::"), Just(","), Just("|"), Just(":"),];
    prop_oneof![
        3 => (sep, proptest::collection::vec(any::<u8>(), 0..1))
            .prop_flat_map(|(sep, _)| proptest::collection::vec(line(sep), 0..8))
            .prop_map(|lines| lines.join("\n").into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

/// An Amazon line: JSON with odd values, a ratings-CSV line, or arbitrary text.
fn amazon_line() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        proptest::sample::select(FIELDS).prop_map(|f| format!("{f:?}")),
        proptest::sample::select(FIELDS).prop_map(str::to_owned),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("true".to_owned()),
    ];
    let key = proptest::sample::select(
        &[
            "overall",
            "reviewerID",
            "asin",
            "unixReviewTime",
            "reviewTime",
            "verified",
            "title",
            "category",
        ][..],
    );
    prop_oneof![
        proptest::collection::vec((key, value), 0..7).prop_map(|pairs| {
            let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
            format!("{{{}}}", body.join(", "))
        }),
        line(","),
        "\\PC{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn movielens_readers_never_panic(bytes in file()) {
        for policy in BadLinePolicy::ALL {
            let _ = movielens::ml100k_ratings_with(&bytes, "u.data", policy);
            let _ = movielens::ml1m_ratings_with(&bytes, "ratings.dat", policy);
            let _ = movielens::latest_small_ratings_with(&bytes, "ratings.csv", policy);
        }
        let _ = movielens::ml100k_genres(&bytes, "u.genre");
        let _ = movielens::ml100k_items(&bytes, "u.item", &["Action".to_owned()]);
        let _ = movielens::ml100k_users(&bytes, "u.user");
        let _ = movielens::ml1m_movies(&bytes, "movies.dat");
        let _ = movielens::ml1m_users(&bytes, "users.dat");
        let _ = movielens::latest_small_movies(&bytes, "movies.csv");
    }

    #[test]
    fn amazon_readers_never_panic(
        lines in proptest::collection::vec(amazon_line(), 0..6),
        verified_only in any::<bool>(),
    ) {
        let text = lines.join("\n");
        let filters = FilterSpec { verified_only, min_year: Some(2000), ..FilterSpec::default() };
        for name in ["Movies_and_TV.json", "ratings_Movies_and_TV.csv"] {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join(name), &text).expect("write");
            std::fs::write(dir.path().join("meta_Movies_and_TV.json"), &text).expect("write");
            let files = amazon::find_files(dir.path()).expect("found");
            for policy in BadLinePolicy::ALL {
                let read = amazon::read_reviews("amazon-movies-tv", &files, policy, &filters);
                if let (Ok((mut data, _)), Some(meta)) = (read, &files.metadata) {
                    let _ = amazon::attach_metadata(&mut data, meta, policy);
                }
            }
        }
    }
}
