//! Loading tests: source resolution, error messages through the public entry points, and
//! the real data sets in `shared/data` (see `shared/data/SOURCES.md` for their checksums).
//!
//! The real-data tests read `../shared/data` next to the crate, or `$EXP_SHARED_DATA`.
//! Without it they skip with a printed line, or fail under `EXP_REQUIRE_SHARED_DATA` (CI).

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::config::spec::{BadLinePolicy, FilterSpec};

/// `shared/data/<sub>`, or `None` after printing why the calling test skips (see
/// [`crate::shared_data`]).
fn shared(sub: &str) -> Option<PathBuf> {
    crate::shared_data::require(sub)
}

fn dir(path: &Path) -> Source {
    Source::Dir {
        path: path.to_owned(),
        origin: DirOrigin::DataPath,
    }
}

fn spec(dataset: DatasetName, path: Option<&str>) -> DataSpec {
    DataSpec {
        path: path.map(PathBuf::from),
        ..DataSpec::new(dataset)
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
    let Some(ml100k) = shared("ml-100k") else {
        return;
    };
    let ds = load_from(DatasetName::Ml100k, &dir(&ml100k)).unwrap();
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
    let Some(src) = shared("ml-100k") else {
        return;
    };
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
    let Some(small) = shared("ml-latest-small") else {
        return;
    };
    let files = load_from(DatasetName::MlLatestSmall, &dir(&small)).unwrap();
    assert_eq!(embedded.ratings, files.ratings);
    assert_eq!(embedded.users, files.users);
    assert_eq!(embedded.items, files.items);
    assert_eq!(embedded.item_info, files.item_info);
}

#[test]
fn ml1m_real_movies_with_fixture_ratings() {
    // ratings.dat is not available (SOURCES.md); these lines have its exact format.
    let Some(ml1m) = shared("ml-1m") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(ml1m.join("movies.dat"), tmp.path().join("movies.dat")).unwrap();
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
    let Some(path) = shared("ml-100k") else {
        return;
    };
    let ds = load(&DataSpec {
        path: Some(path),
        ..DataSpec::new(DatasetName::Ml100k)
    })
    .unwrap();
    assert_eq!(ds.ratings.len(), 100_000);
}

// ---------------------------------------------------------------------------------------
// Amazon samples, filters and side information on the real files.
//
// Every expected count below was computed independently of exp with Python's json and
// collections modules over the same files, e.g. for the 2018 sample:
//
//   rs = [json.loads(l) for l in open('amazon/2018/Movies_and_TV.json')]
//   U = Counter(r['reviewerID'] for r in rs); I = Counter(r['asin'] for r in rs)
//   len(rs), len(U), len(I)                                      # 5000 4624 61
//   ver = [r for r in rs if r['verified']]                         # 3356, 3258 users, 53 items
//   keep = [r for r in rs if U[r['reviewerID']] >= 2 and I[r['asin']] >= 2]  # 645 269 47
//   k-core: repeat the line above with the counts of what is left until nothing changes
//   year: datetime.utcfromtimestamp(r['unixReviewTime']).year
//
// (SOURCES.md gives the same totals: 4624 reviewers, 61 items; ratings 1: 241, 2: 170,
// 3: 393, 4: 822, 5: 3374.)

fn amazon(root: &Path, sub: &str, filters: FilterSpec) -> Dataset {
    let spec = DataSpec {
        path: Some(root.join(sub)),
        filters,
        ..DataSpec::new(DatasetName::AmazonMoviesTv)
    };
    load(&spec).unwrap_or_else(|e| panic!("{sub}: {e}"))
}

fn sizes(ds: &Dataset) -> (usize, usize, usize) {
    (ds.n_users(), ds.n_items(), ds.ratings.len())
}

#[test]
fn amazon_2018_sample_loads() {
    let Some(root) = shared("amazon") else {
        return;
    };
    let ds = amazon(&root, "2018", FilterSpec::default());
    assert_eq!(sizes(&ds), (4624, 61, 5000));
    assert_eq!(ds.rating_range, (1.0, 5.0));
    let stats = stats::compute(&ds, 20);
    assert_eq!(
        stats.distribution,
        [(1.0, 241), (2.0, 170), (3.0, 393), (4.0, 822), (5.0, 3374)]
    );
    // First record: reviewer A2M1CU2IRZG0K9, asin 0005089549, 5 stars, 1352419200.
    assert_eq!(ds.users.raw(ds.ratings.users[0]), "A2M1CU2IRZG0K9");
    assert_eq!(ds.items.raw(ds.ratings.items[0]), "0005089549");
    assert_eq!(ds.ratings.timestamps[0], 1_352_419_200);
    // No metadata file beside the sample: asins stand in for titles.
    assert!(ds.item_info.iter().all(|i| i.title.is_empty()));
    assert!(ds.report.filtered.is_none());
    assert_eq!(stats::iso_date(stats.time_range.unwrap().0), "1998-06-03");
    assert_eq!(stats::iso_date(stats.time_range.unwrap().1), "2018-04-15");
}

#[test]
fn amazon_2014_five_core_sample_loads() {
    let Some(root) = shared("amazon") else {
        return;
    };
    // The folder holds reviews_Movies_and_TV_5.json (2014 format, no `verified`).
    let ds = amazon(&root, "2014", FilterSpec::default());
    assert_eq!(sizes(&ds), (934, 11, 999));
    let stats = stats::compute(&ds, 20);
    assert_eq!(
        stats.distribution,
        [(1.0, 70), (2.0, 50), (3.0, 69), (4.0, 133), (5.0, 677)]
    );
    assert_eq!(ds.users.raw(ds.ratings.users[0]), "ADZPIG9QOCDG5");
    assert_eq!(ds.items.raw(ds.ratings.items[0]), "0005019281");
    // Asking for verified reviews of a file without the flag is an error on line 1.
    let spec = DataSpec {
        path: Some(root.join("2014")),
        filters: FilterSpec {
            verified_only: true,
            ..FilterSpec::default()
        },
        ..DataSpec::new(DatasetName::AmazonMoviesTv)
    };
    let err = load(&spec).expect_err("no verified flag").to_string();
    assert!(
        err.contains("reviews_Movies_and_TV_5.json:1: no `verified` field"),
        "{err}"
    );
}

#[test]
fn amazon_filters_match_hand_counts() {
    let Some(root) = shared("amazon") else {
        return;
    };
    let verified = amazon(
        &root,
        "2018",
        FilterSpec {
            verified_only: true,
            ..FilterSpec::default()
        },
    );
    assert_eq!(sizes(&verified), (3258, 53, 3356));
    assert_eq!(verified.report.filtered.as_ref().unwrap().unverified, 1644);

    // The notebook's filter: drop users and items with a single rating (one pass).
    let min2 = amazon(
        &root,
        "2018",
        FilterSpec {
            min_user_ratings: 2,
            min_item_ratings: 2,
            ..FilterSpec::default()
        },
    );
    assert_eq!(sizes(&min2), (269, 47, 645));

    // Iterative 2-core: 5 rounds remove ratings; 3-core likewise.
    let core2 = amazon(
        &root,
        "2018",
        FilterSpec {
            k_core: Some(2),
            ..FilterSpec::default()
        },
    );
    assert_eq!(sizes(&core2), (262, 35, 627));
    assert_eq!(core2.report.filtered.as_ref().unwrap().k_core_rounds, 5);
    let core3 = amazon(
        &root,
        "2018",
        FilterSpec {
            k_core: Some(3),
            ..FilterSpec::default()
        },
    );
    assert_eq!(sizes(&core3), (63, 23, 215));

    // Years: 2014 and later keep 2821 reviews; 2018 only, 48.
    let recent = amazon(
        &root,
        "2018",
        FilterSpec {
            min_year: Some(2014),
            ..FilterSpec::default()
        },
    );
    assert_eq!(recent.ratings.len(), 2821);
    let only_2018 = amazon(
        &root,
        "2018",
        FilterSpec {
            min_year: Some(2018),
            max_year: Some(2018),
            ..FilterSpec::default()
        },
    );
    assert_eq!(only_2018.ratings.len(), 48);
    assert_eq!(only_2018.report.filtered.as_ref().unwrap().by_year, 4952);

    // 2014 sample: one-pass minimum 2 keeps 114 ratings of 49 users on 10 items; the
    // 2-core 113 (9 items); a 5-core leaves nothing, which is an error.
    let min2 = amazon(
        &root,
        "2014",
        FilterSpec {
            min_user_ratings: 2,
            min_item_ratings: 2,
            ..FilterSpec::default()
        },
    );
    assert_eq!(sizes(&min2), (49, 10, 114));
    let core2 = amazon(
        &root,
        "2014",
        FilterSpec {
            k_core: Some(2),
            ..FilterSpec::default()
        },
    );
    assert_eq!(sizes(&core2), (49, 9, 113));
    let spec = DataSpec {
        path: Some(root.join("2014")),
        filters: FilterSpec {
            k_core: Some(5),
            ..FilterSpec::default()
        },
        ..DataSpec::new(DatasetName::AmazonMoviesTv)
    };
    let err = load(&spec).expect_err("empty").to_string();
    assert!(err.contains("the data filters leave no rating"), "{err}");
}

#[test]
fn filters_apply_to_movielens() {
    // python3: I = Counter(item of u.data); 141 items have one rating, dropping them keeps
    // 99,859 ratings on 1,541 items; the 20-core keeps 94,443 ratings, 917 users, 937
    // items after 3 rounds; 1998 alone has 47,101 ratings.
    let Some(path) = shared("ml-100k") else {
        return;
    };
    let with = |filters: FilterSpec| {
        load(&DataSpec {
            path: Some(path.clone()),
            filters,
            ..DataSpec::new(DatasetName::Ml100k)
        })
        .unwrap()
    };
    let ds = with(FilterSpec {
        min_item_ratings: 2,
        ..FilterSpec::default()
    });
    assert_eq!(sizes(&ds), (943, 1541, 99_859));
    let ds = with(FilterSpec {
        k_core: Some(20),
        ..FilterSpec::default()
    });
    assert_eq!(sizes(&ds), (917, 937, 94_443));
    assert_eq!(ds.report.filtered.as_ref().unwrap().k_core_rounds, 3);
    // Side information follows the re-indexing.
    assert_eq!(ds.item_info.len(), 937);
    assert_eq!(ds.user_info.len(), 917);
    assert_eq!(info(&ds, "1").title, "Toy Story (1995)");
    let u1 = ds.users.get("1").unwrap() as usize;
    assert_eq!(ds.user_info[u1].occupation.as_deref(), Some("technician"));
    let ds = with(FilterSpec {
        min_year: Some(1998),
        max_year: Some(1998),
        ..FilterSpec::default()
    });
    assert_eq!(ds.ratings.len(), 47_101);
}

#[test]
fn ml100k_side_information() {
    let Some(ml100k) = shared("ml-100k") else {
        return;
    };
    let ds = load_from(DatasetName::Ml100k, &dir(&ml100k)).unwrap();
    // u.item line 1: `1|Toy Story (1995)|01-Jan-1995||…`.
    let toy = info(&ds, "1");
    assert_eq!(toy.release_date.as_deref(), Some("1995-01-01"));
    assert_eq!(toy.year, Some(1995));
    // u.user line 1: `1|24|M|technician|85711`.
    assert_eq!(ds.user_info.len(), 943);
    let u1 = &ds.user_info[ds.users.get("1").unwrap() as usize];
    assert_eq!(
        u1,
        &UserInfo {
            gender: Some("M".into()),
            age: Some(24),
            occupation: Some("technician".into()),
            zip: Some("85711".into()),
        }
    );
    // Item 267 has no release date (`267|unknown||…`).
    assert_eq!(info(&ds, "267").release_date, None);
}

#[test]
fn ml1m_users_and_latest_small_years() {
    // users.dat line 1: `1::F::1::10::48067` (age group "under 18", occupation 10).
    let Some(ml1m) = shared("ml-1m") else {
        return;
    };
    let bytes = fs::read(ml1m.join("users.dat")).unwrap();
    let users = movielens::ml1m_users(&bytes, "users.dat").unwrap();
    assert_eq!(users.len(), 6040);
    assert_eq!(
        users[0],
        (
            1,
            UserInfo {
                gender: Some("F".into()),
                age: Some(1),
                occupation: Some("K-12 student".into()),
                zip: Some("48067".into()),
            }
        )
    );
    let msg = movielens::ml1m_users(b"1::F::2::10::48067\n", "users.dat")
        .expect_err("bad age group")
        .to_string();
    assert_eq!(
        msg,
        "users.dat:1: expected an age group (1, 18, 25, 35, 45, 50 or 56), found `2`"
    );
    let ds = load_from(DatasetName::MlLatestSmall, &Source::Embedded).unwrap();
    assert_eq!(info(&ds, "1").year, Some(1995));
    assert!(ds.user_info.is_empty());
}

#[test]
fn skip_policy_on_movielens_ratings() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(src) = shared("ml-100k") else {
        return;
    };
    fs::copy(src.join("u.item"), tmp.path().join("u.item")).unwrap();
    fs::write(
        tmp.path().join("u.data"),
        "1\t1\t5\t0\n1\t2\t9\t0\n2\t1\tx\t0\n2\t2\t3\n3\t3\t4\t0\n",
    )
    .unwrap();
    let spec = DataSpec {
        path: Some(tmp.path().to_owned()),
        on_bad_line: BadLinePolicy::Skip,
        ..DataSpec::new(DatasetName::Ml100k)
    };
    let ds = load(&spec).unwrap();
    assert_eq!(ds.ratings.len(), 2);
    let skipped = &ds.report.skipped[0];
    assert_eq!(
        (skipped.count, skipped.first_lines.clone()),
        (3, vec![2, 3, 4])
    );
    assert!(skipped.first_message.contains("line 2: expected a rating"));
    let strict = DataSpec {
        on_bad_line: BadLinePolicy::Error,
        ..spec
    };
    let err = load(&strict).expect_err("strict").to_string();
    assert!(err.ends_with("u.data:2: expected a rating from 1 to 5 in steps of 1, found `9`"));
}
