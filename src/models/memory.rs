//! How much memory a grid point needs, estimated from its configuration and the data
//! set's sizes before anything trains, so that a size that cannot fit (a mistyped
//! `model.embedding_size`, a hidden layer of a billion units) is refused up front with
//! the key to blame, rather than found by an allocation failure half-way through a sweep.
//!
//! Each architecture describes what it allocates as a [`Footprint`] (its `footprint`
//! function, beside the model, registered in [`super::footprint`]); [`estimate`] adds
//! what training keeps for it: optimiser state (Adam and AdaMax two vectors per value,
//! SGD one with momentum), the best epoch's copy under early stopping, dense gradients,
//! and the batch's activations. The estimate is a lower bound of the peak, close enough
//! to tell a size that fits from one that is off by orders of magnitude.

use crate::config::spec::{ModelSpec, RunConfig};
use crate::train::optimizer_slots;

/// The sizes of a loaded data set that models are sized by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSizes {
    /// Distinct users.
    pub n_users: usize,
    /// Distinct items.
    pub n_items: usize,
    /// Ratings (an upper bound of the training set).
    pub n_ratings: usize,
    /// Genres (the two-tower model's content features have one column per genre).
    pub n_genres: usize,
}

/// What one kind of allocation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// An embedding table: parameters updated row by row.
    Table,
    /// A dense variable: parameters updated whole, with a whole gradient.
    Dense,
    /// Values computed per example of a batch (gathered rows, layer outputs).
    PerExample,
    /// Fixed inputs held for the run (content features).
    Input,
}

/// One allocation an architecture makes, in f32 values, and the key that sizes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The experiment-file key that decides its size, e.g. `model.embedding_size`.
    pub key: &'static str,
    /// What it holds.
    pub kind: PartKind,
    /// f32 values (per example for [`PartKind::PerExample`]); `u128` so no size overflows.
    pub values: u128,
}

/// What an architecture allocates, part by part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    /// The parts, in any order.
    pub parts: Vec<Part>,
}

impl Footprint {
    /// Adds a `rows × width` embedding table sized by `key`.
    pub fn table(&mut self, key: &'static str, rows: usize, width: usize) -> &mut Self {
        self.push(key, PartKind::Table, mul(rows, width))
    }

    /// Adds dense layers from `input` units through `widths` to `output` units (a weight
    /// and a bias each), sized by `key`, and their outputs per example.
    pub fn layers(
        &mut self,
        key: &'static str,
        input: usize,
        widths: &[usize],
        output: Option<usize>,
    ) -> &mut Self {
        let mut fan_in = input as u128;
        for &width in widths.iter().chain(output.as_ref()) {
            let width = width as u128;
            self.push(
                key,
                PartKind::Dense,
                fan_in.saturating_mul(width).saturating_add(width),
            );
            self.push(key, PartKind::PerExample, width);
            fan_in = width;
        }
        self
    }

    /// Adds `values` computed per example (e.g. the gathered embedding rows), sized by `key`.
    pub fn per_example(&mut self, key: &'static str, values: usize) -> &mut Self {
        self.push(key, PartKind::PerExample, values as u128)
    }

    /// Adds a fixed input of `rows × width` values, sized by `key`.
    pub fn input(&mut self, key: &'static str, rows: usize, width: usize) -> &mut Self {
        self.push(key, PartKind::Input, mul(rows, width))
    }

    fn push(&mut self, key: &'static str, kind: PartKind, values: u128) -> &mut Self {
        self.parts.push(Part { key, kind, values });
        self
    }
}

