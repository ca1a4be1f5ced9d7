//! The store on a real PostgreSQL server: the same operations as on SQLite, and what only
//! a server shared by several processes has to get right (concurrent claims and trial
//! draws, a takeover after a stale heartbeat). Each test works in its own scratch
//! database; without `EXP_TEST_POSTGRES` they skip with a line saying so (CI requires it).

use std::collections::HashMap;
use std::sync::{Arc, Barrier};

use super::db::params;
use super::owner::Owner;
use super::predictions::Prediction;
use super::records::{Claim, EpochRecord, NewRun, Provenance, RunOutcome, RunStatus};
use super::scratch::ScratchDatabase;
use super::trials::{NewTrial, TrialStatus};
use super::{Store, StoreError};

fn scratch(test: &str) -> Option<(ScratchDatabase, Store)> {
    let db = ScratchDatabase::create(test)?;
    let store = Store::connect(db.postgres_url()).expect("connect to the scratch database");
    Some((db, store))
}

fn run(key: &str) -> NewRun {
    NewRun {
        key: key.into(),
        params_json: "{}".into(),
        config_json: "{}".into(),
        fold: 0,
        repeat: 0,
        trial: None,
    }
}

fn owner(host: &str, pid: u32) -> Owner {
    Owner {
        host: host.into(),
        pid,
        since: "9999-01-01T00:00:00.000Z".into(),
    }
}

fn epoch(n: usize, rmse: f64) -> EpochRecord {
    EpochRecord {
        epoch: n,
        train_loss: 0.5,
        rmse,
        mae: 0.7,
        seconds: 0.1,
        validation_rmse: Some(rmse + 0.01),
        validation_mae: None,
        train_seconds: Some(0.05),
    }
}

/// Column names, types and nullability of each table, as SQLite declares them and as
/// PostgreSQL does (its types written in SQLite's words).
#[test]
fn postgres_schema_matches_sqlite_column_for_column() {
    let Some((_db, pg)) = scratch("postgres_schema_matches_sqlite_column_for_column") else {
        return;
    };
    let lite = Store::open_in_memory().expect("sqlite");
    for table in [
        "experiments",
        "runs",
        "epochs",
        "run_metrics",
        "run_predictions",
        "run_user_metrics",
        "trials",
    ] {
        let sqlite_columns: Vec<(String, String, bool)> = lite
            .test_query(
                &format!("SELECT name, type, \"notnull\" OR pk FROM pragma_table_info('{table}')"),
                &[],
            )
            .iter()
            .map(|r| {
                (
                    r.get::<String>(0).unwrap(),
                    r.get::<String>(1).unwrap(),
                    r.get::<i64>(2).unwrap() != 0,
                )
            })
            .collect();
        let postgres_columns: Vec<(String, String, bool)> = pg
            .test_query(
                "SELECT column_name::text, data_type::text, is_nullable::text
                 FROM information_schema.columns WHERE table_name = ?1 ORDER BY ordinal_position",
                params![table],
            )
            .iter()
            .map(|r| {
                let sqlite_type = match r.get::<String>(1).unwrap().as_str() {
                    "bigint" => "INTEGER",
                    "double precision" => "REAL",
                    "text" => "TEXT",
                    "bytea" => "BLOB",
                    other => panic!("{table}: unexpected PostgreSQL type {other}"),
                };
                (
                    r.get::<String>(0).unwrap(),
                    sqlite_type.to_string(),
                    r.get::<String>(2).unwrap() == "NO",
                )
            })
            .collect();
        assert_eq!(postgres_columns, sqlite_columns, "table {table}");
    }
}

