//! End-to-end tests of `exp data stats` and `exp data download`: the real binary, the real
//! Amazon samples and MovieLens files from `shared/data`, and a local HTTP server on
//! 127.0.0.1 standing in for GroupLens (no test talks to a remote host).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

mod common;
use common::{exp_with as exp, shared_data, text};

/// Decodes the PNG at `path` and returns its size.
fn decode_png(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file)
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Not a blank canvas: some pixels are neither white nor fully transparent.
    let coloured = buf[..frame.buffer_size()]
        .chunks(3)
        .filter(|px| px.iter().any(|&c| c < 200))
        .count();
    assert!(coloured > 1000, "{} looks empty", path.display());
    (frame.width, frame.height)
}

#[test]
fn data_stats_on_the_amazon_sample_prints_the_table_and_draws_four_charts() {
    let Some(sample) = shared_data::require("amazon/2018/Movies_and_TV.json") else {
        return;
    };
    let sample = sample.parent().expect("the sample's folder").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let out = exp(
        &[
            "data",
            "stats",
            "amazon-movies-tv",
            "--path",
            sample.to_str().unwrap(),
            "--out",
            "charts",
        ],
        dir.path(),
        &[],
    );
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Counts from SOURCES.md: 5000 reviews, 4624 reviewers, 61 items; 3374 five-star.
    for needle in [
        "data set      amazon-movies-tv",
        "users         4624",
        "items         61",
        "ratings       5000",
        "dates         1998-06-03 .. 2018-04-15",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in:\n{stdout}");
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("5 ") && l.ends_with(" 3374   67.48%")),
        "five stars: 3374 of 5000 in:\n{stdout}"
    );
    for file in [
        "rating-histogram.png",
        "top-items.png",
        "top-users.png",
        "long-tail.png",
    ] {
        let (w, h) = decode_png(&dir.path().join("charts").join(file));
        assert!(w >= 800 && h >= 500, "{file}: {w}×{h}");
    }
}

#[test]
fn data_stats_of_an_experiment_file_applies_its_filters_and_skips_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    // The 2018 sample with line 3 truncated and line 5 given a rating of 7.
    let Some(sample) = shared_data::require("amazon/2018/Movies_and_TV.json") else {
        return;
    };
    let original = std::fs::read_to_string(sample).expect("sample");
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    lines[2].truncate(40);
    lines[4] = lines[4].replacen("\"overall\": 5.0", "\"overall\": 7.0", 1);
    assert!(
        lines[4].contains("7.0"),
        "line 5 of the sample is a 5-star review"
    );
    let data = dir.path().join("amazon");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("Movies_and_TV.json"), lines.join("\n")).unwrap();
    let experiment = dir.path().join("exp.toml");
    std::fs::write(
        &experiment,
        "[experiment]\nname = \"a\"\n[data]\ndataset = \"amazon-movies-tv\"\npath = \"amazon\"\n\
         verified_only = true\non_bad_line = \"skip\"\n[split]\nkind = \"holdout\"\n\
         test_fraction = 0.1\n[model]\narchitecture = \"biased-mf\"\nembedding_size = 8\n\
         [training]\nepochs = 1\nbatch_size = 8\nlearning_rate = 0.01\n",
    )
    .unwrap();
    let out = exp(
        &["data", "stats", "exp.toml", "--out", "c"],
        dir.path(),
        &[],
    );
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Movies_and_TV.json: skipped 2 malformed line(s) (lines 3, 5); first: line 3: invalid review JSON: EOF while parsing"),
        "{stderr}"
    );
    assert!(stderr.contains("unverified"), "{stderr}");
    // Strict parsing stops at line 3 with the file and line.
    let strict = std::fs::read_to_string(&experiment)
        .unwrap()
        .replace("on_bad_line = \"skip\"\n", "");
    std::fs::write(&experiment, strict).unwrap();
    let out = exp(
        &["data", "stats", "exp.toml", "--out", "c"],
        dir.path(),
        &[],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Movies_and_TV.json:3: invalid review JSON: EOF while parsing"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Downloads from a local server.

/// A tiny HTTP/1.1 server on 127.0.0.1 serving `files` (path → bytes), 404 otherwise;
/// returns its base URL. The thread lives until the test process ends.
fn serve(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let files = Arc::clone(&files);
            std::thread::spawn(move || respond(stream, &files));
        }
    });
    format!("http://{addr}/datasets")
}

