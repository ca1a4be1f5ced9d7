//! `exp data download`: fetch a GroupLens archive, check it, unpack it into the data
//! folder that loading reads.
//!
//! Nothing downloaded is used before it is verified: the archive streams to
//! `<root>/<name>.zip.<pid>.part` while its SHA-256 is computed, and only when size and
//! digest match the pinned values below is it unpacked (into a staging folder, renamed into
//! place at the end). On a mismatch, a network error or an interrupted transfer the partial
//! file is removed; one left by a killed process (its pid no longer runs) is removed by the
//! next download into the same folder.
//!
//! Every transfer is bounded: the body may not exceed the pinned size (or [`MIRROR_LIMIT`]
//! for an archive checked with `--sha256`), and is abandoned as soon as it does; a server
//! that sends nothing for [`DEFAULT_STALL`] is given up on. Redirects are followed to
//! `http`/`https` URLs only. Only the files the data set needs ([`Archive::files`]) are
//! unpacked, each from its exact place in the archive (`<name>/<file>` or `<file>`), each
//! at most [`MAX_UNPACKED_FILE`] bytes.
//!
//! After unpacking, the ratings file is checked again against an independent
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

/// The most bytes accepted for an archive checked with `--sha256` (a mirror's re-packed
/// zip, whose size exp cannot know): 1 GiB, far above any GroupLens archive exp fetches.
pub const MIRROR_LIMIT: u64 = 1 << 30;

/// The most bytes one unpacked file may hold (ML-1M's `ratings.dat`, the largest, has
/// 24.6 MB): a zip whose entry inflates beyond it is refused, not unpacked.
pub const MAX_UNPACKED_FILE: u64 = 256 << 20;

/// How long a transfer may go without receiving a byte before it is given up.
pub const DEFAULT_STALL: Duration = Duration::from_secs(30);

/// Environment variable replacing [`DEFAULT_STALL`], in whole seconds (for a very slow
/// link, and for tests, which use 1).
pub const STALL_ENV: &str = "EXP_DOWNLOAD_STALL_SECS";

/// The most redirects followed before giving up.
const MAX_REDIRECTS: usize = 10;

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
    /// The files unpacked: those exp reads (see `data::read`) and the README carrying the
    /// licence. Every other entry of the archive is left in it.
    pub files: &'static [&'static str],
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
        // The shipped folds (`split.folds = "u1-u5"` / `"ua-ub"`) come along; the zip
        // made them from `u.data` with its `mku.sh`.
        files: &[
            "u.data", "u.item", "u.genre", "u.user", "README", "u1.base", "u1.test", "u2.base",
            "u2.test", "u3.base", "u3.test", "u4.base", "u4.test", "u5.base", "u5.test", "ua.base",
            "ua.test", "ub.base", "ub.test",
        ],
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
        files: &["ratings.dat", "movies.dat", "users.dat", "README"],
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
        files: &["ratings.csv", "movies.csv", "README.txt"],
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

/// The stall timeout: `EXP_DOWNLOAD_STALL_SECS` when set, else [`DEFAULT_STALL`].
pub fn stall_from_env() -> Result<Duration, DownloadError> {
    match std::env::var(STALL_ENV) {
        Ok(v) if !v.is_empty() => match v.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
            _ => Err(DownloadError::BadStall { value: v }),
        },
        _ => Ok(DEFAULT_STALL),
    }
}

/// Whether `value` is a SHA-256 written in hex: exactly 64 hex digits (either case).
pub fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Folder the archive's file is fetched from (no trailing file name).
    pub base_url: String,
    /// Expected SHA-256 of the archive instead of the pinned one (for a mirror that
    /// re-packed the files; the unpacked ratings file is still checked). 64 hex digits.
    pub sha256: Option<String>,
    /// Download again even if the folder is already there.
    pub force: bool,
    /// Give up when no byte arrives for this long ([`DEFAULT_STALL`]).
    pub stall: Duration,
    /// The most bytes accepted with `sha256` set ([`MIRROR_LIMIT`]); without it the
    /// pinned size is the limit.
    pub mirror_limit: u64,
}

