//! Errors from reading an experiment file: each one names the file, the line and the key.

use std::fmt;
use std::path::PathBuf;

/// Why an experiment file could not be turned into an [`Experiment`](super::spec::Experiment)
/// (or its grid expanded).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read experiment file `{}`", path.display())]
    Read {
        /// The file as given.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid experiment: every problem found, in line order,
    /// displayed one per line.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    /// The problems found, empty for [`ConfigError::Read`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid(diagnostics) => diagnostics,
        }
    }
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// One problem in an experiment file, displayed as
/// ``experiments/sweep.toml:14: `training.learning_rate` must be > 0, got -0.1``.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The experiment file, as given.
    pub file: PathBuf,
    /// 1-based line of the offending key or value; `None` only for grids expanded from an
    /// [`Experiment`](super::spec::Experiment) built in code, which has no lines.
    pub line: Option<usize>,
    /// Dotted key the problem is about, e.g. `training.learning_rate`; empty for TOML syntax
    /// errors.
    pub key: String,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a key or value: one variant per kind of invalid value.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The file is not valid TOML.
    Syntax {
        /// The TOML parser's message.
        message: String,
    },
    /// A key that its table does not have.
    UnknownKey {
        /// The keys that table accepts.
        expected: Vec<&'static str>,
    },
    /// A required table such as `[model]` is absent.
    MissingTable,
    /// A required key is absent from its table.
    MissingKey {
        /// The key is swept: the file still needs a base value for it.
        swept: bool,
    },
    /// A value of the wrong TOML type, e.g. a string where an integer is expected.
    WrongType {
        /// What was expected, e.g. `an integer`.
        expected: &'static str,
        /// What was found, e.g. `string "ten"`.
        found: String,
    },
    /// A number outside its allowed range.
    OutOfRange {
        /// The allowed range, e.g. `> 0`.
        expected: &'static str,
        /// The value as written.
        found: String,
    },
    /// A name that is not one of the allowed names, e.g. an unknown architecture.
    UnknownName {
        /// The allowed names.
        allowed: Vec<&'static str>,
        /// The name found.
        found: String,
    },
    /// A string that breaks a format rule, e.g. an experiment name with a space.
    BadFormat {
        /// The rule, e.g. `made of A-Z a-z 0-9 _ . -`.
        expected: &'static str,
        /// The value as written.
        found: String,
    },
    /// A list that must not be empty is empty.
    EmptyList,
    /// A list names the same item twice.
    Duplicate {
        /// The repeated item.
        item: String,
    },
    /// A `[split]` key that belongs to other split kinds, e.g. `k` with `kind = "holdout"`.
    WrongSplitKind {
        /// The split kind in effect.
        kind: &'static str,
        /// The split kinds the key belongs to.
        belongs_to: &'static [&'static str],
    },
    /// A key that only means something together with another key's value, e.g.
    /// `training.momentum` with an optimizer other than `sgd`.
    Requires {
        /// What the key needs, e.g. ``training.optimizer = "sgd"`` in backticks.
        requirement: String,
        /// What the file has instead, e.g. ``the optimizer is `adam` (line 21)``.
        actual: String,
    },
    /// A list whose length must match another list's, e.g. one dropout per hidden layer.
    LengthMismatch {
        /// The key whose length rules, e.g. `model.hidden_layers`.
        other_key: &'static str,
        /// Its length.
        expected: usize,
        /// Where that length comes from when it is not written, e.g. ` (the default for `mlp`)`;
        /// empty otherwise.
        note: String,
        /// This list's length.
        found: usize,
        /// What one element stands for, e.g. `one dropout rate per hidden layer`.
        rule: &'static str,
    },
    /// A `[sweep]` entry whose value is not a list.
    SweepNotList {
        /// What was found, e.g. `integer 8`.
        found: String,
    },
    /// A `[sweep]` entry for a list-valued key whose values are not all lists.
    SweepNotListOfLists {
        /// The first element that is not a list, e.g. `integer 10`.
        found: String,
    },
    /// A `[sweep]` entry with an empty list.
    SweepEmpty,
    /// A `[sweep]` entry for a key that does not exist.
    SweepUnknownKey {
        /// Every key that can be swept.
        sweepable: Vec<String>,
    },
    /// A `[sweep]` entry for `experiment.*`, which is fixed for the whole experiment.
    SweepFixed,
    /// A `[sweep]` entry for a key that decides what is stored, not what is trained
    /// (`training.checkpoint`): its grid points would be the same run.
    SweepStorageOnly,
    /// A `[sweep]` entry for a whole table rather than one of its keys.
    SweepTable {
        /// The keys of that table that can be swept.
        leaves: Vec<String>,
    },
    /// The same key swept twice, e.g. as `"model.k" = …` and `model.k = …`.
    SweepDuplicate {
        /// Line of the first entry.
        first_line: Option<usize>,
    },
    /// The grid has more points than [`MAX_GRID_POINTS`](super::MAX_GRID_POINTS).
    SweepTooLarge {
        /// Grid points the sweep asks for (saturating).
        points: u128,
        /// The limit.
        limit: usize,
    },
    /// A `[search.space]` range that is not two numbers (`int`: two integers).
    SearchRangeShape {
        /// `uniform`, `log_uniform` or `int`.
        distribution: &'static str,
        /// What was written.
        found: String,
    },
    /// A `[search.space]` range whose low end is not below its high end.
    SearchEmptyRange {
        /// `uniform`, `log_uniform` or `int`.
        distribution: &'static str,
        /// The low end as written.
        low: String,
        /// The high end as written.
        high: String,
    },
    /// A log-scale range (`log_uniform`, `int` with `log = true`) starting at or below 0.
    SearchLogRange {
        /// `log_uniform` or `int`.
        distribution: &'static str,
        /// The low end as written.
        low: String,
    },
    /// A key in a `[search.space]` entry that is no distribution or option, e.g. `normal`.
    SearchUnknownDistribution {
        /// The key as written.
        found: String,
    },
    /// A `[search.space]` entry without a distribution, or not a table at all.
    SearchNoDistribution {
        /// What was written, e.g. `a table` or `array [0.1, 0.2]`.
        found: String,
    },
    /// Two distributions in one `[search.space]` entry.
    SearchTwoDistributions {
        /// The first one.
        first: String,
        /// The second one.
        second: String,
    },
    /// `log` or `step` in an entry whose distribution is not `int`.
    SearchIntOption {
        /// `log` or `step`.
        option: String,
        /// The entry's distribution.
        distribution: &'static str,
    },
    /// An `int` entry's `step` below 1 (or not an integer).
    SearchStep {
        /// The step as written.
        found: String,
    },
    /// An `int` entry with `log = true` and a `step` other than 1.
    SearchLogStep {
        /// The step as written.
        step: String,
    },
    /// `uniform` or `log_uniform` for a key that takes an integer.
    SearchFloatForInt {
        /// `uniform` or `log_uniform`.
        distribution: &'static str,
    },
    /// `choice = []`.
    SearchEmptyChoice,
    /// A `data.*` or `split.*` key in `[search.space]`.
    SearchLoadedOnce,
    /// A `[search.space]` key that does not exist.
    SearchUnknownKey {
        /// Every key that can be searched.
        searchable: Vec<String>,
    },
    /// The same key searched twice, e.g. as `"model.k" = …` and `model.k = …`.
    SearchDuplicate {
        /// Line of the first entry.
        first_line: Option<usize>,
    },
    /// A `when` that is not one key with a list of values.
    SearchWhenShape {
        /// What was written.
        found: String,
    },
    /// A `when` on a key that does not exist.
    SearchWhenUnknownKey {
        /// The key it names.
        on: String,
    },
    /// A `when` on a key that is not in `[search.space]`.
    SearchWhenNotSearched {
        /// The key it names.
        on: String,
    },
    /// A `when` on a searched key that is not a `choice`.
    SearchWhenNotChoice {
        /// The key it names.
        on: String,
        /// That key's distribution.
        distribution: &'static str,
    },
    /// A `when` on a key declared after this one (or on itself).
    SearchWhenLater {
        /// The key it names.
        on: String,
        /// Where that key is declared.
        line: Option<usize>,
    },
    /// A `when` value that is not among the named key's choices.
    SearchWhenValue {
        /// The key it names.
        on: String,
        /// The value as written.
        value: String,
        /// That key's choices, as written.
        choices: String,
    },
    /// `[sweep]` together with strategy `random` or `tpe`.
    SearchWithSweep {
        /// The strategy.
        strategy: &'static str,
    },
    /// A non-empty `[search.space]` with strategy `grid`.
    SearchGridSpace,
    /// Strategy `grid` without `[sweep]`.
    SearchGridNoSweep,
    /// Strategy `random` or `tpe` with nothing in `[search.space]`.
    SearchEmptySpace {
        /// The strategy.
        strategy: &'static str,
    },
    /// A search or pruner that ranks trials by validation RMSE on a split without a
    /// validation set.
    SearchNeedsValidation {
        /// What needs it, e.g. `` `search.strategy = "tpe"` ``.
        what: String,
    },
    /// The `wilcoxon` pruner on a split that is not k-fold.
    SearchNeedsKfold {
        /// The split kind in effect.
        kind: &'static str,
    },
    /// More trials than a space of only `choice` and `int` keys has configurations.
    SearchTooFewConfigurations {
        /// Distinct configurations of the space.
        configurations: u128,
        /// `search.trials`.
        trials: usize,
    },
    /// A number above the limit another key sets, e.g. `search.pruner.max_epochs` above
    /// `training.epochs`.
    SearchAbove {
        /// The limit and where it comes from, e.g. `` `training.epochs` (20) ``.
        limit: String,
        /// The value as written.
        found: String,
    },
    /// Anything else the TOML deserialiser reported.
    Other {
        /// Its message.
        message: String,
    },
}

fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{}`", s.as_ref())).collect();
    quoted.join(", ")
}

impl Problem {
    /// The message for this problem about `key`, without file and line.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Problem::Syntax { message } => format!("invalid TOML: {message}"),
            Problem::UnknownKey { expected } => {
                let table = match key.rsplit_once('.') {
                    Some((table, _)) => format!("[{table}]"),
                    None => "the top level".to_string(),
                };
                format!(
                    "unknown key `{key}`; keys allowed in {table}: {}",
                    quoted_list(expected)
                )
            }
            Problem::MissingTable => format!("missing required table `[{key}]`"),
            Problem::MissingKey { swept: false } => format!("missing required key `{key}`"),
            Problem::MissingKey { swept: true } => format!(
                "missing required key `{key}` (a swept key still needs a base value in its table)"
            ),
            Problem::WrongType { expected, found } => {
                format!("`{key}` must be {expected}, got {found}")
            }
            Problem::OutOfRange { expected, found } => {
                format!("`{key}` must be {expected}, got {found}")
            }
            Problem::UnknownName { allowed, found } => {
                format!(
                    "`{key}` must be one of {}, got `{found}`",
                    quoted_list(allowed)
                )
            }
            Problem::BadFormat { expected, found } => {
                format!("`{key}` must be {expected}, got {found}")
            }
            Problem::EmptyList => format!("`{key}` must not be empty"),
            Problem::Duplicate { item } => format!("`{key}` lists `{item}` more than once"),
            Problem::WrongSplitKind { kind, belongs_to } => match belongs_to {
                [one] => format!(
                    "`{key}` is only allowed with `split.kind = \"{one}\"`, but the kind is \"{kind}\""
                ),
                kinds => {
                    let kinds: Vec<String> = kinds.iter().map(|k| format!("\"{k}\"")).collect();
                    format!(
                        "`{key}` is only allowed with `split.kind` {}, but the kind is \"{kind}\"",
                        kinds.join(", ")
                    )
                }
            },
            Problem::Requires {
                requirement,
                actual,
            } => format!("`{key}` is only allowed with {requirement}, but {actual}"),
            Problem::LengthMismatch {
                other_key,
                expected,
                note,
                found,
                rule,
            } => format!(
                "`{key}` must have {rule}: `{other_key}` has {expected}{note}, `{key}` has {found}"
            ),
            Problem::SweepNotListOfLists { found } => format!(
                "`{key}` takes a list, so its sweep values must be a list of lists, one list per grid point, e.g. `{key} = [[64], [64, 32]]`; got {found}"
            ),
            Problem::SweepNotList { found } => format!(
                "sweep values of `{key}` must be a list, e.g. `{key} = [a, b]`, got {found}"
            ),
            Problem::SweepEmpty => format!("sweep of `{key}` lists no values"),
            Problem::SweepUnknownKey { sweepable } => format!(
                "cannot sweep unknown key `{key}`; keys that can be swept: {}",
                quoted_list(sweepable)
            ),
            Problem::SweepStorageOnly => format!(
                "cannot sweep `{key}`: it decides what is stored, not what is trained, so its \
                 grid points would be the same run; set it once under its table"
            ),
            Problem::SweepFixed => {
                format!("cannot sweep `{key}`: `experiment.*` is fixed for the whole experiment")
            }
            Problem::SweepTable { leaves } => format!(
                "cannot sweep the table `{key}`; sweep one of its keys: {}",
                quoted_list(leaves)
            ),
            Problem::SweepDuplicate { first_line } => match first_line {
                Some(line) => format!("`{key}` is swept twice (first on line {line})"),
                None => format!("`{key}` is swept twice"),
            },
            Problem::SweepTooLarge { points, limit } => {
                format!("`[{key}]` has {points} grid points, more than the limit of {limit}")
            }
            Problem::SearchRangeShape {
                distribution,
                found,
            } => {
                let ends = if *distribution == "int" {
                    "integers"
                } else {
                    "finite numbers"
                };
                format!(
                    "`{key}`: `{distribution}` must be a list of two {ends} `[low, high]`, got {found}"
                )
            }
            Problem::SearchEmptyRange {
                distribution,
                low,
                high,
            } => format!(
                "`{key}`: the range `{distribution} = [{low}, {high}]` is empty; the low end must be \
                 below the high end (for a fixed value, set the key in its table)"
            ),
            Problem::SearchLogRange { distribution, low } => {
                format!("`{key}`: a log-scale `{distribution}` range must start above 0, got {low}")
            }
            Problem::SearchUnknownDistribution { found } => format!(
                "`{key}`: unknown distribution `{found}`; an entry of `[search.space]` takes one of \
                 `uniform`, `log_uniform`, `int`, `choice` (and `log`, `step` with `int`, and `when`)"
            ),
            Problem::SearchNoDistribution { found } => format!(
                "`{key}` in `[search.space]` must be a table with one distribution, e.g. \
                 `{{ uniform = [a, b] }}`, `{{ log_uniform = [a, b] }}`, `{{ int = [a, b] }}` or \
                 `{{ choice = [v1, v2] }}`; got {found}"
            ),
            Problem::SearchTwoDistributions { first, second } => format!(
                "`{key}` has two distributions, `{first}` and `{second}`; an entry takes exactly one"
            ),
            Problem::SearchIntOption {
                option,
                distribution,
            } => format!("`{key}`: `{option}` only applies to `int`, not to `{distribution}`"),
            Problem::SearchStep { found } => {
                format!("`{key}`: `step` must be an integer >= 1, got {found}")
            }
            Problem::SearchLogStep { step } => format!(
                "`{key}`: an `int` with `log = true` takes every integer, so `step` must be 1, got {step}"
            ),
            Problem::SearchFloatForInt { distribution } => format!(
                "`{key}` takes an integer, but `{distribution}` draws floats; use `int = [a, b]`"
            ),
            Problem::SearchEmptyChoice => format!("`{key}`: `choice` lists no values"),
            Problem::SearchLoadedOnce => format!(
                "cannot search `{key}`: the data and the split are loaded once for the whole search, \
                 and the validation scores of trials must be comparable; set it in its table"
            ),
            Problem::SearchUnknownKey { searchable } => format!(
                "cannot search unknown key `{key}`; keys that can be searched: {}",
                quoted_list(searchable)
            ),
            Problem::SearchDuplicate { first_line } => match first_line {
                Some(line) => format!("`{key}` is searched twice (first on line {line})"),
                None => format!("`{key}` is searched twice"),
            },
            Problem::SearchWhenShape { found } => format!(
                "`{key}`: `when` must name one searched key and its values, e.g. \
                 `when = {{ \"model.architecture\" = [\"ncf\", \"mlp\"] }}`, got {found}"
            ),
            Problem::SearchWhenUnknownKey { on } => {
                format!("`{key}`: `when` names `{on}`, which is not a key of an experiment file")
            }
            Problem::SearchWhenNotSearched { on } => format!(
                "`{key}`: `when` names `{on}`, which is not searched; a condition must be on a \
                 `choice` in `[search.space]`"
            ),
            Problem::SearchWhenNotChoice { on, distribution } => format!(
                "`{key}`: `when` names `{on}`, a `{distribution}`; a condition must be on a `choice`"
            ),
            Problem::SearchWhenLater { on, line } => match line {
                Some(line) => format!(
                    "`{key}`: `when` names `{on}`, declared on line {line}; a condition must be on a \
                     key declared before this one"
                ),
                None => format!(
                    "`{key}`: `when` names `{on}`; a condition must be on a key declared before this one"
                ),
            },
            Problem::SearchWhenValue { on, value, choices } => format!(
                "`{key}`: `when` lists {value} for `{on}`, which is not one of its choices {choices}"
            ),
            Problem::SearchWithSweep { strategy } => format!(
                "`{key}`: \"{strategy}\" cannot be used with `[sweep]`: use `[sweep]` with strategy \
                 grid, or `[search.space]`"
            ),
            Problem::SearchGridSpace => format!(
                "`{key}` must be empty with strategy grid, which searches the `[sweep]` grid; use \
                 strategy random or tpe to search a space"
            ),
            Problem::SearchGridNoSweep => format!(
                "`{key}`: \"grid\" runs every point of `[sweep]`, but the file has no `[sweep]`"
            ),
            Problem::SearchEmptySpace { strategy } => {
                format!("`{key}`: \"{strategy}\" needs at least one key in `[search.space]`")
            }
            Problem::SearchNeedsValidation { what } => format!(
                "`{key}`: {what} needs a validation set (a search chooses trials by validation RMSE); \
                 set `split.validation_fraction` > 0"
            ),
            Problem::SearchNeedsKfold { kind } => format!(
                "`{key}`: \"wilcoxon\" compares trials fold by fold, so it needs `split.kind = \
                 \"kfold\"`, but the kind is \"{kind}\""
            ),
            Problem::SearchTooFewConfigurations {
                configurations,
                trials,
            } => format!(
                "`{key}` is {trials}, but the space (only `choice` and `int` keys) has \
                 {configurations} distinct configuration(s); lower `{key}` or widen the space"
            ),
            Problem::SearchAbove { limit, found } => {
                format!("`{key}` must be <= {limit}, got {found}")
            }
            Problem::Other { message } if key.is_empty() => message.clone(),
            Problem::Other { message } => format!("`{key}`: {message}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.problem.describe(&self.key))
    }
}
