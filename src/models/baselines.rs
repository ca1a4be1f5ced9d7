//! Classical baselines fitted in closed form: every model must beat them.
//!
//! - `global-mean`: predicts the mean training rating μ for everything.
//! - `biases`: `μ + b_u + b_i` with damped means (Koren, "Factor in the neighbors", 2010,
//!   §2.1): `b_i = Σ(r − μ) / (λ_i + n_i)` over the item's training ratings, then
//!   `b_u = Σ(r − μ − b_i) / (λ_u + n_u)`, with λ_i = 25 and λ_u = 10 as in the paper.

use candle_core::{Result, Tensor};

use super::memory::{DataSizes, Footprint};
use super::{Batch, ModelContext, RatingModel};
use crate::data::dataset::Ratings;
use crate::engine::params::{Init, Params, TableId, Tape};

/// Shrinkage of item biases towards 0 (ratings' worth of prior).
pub const ITEM_DAMPING: f64 = 25.0;
/// Shrinkage of user biases towards 0.
pub const USER_DAMPING: f64 = 10.0;

/// Predicts the training mean.
#[derive(Debug)]
pub struct GlobalMean {
    params: Params,
    mean: std::cell::Cell<f32>,
}

impl GlobalMean {
    /// An unfitted model (predicts `ctx.global_mean` until fitted).
    pub fn new(ctx: &ModelContext) -> Self {
        GlobalMean {
            params: Params::new(&ctx.device, ctx.engine),
            mean: std::cell::Cell::new(ctx.global_mean),
        }
    }
}

impl RatingModel for GlobalMean {
    fn forward(&self, batch: &Batch, _tape: &mut Tape) -> Result<Tensor> {
        let n = batch.users.dims1()?;
        Tensor::full(self.mean.get(), n, self.params.device())
    }

    /// The mean for every pair: every item ties.
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        let n = users.dims1()?;
        Tensor::full(self.mean.get(), (n, n_items), self.params.device())
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn fit_closed_form(&self, ratings: &Ratings, train: &[usize]) -> Option<Result<()>> {
        let sum: f64 = train.iter().map(|&i| ratings.values[i] as f64).sum();
        self.mean.set((sum / train.len().max(1) as f64) as f32);
        Some(Ok(()))
    }
}

/// `μ + b_u + b_i` with damped-mean biases.
#[derive(Debug)]
pub struct Biases {
    params: Params,
    users: TableId,
    items: TableId,
    mean: std::cell::Cell<f32>,
}

impl Biases {
    /// An unfitted model (all biases 0).
    pub fn new(ctx: &ModelContext) -> Result<Self> {
        let mut params = Params::new(&ctx.device, ctx.engine);
        // Constant initialisation draws nothing from the generator.
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let users = params.table("user_bias", ctx.n_users, 1, Init::Constant(0.0), &mut rng)?;
        let items = params.table("item_bias", ctx.n_items, 1, Init::Constant(0.0), &mut rng)?;
        Ok(Biases {
            params,
            users,
            items,
            mean: std::cell::Cell::new(ctx.global_mean),
        })
    }
}

impl RatingModel for Biases {
    fn forward(&self, batch: &Batch, tape: &mut Tape) -> Result<Tensor> {
        let bu = self.params.gather(self.users, &batch.users, tape)?;
        let bi = self.params.gather(self.items, &batch.items, tape)?;
        (bu + bi)?.squeeze(1)? + self.mean.get() as f64
    }

