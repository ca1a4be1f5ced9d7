//! The copy of MovieLens ml-latest-small (2018-09-26) built into the binary, so `exp`
//! runs an experiment on a fresh machine with no download.
//!
//! The CSV files are stored gzip-compressed (`gzip -9n`, about 0.85 MB instead of 3 MB) and
//! decompressed at load time; their bytes, CRLF line ends included, are those of the
//! official zip, which a test checks against the SHA-256s in `shared/data/SOURCES.md`.
//! `scripts/embed-ml-latest-small.sh` regenerates them from a pristine copy.
//!
//! The data set's licence allows redistribution only together with its README and under
//! the same terms (among them: no commercial use without permission from GroupLens), so
//! the README is embedded verbatim and [`embedded_readme`] exposes it.

use std::io::Read;

use flate2::read::GzDecoder;

use super::DataError;

/// `ratings.csv`, gzip-compressed.
const RATINGS_CSV_GZ: &[u8] = include_bytes!("ml-latest-small/ratings.csv.gz");
/// `movies.csv`, gzip-compressed.
const MOVIES_CSV_GZ: &[u8] = include_bytes!("ml-latest-small/movies.csv.gz");
/// `README.txt`, verbatim: the data set's description and licence.
const README_TXT: &str = include_str!("ml-latest-small/README.txt");

/// Size of the decompressed `ratings.csv`, to allocate once.
const RATINGS_CSV_LEN: usize = 2_483_723;
/// Size of the decompressed `movies.csv`.
const MOVIES_CSV_LEN: usize = 494_431;

/// The README of the embedded ml-latest-small, whose terms (GroupLens usage licence)
/// govern the embedded data; for `exp data license` and anyone redistributing the binary.
pub fn embedded_readme() -> &'static str {
    README_TXT
}

/// The name errors use for an embedded file, e.g. `<embedded>/ml-latest-small/ratings.csv`.
pub(crate) fn display_name(file: &str) -> String {
    format!("<embedded>/ml-latest-small/{file}")
}

/// The bytes of the embedded `ratings.csv`.
pub(crate) fn ratings_csv() -> Result<Vec<u8>, DataError> {
    gunzip(RATINGS_CSV_GZ, RATINGS_CSV_LEN, "ratings.csv")
}

/// The bytes of the embedded `movies.csv`.
pub(crate) fn movies_csv() -> Result<Vec<u8>, DataError> {
    gunzip(MOVIES_CSV_GZ, MOVIES_CSV_LEN, "movies.csv")
}

fn gunzip(gz: &[u8], len: usize, file: &str) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::with_capacity(len);
    GzDecoder::new(gz)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Embedded {
            file: display_name(file),
            source,
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn sha256_hex(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    // SHA-256s of the pristine files, from shared/data/SOURCES.md.
    #[test]
    fn embedded_ratings_are_pristine() {
        let bytes = ratings_csv().expect("embedded ratings.csv decompresses");
        assert_eq!(bytes.len(), RATINGS_CSV_LEN);
        assert_eq!(
            sha256_hex(&bytes),
            "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646"
        );
    }

    #[test]
    fn embedded_movies_are_pristine() {
        let bytes = movies_csv().expect("embedded movies.csv decompresses");
        assert_eq!(bytes.len(), MOVIES_CSV_LEN);
        assert_eq!(
            sha256_hex(&bytes),
            "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07"
        );
    }

    #[test]
    fn embedded_readme_is_pristine() {
        assert_eq!(
            sha256_hex(embedded_readme().as_bytes()),
            "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404"
        );
        assert!(embedded_readme().contains("Usage License"));
    }

    #[test]
    fn corrupt_gzip_is_an_error_not_a_panic() {
        let err = gunzip(&RATINGS_CSV_GZ[..1000], 0, "ratings.csv");
        let err = err.expect_err("a truncated stream must fail");
        assert!(
            err.to_string()
                .contains("<embedded>/ml-latest-small/ratings.csv"),
            "{err}"
        );
    }
}
