//! Bare loops beside the benchmark suite: biased MF trained one rating at a time with no
//! framework and no batches, with SGD and with lazy Adam, on the synthetic ML-1M-shaped
//! set and the 1M-user × 200K-item set; and exp's own biased MF (the seed setup, batch 64)
//! with the same two rules on the same data.
//!
//!   cargo run --release --example bench_limits [-- EPOCHS]
//!
//! The bare loops lay rows out as exp lays out biased MF's: 52 floats per user and per
//! item (50 factors, the bias, a constant 1), weights and each Adam moment in separate
//! arrays. They therefore touch the same bytes per rating as exp does, and nothing else:
//! the seconds per million ratings of the large set against the small one show what the
//! memory system alone costs once the tables no longer fit in the CPU's caches. The loops
//! are straightforward, not tuned: no prefetching and no SIMD beyond what the compiler
//! finds. Prints one Markdown table; epochs default to 3 and the median is reported, as in
//! the suite.

use std::time::Instant;

use exp::bench::{self, BenchData, Case};
use exp::config::spec::OptimizerName;
use exp::data::synthetic::{self, SyntheticSpec};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Floats per row: exp's biased-MF rows with embedding size 50.
const DIM: usize = 52;

/// Adam's (Keras's) β₁, β₂ and ε.
const B1: f32 = 0.9;
const B2: f32 = 0.999;
const EPS: f32 = 1e-7;

/// A table's weights and, for Adam, its two moments.
struct Table {
    w: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Table {
    fn new(rows: usize, adam: bool, rng: &mut impl rand::Rng) -> Table {
        let w = (0..rows * DIM)
            .map(|i| match i % DIM {
                50 => 0.0,
                51 => 1.0,
                _ => rng.random_range(-0.05..0.05),
            })
            .collect();
        let state = if adam { rows * DIM } else { 0 };
        Table {
            w,
            m: vec![0.0; state],
            v: vec![0.0; state],
        }
    }
}

/// How a row moves given its gradient.
#[derive(Clone, Copy)]
enum Rule {
    Sgd {
        lr: f32,
    },
    /// Adam's step size and ε with the bias corrections folded in (as exp folds them),
    /// computed once per step.
    Adam {
        lr: f32,
        lr_t: f32,
        eps_hat: f32,
    },
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::Sgd { .. } => "sgd",
            Rule::Adam { .. } => "adam",
        }
    }
}

/// Moves row `row` of `t` by gradient `g` (columns 50 and 51 of the user table, 50 of the
/// item table hold constants and stay put; here every column moves, which costs the same).
#[inline(always)]
fn update(t: &mut Table, row: usize, g: &[f32; DIM], rule: Rule) {
    let span = row * DIM..(row + 1) * DIM;
    let w = &mut t.w[span.clone()];
    match rule {
        Rule::Sgd { lr } => {
            for (w, g) in w.iter_mut().zip(g) {
                *w -= lr * g;
            }
        }
        Rule::Adam { lr_t, eps_hat, .. } => {
            let (m, v) = (&mut t.m[span.clone()], &mut t.v[span]);
            for (((w, m), v), g) in w.iter_mut().zip(m).zip(v).zip(g) {
                *m = B1 * *m + (1.0 - B1) * g;
                *v = B2 * *v + (1.0 - B2) * g * g;
                *w -= lr_t * *m / (v.sqrt() + eps_hat);
            }
        }
    }
}

