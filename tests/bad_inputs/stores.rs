//! Databases, checkpoints and output folders that are damaged, of the wrong kind or in
//! the way.

use std::path::Path;

use crate::Case;
use crate::command_lines::trained;
use crate::experiment_files::BASE;

/// Overwrites up to `len` bytes of `path` from `at` (a fraction of its length) with 0xA5.
fn scribble(path: &Path, at: f64, len: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    let start = (bytes.len() as f64 * at) as usize;
    let end = start.saturating_add(len).min(bytes.len());
    for b in &mut bytes[start..end] {
        *b = 0xA5;
    }
    std::fs::write(path, bytes).expect("write");
}

/// The one checkpoint under `dir/bad/checkpoints/`.
fn checkpoint(dir: &Path) -> std::path::PathBuf {
    let folder = dir.join("bad/checkpoints");
    std::fs::read_dir(&folder)
        .expect("checkpoints folder")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .expect("a checkpoint")
}

/// Runs SQL on the database `dir/db.sqlite`.
fn sql(dir: &Path, statements: &str) {
    let conn = rusqlite::Connection::open(dir.join("db.sqlite")).expect("open");
    conn.execute_batch(statements).expect("sql");
}

fn store(name: &str, args: &[&str], needles: &[&str]) -> Case {
    Case::error(&format!("store/{name}"), args, needles)
}

