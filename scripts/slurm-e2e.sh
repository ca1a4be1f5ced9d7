#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on localhost, and an end-to-end test of
# `exp slurm submit` on it.
#
#   scripts/slurm-e2e.sh start [DIR]   # install (if missing), configure and start munged,
#                                      # slurmctld and slurmd; prints `export ...` lines
#   scripts/slurm-e2e.sh stop [DIR]    # cancel its jobs, stop its daemons, remove DIR
#   scripts/slurm-e2e.sh smoke [DIR]   # start, run a job, a job array and a scancel, stop
#   scripts/slurm-e2e.sh test [DIR]    # start, run the default sweep through
#                                      # `exp slurm submit` against PostgreSQL, stop
#
# `test` has two phases on one cluster and one PostgreSQL server. Phase 1 (database
# slurm_e2e): scancel one array task mid-run, then resubmit; all 40 runs finish once. Phase 2
# (database slurm_e2e_cancel, longer runs: training.epochs=$SLURM_E2E_EPOCHS): scancel the
# whole array once some runs have finished and some run; the store must hold no `running`
# run, only finished and interrupted ones; resubmitting the same command finishes the rest,
# each run exactly once.
#
# By hand:
#
#   eval "$(scripts/slurm-e2e.sh start)"      # sets SLURM_CONF and SLURM_E2E_DIR
#   sinfo; sbatch --wrap hostname; squeue
#   scripts/slurm-e2e.sh stop                 # DIR from SLURM_E2E_DIR
#
# DIR (argument, else $SLURM_E2E_DIR, else a fresh `mktemp -d` for start/smoke/test) holds
# everything: slurm.conf, spool and state directories, logs, pid files, the munge key,
# socket and seed. stdout carries only the `export` lines (start) or the test's results;
# progress and errors go to stderr. `start` on a DIR whose cluster runs prints the exports
# again. `stop` only touches a DIR that `start` made (it holds .slurm-e2e) and only kills
# processes whose pid files are in DIR and whose command line or environment names DIR.
#
# Needs root (Debian 12: apt installs `slurm-wlm` and `munge` when a tool is missing; the
# daemons run as root, no systemd, no cgroups). Environment:
#   SLURM_E2E_PORT     slurmctld's port (default 6817); slurmd uses the next one
#   SLURM_E2E_TIMEOUT  seconds `test` waits for each job array (default 600)
#   SLURM_E2E_EPOCHS   training.epochs for phase 2 of `test` (default 60: about 1 s a run
#                      under Slurm on 2 cores, the sweep about 20 s)
#   SLURM_E2E_PG_PORT  the test's PostgreSQL port (default 55440)
#   EXP                the exp binary for `test` (default target/release/exp)
#
# The cluster: one node (`hostname -s`, its line from `slurmd -C`, NodeAddr 127.0.0.1),
# one partition `e2e`, select/cons_tres with CR_Core (a 1-CPU task takes one core),
# proctrack/pgid, task/none, no accounting (sacct says "disabled"; `scontrol show job`
# keeps finished jobs for MinJobAge = 10 minutes instead).
set -euo pipefail

prog=$(basename "$0")
repo_root=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "slurm-e2e: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}
usage() {
    echo "usage: $prog start|stop|smoke|test [DIR]" >&2
    exit 2
}

ctld_port=${SLURM_E2E_PORT:-6817}
[[ $ctld_port =~ ^[0-9]+$ ]] && [ "$ctld_port" -ge 1 ] && [ "$ctld_port" -lt 65535 ] ||
    die "bad SLURM_E2E_PORT: $ctld_port"
slurmd_port=$((ctld_port + 1))

# ---------------------------------------------------------------------------------------
# Paths (set by set_dir)

set_dir() {
    dir=$(realpath -m -- "$1")
    [ "$dir" != / ] || die "refusing to use / as DIR"
    marker=$dir/.slurm-e2e
    conf=$dir/slurm.conf
    munge_dir=$dir/munge
    munge_socket=$munge_dir/munge.socket
    run_dir=$dir/run
    log_dir=$dir/log
}