/// What a model of concatenated user and item embeddings allocates (NCF, the MLP): the
/// two tables, and the ReLU stack from their concatenation through `model.hidden_layers`
/// to one output.
pub(crate) fn concatenated_towers(spec: &ModelSpec, data: &DataSizes) -> Footprint {
    let (ku, ki) = (spec.user_size(), spec.item_size());
    let mut f = Footprint::default();
    f.table(user_key(spec), data.n_users, ku)
        .table(item_key(spec), data.n_items, ki)
        .per_example(user_key(spec), ku)
        .per_example(item_key(spec), ki)
        .layers(
            "model.hidden_layers",
            ku.saturating_add(ki),
            &spec.hidden_layers,
            Some(1),
        );
    f
}

/// The key that sizes the user table: `model.user_embedding_size` where the file sets it,
/// else `model.embedding_size`.
pub fn user_key(spec: &ModelSpec) -> &'static str {
    match spec.user_embedding_size {
        Some(_) => "model.user_embedding_size",
        None => "model.embedding_size",
    }
}

/// As [`user_key`], for the item table.
pub fn item_key(spec: &ModelSpec) -> &'static str {
    match spec.item_embedding_size {
        Some(_) => "model.item_embedding_size",
        None => "model.embedding_size",
    }
}

fn mul(a: usize, b: usize) -> u128 {
    (a as u128).saturating_mul(b as u128)
}

/// Rows a batch's activations are counted for at least: evaluation scores this many
/// pairs per pass whatever `training.batch_size` is.
const MIN_ROWS: usize = 2048;

/// A grid point's estimated memory, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// The model's parameters (plus the best epoch's copy under early stopping).
    pub parameters: u128,
    /// The optimiser's state and the dense gradients.
    pub optimiser: u128,
    /// One batch's activations and their gradients, and fixed inputs.
    pub batch: u128,
    /// Bytes per key, largest first: the key to blame is the first.
    pub by_key: Vec<(&'static str, u128)>,
}

impl Estimate {
    /// All of it.
    pub fn total(&self) -> u128 {
        self.parameters
            .saturating_add(self.optimiser)
            .saturating_add(self.batch)
    }

    /// The key whose parts take the most memory.
    pub fn main_key(&self) -> &'static str {
        self.by_key
            .first()
            .map_or("model.embedding_size", |(k, _)| k)
    }
}