pub fn cases() -> Vec<Case> {
    let status = ["status", "--db", "db.sqlite"];
    let compare = ["compare", "-e", "bad", "--db", "db.sqlite"];
    let recommend = [
        "recommend",
        "--run",
        "1",
        "--user",
        "1",
        "--db",
        "db.sqlite",
    ];
    let run = ["run", "good.toml", "--db", "db.sqlite"];
    vec![
        store("text-file-as-database", &status, &["db.sqlite"])
            .file("db.sqlite", "these are not the pages you are looking for\n"),
        store("text-file-as-database-run", &run, &["db.sqlite"])
            .file("db.sqlite", "not a database\n")
            .file("good.toml", BASE),
        store("random-bytes-as-database", &compare, &["db.sqlite"])
            .file("db.sqlite", vec![0x5a; 8192]),
        store("truncated-database", &status, &["db.sqlite"]).setup(|dir| {
            trained(dir, "");
            let path = dir.join("db.sqlite");
            let bytes = std::fs::read(&path).expect("read");
            std::fs::write(&path, &bytes[..bytes.len() / 3]).expect("truncate");
        }),
        store("scribbled-database", &compare, &["db.sqlite"]).setup(|dir| {
            trained(dir, "");
            scribble(&dir.join("db.sqlite"), 0.3, usize::MAX / 2);
        }),
        store("scribbled-header", &status, &["db.sqlite"]).setup(|dir| {
            trained(dir, "");
            scribble(&dir.join("db.sqlite"), 0.0, 100);
        }),
        // Bytes overwritten inside a row: SQLite's structure is intact, the text is not.
        store(
            "row-text-not-utf8",
            &compare,
            &["db.sqlite", "is damaged", "integrity_check"],
        )
        .setup(|dir| {
            trained(dir, "");
            sql(
                dir,
                "UPDATE runs SET params_json = CAST(x'7bff22' AS TEXT);",
            );
        }),
        store("newer-schema", &run, &["db.sqlite", "newer"])
            .file("good.toml", BASE)
            .setup(|dir| {
                trained(dir, "");
                sql(dir, "PRAGMA user_version = 999;");
            }),
        store("runs-table-dropped", &compare, &["db.sqlite"]).setup(|dir| {
            trained(dir, "");
            sql(
                dir,
                "DROP TABLE run_metrics; DROP TABLE epochs; DROP TABLE runs;",
            );
        }),
        // A hand-edited configuration is shown as written rather than lost.
        Case::accepted("store/params-not-json", &compare, &["{not json"]).setup(|dir| {
            trained(dir, "");
            sql(dir, "UPDATE runs SET params_json = '{not json';");
        }),
        store("config-not-json", &recommend, &["run 1"]).setup(|dir| {
            trained(dir, "");
            sql(dir, "UPDATE runs SET config_json = 'nope';");
        }),
        store("rmse-null-on-finished", &compare, &["rmse"]).setup(|dir| {
            trained(dir, "");
            sql(dir, "UPDATE runs SET rmse = NULL;");
        }),
        store("database-folder-missing", &status, &["db.sqlite"]).setup(|dir| {
            std::fs::create_dir(dir.join("db.sqlite")).expect("folder");
        }),
        // Checkpoints.
        store("checkpoint-scribbled", &recommend, &[".safetensors"]).setup(|dir| {
            trained(dir, "checkpoint = \"best\"");
            scribble(&checkpoint(dir), 0.7, 64);
        }),
        store("checkpoint-truncated", &recommend, &[".safetensors"]).setup(|dir| {
            trained(dir, "checkpoint = \"best\"");
            let path = checkpoint(dir);
            let bytes = std::fs::read(&path).expect("read");
            std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
        }),
        store("checkpoint-header-huge", &recommend, &[".safetensors"]).setup(|dir| {
            trained(dir, "checkpoint = \"best\"");
            let path = checkpoint(dir);
            let mut bytes = std::fs::read(&path).expect("read");
            bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            std::fs::write(&path, bytes).expect("write");
        }),
        store("checkpoint-empty", &recommend, &[".safetensors"]).setup(|dir| {
            trained(dir, "checkpoint = \"best\"");
            std::fs::write(checkpoint(dir), b"").expect("empty");
        }),
        store("checkpoint-is-a-folder", &recommend, &[".safetensors"]).setup(|dir| {
            trained(dir, "checkpoint = \"best\"");
            let path = checkpoint(dir);
            std::fs::remove_file(&path).expect("rm");
            std::fs::create_dir(&path).expect("folder");
        }),
        store("checkpoint-of-another-run", &recommend, &[".safetensors"]).setup(|dir| {
            trained(dir, "checkpoint = \"best\"");
            let path = checkpoint(dir);
            // Same format, other shapes: a checkpoint of a 16-factor model.
            let text = BASE
                .replace("embedding_size = 8", "embedding_size = 16")
                .replace("name = \"bad\"", "name = \"other\"")
                .replace(
                    "learning_rate = 0.01\n",
                    "learning_rate = 0.01\ncheckpoint = \"best\"\n",
                );
            std::fs::write(dir.join("other.toml"), text).expect("other.toml");
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_exp"))
                .args(["run", "other.toml", "--db", "other.sqlite"])
                .current_dir(dir)
                .output()
                .expect("exp runs");
            assert!(out.status.success());
            let other = std::fs::read_dir(dir.join("other/checkpoints"))
                .expect("other checkpoints")
                .flatten()
                .next()
                .expect("one")
                .path();
            std::fs::copy(other, path).expect("copy");
        }),
        Case::accepted("store/checkpoint-deleted", &recommend, &["trained again"]).setup(|dir| {
            trained(dir, "checkpoint = \"best\"");
            std::fs::remove_file(checkpoint(dir)).expect("rm");
        }),
        // Output folders in the way.
        store("output-folder-is-a-file", &run, &["bad", "experiment.name"])
            .file("good.toml", BASE)
            .file("bad", "a file where the results folder goes"),
        store("output-folder-dangling-link", &run, &["bad"])
            .file("good.toml", BASE)
            .setup(|dir| {
                std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("bad")).expect("link")
            }),
        store("output-name-too-long", &run, &["experiment.name"]).file(
            "good.toml",
            BASE.replace("name = \"bad\"", &format!("name = \"{}\"", "n".repeat(300))),
        ),
        store("chart-is-a-link", &run, &["rmse_by_config.png"])
            .file(
                "good.toml",
                BASE.replace(
                    "[training]",
                    "[sweep]\n\"model.embedding_size\" = [4, 8]\n\n[training]",
                ),
            )
            .file("victim.txt", "must stay")
            .check(
                |dir| match std::fs::read_to_string(dir.join("victim.txt")) {
                    Ok(text) if text == "must stay" => Ok(()),
                    _ => Err("the link's target was overwritten".to_string()),
                },
            )
            .setup(|dir| {
                std::fs::create_dir(dir.join("bad")).expect("folder");
                std::os::unix::fs::symlink(
                    dir.join("victim.txt"),
                    dir.join("bad/rmse_by_config.png"),
                )
                .expect("link");
            }),
    ]
}