# dir_from_args [DIR] [fresh]: DIR, else $SLURM_E2E_DIR, else (with `fresh`) mktemp -d.
dir_from_args() {
    if [ -n "${1:-}" ]; then
        set_dir "$1"
    elif [ -n "${SLURM_E2E_DIR:-}" ]; then
        set_dir "$SLURM_E2E_DIR"
    elif [ "${2:-}" = fresh ]; then
        set_dir "$(mktemp -d "${TMPDIR:-/tmp}/slurm-e2e.XXXXXX")"
    else
        die "no DIR: pass it or set SLURM_E2E_DIR"
    fi
}

tail_log() {
    if [ -s "$1" ]; then
        say "last lines of $1:"
        tail -n 20 "$1" | sed 's/^/    /' >&2
    fi
}

# ---------------------------------------------------------------------------------------
# Processes, by pid file

# our_pid NAME PIDFILE: prints the pid in PIDFILE when that process is alive, is NAME
# (its comm) and names $dir in its command line or environment.
our_pid() {
    local name=$1 file=$2 pid
    [ -s "$file" ] || return 1
    pid=$(head -1 "$file" | tr -dc 0-9)
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
    if tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$dir" ||
        tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF -- "SLURM_CONF=$conf"; then
        echo "$pid"
    else
        return 1
    fi
}

# stop_pid NAME PID: SIGTERM, up to 15 s, then SIGKILL.
stop_pid() {
    local name=$1 pid=$2 i
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 150); do
        [ -d "/proc/$pid" ] || return 0
        # A zombie of ours is gone for every purpose but the process table.
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 0
        sleep 0.1
    done
    say "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# stray_stepds: slurmstepd processes of this cluster (they carry SLURM_CONF=$conf).
stray_stepds() {
    local p
    for p in $(pgrep -x slurmstepd || true); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF -- "SLURM_CONF=$conf"; then
            echo "$p"
        fi
    done
}

ctld_pid() { our_pid slurmctld "$run_dir/slurmctld.pid"; }
slurmd_pid() { our_pid slurmd "$run_dir/slurmd.pid"; }
munged_pid() { our_pid munged "$munge_dir/munged.pid"; }

# ---------------------------------------------------------------------------------------
# Install

install_if_missing() {
    local missing=() t
    for t in munged munge slurmctld slurmd sbatch squeue sinfo scancel scontrol; do
        command -v "$t" >/dev/null || missing+=("$t")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install the Debian packages slurm-wlm and munge (as root)"
    say "missing ${missing[*]}: installing the Debian packages slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    # Without systemd, the packages' postinst may start the system munged/slurm daemons
    # through invoke-rc.d: forbid that for the install if no policy says otherwise.
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local ok=1
    apt-get install -y --no-install-recommends slurm-wlm munge >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends slurm-wlm munge >&2; } || ok=
    [ -z "$made_policy" ] || rm -f "$policy"
    [ -n "$ok" ] || die "apt-get install slurm-wlm munge failed"
    for t in munged slurmctld slurmd sbatch; do
        command -v "$t" >/dev/null || die "installed slurm-wlm and munge but $t is still missing"
    done
}

# ---------------------------------------------------------------------------------------
# Start

