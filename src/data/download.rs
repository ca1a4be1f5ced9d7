//! `exp data download`: fetch a GroupLens archive, check it, unpack it into the data
//! folder that loading reads.
//!
//! Nothing downloaded is used before it is verified: the archive streams to
//! `<root>/<name>.zip.part` while its SHA-256 is computed, and only when size and digest
//! match the pinned values below is it unpacked (into a staging folder, renamed into place
//! at the end). On a mismatch, a network error or an interrupted transfer the partial file
//! is removed. After unpacking, the ratings file is checked again against an independent
//! digest from `shared/data/SOURCES.md` (SHA-256 of `u.data` and `ratings.csv`, the git
//! blob id of ML-1M's `ratings.dat`), which also guards a mirror given with `--base-url`
//! and `--sha256`.
//!
//! The archive digests are those TensorFlow Datasets pins for the same URLs
//! (`tensorflow_datasets/url_checksums/movielens.txt`, with sizes); their MD5s agree with
//! the `.md5` files GroupLens publishes beside each zip.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::amazon;
use crate::config::spec::DatasetName;
use crate::output::{self, OutputError};

/// The official GroupLens folder the archives are fetched from.
pub const DEFAULT_BASE_URL: &str = "https://files.grouplens.org/datasets/movielens";

/// Environment variable replacing [`DEFAULT_BASE_URL`] (a mirror, or a local test
/// server); the `--base-url` flag wins over it.
pub const BASE_URL_ENV: &str = "EXP_DOWNLOAD_BASE_URL";

/// How the unpacked ratings file is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCheck {
    /// The SHA-256 of the file, hex.
    Sha256(&'static str),
    /// The git blob id (`git hash-object FILE`), hex: SHA-1 of `blob <len>\0` + bytes.
    GitBlob(&'static str),
}

/// One downloadable archive and what it must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archive {
    /// The data set it holds.
    pub dataset: DatasetName,
    /// The file name under the base URL, e.g. `ml-100k.zip`.
    pub file: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: &'static str,
    /// The ratings file inside (relative to the data set's folder) and its digest.
    pub ratings: (&'static str, ContentCheck),
}

/// The GroupLens archives exp can fetch.
pub const ARCHIVES: [Archive; 3] = [
    Archive {
        dataset: DatasetName::Ml100k,
        file: "ml-100k.zip",
        size: 4_924_029,
        sha256: "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        ratings: (
            "u.data",
            ContentCheck::Sha256(
                "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            ),
        ),
    },
    Archive {
        dataset: DatasetName::Ml1m,
        file: "ml-1m.zip",
        size: 5_917_549,
        sha256: "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        ratings: (
            "ratings.dat",
            ContentCheck::GitBlob("77a7c4b150f588c23bb9e1f068aa996c0b413695"),
        ),
    },
    Archive {
        dataset: DatasetName::MlLatestSmall,
        file: "ml-latest-small.zip",
        size: 978_202,
        sha256: "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        ratings: (
            "ratings.csv",
            ContentCheck::Sha256(
                "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            ),
        ),
    },
];

/// The archive of `dataset`; `None` for data sets exp cannot download (Amazon).
pub fn archive(dataset: DatasetName) -> Option<&'static Archive> {
    ARCHIVES.iter().find(|a| a.dataset == dataset)
}

/// `<platform cache dir>/exp/data` (e.g. `~/.cache/exp/data` on Linux), where downloads
/// go when `EXP_DATA_DIR` is not set; `None` on a platform without one.
pub fn default_cache_root() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("exp").join("data"))
}

/// Where `exp data download` unpacks: `$EXP_DATA_DIR` when set (so loading finds the
/// files there), else [`default_cache_root`].
pub fn download_root() -> Result<PathBuf, DownloadError> {
    match std::env::var_os(super::DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => default_cache_root().ok_or(DownloadError::NoCacheDir),
    }
}

/// The base URL: `EXP_DOWNLOAD_BASE_URL` when set, else the official one.
pub fn base_url_from_env() -> String {
    std::env::var(BASE_URL_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
}

/// How to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Folder the archive's file is fetched from (no trailing file name).
    pub base_url: String,
    /// Expected SHA-256 of the archive instead of the pinned one (for a mirror that
    /// re-packed the files; the unpacked ratings file is still checked).
    pub sha256: Option<String>,
    /// Download again even if the folder is already there.
    pub force: bool,
}

/// What [`download`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The data set's folder, holding its files.
    pub dir: PathBuf,
    /// The URL fetched; `None` when the folder was already there.
    pub url: Option<String>,
    /// Bytes fetched.
    pub bytes: u64,
    /// The archive's SHA-256 as computed.
    pub sha256: Option<String>,
}

