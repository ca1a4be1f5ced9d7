//! Ratings data: locating and loading a data set, filtering, dense re-indexing and
//! splitting.
//!
//! `load` is the entry point of the data stage: a validated [`DataSpec`] in, a
//! [`Dataset`] with dense ids out, which [`split::holdout`] / [`split::kfold`] then divide
//! by index. Loading is read (a parser per format: [`movielens`], [`amazon`]) → filter
//! ([`filter`], the `[data]` filter keys) → attach side information. Where the files come
//! from, first match wins:
//!
//! 1. `data.path` from the experiment (already resolved by the config layer);
//! 2. `$EXP_DATA_DIR/<dataset>/` when the environment variable is set and not empty;
//! 3. for ml-latest-small only, the copy embedded in the binary ([`embedded`]);
//! 4. the download cache, `<platform cache dir>/exp/data/<dataset>/`, where
//!    `exp data download` puts the GroupLens sets ([`download`]).
//!
//! ML-100K and ML-1M may not be redistributed, so without one of these they fail with a
//! message that says which files are expected where and where to download them.

pub mod amazon;
pub mod charts;
pub mod dataset;
pub mod download;
pub mod embedded;
mod error;
pub mod features;
pub mod filter;
mod fingerprint;
pub mod implicit;
pub mod item_ratings;
pub(crate) mod movielens;
pub mod split;
pub mod stats;
pub mod synthetic;

use std::path::{Path, PathBuf};

pub use dataset::{
    Dataset, FilterReport, IdMap, ItemInfo, LoadReport, Ratings, SkippedLines, UserInfo,
};
pub use embedded::embedded_readme;
pub use error::{DataError, DirOrigin};
pub use features::{ContentFeatures, content_features};
pub use fingerprint::fingerprint;
pub use split::{Split, holdout, kfold};

use crate::config::spec::{BadLinePolicy, DataSpec, DatasetName};
use error::layout;

/// The environment variable naming a folder with one sub-folder per data set.
pub const DATA_DIR_ENV: &str = "EXP_DATA_DIR";

/// Where a data set's files are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A folder holding the data set's files under their original names (for Amazon
    /// also the review file itself).
    Dir {
        /// The folder.
        path: PathBuf,
        /// Which setting named it (for error messages).
        origin: DirOrigin,
    },
    /// The copy built into the binary (ml-latest-small only).
    Embedded,
}

/// Loads the data set `spec` asks for, from the first source that applies (see the
/// module documentation), and applies its filters; reads `EXP_DATA_DIR` from the
/// environment. Skipped lines and what the filters removed are in [`Dataset::report`].
pub fn load(spec: &DataSpec) -> Result<Dataset, DataError> {
    load_spec(spec, &source_for(spec)?)
}

/// Where [`load`] reads `spec` from: [`locate`] with `EXP_DATA_DIR`, then the download
/// cache. Fails with [`DataError::NoSource`] when there is nowhere to look.
pub fn source_for(spec: &DataSpec) -> Result<Source, DataError> {
    let data_dir = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty());
    let source = match locate(spec, data_dir.as_deref().map(Path::new)) {
        Err(DataError::NoSource { dataset }) => {
            let cached = download::default_cache_root()
                .map(|root| root.join(dataset.as_str()))
                .filter(|dir| dir.is_dir());
            match cached {
                Some(path) => Source::Dir {
                    path,
                    origin: DirOrigin::DownloadCache,
                },
                None => return Err(DataError::NoSource { dataset }),
            }
        }
        other => other?,
    };
    Ok(source)
}

/// Decides where `spec`'s files come from, given the value of `EXP_DATA_DIR` (`None`
/// when unset), without looking at the download cache. Only checks that a source exists,
/// not that its files do.
pub fn locate(spec: &DataSpec, data_dir: Option<&Path>) -> Result<Source, DataError> {
    if let Some(path) = &spec.path {
        return Ok(Source::Dir {
            path: path.clone(),
            origin: DirOrigin::DataPath,
        });
    }
    if let Some(dir) = data_dir {
        return Ok(Source::Dir {
            path: dir.join(spec.dataset.as_str()),
            origin: DirOrigin::DataDirEnv,
        });
    }
    match spec.dataset {
        DatasetName::MlLatestSmall => Ok(Source::Embedded),
        dataset => Err(DataError::NoSource { dataset }),
    }
}

/// Loads `dataset` from `source` with no filter and strict parsing.
pub fn load_from(dataset: DatasetName, source: &Source) -> Result<Dataset, DataError> {
    load_spec(&DataSpec::new(dataset), source)
}

/// Loads `spec.dataset` from `source`: read with `spec.on_bad_line`, then `spec.filters`.
pub fn load_spec(spec: &DataSpec, source: &Source) -> Result<Dataset, DataError> {
    let (mut dataset, streamed, metadata) = read(spec, source)?;
    if !spec.filters.is_off() {
        let report = filter::apply(&mut dataset, &spec.filters, streamed.0, streamed.1);
        let empty = dataset.ratings.is_empty();
        dataset.report.filtered = Some(report);
        if empty {
            let lines = dataset.report.lines();
            return Err(DataError::FilteredOut {
                dataset: dataset.name,
                summary: lines.last().cloned().unwrap_or_default(),
            });
        }
    }
    if let Some(path) = metadata {
        amazon::attach_metadata(&mut dataset, &path, spec.on_bad_line)?;
    }
    Ok(dataset)
}

