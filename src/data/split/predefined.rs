//! Predefined splits: folds given as files, such as ML-100K's `u1.base`/`u1.test` …
//! `u5.base`/`u5.test` (Surprise's `PredefinedKFold`, GLocal-K's protocol) or any
//! train/test pairs in the data set's own ratings format.
//!
//! The data set is loaded as usual (its ratings file, its `[data]` filters); each line of a
//! fold's files is then matched to the rating of the same user and item in it, so a fold
//! is a set of indices like every other split. A rating of a fold's file that the data set
//! does not have (or has with another value) is an error naming the file and line, as is a
//! rating in both files of one fold. Ratings of the data set in neither file are unused by
//! that fold. The validation set is a seeded random part of the training file's ratings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Split, SplitError, permutation, split_train_part};
use crate::config::spec::{DatasetName, FoldFiles};
use crate::data::dataset::Dataset;
use crate::data::movielens::{RatingLine, rating_lines};

/// The split of one fold: its files read from `folder` (the data set's folder; `None`
/// when the data set is the copy built into exp, where only absolute paths can be read),
/// matched to `data`, and `round(train_len * validation_fraction)` of the training
/// ratings (chosen by `seed`) held out for validation.
pub fn read_fold(
    data: &Dataset,
    dataset: DatasetName,
    folder: Option<&Path>,
    files: &FoldFiles,
    validation_fraction: f64,
    seed: u64,
) -> Result<Split, SplitError> {
    let index = RatingIndex::new(data);
    let read = |name: &str| -> Result<(String, Vec<usize>), SplitError> {
        let path = resolve(folder, name, dataset)?;
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| SplitError::Read {
            path: path.clone(),
            source,
        })?;
        let lines =
            rating_lines(&bytes, &shown, dataset).ok_or(SplitError::Format { dataset })??;
        let indices = index.match_lines(&lines, &shown)?;
        Ok((shown, indices))
    };
    let (train_file, train) = read(&files.train)?;
    let (test_file, test) = read(&files.test)?;
    combine(train, test, validation_fraction, seed).map_err(|index| {
        let (user, item) = index.user_item(data);
        SplitError::InBoth {
            train: train_file,
            test: test_file,
            user,
            item,
        }
    })
}

/// Where the file `name` of a fold is: absolute as written, else in the data set's folder.
fn resolve(folder: Option<&Path>, name: &str, dataset: DatasetName) -> Result<PathBuf, SplitError> {
    let path = Path::new(name);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    match folder {
        Some(folder) => Ok(folder.join(path)),
        None => Err(SplitError::NoFolder {
            path: name.to_string(),
            dataset,
        }),
    }
}

/// A fold from the matched indices of its training and test files: the training ratings,
/// less a seeded `validation_fraction` of them, and the test ratings, each sorted. A rating
/// in both lists is refused: `Err` gives its index.
pub fn combine(
    train: Vec<usize>,
    test: Vec<usize>,
    validation_fraction: f64,
    seed: u64,
) -> Result<Split, Shared> {
    let mut in_train: Vec<usize> = train.clone();
    in_train.sort_unstable();
    if let Some(&shared) = test.iter().find(|i| in_train.binary_search(i).is_ok()) {
        return Err(Shared(shared));
    }
    // The training ratings in a seeded order, so the validation part is a random one.
    let shuffled: Vec<usize> = permutation(train.len(), seed)
        .into_iter()
        .map(|i| train[i])
        .collect();
    Ok(split_train_part(shuffled, test, validation_fraction))
}

/// A rating index found in both files of a fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared(pub usize);

impl Shared {
    /// The raw user and item ids of the shared rating.
    fn user_item(self, data: &Dataset) -> (String, String) {
        let r = &data.ratings;
        (
            data.users.raw(r.users[self.0]).to_string(),
            data.items.raw(r.items[self.0]).to_string(),
        )
    }
}

/// The data set's ratings by (dense user, dense item).
struct RatingIndex<'a> {
    data: &'a Dataset,
    by_pair: HashMap<(u32, u32), usize>,
}

