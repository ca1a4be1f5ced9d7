//! Who is training a `running` run, and when such a run may be taken over.
//!
//! Every claim stores the claiming process's host name and pid, and the process refreshes
//! a heartbeat on its running rows while it lives. A run left `running` by a process that
//! died (killed, crashed, machine rebooted) must be trained again by the next `exp run`,
//! but a run another live process is training must never be taken from it. The rule
//! ([`may_reclaim`]):
//!
//! - a row with no owner (written before owners were recorded) is reclaimable;
//! - a row whose heartbeat is older than [`STALE_AFTER`] is reclaimable, whatever its host
//!   (its owner stopped refreshing: dead, or on a machine we cannot see);
//! - a row owned on this host is reclaimable when its pid is not a live process, or is our
//!   own pid (an earlier process that had our pid is gone; this process never claims a key
//!   it is already training);
//! - otherwise (a live process here, or a fresh heartbeat from another host) it is busy.

use std::time::Duration;

/// How often a sweep refreshes the heartbeat of the runs it is training.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(20);

/// A `running` row whose heartbeat is older than this is taken to be abandoned. Many
/// heartbeats long, so a busy machine or a slow write never makes a live run look dead.
pub const STALE_AFTER: Duration = Duration::from_secs(300);

/// The process claiming runs: stored with each claim so other processes can tell whether
/// the run is still being trained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Host name of the machine.
    pub host: String,
    /// Process id on that machine.
    pub pid: u32,
    /// When this process began its sweep (the store's own clock, ISO-8601 UTC). Runs that
    /// ended after this were ended by a concurrent process during this sweep, and are not
    /// retrained by this one.
    pub since: String,
}

impl Owner {
    /// This process on this host, sweeping since `since`.
    pub fn this_process(since: String) -> Owner {
        Owner {
            host: host_name(),
            pid: std::process::id(),
            since,
        }
    }
}

/// The recorded owner of a `running` row and how long ago it last showed life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// Host and pid that claimed it; `None` for rows written before owners were stored.
    pub owner: Option<(String, u32)>,
    /// Time since its last heartbeat (or its claim); `None` if unknown.
    pub silent_for: Option<Duration>,
}

/// Whether `me` may take over the `running` row `claimed`; `alive` says whether a pid on
/// this host is a live process (injected so the rule can be tested).
pub fn may_reclaim(claimed: &Claimed, me: &Owner, alive: impl Fn(u32) -> bool) -> bool {
    let Some((host, pid)) = &claimed.owner else {
        return true;
    };
    if claimed.silent_for.is_some_and(|age| age > STALE_AFTER) {
        return true;
    }
    *host == me.host && (*pid == me.pid || !alive(*pid))
}

/// Whether process `pid` on this machine is alive. A zombie (exited, not yet reaped by
/// its parent) counts as dead. Where this cannot be known it answers `true`, leaving the
/// heartbeat to decide.
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // /proc/<pid>/stat is "pid (comm) S …"; comm may hold spaces and parentheses, so
        // the state is the first field after the last ')'.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !matches!(
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next()),
                Some("Z" | "X" | "x")
            ),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is delivered.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// This machine's host name (`unknown` if it cannot be read).
pub fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within
        // it on success (truncation is handled by looking for the NUL).
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !name.is_empty() {
                return name;
            }
        }
    }
    "unknown".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Owner {
        Owner {
            host: "here".into(),
            pid: 100,
            since: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    fn claimed(host: &str, pid: u32, secs: u64) -> Claimed {
        Claimed {
            owner: Some((host.into(), pid)),
            silent_for: Some(Duration::from_secs(secs)),
        }
    }

    #[test]
    fn a_live_process_keeps_its_run_and_a_dead_one_loses_it() {
        let alive = |pid: u32| pid == 200;
        assert!(!may_reclaim(&claimed("here", 200, 5), &me(), alive));
        assert!(may_reclaim(&claimed("here", 300, 5), &me(), alive));
    }

    #[test]
    fn our_own_pid_means_an_earlier_process_that_had_it() {
        assert!(may_reclaim(&claimed("here", 100, 5), &me(), |_| true));
    }

    #[test]
    fn another_host_is_trusted_until_its_heartbeat_goes_stale() {
        let stale = STALE_AFTER.as_secs() + 1;
        assert!(!may_reclaim(&claimed("there", 300, 5), &me(), |_| false));
        assert!(may_reclaim(&claimed("there", 300, stale), &me(), |_| true));
        // A stale heartbeat wins over a pid that looks alive (reused by another program).
        assert!(may_reclaim(&claimed("here", 200, stale), &me(), |_| true));
    }

    #[test]
    fn rows_without_an_owner_are_reclaimable() {
        let legacy = Claimed {
            owner: None,
            silent_for: None,
        };
        assert!(may_reclaim(&legacy, &me(), |_| true));
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(pid_alive(std::process::id()));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("reap");
        assert!(!pid_alive(pid), "pid {pid} was reaped");
        assert!(!host_name().is_empty());
    }
}