/// Reads a request's line and headers from `stream`; its path.
fn request_path(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request = String::new();
    reader.read_line(&mut request).ok()?;
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    request.split_whitespace().nth(1).map(str::to_owned)
}

/// A server on 127.0.0.1 whose every connection is answered by `answer(path, stream)`;
/// returns its base URL.
fn serve_with(answer: fn(&str, &mut TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if let Some(path) = request_path(&stream) {
                    answer(&path, &mut stream);
                }
            });
        }
    });
    format!("http://{addr}/datasets")
}

fn respond(mut stream: TcpStream, files: &[(String, Vec<u8>)]) {
    let Some(path) = request_path(&stream) else {
        return;
    };
    let path = path.as_str();
    let body = files.iter().find(|(p, _)| p == path).map(|(_, b)| b);
    let _ = match body {
        Some(body) => stream
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/zip\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .and_then(|()| stream.write_all(body)),
        None => stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
    };
}

/// A zip laid out like GroupLens' ml-100k.zip (a top folder `ml-100k/`), holding the real
/// files of `src` (so the content check of u.data passes), as bytes.
fn ml100k_zip(src: &Path) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.add_directory("ml-100k/", options).unwrap();
    for file in ["u.data", "u.item", "u.genre", "u.user", "README"] {
        zip.start_file(format!("ml-100k/{file}"), options).unwrap();
        zip.write_all(&std::fs::read(src.join(file)).unwrap())
            .unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every entry left in `dir` (names only).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn data_download_verifies_unpacks_and_is_then_loaded() {
    let Some(ml100k) = shared_data::require("ml-100k/u.data") else {
        return;
    };
    let ml100k = ml100k.parent().expect("ml-100k").to_owned();
    let archive = ml100k_zip(&ml100k);
    let sha = sha256_hex(&archive);
    let base = serve(vec![("/datasets/ml-100k.zip".into(), archive)]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // Our zip is not GroupLens' byte for byte (compression differs), so the pinned digest
    // refuses it, and nothing is left behind.
    let out = exp(
        &["data", "download", "ml-100k", "--base-url", &base],
        dir.path(),
        &[("EXP_DATA_DIR", &data)],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("checksum mismatch")
            && stderr.contains("50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229")
            && stderr.contains("the partial download was removed"),
        "{stderr}"
    );
    assert_eq!(entries(&data), Vec::<String>::new(), "left behind");

    // With the digest of this copy (a trusted mirror), it is unpacked; u.data is still
    // checked against SOURCES.md's SHA-256.
    let out = exp(
        &[
            "data",
            "download",
            "ml-100k",
            "--base-url",
            &base,
            "--sha256",
            &sha,
        ],
        dir.path(),
        &[("EXP_DATA_DIR", &data)],
    );
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    assert_eq!(entries(&data), ["ml-100k"]);
    assert_eq!(
        entries(&data.join("ml-100k")),
        ["README", "u.data", "u.genre", "u.item", "u.user"]
    );
    assert_eq!(
        std::fs::read(data.join("ml-100k/u.data")).unwrap(),
        std::fs::read(ml100k.join("u.data")).unwrap()
    );
    assert_eq!(
        text(&out.stdout).trim(),
        data.join("ml-100k").display().to_string()
    );

    // A second call finds it there; `exp data stats` loads it through EXP_DATA_DIR.
    let out = exp(
        &["data", "download", "ml-100k", "--base-url", &base],
        dir.path(),
        &[("EXP_DATA_DIR", &data)],
    );
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("already in"),
        "{}",
        text(&out.stderr)
    );
    let out = exp(
        &["data", "stats", "ml-100k", "--out", "c"],
        dir.path(),
        &[("EXP_DATA_DIR", &data)],
    );
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ratings       100000"));
}

#[test]
fn data_download_content_check_refuses_a_modified_ratings_file() {
    // A zip whose u.data lost its last line: its archive digest is given (so it passes the
    // first check) but u.data does not match the published SHA-256.
    let Some(src) = shared_data::require("ml-100k/u.data") else {
        return;
    };
    let udata = std::fs::read_to_string(src).unwrap();
    let cut = udata.trim_end().rsplit_once('\n').unwrap().0.to_owned() + "\n";
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("ml-100k/u.data", options).unwrap();
    zip.write_all(cut.as_bytes()).unwrap();
    let archive = zip.finish().unwrap().into_inner();
    let sha = sha256_hex(&archive);
    let base = serve(vec![("/datasets/ml-100k.zip".into(), archive)]);
    let dir = tempfile::tempdir().unwrap();
    let out = exp(
        &[
            "data",
            "download",
            "ml-100k",
            "--base-url",
            &base,
            "--sha256",
            &sha,
        ],
        dir.path(),
        &[("EXP_DATA_DIR", dir.path())],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`u.data` unpacked from") && stderr.contains("nothing was installed"),
        "{stderr}"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn data_download_reports_offline_missing_and_amazon_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let offline = format!("http://127.0.0.1:{port}/datasets");
    let out = exp(
        &["data", "download", "ml-1m"],
        dir.path(),
        &[
            ("EXP_DATA_DIR", dir.path()),
            ("EXP_DOWNLOAD_BASE_URL", Path::new(&offline)),
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot download `{offline}/ml-1m.zip` (offline")),
        "{stderr}"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());

    let base = serve(Vec::new());
    let out = exp(
        &["data", "download", "ml-latest-small", "--base-url", &base],
        dir.path(),
        &[("EXP_DATA_DIR", dir.path())],
    );
    assert!(
        text(&out.stderr).contains("the server answered HTTP 404"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());

    let out = exp(&["data", "download", "amazon-movies-tv"], dir.path(), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("https://nijianmo.github.io/amazon/index.html"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn data_download_stops_at_the_pinned_size_when_no_length_is_announced() {
    // 64 MiB without Content-Length, for an archive pinned at 4,924,029 bytes: refused as
    // soon as the pinned size is passed, not after reading it all.
    let base = serve_with(|_, stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = exp(
        &["data", "download", "ml-100k", "--base-url", &base],
        dir.path(),
        &[("EXP_DATA_DIR", dir.path())],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sends more than 4924029 bytes (the pinned size of the archive)")
            && stderr.contains("removed the partial download"),
        "{stderr}"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());

    // A Content-Length beyond the limit is refused before the body is read.
    let base = serve_with(|_, stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 300000000\r\nConnection: close\r\n\r\nxx",
        );
    });
    let out = exp(
        &["data", "download", "ml-latest-small", "--base-url", &base],
        dir.path(),
        &[("EXP_DATA_DIR", dir.path())],
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sends more than 978202 bytes")
            && stderr.contains("the server announced 300000000"),
        "{stderr}"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

/// Answers with the headers of a 4,924,029-byte archive and 2 bytes, then goes silent for
/// a minute.
fn stall(_: &str, stream: &mut TcpStream) {
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4924029\r\nConnection: close\r\n\r\nPK");
    let _ = stream.flush();
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn data_download_gives_up_on_a_server_that_stalls() {
    let base = serve_with(stall);
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = exp(
        &["data", "download", "ml-100k", "--base-url", &base],
        dir.path(),
        &[
            ("EXP_DATA_DIR", dir.path()),
            ("EXP_DOWNLOAD_STALL_SECS", Path::new("1")),
        ],
    );
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sent nothing for 1 s (after 2 bytes)")
            && stderr.contains("EXP_DOWNLOAD_STALL_SECS"),
        "{stderr}"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());

    let out = exp(
        &["data", "download", "ml-100k", "--base-url", &base],
        dir.path(),
        &[
            ("EXP_DATA_DIR", dir.path()),
            ("EXP_DOWNLOAD_STALL_SECS", Path::new("soon")),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "EXP_DOWNLOAD_STALL_SECS: expected a whole number of seconds > 0, found `soon`"
        ),
        "{stderr}"
    );
}

#[test]
fn data_download_leaves_no_part_file_after_sigterm_and_removes_stale_ones() {
    let base = serve_with(stall);
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_exp"))
        .args(["data", "download", "ml-100k", "--base-url", &base])
        .current_dir(dir.path())
        .env("EXP_DATA_DIR", dir.path())
        .env_remove("EXP_DOWNLOAD_BASE_URL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("exp runs");
    // Wait for the partial file to appear, then ask exp to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !entries(dir.path()).iter().any(|e| e.ends_with(".part")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no .part file appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: signals the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().expect("exp ends");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("interrupted: the partial download was removed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());

    // What a SIGKILL leaves (a process that no longer runs, or an older exp without a
    // pid in the name) is removed by the next download; a user's own file stays.
    let dead = "ml-1m.zip.4194999999.part";
    for name in [dead, "ml-100k.zip.part", "mine.part"] {
        std::fs::write(dir.path().join(name), b"PK").unwrap();
    }
    std::fs::create_dir(dir.path().join(".ml-100k.4194999999.unpacking")).unwrap();
    let base = serve(Vec::new());
    let out = exp(
        &["data", "download", "ml-100k", "--base-url", &base],
        dir.path(),
        &[("EXP_DATA_DIR", dir.path())],
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the server answered HTTP 404"), "{stderr}");
    assert!(
        stderr.contains(&format!("removed {}", dir.path().join(dead).display())),
        "{stderr}"
    );
    assert_eq!(entries(dir.path()), ["mine.part"]);
}

#[test]
fn data_download_unpacks_only_the_files_the_data_set_needs() {
    let Some(ml100k) = shared_data::require("ml-100k/u.data") else {
        return;
    };
    let ml100k = ml100k.parent().expect("ml-100k").to_owned();
    // The real files, plus an extra file in the folder, an absolute path, a path with
    // `..`, and a second top folder.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for file in ["u.data", "u.item", "u.genre", "u.user", "README"] {
        zip.start_file(format!("ml-100k/{file}"), options).unwrap();
        zip.write_all(&std::fs::read(ml100k.join(file)).unwrap())
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let absolute = dir.path().join("absolute.txt").display().to_string();
    for extra in [
        "ml-100k/bomb.bin",
        absolute.as_str(),
        "/ml-100k/u.user",
        "ml-100k/../escape.txt",
        "other/u.user",
    ] {
        zip.start_file(extra, options).unwrap();
        zip.write_all(b"not for exp").unwrap();
    }
    let archive = zip.finish().unwrap().into_inner();
    let sha = sha256_hex(&archive);
    let base = serve(vec![("/datasets/ml-100k.zip".into(), archive)]);
    let data = dir.path().join("data");
    let out = exp(
        &[
            "data",
            "download",
            "ml-100k",
            "--base-url",
            &base,
            "--sha256",
            &sha,
        ],
        dir.path(),
        &[("EXP_DATA_DIR", &data)],
    );
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    assert_eq!(entries(&data), ["ml-100k"]);
    assert_eq!(
        entries(&data.join("ml-100k")),
        ["README", "u.data", "u.genre", "u.item", "u.user"]
    );
    assert_eq!(entries(dir.path()), ["data"]);
}

#[test]
fn data_download_refuses_a_sha256_that_is_not_64_hex_digits() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["abc", &"g".repeat(64), &"a".repeat(65)] {
        let out = exp(
            &["data", "download", "ml-100k", "--sha256", bad],
            dir.path(),
            &[("EXP_DATA_DIR", dir.path())],
        );
        assert!(!out.status.success());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "--sha256: expected 64 hex digits (a SHA-256), found `{bad}`"
            )),
            "{stderr}"
        );
    }
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn data_download_names_the_scheme_of_a_refused_redirect() {
    let base = serve_with(|_, stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let out = exp(
        &["data", "download", "ml-100k", "--base-url", &base],
        dir.path(),
        &[("EXP_DATA_DIR", dir.path())],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("redirects to `file:///etc/passwd`: refused, a redirect to a `file:` URL")
            && !stderr.contains("too many redirects"),
        "{stderr}"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

/// A link planted where the download lands (the partial archive, the unpacked folder)
/// is never written through: the file it points to is left as it was.
#[cfg(unix)]
#[test]
fn data_download_never_writes_through_a_link() {
    let Some(ml100k) = shared_data::require("ml-100k/u.data") else {
        return;
    };
    let archive = ml100k_zip(ml100k.parent().expect("ml-100k"));
    let sha = sha256_hex(&archive);
    let base = serve(vec![("/datasets/ml-100k.zip".into(), archive)]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let outside = dir.path().join("precious.txt");
    std::fs::write(&outside, "keep me").unwrap();
    let download = |data: &Path| {
        exp(
            &[
                "data",
                "download",
                "ml-100k",
                "--base-url",
                &base,
                "--sha256",
                &sha,
            ],
            dir.path(),
            &[("EXP_DATA_DIR", data)],
        )
    };

    std::os::unix::fs::symlink(&outside, data.join("ml-100k.zip.part")).unwrap();
    let out = download(&data);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
    if !out.status.success() {
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("ml-100k.zip.part") && stderr.contains("symbolic link"),
            "{stderr}"
        );
    }

    let data = dir.path().join("data2");
    std::fs::create_dir_all(&data).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, data.join("ml-100k")).unwrap();
    let out = download(&data);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ml-100k") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert!(
        std::fs::symlink_metadata(data.join("ml-100k"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(entries(&elsewhere), Vec::<String>::new());
}