/// Why a download failed. In every case no partial file is left behind.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Amazon (or another data set) has no archive exp may fetch.
    #[error(
        "{} cannot be downloaded by exp: its site asks each user to request the files. Get \
         the 2018 `Movies_and_TV.json.gz` (and `meta_Movies_and_TV.json.gz` for titles) from \
         {page}, or the 2014 `reviews_Movies_and_TV_5.json.gz` / `ratings_Movies_and_TV.csv` \
         from {page_2014}; then set data.path to the file or its folder (or put it in \
         $EXP_DATA_DIR/{}/)",
        .0.as_str(),
        .0.as_str(),
        page = amazon::DOWNLOAD_PAGE,
        page_2014 = amazon::DOWNLOAD_PAGE_2014
    )]
    NotDownloadable(DatasetName),
    /// Neither `EXP_DATA_DIR` nor a platform cache folder is available.
    #[error("no folder to download into: set EXP_DATA_DIR")]
    NoCacheDir,
    /// The server could not be reached or the transfer broke off.
    #[error("cannot download `{url}` (offline, or the server is unreachable?)")]
    Fetch {
        /// The URL.
        url: String,
        /// ureq's error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The server answered with an error status.
    #[error("cannot download `{url}`: the server answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The archive is not the expected one.
    #[error(
        "checksum mismatch for `{url}`: expected SHA-256 {expected} ({expected_size} bytes), \
         got {found} ({size} bytes); the partial download was removed. A changed file on the \
         server or a broken transfer; try again, or pass --sha256 if you trust this copy"
    )]
    Checksum {
        /// The URL.
        url: String,
        /// The pinned digest.
        expected: String,
        /// The pinned size (unknown: 0).
        expected_size: u64,
        /// The digest of what arrived.
        found: String,
        /// Bytes that arrived.
        size: u64,
    },
    /// A file inside the archive is not the pristine one.
    #[error(
        "`{file}` unpacked from `{url}` does not match its published checksum ({kind} {expected}, \
         got {found}); nothing was installed"
    )]
    Content {
        /// The URL.
        url: String,
        /// The file inside.
        file: String,
        /// `SHA-256` or `git blob id`.
        kind: &'static str,
        /// The digest expected.
        expected: String,
        /// The digest found.
        found: String,
    },
    /// The archive does not hold the file the data set needs.
    #[error("`{url}` holds no `{file}`; nothing was installed")]
    MissingInArchive {
        /// The URL.
        url: String,
        /// The file looked for.
        file: String,
    },
    /// The archive is not a readable zip.
    #[error("`{url}` is not a valid zip archive")]
    Zip {
        /// The URL.
        url: String,
        /// The zip crate's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// A destination is a link or not a file of the expected kind (see [`crate::output`]).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A local file or folder could not be written.
    #[error("cannot write `{}`", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes `path` when dropped unless [`Cleanup::keep`] was called: partial downloads and
/// staging folders never outlive a failure (or a panic).
struct Cleanup<'a> {
    path: &'a Path,
    armed: bool,
}

impl<'a> Cleanup<'a> {
    fn new(path: &'a Path) -> Self {
        Cleanup { path, armed: true }
    }

    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the error being reported matters more than this one.
            let _ = if self.path.is_dir() {
                fs::remove_dir_all(self.path)
            } else {
                fs::remove_file(self.path)
            };
        }
    }
}

/// Downloads `dataset` into `root/<name>/` (see the module documentation); `progress`
/// gets (bytes so far, total if known) as the transfer goes.
pub fn download(
    dataset: DatasetName,
    root: &Path,
    options: &Options,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Downloaded, DownloadError> {
    let archive = archive(dataset).ok_or(DownloadError::NotDownloadable(dataset))?;
    let name = dataset.as_str();
    let dir = root.join(name);
    if !options.force && dir.join(archive.ratings.0).is_file() {
        return Ok(Downloaded {
            dir,
            url: None,
            bytes: 0,
            sha256: None,
        });
    }
    fs::create_dir_all(root).map_err(io_err(root))?;
    let url = format!(
        "{}/{}",
        options.base_url.trim_end_matches('/'),
        archive.file
    );
    let part = root.join(format!("{}.part", archive.file));
    // Written through `File::create`: a link planted here would be followed.
    output::check_destination(&part)?;
    let part_guard = Cleanup::new(&part);
    let (bytes, sha256) = fetch(&url, &part, progress)?;
    let (expected, expected_size) = match &options.sha256 {
        Some(hex) => (hex.to_ascii_lowercase(), 0),
        None => (archive.sha256.to_owned(), archive.size),
    };
    if sha256 != expected || (expected_size > 0 && bytes != expected_size) {
        // `part_guard` removes the partial file.
        return Err(DownloadError::Checksum {
            url,
            expected,
            expected_size,
            found: sha256,
            size: bytes,
        });
    }

    let staging = root.join(format!(".{name}.unpacking"));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let staging_guard = Cleanup::new(&staging);
    unpack(&part, &staging, name, &url)?;
    check_content(&staging, archive, &url)?;
    // The unpacked folder replaces whatever is at `dir`, but never a link: that would
    // swap out a folder the user pointed somewhere on purpose.
    if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(OutputError::Link { path: dir }.into());
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
    }
    fs::rename(&staging, &dir).map_err(io_err(&dir))?;
    staging_guard.keep();
    // The archive itself is not kept: the unpacked folder is what loading reads.
    drop(part_guard);
    Ok(Downloaded {
        dir,
        url: Some(url),
        bytes,
        sha256: Some(sha256),
    })
}