/// What [`read`] returns: the data set, the (year, verified) counts Amazon's in-stream
/// filters removed, and a metadata file still to attach after filtering.
type Read = (Dataset, (usize, usize), Option<PathBuf>);

/// Reads the files of `spec.dataset` from `source`, before the count filters.
fn read(spec: &DataSpec, source: &Source) -> Result<Read, DataError> {
    let dataset = spec.dataset;
    let policy = spec.on_bad_line;
    let name = dataset.as_str();
    match source {
        Source::Embedded => {
            if dataset != DatasetName::MlLatestSmall {
                return Err(DataError::NoSource { dataset });
            }
            let ratings = embedded::ratings_csv()?;
            let table = movielens::latest_small_ratings_with(
                &ratings,
                &embedded::display_name("ratings.csv"),
                policy,
            )?;
            drop(ratings);
            let movies = embedded::movies_csv()?;
            let items =
                movielens::latest_small_movies(&movies, &embedded::display_name("movies.csv"))?;
            let data = table.into_dataset(name, movielens::HALF_STARS, items);
            Ok((data, (0, 0), None))
        }
        Source::Dir { path, origin } if dataset == DatasetName::AmazonMoviesTv => {
            let files = amazon::find_files(path).ok_or_else(|| DataError::MissingFile {
                dataset,
                path: path.clone(),
                origin: *origin,
            })?;
            let (data, streamed) = amazon::read_reviews(name, &files, policy, &spec.filters)?;
            Ok((
                data,
                (streamed.by_year, streamed.unverified),
                files.metadata,
            ))
        }
        Source::Dir { path, origin } => {
            let data = read_movielens(dataset, path, *origin, policy)?;
            Ok((data, (0, 0), None))
        }
    }
}

/// Reads a MovieLens folder: ratings, item metadata, and the user file where the data
/// set has one.
fn read_movielens(
    dataset: DatasetName,
    path: &Path,
    origin: DirOrigin,
    policy: BadLinePolicy,
) -> Result<Dataset, DataError> {
    let name = dataset.as_str();
    let files = DirFiles {
        dataset,
        dir: path,
        origin,
    };
    let l = layout(dataset);
    let (ratings_path, metadata_path) = (path.join(l.ratings), path.join(l.metadata));
    let ratings = files.read(&ratings_path)?;
    let metadata = files.read(&metadata_path)?;
    let (ratings_name, metadata_name) = (shown(&ratings_path), shown(&metadata_path));
    match dataset {
        DatasetName::Ml100k => {
            let table = movielens::ml100k_ratings_with(&ratings, &ratings_name, policy)?;
            let genre_path = path.join("u.genre");
            let genres = match files.read_optional(&genre_path)? {
                Some(bytes) => movielens::ml100k_genres(&bytes, &shown(&genre_path))?,
                None => movielens::ML100K_GENRES.map(String::from).to_vec(),
            };
            let items = movielens::ml100k_items(&metadata, &metadata_name, &genres)?;
            let user_path = path.join("u.user");
            let users = match files.read_optional(&user_path)? {
                Some(bytes) => movielens::ml100k_users(&bytes, &shown(&user_path))?,
                None => Vec::new(),
            };
            Ok(table.into_dataset_with_users(name, movielens::WHOLE_STARS, items, users))
        }
        DatasetName::Ml1m => {
            let table = movielens::ml1m_ratings_with(&ratings, &ratings_name, policy)?;
            let items = movielens::ml1m_movies(&metadata, &metadata_name)?;
            let user_path = path.join("users.dat");
            let users = match files.read_optional(&user_path)? {
                Some(bytes) => movielens::ml1m_users(&bytes, &shown(&user_path))?,
                None => Vec::new(),
            };
            Ok(table.into_dataset_with_users(name, movielens::WHOLE_STARS, items, users))
        }
        DatasetName::MlLatestSmall => {
            let table = movielens::latest_small_ratings_with(&ratings, &ratings_name, policy)?;
            let items = movielens::latest_small_movies(&metadata, &metadata_name)?;
            Ok(table.into_dataset(name, movielens::HALF_STARS, items))
        }
        DatasetName::AmazonMoviesTv => Err(DataError::NoSource { dataset }),
    }
}

/// Reads a data set's files from its folder, turning "not found" into a message that
/// says what the folder should hold.
struct DirFiles<'a> {
    dataset: DatasetName,
    dir: &'a Path,
    origin: DirOrigin,
}

impl DirFiles<'_> {
    fn read(&self, path: &Path) -> Result<Vec<u8>, DataError> {
        self.read_optional(path)?
            .ok_or_else(|| DataError::MissingFile {
                dataset: self.dataset,
                path: path.to_owned(),
                origin: self.origin,
            })
    }

    fn read_optional(&self, path: &Path) -> Result<Option<Vec<u8>>, DataError> {
        debug_assert!(path.starts_with(self.dir));
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(DataError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }
}

/// A path as errors show it.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
