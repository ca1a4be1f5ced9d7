//! Property test: no experiment-file text, however broken, panics the parser. Each case
//! is either arbitrary TOML-ish text or one of the real files in `experiments/` with a
//! random edit; parsing must return a value or an error, never panic.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{file_seed, parse_experiment, parse_experiment_with};

/// Every experiment file of the repository, as (path, text).
fn real_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments"),
        &mut out,
    );
    out
}

/// Pieces that make a mutation likely to stay TOML and reach validation: extreme and odd
/// values, keys, tables.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "0.0",
    "1099511627776",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "[]",
    "[0]",
    "[1000000000]",
    "[[]]",
    "{}",
    "\"\"",
    "\"ml-100k\"",
    "\"x\"",
    "true",
    "[sweep]",
    "[model]",
    "[training]",
    "[data]",
    "[split]",
    "[metrics]",
    "[[x]]",
    "\n",
    "=",
    "\"",
    "'",
    ",",
    "#",
    "é",
    "\u{0}",
    "@",
    "k",
];

/// One edit of a text: (where, as a fraction of its length; how many bytes to delete;
/// what to insert).
fn edit() -> impl Strategy<Value = (f64, usize, String)> {
    (
        0.0..=1.0f64,
        0usize..40,
        prop_oneof![
            proptest::sample::select(TOKENS).prop_map(str::to_owned),
            "\\PC{0,12}",
        ],
    )
}

/// Applies `(at, delete, insert)` to `text` at a character boundary.
fn apply(text: &str, (at, delete, insert): &(f64, usize, String)) -> String {
    let mut start = ((text.len() as f64) * at) as usize;
    while start < text.len() && !text.is_char_boundary(start) {
        start += 1;
    }
    let mut end = (start + delete).min(text.len());
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{insert}{}", &text[..start], &text[end..])
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_real_files_never_panic(
        pick in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let files = real_files();
        prop_assume!(!files.is_empty());
        let (path, text) = &files[pick.index(files.len())];
        let mut text = text.clone();
        for e in &edits {
            text = apply(&text, e);
        }
        let _ = parse_experiment(&text, path);
        let _ = file_seed(&text);
    }

    #[test]
    fn arbitrary_text_and_overrides_never_panic(
        text in "[\\[\\]a-z_=\"0-9.\\n ,{}#'-]{0,200}",
        set in proptest::collection::vec("[a-z_.]{1,24}=\\PC{0,16}", 0..3),
    ) {
        let path = Path::new("experiments/fuzz.toml");
        let _ = parse_experiment(&text, path);
        let files = real_files();
        if let Some((path, real)) = files.first() {
            let _ = parse_experiment_with(real, path, &set);
        }
    }
}