print_exports() {
    printf 'export SLURM_CONF=%q\n' "$conf"
    printf 'export SLURM_E2E_DIR=%q\n' "$dir"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_conf() {
    local node nodeline
    node=$(hostname -s)
    # `slurmd -C`: "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105" and an UpTime line.
    nodeline=$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=') ||
        die "slurmd -C printed no NodeName line"
    [[ $nodeline == "NodeName=$node "* ]] ||
        die "slurmd -C names another node than hostname -s ($node): $nodeline"
    cat >"$conf" <<EOF
# Written by scripts/slurm-e2e.sh: a single-node cluster on localhost, all state in
# $dir.
ClusterName=e2e
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$run_dir/slurmctld.pid
SlurmdPidFile=$run_dir/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# No cgroups: process groups track a job's processes, no task binding.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
# Seconds between SIGTERM and SIGKILL for a cancelled job.
KillWait=10
# Finished jobs stay visible to scontrol show job for 10 minutes (no accounting).
MinJobAge=600
$nodeline NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=e2e Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munged() {
    mkdir -p "$munge_dir"
    # munged wants the key readable by its user only, and (a warning otherwise) every
    # directory to the socket searchable by all.
    chmod 0755 "$dir" "$munge_dir"
    if [ ! -s "$munge_dir/munge.key" ]; then
        (umask 077 && head -c 1024 /dev/urandom >"$munge_dir/munge.key")
    fi
    # As root, munged refuses to run without --force ("Running as root"); the key is ours.
    if ! munged --force --socket="$munge_socket" --key-file="$munge_dir/munge.key" \
        --log-file="$log_dir/munged.log" --pid-file="$munge_dir/munged.pid" \
        --seed-file="$munge_dir/munged.seed" 2>"$log_dir/munged.stderr"; then
        tail_log "$log_dir/munged.stderr"
        tail_log "$log_dir/munged.log"
        die "munged failed to start"
    fi
    local i
    for i in $(seq 50); do
        munge -n -S "$munge_socket" 2>/dev/null | unmunge -S "$munge_socket" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail_log "$log_dir/munged.log"
    die "munged started but munge | unmunge on $munge_socket fails"
}

# wait_node_idle SECONDS: until sinfo shows the node idle.
wait_node_idle() {
    local node state i
    node=$(hostname -s)
    for i in $(seq $(($1 * 5))); do
        state=$(SLURM_CONF=$conf sinfo -h -n "$node" -o %T 2>/dev/null || true)
        [ "$state" != idle ] || return 0
        if ! ctld_pid >/dev/null; then
            tail_log "$log_dir/slurmctld.log"
            die "slurmctld died"
        fi
        if ! slurmd_pid >/dev/null; then
            tail_log "$log_dir/slurmd.log"
            die "slurmd died"
        fi
        sleep 0.2
    done
    tail_log "$log_dir/slurmctld.log"
    tail_log "$log_dir/slurmd.log"
    die "node $node is not idle after $1 s (sinfo: ${state:-nothing})"
}

start() {
    install_if_missing
    [ "$(id -u)" -eq 0 ] || die "run as root: slurmd runs jobs as any user only as root, and the daemons here run as root"

    if [ -e "$marker" ] && ctld_pid >/dev/null && slurmd_pid >/dev/null && munged_pid >/dev/null; then
        say "a cluster is already running from $dir"
        wait_node_idle 30
        print_exports
        return
    fi
    if [ -e "$dir" ]; then
        [ -d "$dir" ] || die "$dir exists and is not a directory"
        if [ ! -e "$marker" ] && [ -n "$(ls -A "$dir")" ]; then
            die "$dir is not empty and was not made by $prog (no $marker)"
        fi
        if [ -e "$marker" ]; then
            say "$dir holds a stopped or half-running cluster: stopping what is left first"
            stop_daemons
        fi
    fi
    if port_in_use "$ctld_port" || port_in_use "$slurmd_port"; then
        die "port $ctld_port or $slurmd_port on 127.0.0.1 is in use (another Slurm?); set SLURM_E2E_PORT"
    fi
    # munged's socket path is limited to 107 bytes.
    [ ${#munge_socket} -le 100 ] || die "DIR is too long for a Unix socket path: $dir"

    local t0=$SECONDS
    mkdir -p "$dir"
    touch "$marker"
    mkdir -p "$dir/spool/ctld" "$dir/spool/d" "$run_dir" "$log_dir"
    write_conf
    export SLURM_CONF=$conf

    say "starting munged (socket $munge_socket)"
    start_munged
    say "starting slurmctld on 127.0.0.1:$ctld_port (log $log_dir/slurmctld.log)"
    # Both daemonise and write their pid files; -f puts DIR on their command lines.
    slurmctld -f "$conf" 2>"$log_dir/slurmctld.stderr" || {
        tail_log "$log_dir/slurmctld.stderr"
        tail_log "$log_dir/slurmctld.log"
        die "slurmctld failed to start"
    }
    say "starting slurmd on port $slurmd_port (log $log_dir/slurmd.log)"
    slurmd -f "$conf" 2>"$log_dir/slurmd.stderr" || {
        tail_log "$log_dir/slurmd.stderr"
        tail_log "$log_dir/slurmd.log"
        die "slurmd failed to start"
    }
    wait_node_idle 60
    say "node $(hostname -s) idle after $((SECONDS - t0)) s; $dir"
    print_exports
}

# ---------------------------------------------------------------------------------------
# Stop

# cancel_all_jobs: scancel every job of this cluster and wait (KillWait + slack) for them.
cancel_all_jobs() {
    local jobs i
    jobs=$(SLURM_CONF=$conf squeue -h -o %F 2>/dev/null | sort -u) || return 0
    [ -n "$jobs" ] || return 0
    say "cancelling jobs: $(echo $jobs)"
    # shellcheck disable=SC2086
    SLURM_CONF=$conf scancel $jobs 2>/dev/null || true
    for i in $(seq 150); do
        [ -n "$(SLURM_CONF=$conf squeue -h 2>/dev/null)" ] || return 0
        sleep 0.2
    done
    say "jobs still listed 30 s after scancel; stopping the daemons anyway"
}

stop_daemons() {
    local pid
    if ctld_pid >/dev/null && slurmd_pid >/dev/null; then cancel_all_jobs; fi
    if pid=$(slurmd_pid); then stop_pid slurmd "$pid"; fi
    if pid=$(ctld_pid); then stop_pid slurmctld "$pid"; fi
    for pid in $(stray_stepds); do stop_pid slurmstepd "$pid"; done
    if pid=$(munged_pid); then stop_pid munged "$pid"; fi
}

stop() {
    [ -e "$dir" ] || { say "$dir does not exist; nothing to stop"; return 0; }
    if [ ! -e "$marker" ] && [ -n "$(ls -A "$dir")" ]; then
        die "$dir was not made by $prog (no $marker); not touching it"
    fi
    stop_daemons
    # A PostgreSQL server `test` left behind (its stop failed) keeps DIR/pg.
    if [ -f "$dir/pg/data/postmaster.pid" ]; then
        "$repo_root/scripts/pg-server.sh" stop "$dir/pg" || true
    fi
    rm -rf -- "$dir"
    say "stopped; removed $dir"
}

# ---------------------------------------------------------------------------------------
# Smoke test: the cluster alone

# wait_jobs SECONDS JOBID...: until squeue lists none of the (array) job ids.
wait_jobs() {
    local limit=$1 out i
    shift
    for i in $(seq $((limit * 2))); do
        out=$(squeue -h -r -o %F) || die "squeue failed (is slurmctld alive? $log_dir/slurmctld.log)"
        local left=0 j
        for j in "$@"; do grep -qxF -- "$j" <<<"$out" && left=1; done
        [ "$left" -eq 1 ] || return 0
        sleep 0.5
    done
    squeue >&2 || true
    die "job(s) $* still queued after $limit s"
}

# job_states JOBID: "ArrayTaskId JobState ExitCode" per task (scontrol keeps them MinJobAge).
job_states() {
    scontrol -o show job "$1" | tr ' ' '\n' |
        awk -F= '$1=="ArrayTaskId"{t=$2} $1=="JobState"{s=$2} $1=="ExitCode"{print (t==""?"-":t), s, $2; t=""}'
}

smoke() {
    local out=$dir/smoke j a states
    mkdir -p "$out"
    say "smoke: sbatch --wrap hostname"
    j=$(sbatch --parsable -o "$out/hostname-%j.out" --wrap hostname)
    j=${j%%;*}
    say "smoke: sbatch --array=0-2 (sleep 5; echo task id)"
    a=$(sbatch --parsable --array=0-2 -o "$out/array-%A_%a.out" --wrap 'sleep 5; echo $SLURM_ARRAY_TASK_ID')
    a=${a%%;*}
    local i
    for i in $(seq 40); do
        [ "$(squeue -h -j "${a}_1" -o %T 2>/dev/null)" != RUNNING ] || break
        sleep 0.25
    done
    squeue >&2
    say "smoke: scancel ${a}_1 ($(squeue -h -j "${a}_1" -o %T 2>/dev/null || echo gone))"
    scancel "${a}_1"
    wait_jobs 60 "$j" "$a"
    [ -z "$(squeue -h)" ] || die "squeue is not empty"
    [ "$(cat "$out/hostname-$j.out")" = "$(hostname)" ] || die "hostname job wrote: $(cat "$out/hostname-$j.out")"
    states=$(job_states "$a")
    say "array $a tasks (task state exit):"
    sed 's/^/    /' <<<"$states" >&2
    grep -qx '0 COMPLETED 0:0' <<<"$states" || die "task 0 did not complete"
    grep -qx '2 COMPLETED 0:0' <<<"$states" || die "task 2 did not complete"
    grep -q '^1 CANCELLED ' <<<"$states" || die "task 1 was not cancelled"
    [ "$(cat "$out/array-${a}_0.out")" = 0 ] && [ "$(cat "$out/array-${a}_2.out")" = 2 ] ||
        die "array outputs are wrong"
    say "smoke: ok"
}

# ---------------------------------------------------------------------------------------
# End-to-end test: the default sweep through `exp slurm submit`

psql_q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$db_url" -c "$1"; }

# submit [ARG...]: `exp slurm submit` of the sweep to $db_url (3 workers, the ARGs added);
# prints the job id (its last stdout line). Its stderr is copied to ours and kept in
# $dir/submit.stderr (it says how many runs the grid has: submitted_runs).
submit() {
    local out id
    out=$("$exp" slurm submit experiments/sweep.toml --db "$db_url" --workers 3 \
        --cpus-per-task 1 --time 00:20:00 "$@" 2>"$dir/submit.stderr") || {
        cat "$dir/submit.stderr" >&2
        die "exp slurm submit failed"
    }
    cat "$dir/submit.stderr" >&2
    id=$(tail -n 1 <<<"$out" | tr -d '[:space:]')
    id=${id%%;*}
    [[ $id =~ ^[0-9]+$ ]] || die "exp slurm submit printed no job id as its last line: $out"
    echo "$id"
}

# submitted_runs: the grid's size, from the last submit's "sweep: N run(s) stored in ...".
submitted_runs() {
    local n
    n=$(grep -oE '[0-9]+ run\(s\) stored' "$dir/submit.stderr" | head -1 | cut -d' ' -f1)
    [ -n "$n" ] || die "exp slurm submit did not say how many runs it stored (no \"N run(s) stored\" in its stderr)"
    echo "$n"
}

# array_queued JOBID: whether squeue lists the job array (or a task of it, completing
# included). Read whole first: `squeue | grep -q` under pipefail may fail by SIGPIPE.
array_queued() {
    local out
    out=$(squeue -h -r -o %F) || die "squeue failed (is slurmctld alive? $log_dir/slurmctld.log)"
    grep -qxF -- "$1" <<<"$out"
}

# wait_array JOBID SECONDS [WHY]: until squeue no longer lists the job array (nor a task
# of it completing); dies with the queue and the tasks' output after SECONDS (WHY: what
# the limit is, for the message; default SLURM_E2E_TIMEOUT).
wait_array() {
    local job=$1 limit=$2 why=${3:-SLURM_E2E_TIMEOUT} deadline=$((SECONDS + $2))
    while array_queued "$job"; do
        [ $SECONDS -lt $deadline ] || {
            squeue >&2 || true
            show_task_output "$job"
            die "job array $job still queued after $limit s ($why)"
        }
        sleep 0.5
    done
}

# elapsed T0: seconds since T0 (date +%s.%N), one decimal.
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# count_runs [STATUS]: runs of experiment sweep in $db_url (with STATUS, if given).
count_runs() {
    psql_q "SELECT count(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id
            WHERE e.name = 'sweep'${1:+ AND r.status = '$1'}"
}

# count_dups: (experiment, key) pairs with more than one run in $db_url.
count_dups() {
    psql_q "SELECT count(*) FROM (SELECT key FROM runs GROUP BY experiment_id, key HAVING count(*) > 1) d"
}

# show_by_status TITLE: the sweep's runs by status, to stderr.
show_by_status() {
    say "$1"
    psql_q "SELECT r.status || ' ' || count(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id
            WHERE e.name = 'sweep' GROUP BY r.status ORDER BY r.status" | sed 's/^/    /' >&2
}

# cancel_mid_run JOBID: scancel task 1 as soon as it owns a running run; a warning when it
# finishes first (the takeover is then not exercised).
cancel_mid_run() {
    local job=$1 deadline=$((SECONDS + 120)) state tid pids n
    while [ $SECONDS -lt $deadline ]; do
        state=$(squeue -h -j "${job}_1" -o '%A %T' 2>/dev/null || true)
        if [ -z "$state" ]; then
            say "warning: task ${job}_1 ended before it owned a running run: nothing cancelled mid-run"
            return
        fi
        if [ "${state#* }" = RUNNING ]; then
            tid=${state%% *}
            # listpids fails while the task's step is starting or ending: no pids yet.
            pids=$(scontrol listpids "$tid" 2>/dev/null | awk 'NR>1 && $1 ~ /^[0-9]+$/ {print $1}' | paste -sd, -) ||
                pids=
            if [ -n "$pids" ]; then
                n=$(psql_q "SELECT count(*) FROM runs WHERE status = 'running' AND owner_pid IN ($pids)" 2>/dev/null || echo 0)
                if [ "${n:-0}" -gt 0 ]; then
                    say "task ${job}_1 (job $tid, pids $pids) owns $n running run(s): scancel ${job}_1"
                    scancel "${job}_1"
                    cancelled=1
                    return
                fi
            fi
        fi
        sleep 0.05
    done
    say "warning: task ${job}_1 owned no running run within 120 s; cancelling it anyway"
    scancel "${job}_1"
    cancelled=1
}

# check_tasks JOBID [CANCELLED_TASK]: every task COMPLETED with exit 0 but the cancelled one.
check_tasks() {
    local states bad
    states=$(job_states "$1")
    say "array $1 tasks (task state exit):"
    sed 's/^/    /' <<<"$states" >&2
    bad=$(awk -v c="${2:-}" '$1 != c && !($2 == "COMPLETED" && $3 == "0:0")' <<<"$states")
    [ -z "$bad" ] || {
        show_task_output "$1"
        die "array $1: task(s) did not complete with exit 0: $(paste -sd ';' <<<"$bad")"
    }
}

# show_task_output JOBID: the tails of this test's files under results/sweep/slurm/ whose
# names hold JOBID_TASK (the array tasks' output, whatever exp names it).
show_task_output() {
    local f
    [ -d results/sweep/slurm ] || return 0
    find results/sweep/slurm -type f -newer "$marker" | grep -E "(^|[^0-9])$1_[0-9]+([^0-9]|\$)" |
        sort | while read -r f; do
        say "last lines of $f:"
        tail -n 15 "$f" | sed 's/^/    /' >&2
    done
}

# e2e_preflight: what `test` needs besides the cluster, checked before starting it.
e2e_preflight() {
    cd "$repo_root"
    exp=${EXP:-target/release/exp}
    [ -x "$exp" ] || die "no $exp: build it first (cargo build --release)"
    "$exp" slurm submit --help >/dev/null 2>&1 || die "$exp has no \`slurm submit\` subcommand"
    "$exp" worker --help >/dev/null 2>&1 || die "$exp has no \`worker\` subcommand"
    [ -f experiments/sweep.toml ] || die "no experiments/sweep.toml in $repo_root"
}

e2e() {
    cd "$repo_root"
    local limit=${SLURM_E2E_TIMEOUT:-600}

    local url
    url=$("$repo_root/scripts/pg-server.sh" start "$dir/pg" "${SLURM_E2E_PG_PORT:-55440}")
    pg_started=1
    command -v psql >/dev/null || die "psql is missing (Debian package postgresql-client)"
    psql -X -q -v ON_ERROR_STOP=1 "$url" -c 'CREATE DATABASE slurm_e2e' >&2
    db_url=${url%/*}/slurm_e2e
    say "database $db_url"

    local -a walls=()
    local round job t0 wall
    for round in 1 2; do
        cancelled=
        t0=$(date +%s.%N)
        job=$(submit)
        say "submission $round: job array $job"
        [ "$round" -ne 1 ] || cancel_mid_run "$job"
        wait_array "$job" "$limit"
        wall=$(elapsed "$t0")
        walls+=("$wall")
        say "submission $round: job array $job done in $wall s"
        check_tasks "$job" "${cancelled:+1}"
        show_by_status "runs by status after submission $round:"
    done

    local finished dups total
    finished=$(count_runs finished)
    total=$(count_runs)
    dups=$(count_dups)

    echo "phase 1 (database slurm_e2e, task 1 of submission 1 cancelled mid-run):"
    echo "submission 1 (task 1 cancelled): ${walls[0]} s"
    echo "submission 2 (resubmitted):      ${walls[1]} s"
    echo "finished runs of sweep: $finished (of $total)"
    echo "duplicate (experiment, key) rows: $dups"
    echo "finished runs by host:"
    psql_q "SELECT coalesce(r.owner_host, '(none)') || ' ' || count(*) FROM runs r
            JOIN experiments e ON e.id = r.experiment_id
            WHERE e.name = 'sweep' AND r.status = 'finished' GROUP BY r.owner_host ORDER BY 1" | sed 's/^/    /'
    echo "finished runs by host and pid (one pid per worker):"
    psql_q "SELECT coalesce(r.owner_host, '(none)') || ' ' || coalesce(r.owner_pid::text, '-') || ' ' || count(*)
            FROM runs r JOIN experiments e ON e.id = r.experiment_id
            WHERE e.name = 'sweep' AND r.status = 'finished'
            GROUP BY r.owner_host, r.owner_pid ORDER BY 1" | sed 's/^/    /'

    [ "$finished" = 40 ] || die "expected 40 finished runs of experiment sweep, found $finished (of $total)"
    [ "$total" = 40 ] || die "expected 40 runs of experiment sweep, found $total"
    [ "$dups" = 0 ] || die "$dups (experiment, key) pairs have more than one run"
    say "test: phase 1 ok"

    e2e_cancel "$url" "$limit"
    say "test: ok"
}

# wait_to_cancel JOBID MIN_FINISHED: until the sweep has MIN_FINISHED finished runs and at
# least one running; dies when the array leaves the queue first (the runs are too short
# to catch it mid-sweep) or after SLURM_E2E_TIMEOUT.
wait_to_cancel() {
    local job=$1 min=$2 deadline=$((SECONDS + ${SLURM_E2E_TIMEOUT:-600})) counts
    while :; do
        counts=$(psql_q "SELECT count(*) FILTER (WHERE r.status = 'finished') || ' ' ||
                                count(*) FILTER (WHERE r.status = 'running')
                         FROM runs r JOIN experiments e ON e.id = r.experiment_id
                         WHERE e.name = 'sweep'" 2>/dev/null || echo '0 0')
        set -- $counts
        if [ "$1" -ge "$min" ] && [ "$2" -ge 1 ]; then
            say "$1 run(s) finished, $2 running: scancel $job (the whole array)"
            return
        fi
        if ! array_queued "$job"; then
            show_task_output "$job"
            die "job array $job left the queue before $min runs finished with one running ($1 finished, $2 running): raise SLURM_E2E_EPOCHS"
        fi
        [ $SECONDS -lt $deadline ] || {
            squeue >&2 || true
            show_task_output "$job"
            die "job array $job: not $min runs finished with one running after ${SLURM_E2E_TIMEOUT:-600} s ($1 finished, $2 running)"
        }
        sleep 0.2
    done
}

# check_all_cancelled JOBID: every task of the array CANCELLED (running or still pending).
check_all_cancelled() {
    local states bad
    states=$(job_states "$1")
    say "array $1 tasks (task state exit):"
    sed 's/^/    /' <<<"$states" >&2
    bad=$(awk '$2 != "CANCELLED"' <<<"$states")
    [ -z "$bad" ] || {
        show_task_output "$1"
        die "array $1: task(s) not cancelled by scancel of the array: $(paste -sd ';' <<<"$bad")"
    }
}

# e2e_cancel ADMIN_URL LIMIT: phase 2. In a new database, submit the sweep with longer runs,
# scancel the whole array mid-sweep, check the store is consistent (nothing left running,
# the rest finished or interrupted, no duplicates), resubmit and check that every run
# finished exactly once, some of them by the second array.
e2e_cancel() {
    local url=$1 limit=$2 epochs=${SLURM_E2E_EPOCHS:-60} min_finished=8
    [[ $epochs =~ ^[1-9][0-9]*$ ]] || die "bad SLURM_E2E_EPOCHS: $epochs"
    psql -X -q -v ON_ERROR_STOP=1 "$url" -c 'CREATE DATABASE slurm_e2e_cancel' >&2
    db_url=${url%/*}/slurm_e2e_cancel
    say "phase 2: database $db_url, training.epochs=$epochs"

    local job1 job2 t0 wall1 wall2 expected
    t0=$(date +%s.%N)
    job1=$(submit --set "training.epochs=$epochs")
    expected=$(submitted_runs)
    [ "$expected" -gt "$min_finished" ] ||
        die "the sweep has $expected runs; phase 2 needs more than $min_finished"
    say "phase 2, submission 1: job array $job1 ($expected runs)"
    wait_to_cancel "$job1" "$min_finished"
    scancel "$job1"
    # KillWait (10 s) bounds how long a task may take to go after SIGTERM.
    wait_array "$job1" 60 "60 s after scancel; KillWait is 10 s"
    wall1=$(elapsed "$t0")
    say "phase 2, submission 1: job array $job1 cancelled and gone after $wall1 s"
    check_all_cancelled "$job1"
    show_by_status "phase 2: runs by status after scancel of the array:"

    local running failed finished1 interrupted1 dups
    running=$(count_runs running)
    failed=$(count_runs failed)
    finished1=$(count_runs finished)
    interrupted1=$(count_runs interrupted)
    dups=$(count_dups)
    [ "$running" = 0 ] ||
        die "$running run(s) still 'running' after the cancelled array left the queue (a cancelled worker did not mark its runs interrupted)"
    [ "$failed" = 0 ] || die "$failed run(s) failed in the cancelled array"
    [ "$finished1" -lt "$expected" ] ||
        die "all $expected runs finished before scancel took effect: the resubmission has nothing to do"
    [ "$finished1" -ge "$min_finished" ] ||
        die "only $finished1 finished run(s) after scancel; $min_finished had finished before it"
    [ "$dups" = 0 ] || die "$dups (experiment, key) pairs have more than one run after scancel"
    [ "$interrupted1" -gt 0 ] ||
        say "warning: no run was marked interrupted (each running run finished before SIGTERM reached it?)"

    t0=$(date +%s.%N)
    job2=$(submit --set "training.epochs=$epochs")
    say "phase 2, submission 2: job array $job2"
    wait_array "$job2" "$limit"
    wall2=$(elapsed "$t0")
    say "phase 2, submission 2: job array $job2 done in $wall2 s"
    check_tasks "$job2"
    show_by_status "phase 2: runs by status after the resubmission:"

    local finished2 total2 by_second
    finished2=$(count_runs finished)
    total2=$(count_runs)
    dups=$(count_dups)
    by_second=$((finished2 - finished1))

    echo "phase 2 (database slurm_e2e_cancel, training.epochs=$epochs, $expected runs):"
    echo "submission 1 (whole array cancelled): $wall1 s; then $finished1 finished, $interrupted1 interrupted, $running running"
    echo "submission 2 (resubmitted):           $wall2 s; finished $by_second more"
    echo "finished runs of sweep: $finished2 (of $total2)"
    echo "duplicate (experiment, key) rows: $dups"

    [ "$finished2" = "$expected" ] || die "expected $expected finished runs after the resubmission, found $finished2 (of $total2)"
    [ "$total2" = "$expected" ] || die "expected $expected runs after the resubmission, found $total2"
    [ "$dups" = 0 ] || die "$dups (experiment, key) pairs have more than one run"
    [ "$by_second" -gt 0 ] || die "the resubmitted array $job2 finished no run"
    say "test: phase 2 ok"
}

# ---------------------------------------------------------------------------------------

# cleanup: for smoke/test, on any exit.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "${pg_started:-}" ]; then
        "$repo_root/scripts/pg-server.sh" stop "$dir/pg" || say "warning: stopping PostgreSQL failed"
    fi
    stop || say "warning: stop failed; check pgrep -a slurm; pgrep -a munged"
    exit "$rc"
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
cmd=$1
case $cmd in
start)
    dir_from_args "${2:-}" fresh
    start
    ;;
stop)
    dir_from_args "${2:-}"
    stop
    ;;
smoke | test)
    dir_from_args "${2:-}" fresh
    [ ! -e "$marker" ] || die "$dir already holds a cluster; $cmd starts its own (stop it or use another DIR)"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    [ "$cmd" != test ] || e2e_preflight
    start >/dev/null
    export SLURM_CONF=$conf SLURM_E2E_DIR=$dir
    if [ "$cmd" = smoke ]; then smoke; else e2e; fi
    ;;
*) usage ;;
esac
