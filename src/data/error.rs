//! What can go wrong while locating and reading a data set, worded so the message alone
//! says which file (and line) to look at and what to do about it.

use std::path::PathBuf;

use crate::config::spec::DatasetName;

/// Where a data folder came from, so a "file not found" can say which setting to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirOrigin {
    /// `data.path` in the experiment file.
    DataPath,
    /// `$EXP_DATA_DIR/<dataset>`.
    DataDirEnv,
    /// The download cache (`exp data download`), used when neither is set.
    DownloadCache,
}

/// An error while locating or reading a data set.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data set is not embedded and neither `data.path` nor `EXP_DATA_DIR` is set.
    #[error("{}", no_source_message(*.dataset))]
    NoSource {
        /// The data set asked for.
        dataset: DatasetName,
    },

    /// A file the data set needs does not exist.
    #[error("{}", missing_file_message(*.dataset, .path, *.origin))]
    MissingFile {
        /// The data set being loaded.
        dataset: DatasetName,
        /// The full path that was expected.
        path: PathBuf,
        /// Which setting named the folder.
        origin: DirOrigin,
    },

    /// A file exists but could not be read.
    #[error("cannot read `{}`: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// Reading a file failed part-way, e.g. a truncated gzip stream.
    #[error("cannot read `{}` at line {line}: {source}", .path.display())]
    ReadLine {
        /// The file.
        path: PathBuf,
        /// The line being read (1-based).
        line: usize,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The `[data]` filters removed every rating.
    #[error("{dataset}: the data filters leave no rating ({summary}); loosen them")]
    FilteredOut {
        /// The data set's name.
        dataset: String,
        /// What each filter removed.
        summary: String,
    },

    /// A line (or CSV record) does not have the expected form.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file as shown to the user: a path, or `<embedded>/ml-latest-small/…`.
        file: String,
        /// 1-based line number (the line a CSV record starts on).
        line: usize,
        /// What was expected and what was found.
        message: String,
    },

    /// A ratings file holds no rating at all.
    #[error("{file}: no ratings found{why}")]
    NoRatings {
        /// The file as shown to the user.
        file: String,
        /// Empty, or why: every line was malformed and skipped (see [`DataError::no_ratings`]).
        why: String,
    },

    /// The embedded copy failed to decompress (a broken build, not bad input).
    #[error("embedded copy of {file} is corrupt ({source}); rebuild exp")]
    Embedded {
        /// The embedded file, e.g. `<embedded>/ml-latest-small/ratings.csv`.
        file: String,
        /// The decompression error.
        source: std::io::Error,
    },
}

/// The files a data set is read from and where to get them.
pub(crate) struct Layout {
    /// The ratings file name.
    pub ratings: &'static str,
    /// The item metadata file name (titles, genres).
    pub metadata: &'static str,
    /// The official download.
    pub url: &'static str,
}

/// The files of `dataset`.
pub(crate) fn layout(dataset: DatasetName) -> Layout {
    match dataset {
        DatasetName::Ml100k => Layout {
            ratings: "u.data",
            metadata: "u.item",
            url: "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        },
        DatasetName::Ml1m => Layout {
            ratings: "ratings.dat",
            metadata: "movies.dat",
            url: "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        },
        DatasetName::MlLatestSmall => Layout {
            ratings: "ratings.csv",
            metadata: "movies.csv",
            url: "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        },
        DatasetName::AmazonMoviesTv => Layout {
            ratings: "Movies_and_TV.json.gz",
            metadata: "meta_Movies_and_TV.json.gz",
            url: super::amazon::DOWNLOAD_PAGE,
        },
    }
}

/// How to get the Amazon files and tell exp where they are.
fn amazon_message(problem: &str) -> String {
    format!(
        "{problem}. exp reads the Amazon Movies & TV reviews from a file or folder you \
         download yourself: the 2018 `Movies_and_TV.json.gz` (optionally with \
         `meta_Movies_and_TV.json.gz` for titles) from {}, or the 2014 \
         `reviews_Movies_and_TV_5.json.gz` or `ratings_Movies_and_TV.csv` from {}. Set \
         data.path to the file or to the folder holding it, or put it in \
         $EXP_DATA_DIR/amazon-movies-tv/",
        super::amazon::DOWNLOAD_PAGE,
        super::amazon::DOWNLOAD_PAGE_2014,
    )
}

fn no_source_message(dataset: DatasetName) -> String {
    let name = dataset.as_str();
    if dataset == DatasetName::AmazonMoviesTv {
        return amazon_message("amazon-movies-tv: no folder is set for it");
    }
    let l = layout(dataset);
    format!(
        "{name} is not embedded in exp (its licence forbids redistribution) and no folder is \
         set for it: set data.path to the folder holding {r} and {m}, or set EXP_DATA_DIR so \
         that $EXP_DATA_DIR/{name}/{r} and $EXP_DATA_DIR/{name}/{m} exist. `exp data download \
         {name}` fetches and checks them; or get the files from {url} (the zip holds a \
         folder named {name}, so `unzip {name}.zip -d \"$EXP_DATA_DIR\"` puts them in place)",
        r = l.ratings,
        m = l.metadata,
        url = l.url,
    )
}

fn missing_file_message(dataset: DatasetName, path: &std::path::Path, origin: DirOrigin) -> String {
    let name = dataset.as_str();
    if dataset == DatasetName::AmazonMoviesTv {
        return amazon_message(&format!(
            "no Amazon review file found at `{}`",
            path.display()
        ));
    }
    let l = layout(dataset);
    let dir = path.parent().unwrap_or(path);
    let (origin, fix) = match origin {
        DirOrigin::DataPath => (
            "the folder given by data.path".to_owned(),
            "or point data.path at the folder holding them",
        ),
        DirOrigin::DataDirEnv => (
            format!("the folder $EXP_DATA_DIR/{name}"),
            "unzipping it into $EXP_DATA_DIR makes that folder; or set data.path",
        ),
        DirOrigin::DownloadCache => (
            "the download cache".to_owned(),
            "`exp data download` fetches it again; or set data.path",
        ),
    };
    let embedded = match dataset {
        DatasetName::MlLatestSmall => {
            "; or set neither data.path nor EXP_DATA_DIR to use the copy embedded in exp"
        }
        _ => "",
    };
    format!(
        "`{}` not found: {name} needs {} and {} in `{}` ({origin}). Get them from {} \
         ({fix}){embedded}",
        path.display(),
        l.ratings,
        l.metadata,
        dir.display(),
        l.url,
    )
}

impl DataError {
    /// [`DataError::NoRatings`] for `file`, saying so when every line was malformed and
    /// skipped (`data.on_bad_line = "skip"`), so the user sees why nothing is left.
    pub(crate) fn no_ratings(file: &str, skipped: &crate::data::SkippedLines) -> DataError {
        let why = if skipped.count > 0 {
            format!(
                ": all {} lines were malformed and skipped (data.on_bad_line = \"skip\"); the \
                 first: {}",
                skipped.count, skipped.first_message
            )
        } else {
            String::new()
        };
        DataError::NoRatings {
            file: file.to_owned(),
            why,
        }
    }
}
