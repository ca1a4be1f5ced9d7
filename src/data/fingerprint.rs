//! A checksum of a loaded data set, stored with every run: it tells a run rebuilt later
//! (`exp recommend`, `exp similar`) whether the data it loads now is the data the run
//! trained on.
//!
//! It covers what training sees after loading and filtering: the data set's name and
//! rating range, then every rating in order as (raw user id, raw item id, value,
//! timestamp). Raw ids rather than dense ones, so the checksum says "same ratings", and
//! side information (titles, genres, demographics) is left out. Cheap: one pass over the
//! ratings, a fraction of the time the files took to parse.

use sha2::{Digest, Sha256};

use super::Dataset;

/// The SHA-256 of `data`'s ratings as 64 lowercase hex digits (see the module
/// documentation for what it covers).
pub fn fingerprint(data: &Dataset) -> String {
    let mut hasher = Sha256::new();
    hasher.update((data.name.len() as u64).to_le_bytes());
    hasher.update(data.name.as_bytes());
    hasher.update(data.rating_range.0.to_le_bytes());
    hasher.update(data.rating_range.1.to_le_bytes());
    hasher.update((data.ratings.len() as u64).to_le_bytes());
    let r = &data.ratings;
    for i in 0..r.len() {
        for raw in [data.users.raw(r.users[i]), data.items.raw(r.items[i])] {
            hasher.update((raw.len() as u64).to_le_bytes());
            hasher.update(raw.as_bytes());
        }
        hasher.update(r.values[i].to_le_bytes());
        hasher.update(r.timestamps[i].to_le_bytes());
    }
    crate::digest::hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(ratings: &[(&str, &str, f32)]) -> Dataset {
        Dataset::from_triples(ratings)
    }

    #[test]
    fn the_same_ratings_give_the_same_checksum_and_any_change_another() {
        let base = fingerprint(&dataset(&[("1", "10", 4.0), ("2", "10", 3.0)]));
        assert_eq!(base.len(), 64);
        assert_eq!(
            base,
            fingerprint(&dataset(&[("1", "10", 4.0), ("2", "10", 3.0)]))
        );
        for changed in [
            dataset(&[("1", "10", 4.0), ("2", "10", 3.5)]),
            dataset(&[("1", "10", 4.0), ("2", "11", 3.0)]),
            dataset(&[("1", "10", 4.0)]),
            // Ids are length-prefixed: "1","10" is not "11","0".
            dataset(&[("11", "0", 4.0), ("2", "10", 3.0)]),
        ] {
            assert_ne!(fingerprint(&changed), base);
        }
        let mut renamed = dataset(&[("1", "10", 4.0), ("2", "10", 3.0)]);
        renamed.name = "other".into();
        assert_ne!(fingerprint(&renamed), base);
    }
}
