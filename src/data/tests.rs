//! Loading tests: source resolution, error messages through the public entry points, and
//! the real data sets in `shared/data` (see `shared/data/SOURCES.md` for their checksums).
//!
//! The real-data tests read `../shared/data` next to the crate, or `$EXP_SHARED_DATA`.
//! They fail (never skip) when the data is missing, saying where it was expected.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

/// `shared/data/<sub>`, or a panic that says where the data was expected.
fn shared(sub: &str) -> PathBuf {
    let root = std::env::var_os("EXP_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let dir = root.join(sub);
    assert!(
        dir.is_dir(),
        "test data expected in `{}`: set EXP_SHARED_DATA to the folder holding ml-100k/, \
         ml-1m/ and ml-latest-small/ (described in shared/data/SOURCES.md)",
        dir.display()
    );
    dir
}

fn dir(path: &Path) -> Source {
    Source::Dir {
        path: path.to_owned(),
        origin: DirOrigin::DataPath,
    }
}

fn spec(dataset: DatasetName, path: Option<&str>) -> DataSpec {
    DataSpec {
        dataset,
        path: path.map(PathBuf::from),
    }
}

/// The info of raw item id `raw`.
fn info<'a>(ds: &'a Dataset, raw: &str) -> &'a ItemInfo {
    let id = ds.items.get(raw).expect("item was rated");
    &ds.item_info[id as usize]
}

// ---------------------------------------------------------------------------------------
// Where the files come from.

#[test]
fn data_path_wins_over_env_and_embedded() {
    let s = spec(DatasetName::MlLatestSmall, Some("/p"));
    assert_eq!(
        locate(&s, Some(Path::new("/env"))).unwrap(),
        Source::Dir {
            path: PathBuf::from("/p"),
            origin: DirOrigin::DataPath
        }
    );
}

#[test]
fn env_dir_gets_the_dataset_subfolder() {
    let s = spec(DatasetName::Ml100k, None);
    assert_eq!(
        locate(&s, Some(Path::new("/env"))).unwrap(),
        Source::Dir {
            path: PathBuf::from("/env/ml-100k"),
            origin: DirOrigin::DataDirEnv
        }
    );
}

#[test]
fn only_ml_latest_small_falls_back_to_the_embedded_copy() {
    let s = spec(DatasetName::MlLatestSmall, None);
    assert_eq!(locate(&s, None).unwrap(), Source::Embedded);
    for (dataset, url, files) in [
        (
            DatasetName::Ml100k,
            "ml-100k.zip",
            "$EXP_DATA_DIR/ml-100k/u.data",
        ),
        (
            DatasetName::Ml1m,
            "ml-1m.zip",
            "$EXP_DATA_DIR/ml-1m/ratings.dat",
        ),
    ] {
        let msg = locate(&spec(dataset, None), None).unwrap_err().to_string();
        for needle in [
            "set data.path",
            "EXP_DATA_DIR",
            files,
            "https://files.grouplens.org/datasets/movielens/",
            url,
        ] {
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
        let msg = load_from(dataset, &Source::Embedded)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(url), "{msg}");
    }
}

#[test]
fn missing_file_names_the_full_path_and_how_to_fix_it() {
    let tmp = tempfile::tempdir().unwrap();
    let source = Source::Dir {
        path: tmp.path().join("ml-1m"),
        origin: DirOrigin::DataDirEnv,
    };
    let msg = load_from(DatasetName::Ml1m, &source)
        .unwrap_err()
        .to_string();
    let expected = tmp.path().join("ml-1m").join("ratings.dat");
    assert!(
        msg.starts_with(&format!("`{}` not found: ml-1m needs", expected.display())),
        "{msg}"
    );
    assert!(msg.contains("$EXP_DATA_DIR/ml-1m"), "{msg}");
    assert!(msg.contains("ml-1m.zip"), "{msg}");

    // The metadata file is required too.
    fs::write(
        tmp.path().join("ratings.csv"),
        "userId,movieId,rating,timestamp\n1,1,4.0,0\n",
    )
    .unwrap();
    let msg = load_from(DatasetName::MlLatestSmall, &dir(tmp.path()))
        .unwrap_err()
        .to_string();
    let expected = tmp.path().join("movies.csv");
    assert!(
        msg.starts_with(&format!("`{}` not found", expected.display())),
        "{msg}"
    );
    assert!(msg.contains("the copy embedded in exp"), "{msg}");
}