impl Options {
    /// Fetching from `base_url` with the pinned digest and the default limits.
    pub fn new(base_url: impl Into<String>) -> Self {
        Options {
            base_url: base_url.into(),
            sha256: None,
            force: false,
            stall: DEFAULT_STALL,
            mirror_limit: MIRROR_LIMIT,
        }
    }
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
    /// The server sends more than the archive may hold.
    #[error(
        "`{url}` sends more than {limit} bytes ({why}); stopped reading and removed the \
         partial download"
    )]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
        /// Where the limit comes from, and what the server announced.
        why: String,
    },
    /// Nothing arrived for the stall timeout.
    #[error(
        "`{url}` sent nothing for {secs} s (after {bytes} bytes); gave up and removed the \
         partial download (set EXP_DOWNLOAD_STALL_SECS to wait longer)"
    )]
    Stalled {
        /// The URL.
        url: String,
        /// The stall timeout in seconds.
        secs: u64,
        /// Bytes received before the stall.
        bytes: u64,
    },
    /// A redirect to something other than an http or https URL.
    #[error(
        "`{url}` redirects to `{location}`: refused, a redirect to a `{scheme}:` URL (exp \
         follows redirects to http and https only)"
    )]
    RedirectRefused {
        /// The URL that redirected.
        url: String,
        /// The `Location` it gave.
        location: String,
        /// That location's URL scheme.
        scheme: String,
    },
    /// A redirect without a usable `Location`, or too many of them.
    #[error("cannot download `{url}`: {problem}")]
    Redirect {
        /// The URL that redirected last.
        url: String,
        /// What was wrong.
        problem: String,
    },
    /// `--sha256` is not a SHA-256.
    #[error("--sha256: expected 64 hex digits (a SHA-256), found `{value}`")]
    BadSha256 {
        /// The value given.
        value: String,
    },
    /// `EXP_DOWNLOAD_STALL_SECS` is not a number of seconds.
    #[error("{STALL_ENV}: expected a whole number of seconds > 0, found `{value}`")]
    BadStall {
        /// The value given.
        value: String,
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
    /// The archive holds a needed file twice (which one would be installed is ambiguous).
    #[error("`{url}` holds `{file}` twice; nothing was installed")]
    DuplicateInArchive {
        /// The URL.
        url: String,
        /// The entry's name.
        file: String,
    },
    /// A needed file inflates beyond [`MAX_UNPACKED_FILE`].
    #[error("`{file}` in `{url}` unpacks to more than {limit} bytes; nothing was installed")]
    EntryTooLarge {
        /// The URL.
        url: String,
        /// The entry's name.
        file: String,
        /// The limit in bytes.
        limit: u64,
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
            remove_partial(self.path);
        }
    }
}

/// The partial files a download of `dataset` into `root` by this process writes: the
/// archive being fetched and the staging folder. A signal handler removes them.
pub fn partial_paths(dataset: DatasetName, root: &Path) -> Vec<PathBuf> {
    archive(dataset).map_or_else(Vec::new, |a| {
        let (part, staging) = partial_pair(a, root);
        vec![part, staging]
    })
}

/// (`<root>/<archive>.<pid>.part`, `<root>/.<name>.<pid>.unpacking`) for this process.
fn partial_pair(archive: &Archive, root: &Path) -> (PathBuf, PathBuf) {
    let pid = std::process::id();
    (
        root.join(format!("{}.{pid}.part", archive.file)),
        root.join(format!(".{}.{pid}.unpacking", archive.dataset.as_str())),
    )
}

/// Removes `path`, a file or a folder, if it is there (best effort: for cleanup paths).
pub fn remove_partial(path: &Path) {
    let _ = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
}