/// Seconds of each epoch and the last epoch's training RMSE.
fn train(
    triples: &mut [(u32, u32, f32)],
    users: usize,
    items: usize,
    rule: Rule,
    epochs: usize,
) -> (Vec<f64>, f64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let adam = matches!(rule, Rule::Adam { .. });
    let mut p = Table::new(users, adam, &mut rng);
    let mut q = Table::new(items, adam, &mut rng);
    // Swap the item table's constant and bias columns: user [p, b_u, 1] · item [q, 1, b_i].
    for row in q.w.chunks_exact_mut(DIM) {
        row.swap(50, 51);
    }
    let mean = triples.iter().map(|t| t.2 as f64).sum::<f64>() / triples.len() as f64;
    let mean = mean as f32;
    let mut times = Vec::with_capacity(epochs);
    let mut sq = 0.0f64;
    let mut step = 0i32;
    for _ in 0..epochs {
        triples.shuffle(&mut rng);
        let started = Instant::now();
        sq = 0.0;
        for &(u, i, r) in triples.iter() {
            let (u, i) = (u as usize, i as usize);
            let (pu, qi) = (&p.w[u * DIM..(u + 1) * DIM], &q.w[i * DIM..(i + 1) * DIM]);
            let mut lanes = [0.0f32; 8];
            for (a, b) in pu.chunks(8).zip(qi.chunks(8)) {
                for ((l, a), b) in lanes.iter_mut().zip(a).zip(b) {
                    *l += a * b;
                }
            }
            let e = mean + lanes.iter().sum::<f32>() - r;
            sq += (e * e) as f64;
            let (mut gu, mut gi) = ([0.0f32; DIM], [0.0f32; DIM]);
            for k in 0..DIM {
                gu[k] = 2.0 * e * qi[k];
                gi[k] = 2.0 * e * pu[k];
            }
            step += 1;
            let rule = match rule {
                Rule::Adam { lr, .. } => {
                    let c2 = (1.0 - B2.powi(step)).sqrt();
                    let lr_t = lr * c2 / (1.0 - B1.powi(step));
                    Rule::Adam {
                        lr,
                        lr_t,
                        eps_hat: EPS * c2,
                    }
                }
                sgd => sgd,
            };
            update(&mut p, u, &gu, rule);
            update(&mut q, i, &gi, rule);
        }
        times.push(started.elapsed().as_secs_f64());
    }
    (times, (sq / triples.len() as f64).sqrt())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// exp's seed biased-MF setup at batch 64 on `data` (the set `which`), with `rule`'s
/// optimiser and rate: its median seconds per epoch, training ratings and last test RMSE.
fn exp_run(
    which: BenchData,
    data: &exp::data::Dataset,
    rule: Rule,
    epochs: usize,
) -> anyhow::Result<(f64, usize, f64)> {
    let case = Case {
        data: which,
        setup: "biased-mf".into(),
        batch_size: 64,
        epochs,
        dense: false,
        graph: false,
        threads: 1,
    };
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/seeds");
    let mut run = bench::setup_run(&case, &seeds)?;
    let training = &mut run.config.training;
    match rule {
        Rule::Sgd { lr } => {
            training.optimizer = OptimizerName::Sgd;
            training.learning_rate = lr as f64;
            training.momentum = 0.0;
        }
        Rule::Adam { lr, .. } => {
            training.optimizer = OptimizerName::Adam;
            training.learning_rate = lr as f64;
        }
    }
    let m = bench::measure(&case, &run, data, 0.0)?;
    Ok((m.seconds_per_epoch, m.train_ratings, m.test_rmse))
}

/// The rules compared: SGD (rate 0.01) and Adam (rate 0.001).
fn rules() -> [Rule; 2] {
    let adam = Rule::Adam {
        lr: 0.001,
        lr_t: 0.0,
        eps_hat: 0.0,
    };
    [Rule::Sgd { lr: 0.01 }, adam]
}

/// Runs [`exp_run`] in a child process of this program (`--exp SET RULE EPOCHS`), as the
/// suite runs each case: in one process after other work, exp's large-set epochs ran
/// about twice as slow as in a process of their own.
fn exp_in_child(which: BenchData, rule: Rule, epochs: usize) -> anyhow::Result<(f64, usize, f64)> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--exp", which.name(), rule.name(), &epochs.to_string()])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    match (out.status.success(), fields.as_slice()) {
        (true, [s, n, rmse]) => Ok((s.parse()?, n.parse()?, rmse.parse()?)),
        _ => anyhow::bail!(
            "exp on {} with {} failed: {}",
            which.name(),
            rule.name(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn main() -> anyhow::Result<()> {
    exp::alloc::keep_freed_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, set, rule, epochs] = args.as_slice()
        && flag == "--exp"
    {
        let which = BenchData::from_name(set).ok_or_else(|| anyhow::anyhow!("no set {set}"))?;
        let rule = rules()
            .into_iter()
            .find(|r| r.name() == rule)
            .ok_or_else(|| anyhow::anyhow!("no rule {rule}"))?;
        let (s, n, rmse) = exp_run(which, &which.load()?, rule, epochs.parse()?)?;
        println!("{s} {n} {rmse}");
        return Ok(());
    }
    let epochs: usize = match args.first() {
        Some(n) => n.parse()?,
        None => 3,
    };
    let sets = [
        (BenchData::Synthetic1m, SyntheticSpec::ML_1M_SHAPE),
        (BenchData::SyntheticLarge, SyntheticSpec::LARGE_CATALOGUE),
    ];
    let mut per_m = Vec::new();
    println!(
        "| data set | trainer | rule | epochs | s/epoch (median) | s/M ratings | RMSE (last epoch) |"
    );
    println!("|---|---|---|---:|---:|---:|---:|");
    for (which, spec) in sets {
        let name = which.name();
        for rule in rules() {
            let (s, trained_on, rmse) = exp_in_child(which, rule, epochs)?;
            let m = s / (trained_on as f64 / 1e6);
            per_m.push((name, "exp", rule.name(), m));
            println!(
                "| {name} | exp, batch 64 | {} | {epochs} | {s:.3} | {m:.3} | {rmse:.4} (test) |",
                rule.name()
            );
        }
        let data = synthetic::generate(&spec)?;
        let r = &data.ratings;
        let mut triples: Vec<(u32, u32, f32)> = (0..r.len())
            .map(|k| (r.users[k], r.items[k], r.values[k]))
            .collect();
        drop(data);
        for rule in rules() {
            let (times, rmse) = train(&mut triples, spec.users, spec.items, rule, epochs);
            let s = median(&times);
            let m = s / (triples.len() as f64 / 1e6);
            per_m.push((name, "bare loop", rule.name(), m));
            println!(
                "| {name} | bare loop, one rating a step | {} | {epochs} | {s:.3} | {m:.3} | {rmse:.4} (train) |",
                rule.name()
            );
        }
    }
    println!();
    for trainer in ["bare loop", "exp"] {
        for rule in rules() {
            let of = |set: BenchData| {
                per_m
                    .iter()
                    .find(|(n, t, r, _)| *n == set.name() && *t == trainer && *r == rule.name())
                    .map(|x| x.3)
            };
            if let (Some(small), Some(large)) =
                (of(BenchData::Synthetic1m), of(BenchData::SyntheticLarge))
            {
                println!(
                    "- {trainer}, {}: seconds per M ratings, large set / 1M set = {:.2}×",
                    rule.name(),
                    large / small
                );
            }
        }
    }
    Ok(())
}