#[test]
fn malformed_lines_report_path_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    fs::write(
        p.join("u.item"),
        "1|Toy Story (1995)|01-Jan-1995||url|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n",
    )
    .unwrap();
    let cases = [
        ("196\t242\t3\t881250949\n196\t242\n", 2, "expected 4 fields"),
        (
            "196\t242\t3\t881250949\n1\t2\t3\t4\nabc\t1\t3\t4\n",
            3,
            "expected a user id",
        ),
        (
            "196\t242\t3\t881250949\n196\t24x\t3\t881250949\n",
            2,
            "expected an item id",
        ),
        (
            "196\t242\t3\t881250949\n196\t242\t0\t881250949\n",
            2,
            "expected a rating from 1 to 5",
        ),
        ("196\t242\t3\t88125094.9\n", 1, "expected a timestamp"),
    ];
    for (u_data, line, what) in cases {
        fs::write(p.join("u.data"), u_data).unwrap();
        let msg = load_from(DatasetName::Ml100k, &dir(p))
            .unwrap_err()
            .to_string();
        let prefix = format!("{}:{line}: {what}", p.join("u.data").display());
        assert!(
            msg.starts_with(&prefix),
            "{msg:?} should start with {prefix:?}"
        );
    }

    fs::write(p.join("u.data"), "1\t1\t3\t0\n").unwrap();
    fs::write(p.join("u.item"), "1|Toy Story (1995)|01-Jan-1995\n").unwrap();
    let msg = load_from(DatasetName::Ml100k, &dir(p))
        .unwrap_err()
        .to_string();
    let prefix = format!(
        "{}:1: expected 24 `|`-separated fields",
        p.join("u.item").display()
    );
    assert!(msg.starts_with(&prefix), "{msg}");

    fs::write(
        p.join("ratings.dat"),
        "1::1193::5::978300760\n1::661::9::978302109\n",
    )
    .unwrap();
    fs::write(p.join("movies.dat"), "1193::X::Drama\n").unwrap();
    let msg = load_from(DatasetName::Ml1m, &dir(p))
        .unwrap_err()
        .to_string();
    let prefix = format!(
        "{}:2: expected a rating from 1 to 5",
        p.join("ratings.dat").display()
    );
    assert!(msg.starts_with(&prefix), "{msg}");

    fs::write(
        p.join("ratings.csv"),
        "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.0\r\n",
    )
    .unwrap();
    fs::write(p.join("movies.csv"), "movieId,title,genres\r\n").unwrap();
    let msg = load_from(DatasetName::MlLatestSmall, &dir(p))
        .unwrap_err()
        .to_string();
    let prefix = format!("{}:3: expected 4 fields", p.join("ratings.csv").display());
    assert!(msg.starts_with(&prefix), "{msg}");
}

// ---------------------------------------------------------------------------------------
// The real data sets.

#[test]
fn ml100k_real_data() {
    let ds = load_from(DatasetName::Ml100k, &dir(&shared("ml-100k"))).unwrap();
    assert_eq!(ds.name, "ml-100k");
    assert_eq!(
        (ds.n_users(), ds.n_items(), ds.ratings.len()),
        (943, 1682, 100_000)
    );
    assert_eq!(ds.item_info.len(), 1682);
    assert_eq!(ds.rating_range, (1.0, 5.0));
    // First line of u.data: 196	242	3	881250949.
    assert_eq!(ds.users.raw(ds.ratings.users[0]), "196");
    assert_eq!(ds.items.raw(ds.ratings.items[0]), "242");
    assert_eq!(ds.ratings.values[0], 3.0);
    assert_eq!(ds.ratings.timestamps[0], 881_250_949);
    // Value counts from SOURCES.md.
    let count = |v: f32| ds.ratings.values.iter().filter(|&&x| x == v).count();
    assert_eq!(
        [1.0, 2.0, 3.0, 4.0, 5.0].map(count),
        [6110, 11370, 27145, 34174, 21201]
    );

    let toy_story = info(&ds, "1");
    assert_eq!(toy_story.title, "Toy Story (1995)");
    assert_eq!(toy_story.genres, ["Animation", "Children's", "Comedy"]);
    // u.item is latin-1: 0xE9 is é.
    assert_eq!(info(&ds, "543").title, "Misérables, Les (1995)");
    assert_eq!(
        info(&ds, "1104").title,
        "C'est arrivé près de chez vous (1992)"
    );
    assert!(ds.item_info.iter().all(|i| !i.title.is_empty()));
}