/// Removes the partial downloads in `root` that no running process owns: the
/// `<archive>.<pid>.part` files and `.<name>.<pid>.unpacking` folders of processes that
/// have ended (killed before their cleanup ran), and the pid-less `<archive>.part` /
/// `.<name>.unpacking` of earlier versions of exp. Returns what it removed.
pub fn remove_stale(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let owner = ARCHIVES.iter().find_map(|a| {
            let set = a.dataset.as_str();
            let middle = name
                .strip_prefix(a.file)
                .and_then(|rest| rest.strip_suffix(".part"))
                .or_else(|| {
                    name.strip_prefix('.')
                        .and_then(|n| n.strip_prefix(set))
                        .and_then(|rest| rest.strip_suffix(".unpacking"))
                })?;
            match middle {
                "" => Some(None),
                m => m
                    .strip_prefix('.')
                    .and_then(|pid| pid.parse::<u32>().ok())
                    .map(Some),
            }
        });
        let stale = match owner {
            None => false,
            Some(None) => true,
            Some(Some(pid)) => !crate::store::owner::pid_alive(pid),
        };
        if stale {
            let path = entry.path();
            remove_partial(&path);
            removed.push(path);
        }
    }
    removed.sort();
    removed
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
    if let Some(value) = options.sha256.as_ref().filter(|v| !is_sha256_hex(v)) {
        return Err(DownloadError::BadSha256 {
            value: value.clone(),
        });
    }
    let name = dataset.as_str();
    let dir = root.join(name);
    // What a killed download left (the command line reports these before calling us).
    remove_stale(root);
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
    let (part, staging) = partial_pair(archive, root);
    // Written through `File::create`: a link planted here would be followed.
    output::check_destination(&part)?;
    let part_guard = Cleanup::new(&part);
    let (expected, expected_size, limit) = match &options.sha256 {
        Some(hex) => (
            hex.to_ascii_lowercase(),
            0,
            Limit {
                bytes: options.mirror_limit,
                why: "the limit for an archive checked with --sha256",
            },
        ),
        None => (
            archive.sha256.to_owned(),
            archive.size,
            Limit {
                bytes: archive.size,
                why: "the pinned size of the archive",
            },
        ),
    };
    let (bytes, sha256) = fetch(&url, &part, &limit, options.stall, progress)?;
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

    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let staging_guard = Cleanup::new(&staging);
    unpack(&part, &staging, name, archive.files, &url)?;
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

/// The most bytes a transfer may bring, and where that number comes from (for the
/// message).
struct Limit {
    bytes: u64,
    why: &'static str,
}

/// The URL scheme of `location` (`http`, `file`, …), lower case; `None` for a relative
/// reference.
fn scheme(location: &str) -> Option<String> {
    let (scheme, _) = location.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| scheme.to_ascii_lowercase())
}

/// `location` (a redirect's `Location`) resolved against `base`, an http(s) URL: an
/// absolute URL as is, `//host/…`, `/path` and `path` relative to `base`.
fn resolve(base: &str, location: &str) -> String {
    if scheme(location).is_some() {
        return location.to_owned();
    }
    let (base_scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(authority_path) = location.strip_prefix("//") {
        return format!("{base_scheme}://{authority_path}");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if location.starts_with('/') {
        return format!("{base_scheme}://{authority}{location}");
    }
    let path = rest[authority.len()..]
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
    format!("{base_scheme}://{authority}{folder}/{location}")
}

/// Streams `url` into `part`, hashing as it goes, stopping beyond `limit` bytes or after
/// `stall` without a byte; (bytes, SHA-256 hex). Redirects are followed here (not by
/// ureq) so that one to a scheme other than http(s) is named in the error.
fn fetch(
    url: &str,
    part: &Path,
    limit: &Limit,
    stall: Duration,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<(u64, String), DownloadError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(stall))
        .timeout_global(Some(Duration::from_secs(30 * 60)))
        .max_redirects(0)
        .build()
        .into();
    let stalled = |bytes: u64| DownloadError::Stalled {
        url: url.to_owned(),
        secs: stall.as_secs(),
        bytes,
    };
    let fetch_err = |source: ureq::Error, bytes: u64| match source {
        ureq::Error::StatusCode(status) => DownloadError::Status {
            url: url.to_owned(),
            status,
        },
        ureq::Error::Timeout(ureq::Timeout::PerRead) => stalled(bytes),
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            stalled(bytes)
        }
        other => DownloadError::Fetch {
            url: url.to_owned(),
            source: Box::new(other),
        },
    };
    let mut current = url.to_owned();
    let mut response = agent.get(&current).call().map_err(|e| fetch_err(e, 0))?;
    let mut redirects = 0;
    while response.status().is_redirection() {
        let Some(location) = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return Err(DownloadError::Redirect {
                url: current,
                problem: format!(
                    "HTTP {} without a readable Location header",
                    response.status().as_u16()
                ),
            });
        };
        let next = resolve(&current, location.trim());
        match scheme(&next).as_deref() {
            Some("http" | "https") => {}
            other => {
                return Err(DownloadError::RedirectRefused {
                    url: current,
                    location,
                    scheme: other.unwrap_or("").to_owned(),
                });
            }
        }
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(DownloadError::Redirect {
                url: current,
                problem: format!("more than {MAX_REDIRECTS} redirects"),
            });
        }
        current = next;
        response = agent.get(&current).call().map_err(|e| fetch_err(e, 0))?;
    }
    let too_large = |announced: Option<u64>| DownloadError::TooLarge {
        url: url.to_owned(),
        limit: limit.bytes,
        why: match announced {
            Some(n) => format!("{}; the server announced {n}", limit.why),
            None => limit.why.to_owned(),
        },
    };
    let total = response.body().content_length();
    if let Some(n) = total.filter(|&n| n > limit.bytes) {
        return Err(too_large(Some(n)));
    }
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
            Err(e) => return Err(fetch_err(ureq::Error::from(e), bytes)),
        };
        bytes += n as u64;
        if bytes > limit.bytes {
            // `part`'s guard (in `download`) removes what arrived.
            return Err(too_large(None));
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_err(part))?;
        progress(bytes, total);
    }
    file.sync_all().map_err(io_err(part))?;
    Ok((bytes, hex(&hasher.finalize())))
}

