//! The CPU workers' shared core budget: a run with `training.threads = N` takes N of the
//! cores the CPU workers stand for while it trains, so that runs × threads never exceed
//! them (`exp run --jobs`, `cpu:N`).

use std::sync::{Condvar, Mutex};

/// Cores free for CPU runs; a worker waits for a multi-threaded run's cores.
#[derive(Debug)]
pub struct CoreBudget {
    total: usize,
    free: Mutex<usize>,
    freed: Condvar,
}

impl CoreBudget {
    /// A budget of `total` cores (the number of CPU workers; at least 1).
    pub fn new(total: usize) -> Self {
        let total = total.max(1);
        CoreBudget {
            total,
            free: Mutex::new(total),
            freed: Condvar::new(),
        }
    }

    /// Takes `threads` cores (at most the whole budget), waiting until they are free; they
    /// go back when the returned lease is dropped.
    pub fn take(&self, threads: usize) -> Lease<'_> {
        let n = threads.clamp(1, self.total);
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free < n {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= n;
        Lease { budget: self, n }
    }
}

/// Cores held by one running run.
#[derive(Debug)]
pub struct Lease<'a> {
    budget: &'a CoreBudget,
    n: usize,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut free = self.budget.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += self.n;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn leases_never_hold_more_cores_than_the_budget() {
        // Four workers on a budget of 2 take 2, 1, 2, 1 cores in turn: the cores in use
        // never pass 2, and a request beyond the budget is cut to it.
        let budget = CoreBudget::new(2);
        let in_use = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for w in 0..4 {
                let (budget, in_use, peak) = (&budget, &in_use, &peak);
                s.spawn(move || {
                    for round in 0..20 {
                        let n = 1 + (w + round) % 2;
                        let _lease = budget.take(n);
                        let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        in_use.fetch_sub(n, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert!(peak.load(Ordering::SeqCst) >= 1);
        let _all = budget.take(5);
        assert_eq!(
            *budget.free.lock().unwrap(),
            0,
            "5 is cut to the budget of 2"
        );
    }
}