#[test]
fn connecting_twice_migrates_once_and_a_newer_schema_is_refused() {
    let Some((db, store)) = scratch("connecting_twice_migrates_once_and_a_newer_schema_is_refused")
    else {
        return;
    };
    let version = |store: &Store| {
        store.test_query("SELECT version FROM exp_schema", &[])[0]
            .get::<i64>(0)
            .unwrap()
    };
    assert_eq!(version(&store), super::MIGRATIONS.len() as i64);
    let again = Store::connect(db.postgres_url()).expect("second connection");
    assert_eq!(version(&again), super::MIGRATIONS.len() as i64);
    again.test_query("UPDATE exp_schema SET version = 999 RETURNING version", &[]);
    let err = Store::connect(db.postgres_url()).expect_err("a newer schema");
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("schema version 999"), "{text}");
    assert!(!text.contains("exp-test"), "the password stays out: {text}");
}

#[test]
fn a_run_goes_through_claim_epochs_and_finish_as_on_sqlite() {
    let Some((_db, mut store)) = scratch("a_run_goes_through_claim_epochs_and_finish_as_on_sqlite")
    else {
        return;
    };
    let exp = store
        .upsert_experiment("e", "e.toml", "[x]")
        .expect("experiment");
    assert_eq!(store.upsert_experiment("e", "e.toml", "[y]").unwrap(), exp);
    let me = owner("node1", 11);
    let Claim::Claimed(id) = store.claim_run(exp, &run("k"), &me, "cpu", false).unwrap() else {
        panic!("first claim");
    };
    // Another live host with a fresh heartbeat keeps it.
    assert_eq!(
        store
            .claim_run(exp, &run("k"), &owner("node2", 22), "cpu", false)
            .unwrap(),
        Claim::Busy {
            host: "node1".into(),
            pid: 11
        }
    );
    store
        .record_provenance(id, &me, &Provenance::new(u64::MAX, "abc".into()))
        .unwrap();
    store.add_epoch(id, &me, &epoch(1, 0.95)).unwrap();
    store.add_epoch(id, &me, &epoch(2, f64::NAN)).unwrap();
    let preds = vec![Prediction {
        user: 1,
        item: 2,
        rating: 4.0,
        prediction: 3.5,
    }];
    store.save_predictions(id, &me, &preds).unwrap();
    store.save_predictions(id, &me, &preds).unwrap();
    store
        .save_user_metric(id, &me, "ndcg@10", &[(1, 0.5), (2, 0.25)])
        .unwrap();
    store
        .finish_run(
            id,
            &me,
            &RunOutcome::Finished {
                rmse: 0.95,
                mae: 0.75,
                best_epoch: 1,
                seconds: 2.0,
                checkpoint: None,
                engine: Some("fused".into()),
                metrics: vec![("ndcg@10".into(), 0.375), ("nan".into(), f64::NAN)],
            },
        )
        .unwrap();
    let stored = store.run(id).unwrap();
    assert_eq!(stored.status, RunStatus::Finished);
    assert_eq!(stored.rmse, Some(0.95));
    assert_eq!(stored.seed, Some(u64::MAX));
    assert_eq!(stored.metrics["ndcg@10"], 0.375);
    assert!(stored.metrics["nan"].is_nan());
    let epochs = store.epochs(id).unwrap();
    assert_eq!(epochs.len(), 2);
    assert_eq!(epochs[0].validation_rmse, Some(0.96));
    assert!(epochs[1].rmse.is_nan());
    assert_eq!(store.predictions(id).unwrap(), Some(preds));
    assert_eq!(
        store.user_metric(id, "ndcg@10").unwrap(),
        Some(vec![(1, 0.5), (2, 0.25)])
    );
    assert_eq!(store.runs(Some("e")).unwrap().len(), 1);
    assert_eq!(store.runs(None).unwrap().len(), 1);
    assert!(store.finished_keys(exp).unwrap().contains("k"));
    assert_eq!(store.status_counts().unwrap()[0].finished, 1);
    assert_eq!(
        store.claim_run(exp, &run("k"), &me, "cpu", false).unwrap(),
        Claim::Finished
    );
    assert_eq!(store.delete_runs(&[id]).unwrap(), 1);
    assert!(store.delete_experiment_if_empty("e").unwrap());
}