    /// `μ + b_u + b_i` by broadcasting the user biases against every item bias.
    fn score_items(&self, users: &Tensor, n_items: usize) -> Result<Tensor> {
        let items = &self.params.tables()[self.items.0];
        super::expect_items(n_items, items.rows())?;
        let bu = self.params.tables()[self.users.0]
            .weight
            .index_select(users, 0)?;
        bu.broadcast_add(&items.weight.t()?)? + self.mean.get() as f64
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn fit_closed_form(&self, ratings: &Ratings, train: &[usize]) -> Option<Result<()>> {
        Some(self.fit(ratings, train))
    }
}

impl Biases {
    fn fit(&self, ratings: &Ratings, train: &[usize]) -> Result<()> {
        let tables = self.params.tables();
        let (n_users, n_items) = (tables[self.users.0].rows(), tables[self.items.0].rows());
        let mean = train.iter().map(|&i| ratings.values[i] as f64).sum::<f64>()
            / train.len().max(1) as f64;
        let (item_bias, user_bias) = damped_biases(ratings, train, mean, n_users, n_items);
        let device = self.params.device();
        tables[self.items.0].weight.slice_set(
            &Tensor::from_vec(item_bias, (n_items, 1), device)?,
            0,
            0,
        )?;
        tables[self.users.0].weight.slice_set(
            &Tensor::from_vec(user_bias, (n_users, 1), device)?,
            0,
            0,
        )?;
        self.mean.set(mean as f32);
        Ok(())
    }
}

/// Item then user biases as damped means of the training residuals.
fn damped_biases(
    ratings: &Ratings,
    train: &[usize],
    mean: f64,
    n_users: usize,
    n_items: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0f64; n_items];
    let mut count = vec![0.0f64; n_items];
    for &i in train {
        let item = ratings.items[i] as usize;
        sum[item] += ratings.values[i] as f64 - mean;
        count[item] += 1.0;
    }
    let item_bias: Vec<f64> = sum
        .iter()
        .zip(&count)
        .map(|(s, n)| s / (ITEM_DAMPING + n))
        .collect();
    let mut sum = vec![0.0f64; n_users];
    let mut count = vec![0.0f64; n_users];
    for &i in train {
        let (user, item) = (ratings.users[i] as usize, ratings.items[i] as usize);
        sum[user] += ratings.values[i] as f64 - mean - item_bias[item];
        count[user] += 1.0;
    }
    let user_bias = sum
        .iter()
        .zip(&count)
        .map(|(s, n)| (s / (USER_DAMPING + n)) as f32)
        .collect();
    (item_bias.into_iter().map(|b| b as f32).collect(), user_bias)
}

/// What the closed-form baselines allocate: at most one bias per user and per item.
pub(crate) fn footprint(data: &DataSizes) -> Footprint {
    let mut f = Footprint::default();
    f.table("model.architecture", data.n_users, 1)
        .table("model.architecture", data.n_items, 1);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn ctx() -> ModelContext {
        crate::models::testing::ctx(2, 2)
    }

    fn ratings() -> Ratings {
        // (user, item, rating): (0,0,5) (0,1,3) (1,0,4) (1,1,1) (1,1,2: test only)
        let mut r = Ratings::default();
        for (u, i, v) in [
            (0, 0, 5.0),
            (0, 1, 3.0),
            (1, 0, 4.0),
            (1, 1, 1.0),
            (1, 1, 2.0),
        ] {
            r.push(u, i, v, 0);
        }
        r
    }

    fn predict(model: &dyn RatingModel, users: &[u32], items: &[u32]) -> Vec<f32> {
        let batch = Batch {
            users: Tensor::new(users, &Device::Cpu).unwrap(),
            items: Tensor::new(items, &Device::Cpu).unwrap(),
        };
        model
            .forward(&batch, &mut Tape::off())
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn global_mean_predicts_the_training_mean() {
        let model = GlobalMean::new(&ctx());
        model
            .fit_closed_form(&ratings(), &[0, 1, 2, 3])
            .unwrap()
            .unwrap();
        // (5 + 3 + 4 + 1) / 4 = 3.25; the test rating (index 4) is not used.
        assert_eq!(predict(&model, &[0, 1], &[1, 0]), [3.25, 3.25]);
    }

    #[test]
    fn biases_are_damped_means_of_the_residuals() {
        let model = Biases::new(&ctx()).unwrap();
        model
            .fit_closed_form(&ratings(), &[0, 1, 2, 3])
            .unwrap()
            .unwrap();
        // μ = 3.25. Item 0: residuals 1.75 + 0.75 = 2.5 → b = 2.5 / 27 = 0.0925926.
        // Item 1: −0.25 − 2.25 = −2.5 → b = −0.0925926.
        // User 0: (5 − 3.25 − 0.0925926) + (3 − 3.25 + 0.0925926) = 1.5 → 1.5 / 12 = 0.125.
        // User 1: (4 − 3.25 − 0.0925926) + (1 − 3.25 + 0.0925926) = −1.5 → −0.125.
        // user 0 × item 0 = 3.25 + 0.125 + 0.0925926 = 3.4675926;
        // user 1 × item 1 = 3.25 − 0.125 − 0.0925926 = 3.0324074.
        let p = predict(&model, &[0, 1], &[0, 1]);
        assert!((p[0] - 3.467_592_6).abs() < 1e-5, "{p:?}");
        assert!((p[1] - 3.032_407_4).abs() < 1e-5, "{p:?}");
    }
}