/// Unpacks the `files` of the zip at `zip_path` into `dest`, flat. Each is taken from
/// its exact place, `name/<file>` (every GroupLens zip has the top folder `name/`) or
/// `<file>`; every other entry (an extra file, an absolute path, `..`) is skipped, and a
/// file that inflates beyond [`MAX_UNPACKED_FILE`] is refused.
fn unpack(
    zip_path: &Path,
    dest: &Path,
    name: &str,
    files: &[&str],
    url: &str,
) -> Result<(), DownloadError> {
    let zip_err = |source| DownloadError::Zip {
        url: url.to_owned(),
        source,
    };
    let file = File::open(zip_path).map_err(io_err(zip_path))?;
    let mut zip = zip::ZipArchive::new(file).map_err(zip_err)?;
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    let mut seen = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(zip_err)?;
        if entry.is_dir() {
            continue;
        }
        // A name that is not UTF-8 cannot be one of `files`.
        let Ok(raw) = entry.name().map(|n| n.into_owned()) else {
            continue;
        };
        let inner = raw
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(&raw);
        let Some(&wanted) = files.iter().find(|f| **f == inner) else {
            continue;
        };
        if seen.contains(&wanted) {
            return Err(DownloadError::DuplicateInArchive {
                url: url.to_owned(),
                file: raw,
            });
        }
        seen.push(wanted);
        let out = dest.join(wanted);
        let mut target = File::create(&out).map_err(io_err(&out))?;
        let copied = io::copy(&mut (&mut entry).take(MAX_UNPACKED_FILE + 1), &mut target)
            .map_err(io_err(&out))?;
        if copied > MAX_UNPACKED_FILE {
            return Err(DownloadError::EntryTooLarge {
                url: url.to_owned(),
                file: raw,
                limit: MAX_UNPACKED_FILE,
            });
        }
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
            &Options::new(DEFAULT_BASE_URL),
            &mut |_, _| {},
        )
        .expect_err("not downloadable");
        assert!(err.to_string().contains(amazon::DOWNLOAD_PAGE), "{err}");
    }

    #[test]
    fn redirect_locations_resolve_and_keep_their_scheme() {
        let base = "http://127.0.0.1:8/datasets/ml-100k.zip";
        assert_eq!(resolve(base, "file:///etc/passwd"), "file:///etc/passwd");
        assert_eq!(scheme("file:///etc/passwd").as_deref(), Some("file"));
        assert_eq!(scheme("HTTPS://x/y").as_deref(), Some("https"));
        assert_eq!(scheme("/a:b"), None);
        assert_eq!(resolve(base, "/m/x.zip"), "http://127.0.0.1:8/m/x.zip");
        assert_eq!(resolve(base, "x.zip"), "http://127.0.0.1:8/datasets/x.zip");
        assert_eq!(resolve(base, "//h/x.zip"), "http://h/x.zip");
    }

    #[test]
    fn sha256_options_must_be_64_hex_digits() {
        assert!(is_sha256_hex(
            &"aB3".repeat(21).chars().chain(['0']).collect::<String>()
        ));
        assert!(!is_sha256_hex("abc"));
        assert!(!is_sha256_hex(&"z".repeat(64)));
        let err = download(
            DatasetName::Ml100k,
            Path::new("/nonexistent"),
            &Options {
                sha256: Some("abc".into()),
                ..Options::new(DEFAULT_BASE_URL)
            },
            &mut |_, _| {},
        )
        .expect_err("not a SHA-256");
        assert_eq!(
            err.to_string(),
            "--sha256: expected 64 hex digits (a SHA-256), found `abc`"
        );
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
