//! A run's test predictions (`metrics.save_predictions`) as one compact BLOB, and each
//! user's value of its ranking metrics as another.
//!
//! Each prediction is 16 bytes, little-endian: the dense user id (u32), the dense item id
//! (u32), the true rating (f32) and the clipped prediction (f32), in the order of the
//! run's test split. ML-100K's 20 000 test ratings take 320 kB. Dense ids are the
//! data set's as loaded (`data::dataset`); two runs of one experiment share them, which
//! is what the per-rating tests of `exp compare` pair on.

/// Bytes per stored prediction.
pub const RECORD_BYTES: usize = 16;

/// One test rating and what the model predicted for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Dense user id.
    pub user: u32,
    /// Dense item id.
    pub item: u32,
    /// The rating in the test split.
    pub rating: f32,
    /// The model's prediction, clipped to the rating range as the test metrics are.
    pub prediction: f32,
}

/// A prediction from its four fields, for the tests that build lists of them.
#[cfg(test)]
pub(crate) fn test_prediction(user: u32, item: u32, rating: f32, prediction: f32) -> Prediction {
    Prediction {
        user,
        item,
        rating,
        prediction,
    }
}

/// Why a stored BLOB is not a list of predictions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored values are {bytes} bytes for {count} records; expected {count} × {record} bytes")]
pub struct BadBlob {
    /// The BLOB's length.
    pub bytes: usize,
    /// The count stored beside it.
    pub count: usize,
    /// Bytes per record.
    pub record: usize,
}

/// The BLOB of `predictions`.
pub fn encode(predictions: &[Prediction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(predictions.len() * RECORD_BYTES);
    for p in predictions {
        out.extend_from_slice(&p.user.to_le_bytes());
        out.extend_from_slice(&p.item.to_le_bytes());
        out.extend_from_slice(&p.rating.to_le_bytes());
        out.extend_from_slice(&p.prediction.to_le_bytes());
    }
    out
}

/// The predictions of a BLOB that should hold `count` of them.
pub fn decode(bytes: &[u8], count: usize) -> Result<Vec<Prediction>, BadBlob> {
    if count.checked_mul(RECORD_BYTES) != Some(bytes.len()) {
        return Err(BadBlob {
            bytes: bytes.len(),
            count,
            record: RECORD_BYTES,
        });
    }
    let word = |chunk: &[u8], at: usize| [chunk[at], chunk[at + 1], chunk[at + 2], chunk[at + 3]];
    Ok(bytes
        .chunks_exact(RECORD_BYTES)
        .map(|c| Prediction {
            user: u32::from_le_bytes(word(c, 0)),
            item: u32::from_le_bytes(word(c, 4)),
            rating: f32::from_le_bytes(word(c, 8)),
            prediction: f32::from_le_bytes(word(c, 12)),
        })
        .collect())
}

/// Bytes per stored user value.
pub const USER_RECORD_BYTES: usize = 8;

/// The BLOB of per-user values: user (u32) and value (f32), little-endian.
pub fn encode_user_values(values: &[(u32, f32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * USER_RECORD_BYTES);
    for (user, value) in values {
        out.extend_from_slice(&user.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

/// The per-user values of a BLOB that should hold `count` of them.
pub fn decode_user_values(bytes: &[u8], count: usize) -> Result<Vec<(u32, f32)>, BadBlob> {
    if count.checked_mul(USER_RECORD_BYTES) != Some(bytes.len()) {
        return Err(BadBlob {
            bytes: bytes.len(),
            count,
            record: USER_RECORD_BYTES,
        });
    }
    let word = |chunk: &[u8], at: usize| [chunk[at], chunk[at + 1], chunk[at + 2], chunk[at + 3]];
    Ok(bytes
        .chunks_exact(USER_RECORD_BYTES)
        .map(|c| {
            (
                u32::from_le_bytes(word(c, 0)),
                f32::from_le_bytes(word(c, 4)),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_bit_exact_and_little_endian() {
        let preds = [
            Prediction {
                user: 1,
                item: 0x0102_0304,
                rating: 4.5,
                prediction: 3.25,
            },
            Prediction {
                user: u32::MAX,
                item: 0,
                rating: 0.5,
                prediction: f32::NAN,
            },
        ];
        let blob = encode(&preds);
        assert_eq!(blob.len(), 32);
        assert_eq!(&blob[..8], &[1, 0, 0, 0, 4, 3, 2, 1]);
        assert_eq!(&blob[8..12], &4.5f32.to_le_bytes());
        let back = decode(&blob, 2).expect("valid blob");
        assert_eq!(back[0], preds[0]);
        assert_eq!((back[1].user, back[1].item), (u32::MAX, 0));
        assert!(back[1].prediction.is_nan());
        assert_eq!(decode(&[], 0), Ok(Vec::new()));
    }

    #[test]
    fn a_blob_of_the_wrong_length_is_an_error() {
        let err = decode(&[0; 20], 1).expect_err("20 bytes is not one record");
        assert_eq!(
            err.to_string(),
            "stored values are 20 bytes for 1 records; expected 1 × 16 bytes"
        );
        assert!(decode(&[0; 16], usize::MAX).is_err());
        let users = [(0, 0.5f32), (u32::MAX, 1.0)];
        let blob = encode_user_values(&users);
        assert_eq!(blob.len(), 16);
        assert_eq!(decode_user_values(&blob, 2), Ok(users.to_vec()));
        assert!(decode_user_values(&blob, 3).is_err());
    }
}
