//! `exp data download` against a local server that misbehaves: wrong bytes, too many
//! bytes, no bytes, redirects where it should not, archives with files that do not belong.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Case;

/// What the server answers to every request.
#[derive(Clone)]
enum Reply {
    /// 200 with a Content-Length.
    Body(Vec<u8>),
    /// 200 with no Content-Length: `len` bytes of zeros, then close.
    Endless(usize),
    /// 200 announcing `announced` bytes, sending `body` and stalling for a minute.
    Stall { announced: usize, body: Vec<u8> },
    /// 200 announcing more bytes than it sends, then closing.
    Short { announced: usize, body: Vec<u8> },
    /// A status line and no body.
    Status(&'static str),
    /// 302 to this location.
    Redirect(String),
}

/// Serves `reply` on 127.0.0.1 for the life of the test process; returns the base URL.
fn serve(reply: Reply) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let reply = Arc::clone(&reply);
            std::thread::spawn(move || respond(stream, &reply, addr.port()));
        }
    });
    format!("http://{addr}/datasets")
}

fn respond(mut stream: TcpStream, reply: &Reply, port: u16) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let head = |len: Option<usize>| match len {
        Some(len) => {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
        }
        None => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string(),
    };
    let _ = match reply {
        Reply::Body(body) => stream
            .write_all(head(Some(body.len())).as_bytes())
            .and_then(|()| stream.write_all(body)),
        Reply::Endless(len) => stream.write_all(head(None).as_bytes()).and_then(|()| {
            let chunk = vec![0u8; 1 << 16];
            let mut sent = 0;
            while sent < *len {
                stream.write_all(&chunk)?;
                sent += chunk.len();
            }
            Ok(())
        }),
        Reply::Stall { announced, body } => stream
            .write_all(head(Some(*announced)).as_bytes())
            .and_then(|()| stream.write_all(body))
            .map(|()| std::thread::sleep(Duration::from_secs(90))),
        Reply::Short { announced, body } => stream
            .write_all(head(Some(*announced)).as_bytes())
            .and_then(|()| stream.write_all(body)),
        Reply::Status(status) => stream.write_all(
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        ),
        Reply::Redirect(to) => {
            let to = to.replace("PORT", &port.to_string());
            stream.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
        }
    };
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A zip of `(name, bytes)` entries.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in entries {
        zip.start_file(*name, options).expect("entry");
        zip.write_all(bytes).expect("bytes");
    }
    zip.finish().expect("zip").into_inner()
}

/// `exp data download ml-latest-small` from a server giving `reply`, into `data/`, with
/// `extra` arguments; the server starts when the case runs (in its setup).
fn download(name: &str, reply: Reply, extra: &[&str], needles: &[&str]) -> Case {
    let url = serve(reply);
    let mut args = vec![
        "data",
        "download",
        "ml-latest-small",
        "--base-url",
        url.as_str(),
    ];
    args.extend_from_slice(extra);
    Case::error(&format!("download/{name}"), &args, needles)
        .env("EXP_DATA_DIR", "data")
        .check(nothing_left)
}

/// After a failed download nothing may be left in `data/` (docs/data.md promises it).
fn nothing_left(dir: &Path) -> Result<(), String> {
    let left: Vec<String> = std::fs::read_dir(dir.join("data"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("left behind in data/: {left:?}"))
    }
}