/// Streams `url` into `part`, hashing as it goes; (bytes, SHA-256 hex).
fn fetch(
    url: &str,
    part: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<(u64, String), DownloadError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_global(Some(Duration::from_secs(30 * 60)))
        .build()
        .into();
    let fetch_err = |source: ureq::Error| match source {
        ureq::Error::StatusCode(status) => DownloadError::Status {
            url: url.to_owned(),
            status,
        },
        other => DownloadError::Fetch {
            url: url.to_owned(),
            source: Box::new(other),
        },
    };
    let mut response = agent.get(url).call().map_err(fetch_err)?;
    let total = response.body().content_length();
    let mut body = response.body_mut().as_reader();
    let mut file = File::create(part).map_err(io_err(part))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fetch_err(ureq::Error::Io(e))),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_err(part))?;
        bytes += n as u64;
        progress(bytes, total);
    }
    file.sync_all().map_err(io_err(part))?;
    Ok((bytes, hex(&hasher.finalize())))
}

/// Unpacks the zip at `zip_path` into `dest`, dropping the archive's top folder `name/`
/// (every GroupLens zip has one). Entries that would land outside `dest` are refused by
/// the zip crate's `enclosed_name`.
fn unpack(zip_path: &Path, dest: &Path, name: &str, url: &str) -> Result<(), DownloadError> {
    let zip_err = |source| DownloadError::Zip {
        url: url.to_owned(),
        source,
    };
    let file = File::open(zip_path).map_err(io_err(zip_path))?;
    let mut zip = zip::ZipArchive::new(file).map_err(zip_err)?;
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(zip_err)?;
        let Some(inner) = entry.enclosed_name() else {
            continue;
        };
        let inner = inner.strip_prefix(name).unwrap_or(&inner).to_path_buf();
        if inner.as_os_str().is_empty() {
            continue;
        }
        let out = dest.join(&inner);
        if entry.is_dir() {
            fs::create_dir_all(&out).map_err(io_err(&out))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut target = File::create(&out).map_err(io_err(&out))?;
        io::copy(&mut entry, &mut target).map_err(io_err(&out))?;
    }
    Ok(())
}

/// Checks the unpacked ratings file against its independent digest.
fn check_content(dir: &Path, archive: &Archive, url: &str) -> Result<(), DownloadError> {
    let (file, check) = archive.ratings;
    let path = dir.join(file);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DownloadError::MissingInArchive {
                url: url.to_owned(),
                file: file.to_owned(),
            });
        }
        Err(source) => return Err(DownloadError::Io { path, source }),
    };
    let (kind, expected, found) = match check {
        ContentCheck::Sha256(expected) => ("SHA-256", expected, hex(&Sha256::digest(&bytes))),
        ContentCheck::GitBlob(expected) => ("git blob id", expected, git_blob_id(&bytes)),
    };
    if found != expected {
        return Err(DownloadError::Content {
            url: url.to_owned(),
            file: file.to_owned(),
            kind,
            expected: expected.to_owned(),
            found,
        });
    }
    Ok(())
}

/// What `git hash-object` prints for a file with these bytes.
pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_id_matches_git() {
        // printf 'hello\n' | git hash-object --stdin
        assert_eq!(
            git_blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // git hash-object /dev/null
        assert_eq!(git_blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn every_grouplens_set_has_an_archive_and_amazon_none() {
        for dataset in DatasetName::ALL {
            let found = archive(dataset);
            assert_eq!(
                found.is_some(),
                dataset != DatasetName::AmazonMoviesTv,
                "{}",
                dataset.as_str()
            );
            if let Some(a) = found {
                assert_eq!(a.file, format!("{}.zip", dataset.as_str()));
                assert_eq!(a.sha256.len(), 64);
            }
        }
        let err = download(
            DatasetName::AmazonMoviesTv,
            Path::new("/nonexistent"),
            &Options {
                base_url: DEFAULT_BASE_URL.into(),
                sha256: None,
                force: false,
            },
            &mut |_, _| {},
        )
        .expect_err("not downloadable");
        assert!(err.to_string().contains(amazon::DOWNLOAD_PAGE), "{err}");
    }

    #[test]
    fn ratings_checks_match_the_shared_files() {
        // The pinned content digests are those of the pristine files in shared/data.
        for dataset in [DatasetName::Ml100k, DatasetName::MlLatestSmall] {
            let a = archive(dataset).expect("archive");
            let Some(dir) = crate::shared_data::require(dataset.as_str()) else {
                return;
            };
            check_content(&dir, a, "test").unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
    }
}
