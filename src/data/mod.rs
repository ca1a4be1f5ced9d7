//! Ratings data: locating and loading a data set, dense re-indexing and splitting.
//!
//! `load` is the entry point of the data stage: a validated [`DataSpec`] in, a
//! [`Dataset`] with dense ids out, which [`split::holdout`] / [`split::kfold`] then divide
//! by index. Where the files come from, first match wins:
//!
//! 1. `data.path` from the experiment (already resolved by the config layer);
//! 2. `$EXP_DATA_DIR/<dataset>/` when the environment variable is set and not empty;
//! 3. for ml-latest-small only, the copy embedded in the binary ([`embedded`]).
//!
//! ML-100K and ML-1M may not be redistributed, so without 1 or 2 they fail with a
//! message that says which files are expected where and where to download them.

pub mod dataset;
pub mod embedded;
mod error;
pub mod features;
mod movielens;
pub mod split;
pub mod synthetic;

use std::path::{Path, PathBuf};

pub use dataset::{Dataset, IdMap, ItemInfo, Ratings};
pub use embedded::embedded_readme;
pub use error::{DataError, DirOrigin};
pub use features::{ContentFeatures, content_features};
pub use split::{Split, holdout, kfold};

use crate::config::spec::{DataSpec, DatasetName};
use error::layout;

/// The environment variable naming a folder with one sub-folder per data set.
pub const DATA_DIR_ENV: &str = "EXP_DATA_DIR";

/// Where a data set's files are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A folder holding the data set's files under their original names.
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
/// module documentation); reads `EXP_DATA_DIR` from the environment.
pub fn load(spec: &DataSpec) -> Result<Dataset, DataError> {
    let data_dir = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty());
    let source = locate(spec, data_dir.as_deref().map(Path::new))?;
    load_from(spec.dataset, &source)
}

/// Decides where `spec`'s files come from, given the value of `EXP_DATA_DIR` (`None`
/// when unset). Only checks that a source exists, not that its files do.
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

/// Loads `dataset` from `source`.
pub fn load_from(dataset: DatasetName, source: &Source) -> Result<Dataset, DataError> {
    let name = dataset.as_str();
    match source {
        Source::Embedded => {
            if dataset != DatasetName::MlLatestSmall {
                return Err(DataError::NoSource { dataset });
            }
            let ratings = embedded::ratings_csv()?;
            let table =
                movielens::latest_small_ratings(&ratings, &embedded::display_name("ratings.csv"))?;
            drop(ratings);
            let movies = embedded::movies_csv()?;
            let items =
                movielens::latest_small_movies(&movies, &embedded::display_name("movies.csv"))?;
            Ok(table.into_dataset(name, movielens::HALF_STARS, items))
        }
        Source::Dir { path, origin } => {
            let files = DirFiles {
                dataset,
                dir: path,
                origin: *origin,
            };
            let l = layout(dataset);
            let (ratings_path, metadata_path) = (path.join(l.ratings), path.join(l.metadata));
            let ratings = files.read(&ratings_path)?;
            let metadata = files.read(&metadata_path)?;
            let (ratings_name, metadata_name) = (shown(&ratings_path), shown(&metadata_path));
            match dataset {
                DatasetName::Ml100k => {
                    let table = movielens::ml100k_ratings(&ratings, &ratings_name)?;
                    let genre_path = path.join("u.genre");
                    let genres = match files.read_optional(&genre_path)? {
                        Some(bytes) => movielens::ml100k_genres(&bytes, &shown(&genre_path))?,
                        None => movielens::ML100K_GENRES.map(String::from).to_vec(),
                    };
                    let items = movielens::ml100k_items(&metadata, &metadata_name, &genres)?;
                    Ok(table.into_dataset(name, movielens::WHOLE_STARS, items))
                }
                DatasetName::Ml1m => {
                    let table = movielens::ml1m_ratings(&ratings, &ratings_name)?;
                    let items = movielens::ml1m_movies(&metadata, &metadata_name)?;
                    Ok(table.into_dataset(name, movielens::WHOLE_STARS, items))
                }
                DatasetName::MlLatestSmall => {
                    let table = movielens::latest_small_ratings(&ratings, &ratings_name)?;
                    let items = movielens::latest_small_movies(&metadata, &metadata_name)?;
                    Ok(table.into_dataset(name, movielens::HALF_STARS, items))
                }
            }
        }
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
mod tests;