#[test]
fn ml100k_genre_names_fall_back_to_the_readme_list() {
    // Without u.genre the built-in names must give the same item info as with it.
    let src = shared("ml-100k");
    let tmp = tempfile::tempdir().unwrap();
    for f in ["u.data", "u.item"] {
        fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    let without = load_from(DatasetName::Ml100k, &dir(tmp.path())).unwrap();
    let with = load_from(DatasetName::Ml100k, &dir(&src)).unwrap();
    assert_eq!(without.item_info, with.item_info);
    let from_file = movielens::ml100k_genres(&fs::read(src.join("u.genre")).unwrap(), "u.genre");
    assert_eq!(from_file.unwrap(), movielens::ML100K_GENRES);
}

#[test]
fn ml_latest_small_embedded() {
    let ds = load_from(DatasetName::MlLatestSmall, &Source::Embedded).unwrap();
    assert_eq!(ds.name, "ml-latest-small");
    assert_eq!(
        (ds.n_users(), ds.n_items(), ds.ratings.len()),
        (610, 9724, 100_836)
    );
    assert_eq!(ds.rating_range, (0.5, 5.0));
    let (min, max) = ds
        .ratings
        .values
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert_eq!((min, max), (0.5, 5.0));
    // First row 1,1,4.0,964982703; last row 610,170875,3.0,1493846415.
    assert_eq!(ds.users.raw(ds.ratings.users[0]), "1");
    assert_eq!(ds.items.raw(ds.ratings.items[0]), "1");
    assert_eq!(ds.ratings.values[0], 4.0);
    assert_eq!(ds.ratings.timestamps[0], 964_982_703);
    let last = ds.ratings.len() - 1;
    assert_eq!(ds.items.raw(ds.ratings.items[last]), "170875");
    assert_eq!(ds.ratings.timestamps[last], 1_493_846_415);

    // Quoted titles: a comma, and doubled quotes.
    let president = info(&ds, "11");
    assert_eq!(president.title, "American President, The (1995)");
    assert_eq!(president.genres, ["Comedy", "Drama", "Romance"]);
    assert_eq!(info(&ds, "7789").title, "11'09\"01 - September 11 (2002)");
    // UTF-8 text and "(no genres listed)".
    assert_eq!(
        info(&ds, "29").title,
        "City of Lost Children, The (Cité des enfants perdus, La) (1995)"
    );
    assert!(info(&ds, "114335").genres.is_empty());
    // Every rated movie is in movies.csv.
    assert!(ds.item_info.iter().all(|i| !i.title.is_empty()));
}

#[test]
fn ml_latest_small_embedded_equals_the_files() {
    let embedded = load_from(DatasetName::MlLatestSmall, &Source::Embedded).unwrap();
    let files = load_from(DatasetName::MlLatestSmall, &dir(&shared("ml-latest-small"))).unwrap();
    assert_eq!(embedded.ratings, files.ratings);
    assert_eq!(embedded.users, files.users);
    assert_eq!(embedded.items, files.items);
    assert_eq!(embedded.item_info, files.item_info);
}

#[test]
fn ml1m_real_movies_with_fixture_ratings() {
    // ratings.dat is not available (SOURCES.md); these lines have its exact format.
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(
        shared("ml-1m").join("movies.dat"),
        tmp.path().join("movies.dat"),
    )
    .unwrap();
    fs::write(
        tmp.path().join("ratings.dat"),
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n\
         2::73::2::978300000\n6040::3952::1::956704887\n3::99999::4::978300000\n",
    )
    .unwrap();
    let ds = load_from(DatasetName::Ml1m, &dir(tmp.path())).unwrap();
    assert_eq!(ds.name, "ml-1m");
    assert_eq!((ds.n_users(), ds.n_items(), ds.ratings.len()), (4, 5, 6));
    assert_eq!(ds.rating_range, (1.0, 5.0));
    assert_eq!(ds.ratings.users, [0, 0, 1, 1, 2, 3]);
    assert_eq!(ds.ratings.items, [0, 1, 0, 2, 3, 4]);
    assert_eq!(ds.ratings.values, [5.0, 3.0, 4.0, 2.0, 1.0, 4.0]);

    let cuckoo = info(&ds, "1193");
    assert_eq!(cuckoo.title, "One Flew Over the Cuckoo's Nest (1975)");
    assert_eq!(cuckoo.genres, ["Drama"]);
    assert_eq!(info(&ds, "73").title, "Misérables, Les (1995)");
    assert_eq!(info(&ds, "3952").genres, ["Drama", "Thriller"]);
    // Rated but not in movies.dat: empty info.
    assert_eq!(info(&ds, "99999"), &ItemInfo::default());

    // The whole real movies.dat parses: 3883 movies, each with a title and genres.
    let movies = fs::read(tmp.path().join("movies.dat")).unwrap();
    let all = movielens::ml1m_movies(&movies, "movies.dat").unwrap();
    assert_eq!(all.len(), 3883);
    assert!(
        all.iter()
            .all(|(_, i)| !i.title.is_empty() && !i.genres.is_empty())
    );
}

#[test]
fn load_uses_data_path() {
    // `load` with data.path set does not depend on EXP_DATA_DIR.
    let path = shared("ml-100k");
    let ds = load(&DataSpec {
        dataset: DatasetName::Ml100k,
        path: Some(path),
    })
    .unwrap();
    assert_eq!(ds.ratings.len(), 100_000);
}
