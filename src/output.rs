//! Writing output files (charts, reports, checkpoints, exports): never through a link.
//!
//! Every file exp writes as a result is first written to a temporary file in the same
//! directory and then renamed over its destination, so a reader never sees half a file
//! and an interrupted write leaves the old one whole. A destination that is a symbolic
//! link, or anything but a regular file, is refused with an error naming it: writing
//! through a link planted in a results directory would overwrite whatever it points to.
//!
//! The second half checks output directories before a sweep trains anything, so a
//! directory that cannot be created (a dangling link, a file in its place, a name too
//! long for the file system) is reported up front, not by every run.

use std::cell::Cell;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest file-name component, in bytes, that the common file systems (ext4, xfs,
/// btrfs, APFS, NTFS through its UTF-16 limit for ASCII) accept.
pub const NAME_MAX: usize = 255;

/// Why an output file or directory cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The destination is a symbolic link; writing would go to whatever it points to.
    #[error(
        "`{path}` is a symbolic link: exp does not write output through a link \
         (remove it, or write elsewhere)"
    )]
    Link {
        /// The link.
        path: PathBuf,
    },
    /// The destination exists and is a directory, device, socket or pipe.
    #[error("`{path}` exists and is a {kind}, not a regular file: exp will not replace it")]
    NotAFile {
        /// The destination.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// An output directory is a link to nothing.
    #[error(
        "`{path}` is a symbolic link to `{target}`, which does not exist: \
         remove the link or create its target"
    )]
    DanglingLink {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// An output directory (or a folder above it) exists and is not a directory.
    #[error("`{path}` exists and is a {kind}, not a directory")]
    NotADirectory {
        /// The path in the way.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A path component is longer than file systems allow.
    #[error("`{name}` in `{path}` is {len} bytes long; file names can be at most {NAME_MAX}")]
    NameTooLong {
        /// The whole path.
        path: PathBuf,
        /// The component that is too long.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Reading, writing, renaming or creating failed.
    #[error("cannot write `{path}`")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Result of this module.
pub type Result<T, E = OutputError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a file-system entry is, in words.
fn kind_of(file_type: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "named pipe";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "device";
        }
    }
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else if file_type.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// Checks that `path` may be (re)written: it does not exist, or it is a regular file (not
/// a symbolic link to one).
pub fn check_destination(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(OutputError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Ok(meta) if meta.file_type().is_symlink() => Err(OutputError::Link {
            path: path.to_path_buf(),
        }),
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) => Err(OutputError::NotAFile {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        }),
    }
}

/// A file being written: a fresh temporary file beside the destination, renamed over it
/// by [`Staged::commit`]; dropped without a commit, the temporary file is removed.
///
/// For writers that take a path (plotters, safetensors): write to [`Staged::path`].
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    dest: PathBuf,
    committed: Cell<bool>,
}