impl<'a> RatingIndex<'a> {
    fn new(data: &'a Dataset) -> Self {
        let r = &data.ratings;
        let by_pair = (0..r.len())
            .map(|i| ((r.users[i], r.items[i]), i))
            .collect();
        RatingIndex { data, by_pair }
    }

    /// The data set's index of every line's rating, in line order; the first line whose
    /// rating the data set lacks (or has with another value) is an error.
    fn match_lines(&self, lines: &[RatingLine], file: &str) -> Result<Vec<usize>, SplitError> {
        let mut out = Vec::with_capacity(lines.len());
        for l in lines {
            let (user, item) = (l.user.to_string(), l.item.to_string());
            let found = self
                .data
                .users
                .get(&user)
                .zip(self.data.items.get(&item))
                .and_then(|pair| self.by_pair.get(&pair).copied());
            let missing = || SplitError::NotInDataset {
                file: file.to_string(),
                line: l.line,
                user: user.clone(),
                item: item.clone(),
                value: l.value,
                dataset: self.data.name.clone(),
            };
            let index = found.ok_or_else(missing)?;
            let value = self.data.ratings.values[index];
            if value != l.value {
                return Err(SplitError::ValueDiffers {
                    file: file.to_string(),
                    line: l.line,
                    user,
                    item,
                    value: l.value,
                    expected: value,
                    dataset: self.data.name.clone(),
                });
            }
            out.push(index);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users 1 and 2, items 10, 20, 30: ratings (1,10)=4, (1,20)=3, (2,10)=5, (2,30)=1.
    fn tiny() -> Dataset {
        Dataset::from_triples(&[
            ("1", "10", 4.0),
            ("1", "20", 3.0),
            ("2", "10", 5.0),
            ("2", "30", 1.0),
        ])
    }

    fn line(line: usize, user: u32, item: u32, value: f32) -> RatingLine {
        RatingLine {
            line,
            user,
            item,
            value,
        }
    }

    #[test]
    fn lines_match_the_data_sets_ratings() {
        let data = tiny();
        let index = RatingIndex::new(&data);
        let lines = [line(1, 2, 30, 1.0), line(2, 1, 10, 4.0)];
        assert_eq!(
            index.match_lines(&lines, "f").expect("all found"),
            vec![3, 0]
        );
    }

    #[test]
    fn a_rating_the_data_set_lacks_names_file_and_line() {
        let data = tiny();
        let index = RatingIndex::new(&data);
        // (2, 20) exists as neither pair; user 3 does not exist at all.
        for bad in [line(2, 2, 20, 3.0), line(2, 3, 10, 3.0)] {
            let err = index
                .match_lines(&[line(1, 1, 10, 4.0), bad], "u1.test")
                .expect_err("not a rating");
            let message = err.to_string();
            assert!(message.starts_with("u1.test:2: "), "{message}");
            assert!(
                message.contains("not a rating of data set tiny"),
                "{message}"
            );
        }
        let err = index
            .match_lines(&[line(7, 1, 20, 5.0)], "u1.test")
            .expect_err("other value");
        assert!(
            err.to_string()
                .starts_with("u1.test:7: user 1, item 20 is rated 5 here but 3"),
            "{err}"
        );
    }

    #[test]
    fn combine_keeps_the_files_and_draws_validation_from_training() {
        let s = combine(vec![3, 0, 2], vec![1], 0.0, 1).expect("disjoint");
        assert_eq!(
            (s.train, s.validation, s.test),
            (vec![0, 2, 3], vec![], vec![1])
        );
        // Validation round(3 * 0.34) = 1: the first of the training list in the seeded
        // permutation of 3 (never a test rating).
        let s = combine(vec![3, 0, 2], vec![1], 0.34, 42).expect("disjoint");
        let first = permutation(3, 42)[0];
        assert_eq!(s.validation, vec![[3, 0, 2][first]]);
        assert_eq!(s.train.len() + s.validation.len(), 3);
        assert_eq!(s.test, vec![1]);
        assert_eq!(combine(vec![3, 0], vec![1, 0], 0.0, 1), Err(Shared(0)));
    }
}