/// Estimates the memory of training `config` on data of `sizes`.
pub fn estimate(config: &RunConfig, sizes: &DataSizes) -> Estimate {
    let footprint = super::footprint(&config.model, sizes);
    let training = &config.training;
    let slots = optimizer_slots(training) as u128;
    // Parameters, once more under early stopping (the best epoch's weights).
    let copies: u128 = if training.early_stopping.is_some() {
        2
    } else {
        1
    };
    let rows = training.batch_size.min(sizes.n_ratings).max(MIN_ROWS) as u128;
    let mut estimate = Estimate {
        parameters: 0,
        optimiser: 0,
        batch: 0,
        by_key: Vec::new(),
    };
    for part in &footprint.parts {
        let bytes = |n: u128| part.values.saturating_mul(n).saturating_mul(4);
        let (field, own) = match part.kind {
            PartKind::Table | PartKind::Dense => (&mut estimate.parameters, bytes(copies)),
            PartKind::PerExample => (&mut estimate.batch, bytes(rows.saturating_mul(2))),
            PartKind::Input => (&mut estimate.batch, bytes(1)),
        };
        *field = field.saturating_add(own);
        let mut state = match part.kind {
            PartKind::Table => bytes(slots),
            // Dense variables also get a whole gradient every step.
            PartKind::Dense => bytes(slots + 1),
            PartKind::PerExample | PartKind::Input => 0,
        };
        estimate.optimiser = estimate.optimiser.saturating_add(state);
        state = state.saturating_add(own);
        match estimate.by_key.iter_mut().find(|(k, _)| *k == part.key) {
            Some((_, total)) => *total = total.saturating_add(state),
            None => estimate.by_key.push((part.key, state)),
        }
    }
    estimate
        .by_key
        .sort_by_key(|&(_, bytes)| std::cmp::Reverse(bytes));
    estimate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::{
        Architecture, DataSpec, DatasetName, MetricName, OptimizerName, SplitSpec, TrainingSpec,
    };

    fn sizes() -> DataSizes {
        DataSizes {
            n_users: 943,
            n_items: 1682,
            n_ratings: 100_000,
            n_genres: 19,
        }
    }

    fn config(model: ModelSpec) -> RunConfig {
        RunConfig {
            data: DataSpec::new(DatasetName::Ml100k),
            split: SplitSpec::Holdout {
                test_fraction: 0.2,
                validation_fraction: 0.0,
            },
            model,
            training: TrainingSpec::adam(10, 256, 0.005, 0.0),
            metrics: vec![MetricName::Rmse],
            ranking: None,
            save_predictions: false,
        }
    }

    #[test]
    fn dot_mf_with_adam_counts_tables_and_two_moments() {
        // k = 8: (943 + 1682) · 8 = 21 000 values, 84 000 bytes; Adam keeps two more
        // copies (168 000 bytes); a batch of max(256, 2048) rows gathers 16 values per
        // example, forward and backward: 2048 · 16 · 2 · 4 = 262 144 bytes.
        let mut config = config(ModelSpec::with_defaults(Architecture::DotMf, 8));
        config.training.batch_size = 256;
        config.training.optimizer = OptimizerName::Adam;
        config.training.early_stopping = None;
        let e = estimate(&config, &sizes());
        assert_eq!(e.parameters, 84_000);
        assert_eq!(e.optimiser, 168_000);
        assert_eq!(e.batch, 262_144);
        assert_eq!(e.main_key(), "model.embedding_size");
        // Plain SGD keeps no state.
        config.training.optimizer = OptimizerName::Sgd;
        config.training.momentum = 0.0;
        assert_eq!(estimate(&config, &sizes()).optimiser, 0);
    }

    #[test]
    fn the_key_that_takes_the_memory_is_blamed() {
        let mut model = ModelSpec::with_defaults(Architecture::Mlp, 8);
        model.hidden_layers = vec![1_000_000_000];
        let e = estimate(&config(model.clone()), &sizes());
        assert_eq!(e.main_key(), "model.hidden_layers");
        assert!(e.total() > 100 << 30, "{e:?}");
        model.hidden_layers = vec![16];
        model.user_embedding_size = Some(1 << 40);
        let e = estimate(&config(model), &sizes());
        assert_eq!(e.main_key(), "model.user_embedding_size");
    }

    #[test]
    fn sizes_that_overflow_saturate_instead_of_wrapping() {
        let mut model = ModelSpec::with_defaults(Architecture::Ncf, usize::MAX / 2);
        model.hidden_layers = vec![usize::MAX, usize::MAX];
        let e = estimate(&config(model), &sizes());
        assert!(e.total() > u128::from(u64::MAX), "{e:?}");
    }

    #[test]
    fn every_architecture_has_a_footprint_that_grows_with_the_embedding_size() {
        for architecture in Architecture::ALL {
            // Two-tower has no embedding tables: its towers read content features.
            if architecture.is_closed_form() || architecture == Architecture::TwoTower {
                continue;
            }
            let small = estimate(&config(ModelSpec::with_defaults(architecture, 8)), &sizes());
            let large = estimate(
                &config(ModelSpec::with_defaults(architecture, 80)),
                &sizes(),
            );
            assert!(
                large.total() > small.total(),
                "{architecture:?}: {small:?} vs {large:?}"
            );
        }
        let mut model = ModelSpec::with_defaults(Architecture::TwoTower, 8);
        let small = estimate(&config(model.clone()), &sizes());
        model.hidden_layers = vec![4096, 32];
        let large = estimate(&config(model), &sizes());
        assert!(large.total() > small.total(), "{small:?} vs {large:?}");
        assert_eq!(large.main_key(), "model.hidden_layers");
    }
}