#[test]
fn a_stale_run_is_taken_over_and_its_old_owner_writes_nothing_more() {
    let Some((_db, mut store)) =
        scratch("a_stale_run_is_taken_over_and_its_old_owner_writes_nothing_more")
    else {
        return;
    };
    let exp = store.upsert_experiment("e", "e.toml", "").unwrap();
    let old = owner("node1", 11);
    let new = owner("node2", 22);
    let Claim::Claimed(id) = store.claim_run(exp, &run("k"), &old, "cpu", false).unwrap() else {
        panic!("claim");
    };
    store.add_epoch(id, &old, &epoch(1, 1.0)).unwrap();
    store.age_heartbeats(3600);
    assert_eq!(
        store.claim_run(exp, &run("k"), &new, "cpu", false).unwrap(),
        Claim::Claimed(id)
    );
    assert!(
        store.epochs(id).unwrap().is_empty(),
        "the takeover starts afresh"
    );
    let err = store.add_epoch(id, &old, &epoch(2, 1.0)).unwrap_err();
    match err {
        StoreError::ClaimLost { now, .. } => assert_eq!(now, "being trained by node2 (pid 22)"),
        other => panic!("{other:?}"),
    }
    store.add_epoch(id, &new, &epoch(1, 0.9)).unwrap();
    assert_eq!(store.epochs(id).unwrap().len(), 1);
}

/// Four connections race over the same 40 keys, as four workers on four hosts would:
/// every key is claimed exactly once.
#[test]
fn racing_connections_claim_every_run_exactly_once() {
    let Some((db, mut store)) = scratch("racing_connections_claim_every_run_exactly_once") else {
        return;
    };
    let exp = store.upsert_experiment("e", "e.toml", "").unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|worker| {
            let url = db.postgres_url().clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut store = Store::connect(&url).expect("connect");
                let me = owner(&format!("node{worker}"), 100 + worker);
                barrier.wait();
                let mut claimed = Vec::new();
                for key in 0..40 {
                    if let Claim::Claimed(id) = store
                        .claim_run(exp, &run(&format!("k{key}")), &me, "cpu", false)
                        .expect("claim")
                    {
                        claimed.push(id);
                    }
                }
                claimed
            })
        })
        .collect();
    let mut times: HashMap<i64, usize> = HashMap::new();
    for handle in handles {
        for id in handle.join().expect("worker") {
            *times.entry(id).or_default() += 1;
        }
    }
    assert_eq!(times.len(), 40, "every key claimed");
    assert!(times.values().all(|&n| n == 1), "{times:?}");
    let rows = store.test_query("SELECT COUNT(*), COUNT(DISTINCT owner_host) FROM runs", &[]);
    assert_eq!(rows[0].get::<i64>(0).unwrap(), 40);
}

/// Two connections draw trials of one search at once: numbers 0..limit, each once.
#[test]
fn racing_connections_draw_each_trial_number_once() {
    let Some((db, mut store)) = scratch("racing_connections_draw_each_trial_number_once") else {
        return;
    };
    let exp = store.upsert_experiment("s", "s.toml", "").unwrap();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let url = db.postgres_url().clone();
            std::thread::spawn(move || {
                let mut store = Store::connect(&url).expect("connect");
                let mut drawn = Vec::new();
                while let Some(trial) = store
                    .draw_trial(exp, 20, |n, history| {
                        assert_eq!(history.len(), n, "drawn from every earlier trial");
                        Ok::<_, ()>(NewTrial {
                            params_json: format!("{{\"n\":{n}}}"),
                            sampler: "random".into(),
                            sampler_seed: n as u64,
                            history: n,
                        })
                    })
                    .expect("draw")
                    .expect("sampler")
                {
                    drawn.push(trial.number);
                }
                drawn
            })
        })
        .collect();
    let mut numbers: Vec<usize> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("drawer"))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..20).collect::<Vec<_>>());
    store
        .end_trial(exp, 3, TrialStatus::Complete, Some(0.9))
        .unwrap();
    let trials = store.trials(exp).unwrap();
    assert_eq!(trials[3].status, TrialStatus::Complete);
    assert!(trials[3].ended_after.is_some_and(|s| s >= 0.0));
}
