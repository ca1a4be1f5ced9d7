//! Where a store lives, as the user writes it in `--db` (or `EXP_DB`): an SQLite file
//! path, or a `postgres://` URL.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A store's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (the default, `results/exp.sqlite`): for one host.
    File(PathBuf),
    /// A PostgreSQL database: for workers on several hosts.
    Postgres(PostgresUrl),
}

impl Location {
    /// The SQLite file, `None` for a PostgreSQL store.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// Whether this is an SQLite file that does not exist (yet): what the commands that
    /// only read refuse before opening anything.
    pub fn is_missing_file(&self) -> bool {
        self.file().is_some_and(|path| !path.is_file())
    }

    /// Where an experiment's charts and checkpoints go: beside an SQLite file
    /// ([`super::results_dir`]), under `results/` for a PostgreSQL store.
    pub fn results_dir(&self, experiment: &str) -> PathBuf {
        match self {
            Location::File(path) => results_dir(true, path, experiment),
            Location::Postgres(_) => results_dir(false, Path::new(""), experiment),
        }
    }
}

impl fmt::Display for Location {
    /// The file path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&url.redacted()),
        }
    }
}

/// Why a `--db` value is not a store location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// A URL of a kind exp cannot store in.
    #[error(
        "`{scheme}://` is not a database exp can use: give an SQLite file path \
         (e.g. results/exp.sqlite) or a postgres://user@host:port/database URL"
    )]
    Scheme {
        /// The scheme written.
        scheme: String,
    },
    /// A `postgres://` URL the client cannot read.
    #[error("`{url}` is not a PostgreSQL URL the client can read: {reason}")]
    BadUrl {
        /// The URL, without its password.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An empty value.
    #[error("the database is empty: give an SQLite file path or a postgres:// URL")]
    Empty,
}

impl FromStr for Location {
    type Err = LocationError;

    fn from_str(text: &str) -> Result<Location, LocationError> {
        if text.is_empty() {
            return Err(LocationError::Empty);
        }
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Location::File(PathBuf::from(text)));
        };
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
        {
            // `a://b` with odd characters before `://` is a file name, oddly spelt.
            return Ok(Location::File(PathBuf::from(text)));
        }
        match scheme {
            "postgres" | "postgresql" => {
                let url = PostgresUrl(text.to_owned());
                postgres::Config::from_str(text).map_err(|e| LocationError::BadUrl {
                    url: url.redacted(),
                    reason: e.to_string(),
                })?;
                Ok(Location::Postgres(url))
            }
            "file" | "sqlite" => Ok(Location::File(PathBuf::from(&text[scheme.len() + 3..]))),
            other => Err(LocationError::Scheme {
                scheme: other.to_owned(),
            }),
        }
    }
}

/// A `postgres://` (or `postgresql://`) URL, as libpq reads it: user, password, host,
/// port, database and `?key=value` options.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL as written (with its password: pass it only to the client).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL without its password, for messages and the store's name in errors.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                format!("{scheme}://{user}@{host}{tail}")
            }
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for PostgresUrl {
    /// Never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({})", self.redacted())
    }
}

/// The one rule for where an experiment's charts and checkpoints go: beside an SQLite
/// `file` (`<its directory>/<experiment>/`), or, for a server store, which is no file,
/// `results/<experiment>/` in the working directory.
pub(crate) fn results_dir(is_file: bool, file: &Path, experiment: &str) -> PathBuf {
    let base = if is_file {
        file.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    } else {
        Path::new("results")
    };
    base.join(experiment)
}

/// Parses a `postgres://` URL; any other location is an error.
impl FromStr for PostgresUrl {
    type Err = LocationError;

    fn from_str(text: &str) -> Result<PostgresUrl, Self::Err> {
        match text.parse::<Location>()? {
            Location::Postgres(url) => Ok(url),
            Location::File(_) => Err(LocationError::Scheme {
                scheme: "file".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_urls_and_mistakes_are_told_apart() {
        assert_eq!(
            "results/exp.sqlite".parse(),
            Ok(Location::File("results/exp.sqlite".into()))
        );
        let Ok(Location::Postgres(url)) = "postgres://exp:secret@db.lab:5433/sweeps".parse() else {
            panic!("a postgres URL");
        };
        assert_eq!(url.redacted(), "postgres://exp@db.lab:5433/sweeps");
        assert!(!format!("{url:?}").contains("secret"));
        assert_eq!(
            "mysql://x@h/db".parse::<Location>(),
            Err(LocationError::Scheme {
                scheme: "mysql".into()
            })
        );
        let bad = "postgres://exp:secret@h:notaport/db"
            .parse::<Location>()
            .unwrap_err();
        assert!(
            bad.to_string().contains("postgres://exp@h:notaport/db"),
            "{bad}"
        );
        assert!(!bad.to_string().contains("secret"), "{bad}");
        assert_eq!("".parse::<Location>(), Err(LocationError::Empty));
    }

    #[test]
    fn results_go_beside_a_file_and_under_results_for_a_server() {
        let file: Location = "runs/exp.sqlite".parse().unwrap();
        assert_eq!(file.results_dir("sweep"), PathBuf::from("runs/sweep"));
        let server: Location = "postgres://u@h/db".parse().unwrap();
        assert_eq!(server.results_dir("sweep"), PathBuf::from("results/sweep"));
    }
}
