//! Seconds to rank every item for every user and to compute every ranking metric, for
//! `scripts/bench-ranking.sh`.
//!
//! Usage: `bench_ranking [REPEATS]` (default 5). Two cases, each timed `REPEATS` times
//! with one compute thread (as `exp run` gives each run), medians printed as Markdown:
//!
//! 1. ML-100K (`$EXP_DATA_DIR/ml-100k`), 90/10 holdout, seed 42: biased MF with 32
//!    factors trained 10 epochs, and NCF `[10]` and MLP `[128, 32]` as initialised (their
//!    scoring cost does not depend on the weights).
//! 2. The synthetic ML-1M-shaped set of the benchmark suite (6040 users × 3706 items,
//!    1 000 209 ratings with popularity skew), biased MF with 32 random factors.
//!
//! "rank all" scores every item for every user (`score_items` in blocks) and selects each
//! user's top 20 unseen items; "all metrics" is what a run stores: precision, recall,
//! NDCG, hit rate and MAP at 10, MRR over the whole ranking and coverage at 10.

use std::time::Instant;

use exp::config::spec::{
    Architecture, DataSpec, DatasetName, ModelSpec, RankingMetric, RankingSpec, TrainingSpec,
};
use exp::data::{self, Dataset, Split};
use exp::models::{self, ModelContext, RatingModel};
use exp::rank::{self, Ranker, UserItems};
use exp::report::stats::median;
use exp::train::{self, TrainData};
use rand::SeedableRng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const METRICS: [&str; 7] = [
    "precision@10",
    "recall@10",
    "ndcg@10",
    "hit-rate@10",
    "map@10",
    "mrr",
    "coverage@10",
];

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let repeats: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 5,
    };
    let spec = RankingSpec {
        metrics: METRICS
            .iter()
            .map(|name| RankingMetric::parse(name))
            .collect::<Result<_, _>>()?,
        relevance_threshold: 4.0,
    };
    println!(
        "| data | model | users × items | rank all (top 20), median s | all metrics, median s | metrics |"
    );
    println!("|---|---|---|---:|---:|---|");

    let ml100k = data::load(&DataSpec::new(DatasetName::Ml100k))?;
    let split = data::holdout(ml100k.ratings.len(), 0.1, 0.0, 42);
    let ctx = context(&ml100k, &split);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mf = models::build(
        &ModelSpec::with_defaults(Architecture::BiasedMf, 32),
        &ctx,
        &mut rng,
    )?;
    let training = TrainingSpec::adam(10, 64, 0.001, 0.001);
    let mut optimizer = train::optimizer(&training, mf.params())?;
    let data = TrainData {
        ratings: &ml100k.ratings,
        train: &split.train,
        validation: &split.validation,
        test: &split.test,
        rating_range: ml100k.rating_range,
    };
    train::train(
        mf.as_ref(),
        optimizer.as_mut(),
        &training,
        data,
        &mut rng,
        &std::sync::atomic::AtomicBool::new(false),
        |_| train::EpochControl::Continue,
    )?;
    bench(
        "ML-100K",
        "biased-mf 32 (trained)",
        mf.as_ref(),
        &ml100k,
        &split,
        &spec,
        repeats,
    )?;
    for architecture in [Architecture::Ncf, Architecture::Mlp] {
        let mut spec_model = ModelSpec::with_defaults(architecture, 32);
        if architecture == Architecture::Mlp {
            spec_model.user_embedding_size = Some(5);
            spec_model.item_embedding_size = Some(5);
        }
        let model = models::build(&spec_model, &ctx, &mut rng)?;
        let label = format!(
            "{} {:?} (initial weights)",
            architecture.as_str(),
            spec_model.hidden_layers
        );
        bench(
            "ML-100K",
            &label,
            model.as_ref(),
            &ml100k,
            &split,
            &spec,
            repeats.min(3),
        )?;
    }

    let synthetic =
        exp::data::synthetic::generate(&exp::data::synthetic::SyntheticSpec::ML_1M_SHAPE)?;
    let split = data::holdout(synthetic.ratings.len(), 0.1, 0.0, 42);
    let ctx = context(&synthetic, &split);
    let mut init = ModelSpec::with_defaults(Architecture::BiasedMf, 32);
    init.init = Some(exp::config::spec::InitSpec::Normal { std: 0.3 });
    let mf = models::build(&init, &ctx, &mut rng)?;
    bench(
        "synthetic ML-1M shape",
        "biased-mf 32 (random)",
        mf.as_ref(),
        &synthetic,
        &split,
        &spec,
        repeats,
    )?;
    Ok(())
}

fn context(data: &Dataset, split: &Split) -> ModelContext {
    let mean = split
        .train
        .iter()
        .map(|&i| data.ratings.values[i] as f64)
        .sum::<f64>()
        / split.train.len().max(1) as f64;
    ModelContext {
        n_users: data.n_users(),
        n_items: data.n_items(),
        rating_range: data.rating_range,
        global_mean: mean as f32,
        device: candle_core::Device::Cpu,
        engine: exp::engine::Engine::Fused,
        features: None,
        implicit: None,
        item_ratings: None,
    }
}

/// Times ranking every user's top 20 and computing the metrics, `repeats` times each.
fn bench(
    name: &str,
    label: &str,
    model: &dyn RatingModel,
    data: &Dataset,
    split: &Split,
    spec: &RankingSpec,
    repeats: usize,
) -> anyhow::Result<()> {
    let n_items = data.n_items();
    let seen = UserItems::new(
        &data.ratings,
        split.train.iter().chain(&split.validation).copied(),
        data.n_users(),
    );
    let users: Vec<u32> = (0..data.n_users() as u32).collect();
    let mut rank_all = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let mut ranker = Ranker::new(n_items);
        let block = (rank::BLOCK_SCORES / n_items).max(1);
        let mut listed = 0usize;
        for chunk in users.chunks(block) {
            let scores = rank::score_block(model, chunk, n_items)?;
            for (row, &user) in scores.chunks_exact(n_items).zip(chunk) {
                listed += ranker.top(row, seen.of(user), 20).len();
            }
        }
        assert_eq!(listed, users.len() * 20);
        rank_all.push(started.elapsed().as_secs_f64());
    }
    let mut metrics_times = Vec::new();
    let mut values = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        values = rank::ranking_metrics(model, data, split, spec)?;
        metrics_times.push(started.elapsed().as_secs_f64());
    }
    let shown: Vec<String> = values.iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
    println!(
        "| {name} | {label} | {} × {n_items} | {:.3} | {:.3} | {} |",
        data.n_users(),
        median(&rank_all).unwrap_or(f64::NAN),
        median(&metrics_times).unwrap_or(f64::NAN),
        shown.join(", ")
    );
    Ok(())
}
