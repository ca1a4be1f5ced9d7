//! The text being validated, and turning byte spans in it into lines for diagnostics.

use std::ops::Range;
use std::path::Path;

use super::error::{Diagnostic, Problem};

/// The TOML text that spans point into, and the file it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    /// The file named in every diagnostic.
    pub file: &'a Path,
    /// The text spans index into.
    pub text: &'a str,
    /// Command-line overrides written after the file's text: the byte where their lines
    /// start, and each override as the user typed it (one line each, in order).
    pub overrides: Option<(usize, &'a [String])>,
}

impl<'a> Source<'a> {
    /// The user's file.
    pub fn file(file: &'a Path, text: &'a str) -> Self {
        Source {
            file,
            text,
            overrides: None,
        }
    }

    /// The `--set` argument whose line holds byte `start`, if `start` is past the file.
    fn override_at(&self, start: usize) -> Option<&'a str> {
        let (from, args) = self.overrides?;
        if start < from {
            return None;
        }
        let before = self.text.get(from..start)?;
        let index = before.bytes().filter(|&b| b == b'\n').count();
        args.get(index).map(String::as_str)
    }

    /// 1-based line holding byte `span.start`.
    pub fn line(&self, span: &Range<usize>) -> Option<usize> {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or(self.text);
        Some(before.bytes().filter(|&b| b == b'\n').count() + 1)
    }

    /// The text of `span` as written, e.g. `-0.1` or `"ten"`.
    pub fn snippet(&self, span: &Range<usize>) -> String {
        self.text
            .get(span.clone())
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// A diagnostic about `key` at `span`: in the file, or in the `--set` argument the span
    /// falls in (named instead of a line).
    pub fn diagnostic(&self, span: &Range<usize>, key: &str, problem: Problem) -> Diagnostic {
        if let Some(arg) = self.override_at(span.start) {
            return Diagnostic {
                file: format!("--set {arg}").into(),
                line: None,
                key: key.to_string(),
                problem,
            };
        }
        Diagnostic {
            file: self.file.to_path_buf(),
            line: self.line(span),
            key: key.to_string(),
            problem,
        }
    }
}