pub fn cases() -> Vec<Case> {
    let ratings = b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n".as_slice();
    let movies = b"movieId,title,genres\n1,Toy Story (1995),Animation\n".as_slice();
    let traversal = zip(&[
        ("ml-latest-small/ratings.csv", ratings),
        ("ml-latest-small/movies.csv", movies),
        ("/tmp/exp-planted-by-a-zip", b"x"),
    ]);
    let climbing = zip(&[
        ("ml-latest-small/ratings.csv", ratings),
        ("../../climbed-out", b"x"),
    ]);
    let not_zip = b"<html>maintenance</html>".to_vec();
    let not_zip_sha = sha256_hex(&not_zip);
    let traversal_sha = sha256_hex(&traversal);
    let climbing_sha = sha256_hex(&climbing);
    let truncated = traversal[..traversal.len() / 2].to_vec();
    let truncated_sha = sha256_hex(&truncated);
    vec![
        download("not-found", Reply::Status("404 Not Found"), &[], &["404"]),
        download(
            "server-error",
            Reply::Status("500 Internal Server Error"),
            &[],
            &["500"],
        ),
        download(
            "wrong-bytes",
            Reply::Body(b"PK\x03\x04 not the archive".to_vec()),
            &[],
            &["SHA-256"],
        ),
        download("empty-body", Reply::Body(Vec::new()), &[], &["SHA-256"]),
        download(
            "short-body",
            Reply::Short {
                announced: 978_202,
                body: vec![1; 1000],
            },
            &[],
            &["ml-latest-small"],
        ),
        download("endless-body", Reply::Endless(64 << 20), &[], &["978202"]),
        download(
            "stall",
            Reply::Stall {
                announced: 978_202,
                body: b"PK".to_vec(),
            },
            &[],
            &["sent nothing for 1 s"],
        )
        .env("EXP_DOWNLOAD_STALL_SECS", "1"),
        download(
            "redirect-to-file",
            Reply::Redirect("file:///etc/passwd".into()),
            &[],
            &["file"],
        ),
        download(
            "redirect-loop",
            Reply::Redirect("http://127.0.0.1:PORT/datasets/ml-latest-small.zip".into()),
            &[],
            &["redirect"],
        ),
        download(
            "not-a-zip",
            Reply::Body(not_zip),
            &["--sha256", &not_zip_sha],
            &["zip"],
        ),
        download(
            "truncated-zip",
            Reply::Body(truncated),
            &["--sha256", &truncated_sha],
            &["zip"],
        ),
        download(
            "absolute-path-entry",
            Reply::Body(traversal),
            &["--sha256", &traversal_sha],
            &["ratings.csv", "published checksum"],
        )
        .check(|dir| {
            if Path::new("/tmp/exp-planted-by-a-zip").exists() {
                let _ = std::fs::remove_file("/tmp/exp-planted-by-a-zip");
                return Err("the absolute entry was written".into());
            }
            nothing_left(dir)
        }),
        download(
            "climbing-entry",
            Reply::Body(climbing),
            &["--sha256", &climbing_sha],
            &["ratings.csv", "published checksum"],
        )
        .check(|dir| match dir.parent().map(|p| p.join("climbed-out")) {
            Some(p) if p.exists() => Err("the climbing entry was written".into()),
            _ => nothing_left(dir),
        }),
        download(
            "sha256-short",
            Reply::Status("404 Not Found"),
            &["--sha256", "abc123"],
            &["--sha256"],
        ),
        download(
            "sha256-not-hex",
            Reply::Status("404 Not Found"),
            &["--sha256", &"z".repeat(64)],
            &["--sha256"],
        ),
        Case::error(
            "download/unknown-data-set",
            &["data", "download", "ml-10m"],
            &["ml-10m"],
        ),
        Case::error(
            "download/base-url-not-a-url",
            &["data", "download", "ml-100k", "--base-url", "not a url"],
            &["not a url"],
        )
        .env("EXP_DATA_DIR", "data"),
        Case::error(
            "download/base-url-ftp",
            &[
                "data",
                "download",
                "ml-100k",
                "--base-url",
                "ftp://127.0.0.1/x",
            ],
            &["ftp"],
        )
        .env("EXP_DATA_DIR", "data"),
        Case::error(
            "download/nobody-listening",
            &[
                "data",
                "download",
                "ml-100k",
                "--base-url",
                "http://127.0.0.1:9/x",
            ],
            &["127.0.0.1:9"],
        )
        .env("EXP_DATA_DIR", "data"),
    ]
}