impl Staged {
    /// Checks `dest` (see [`check_destination`]) and creates an empty temporary file in
    /// its directory, named `.<stem>~<pid>-<n>.<ext>` so that writers which pick a format
    /// by extension still see the destination's.
    pub fn new(dest: &Path) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        check_destination(dest)?;
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let stem = dest
            .file_stem()
            .map_or_else(|| "output".into(), |s| s.to_string_lossy());
        let ext = dest
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let temp = dir.join(format!(".{stem}~{}-{n}{ext}", std::process::id()));
            // `create_new` never follows or reuses an existing entry, link or not.
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(_) => {
                    return Ok(Self {
                        temp,
                        dest: dest.to_path_buf(),
                        committed: Cell::new(false),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(OutputError::Io {
                        path: dest.to_path_buf(),
                        source,
                    });
                }
            }
        }
    }

    /// The temporary file to write.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The destination it will replace.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Renames the temporary file over the destination, checking the destination again
    /// (a rename replaces a link rather than following it, but a link there is still a
    /// sign of trouble worth stopping for).
    ///
    /// It takes `&self` so that a drawing backend still borrowing [`Staged::path`] may
    /// stay in scope: declared after the `Staged`, it is dropped before it.
    pub fn commit(&self) -> Result<()> {
        check_destination(&self.dest)?;
        fs::rename(&self.temp, &self.dest).map_err(io_err(&self.dest))?;
        self.committed.set(true);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed.get() {
            // Best effort: a leftover hidden temporary file is harmless.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    let staged = Staged::new(path)?;
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(staged.path())
        .map_err(io_err(path))?;
    file.write_all(bytes.as_ref()).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    drop(file);
    staged.commit()
}

/// Checks every component of `path` against [`NAME_MAX`].
fn check_name_lengths(path: &Path) -> Result<()> {
    for part in path.components() {
        let name = part.as_os_str();
        if name.len() > NAME_MAX {
            return Err(OutputError::NameTooLong {
                path: path.to_path_buf(),
                name: name.to_string_lossy().into_owned(),
                len: name.len(),
            });
        }
    }
    Ok(())
}

/// Checks, without creating anything, that the directory `dir` exists or could be
/// created: no name too long, no dangling link or file where a directory must be (at
/// `dir` or above it).
pub fn check_dir(dir: &Path) -> Result<()> {
    check_name_lengths(dir)?;
    let mut at = Some(dir);
    while let Some(path) = at.filter(|p| !p.as_os_str().is_empty()) {
        match fs::symlink_metadata(path) {
            Ok(link) => {
                return match fs::metadata(path) {
                    Ok(meta) if meta.is_dir() => Ok(()),
                    Ok(meta) => Err(OutputError::NotADirectory {
                        path: path.to_path_buf(),
                        kind: kind_of(meta.file_type()),
                    }),
                    Err(e) if e.kind() == io::ErrorKind::NotFound && link.is_symlink() => {
                        Err(OutputError::DanglingLink {
                            path: path.to_path_buf(),
                            target: fs::read_link(path).unwrap_or_default(),
                        })
                    }
                    Err(source) => Err(OutputError::Io {
                        path: path.to_path_buf(),
                        source,
                    }),
                };
            }
            // Missing, or below a file: the folder above says which.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                at = path.parent()
            }
            Err(source) => {
                return Err(OutputError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    // A relative path whose every component is still to be made: the working
    // directory exists.
    Ok(())
}

/// Creates the directory `dir` if needed and proves it writable by creating and removing
/// a probe file in it, so a sweep finds out before training, not at its first chart.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    check_dir(dir)?;
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let staged = Staged::new(&dir.join("probe"))?;
    drop(staged);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_destination_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious.txt");
        fs::write(&target, "keep me").unwrap();
        let link = dir.path().join("out.png");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write(&link, "overwritten").unwrap_err();
        assert!(matches!(err, OutputError::Link { .. }), "{err}");
        assert!(err.to_string().contains("out.png"), "{err}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
        // A dangling link is refused too (it would create its target).
        let dangling = dir.path().join("dangling.md");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            write(&dangling, "x"),
            Err(OutputError::Link { .. })
        ));
        assert!(!dir.path().join("nowhere").exists());
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 3);
    }

    #[test]
    fn a_regular_file_is_replaced_and_a_directory_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.md");
        write(&file, "one").unwrap();
        write(&file, "two").unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "two");
        let sub = dir.path().join("chart.png");
        fs::create_dir(&sub).unwrap();
        let err = write(&sub, "x").unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_staged_file_keeps_the_extension_and_vanishes_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("rmse.png");
        let staged = Staged::new(&dest).unwrap();
        assert_eq!(staged.path().extension().unwrap(), "png");
        assert_eq!(staged.path().parent(), dest.parent());
        let temp = staged.path().to_path_buf();
        drop(staged);
        assert!(!temp.exists() && !dest.exists());
    }

    #[cfg(unix)]
    #[test]
    fn output_directories_are_checked_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("results/sweep");
        check_dir(&fresh).unwrap();
        assert!(!fresh.exists(), "check_dir creates nothing");
        prepare_dir(&fresh).unwrap();
        assert_eq!(
            fs::read_dir(&fresh).unwrap().count(),
            0,
            "the probe is gone"
        );

        let dangling = dir.path().join("results/gone");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        for result in [check_dir(&dangling), prepare_dir(&dangling)] {
            let err = result.unwrap_err();
            assert!(matches!(err, OutputError::DanglingLink { .. }), "{err}");
            assert!(err.to_string().contains("results/gone"), "{err}");
        }
        let file = dir.path().join("results/file");
        fs::write(&file, "").unwrap();
        let err = check_dir(&file.join("below")).unwrap_err();
        assert!(
            err.to_string().contains("regular file, not a directory"),
            "{err}"
        );

        let long = dir.path().join("x".repeat(300));
        let err = prepare_dir(&long).unwrap_err();
        assert!(
            matches!(err, OutputError::NameTooLong { len: 300, .. }),
            "{err}"
        );
    }
}
