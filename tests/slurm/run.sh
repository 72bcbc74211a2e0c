#!/usr/bin/env bash
# Real SLURM test: start a private single-node SLURM cluster on this machine (Debian, root),
# run the tiny study through `snakemake --workflow-profile profiles/slurm`, check the final
# outputs and that every job went through the scheduler, then stop every daemon it started.
#
# Usage: bash tests/slurm/run.sh        (as root; prints "SKIP: ..." and exits 0 without
#                                         root or apt-get)
# Environment: PYTHON (default python3), INITLAB_SLURM_TIMEOUT (seconds for the workflow,
# default 1200), INITLAB_SLURM_KEEP=1 keeps the state dir (logs, workdir) after a pass.
#
# The cluster is private: its own ports, munge key and socket, state and logs under one state
# directory, so it does not touch /etc/munge or a munged that may already run here. Only
# slurm.conf must sit at the default /etc/slurm/slurm.conf: the plugin's jobstep executor
# strips SLURM_CONF from the environment of the `srun` it starts inside each job. The script
# writes that file with a marker line and removes it at the end; it refuses to run where a
# slurm.conf without the marker exists (a real SLURM node). The shared filesystem is the
# local disk.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORKFLOW_TIMEOUT="${INITLAB_SLURM_TIMEOUT:-1200}"
STATE=/var/tmp/initlab-slurm-test         # fixed, so a rerun finds what a killed run left
CTLD_PORT=16817                           # not the default 6817/6818: never meet a real one
SLURMD_PORT=16818
START=$(date +%s)

log() { echo "[slurm-test +$(( $(date +%s) - START ))s] $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: the SLURM test installs and starts slurmctld/slurmd/munged, which needs root."
    exit 0
fi
PACKAGES=(slurmctld slurmd slurm-client munge)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    if ! command -v apt-get >/dev/null; then
        echo "SKIP: SLURM is not installed and apt-get is unavailable to install ${PACKAGES[*]}."
        exit 0
    fi
    log "installing ${PACKAGES[*]} with apt-get"
    # Keep the packages' maintainer scripts from starting their own daemons (Debian's
    # policy-rc.d convention); remove the guard afterwards only if we created it.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
    fi
    export DEBIAN_FRONTEND=noninteractive
    installed=1
    { timeout 180 apt-get update -qq \
        && timeout 180 apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    } || installed=0
    if [ -n "$guard" ]; then rm -f "$guard"; fi
    [ "$installed" = 1 ] || die "apt-get could not install ${PACKAGES[*]}"
fi

if ! "$PYTHON" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    log "installing the slurm extra (pip install -e '.[slurm]')"
    "$PYTHON" -m pip install -q -e "$REPO[slurm]" || die "pip install -e '.[slurm]' failed"
fi

# slurm.conf goes where every SLURM command looks by default (see the header).
SLURM_CONF=/etc/slurm/slurm.conf
CONF_MARKER="# initlab SLURM test (tests/slurm/run.sh): removed when the test ends"
if [ -e "$SLURM_CONF" ] && ! head -n 1 "$SLURM_CONF" | grep -qxF "$CONF_MARKER"; then
    die "$SLURM_CONF exists and is not the test's: this machine has its own SLURM setup," \
        "which the test will not overwrite; run it on a machine without one"
fi
mkdir -p /etc/slurm
export SLURM_CONF

# ---------------------------------------------------------------------------------------
# Daemons: started in the foreground as our children, so we know exactly which PIDs to stop.
DAEMON_PIDS=()

stop_pidfile() {  # stop a daemon a previous (killed) run left, found by its pid file
    local file=$1 name=$2 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then
        log "stopping $name (pid $pid) left by an earlier run"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"   # a stale pid file makes the next start or stop act on the wrong process
}

cleanup() {
    local rc=$?
    set +e
    if [ ${#DAEMON_PIDS[@]} -gt 0 ] && [ -f "$SLURM_CONF" ]; then
        if [ "$rc" != 0 ]; then
            echo "---- squeue --states=all (job, state, reason)"
            squeue --states=all -o "%i %T %r %j" 2>/dev/null
        fi
        scancel --quiet --user=root 2>/dev/null   # only reaches our private cluster
    fi
    if [ "$rc" != 0 ]; then
        for f in munged.out slurmctld.log slurmd.log snakemake.log; do
            [ -f "$STATE/$f" ] && { echo "---- tail $STATE/$f"; tail -n 25 "$STATE/$f"; }
        done
    fi
    # Reverse start order: slurmd, slurmctld, then munged (both use it until they exit).
    for (( i=${#DAEMON_PIDS[@]}-1; i>=0; i-- )); do
        kill "${DAEMON_PIDS[i]}" 2>/dev/null
    done
    for pid in "${DAEMON_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -f "$STATE"/*.pid
    if [ -f "$SLURM_CONF" ] && head -n 1 "$SLURM_CONF" | grep -qxF "$CONF_MARKER"; then
        cp "$SLURM_CONF" "$STATE/slurm.conf" 2>/dev/null
        rm -f "$SLURM_CONF"
    fi
    if [ "$rc" = 0 ] && [ "${INITLAB_SLURM_KEEP:-0}" != 1 ]; then
        rm -rf "$STATE"
    else
        echo "state, logs and workdir kept in $STATE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pidfile "$STATE/slurmd.pid" slurmd
stop_pidfile "$STATE/slurmctld.pid" slurmctld
stop_pidfile "$STATE/munged.pid" munged
rm -rf "$STATE"
mkdir -p -m 700 "$STATE" "$STATE/munge" "$STATE/ctld" "$STATE/spool"

# munge: our own key and socket. munged checks that these paths are not writable by others.
dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$STATE/munge/munge.key"
MUNGE_SOCKET="$STATE/munge/munge.socket"
munged --foreground --force --key-file="$STATE/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$STATE/munged.pid" --log-file="$STATE/munged.log" \
    --seed-file="$STATE/munge/munged.seed" >"$STATE/munged.out" 2>&1 &
DAEMON_PIDS+=($!)
for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.2; done
munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET" >/dev/null \
    || die "munged did not start (see $STATE/munged.out)"
log "munged up"

# slurm.conf: one node with this machine's CPUs and memory (as slurmd itself measures them),
# one partition named as in the profile, so the test runs the profile unchanged.
NODE=$(hostname -s)
HARDWARE=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')
PARTITION=$("$PYTHON" - "$REPO/profiles/slurm/config.yaml" <<'EOF'
import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["default-resources"]["slurm_partition"])
EOF
)
cat > "$SLURM_CONF" <<EOF
$CONF_MARKER
ClusterName=initlab
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# No cgroups in a container: track processes by parent id, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
# No accounting database: squeue is the status source, and it must still see a finished
# job when the plugin polls (the plugin wants MinJobAge >= 120 s) and when this script
# checks every job at the end, so finished jobs stay in slurmctld for the whole run.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=1800
ReturnToService=2
InactiveLimit=0
KillWait=10
NodeName=$NODE NodeAddr=127.0.0.1 $HARDWARE State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
log "node $NODE: $HARDWARE; partition $PARTITION"

# -D: stay in the foreground as our child. Their console copy goes to *.out, so each line
# is counted once in the log files.
slurmctld -D -c -f "$SLURM_CONF" >"$STATE/slurmctld.out" 2>&1 &
DAEMON_PIDS+=($!)
for _ in $(seq 50); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
scontrol ping | grep -q UP || die "slurmctld did not come up (see $STATE/slurmctld.log)"
slurmd -D -N "$NODE" -f "$SLURM_CONF" >"$STATE/slurmd.out" 2>&1 &
DAEMON_PIDS+=($!)

state=""
for _ in $(seq 60); do
    state=$(sinfo -h -N -n "$NODE" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
if [ "$state" != idle ]; then
    sinfo -N -l; scontrol show node "$NODE" | grep -i reason || true
    die "node $NODE is '$state', not idle, after 60 s"
fi
log "cluster up: node $NODE idle in partition $PARTITION"

# ---------------------------------------------------------------------------------------
# The workflow, through the profile. Test-only overrides on the command line:
#   --slurm-status-command squeue: there is no accounting database for sacct;
#   --slurm-init-seconds-before-status-checks 5: jobs take seconds here, not hours (the
#     plugin falls back to sacct unless MinJobAge >= 3x this, which 1800 s is).
WORK="$STATE/work"
mkdir -p "$WORK"
SNAKEMAKE=("$PYTHON" -m snakemake -s "$REPO/Snakefile" --directory "$WORK"
    --configfile "$REPO/config.yaml" "$REPO/tests/config/tiny.yaml"
    --config "dataset=$REPO/datasets/birds/birds.csv")
CMD=("${SNAKEMAKE[@]}" --workflow-profile "$REPO/profiles/slurm"
    --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5)
log "running: ${CMD[*]}"
WF_START=$(date +%s)
if ! timeout --kill-after=20 "$WORKFLOW_TIMEOUT" "${CMD[@]}" >"$STATE/snakemake.log" 2>&1; then
    die "snakemake through SLURM failed or ran past ${WORKFLOW_TIMEOUT} s (see $STATE/snakemake.log)"
fi
WF_SECONDS=$(( $(date +%s) - WF_START ))
log "workflow finished in ${WF_SECONDS} s"

# ---------------------------------------------------------------------------------------
# Checks. 1) The final target exists: the report once the workflow has one, else every
# variant's metrics. 2) Nothing is left to do. 3) Every job snakemake submitted is a SLURM
# job that completed, and slurmctld allocated exactly those.
RULES=$("${SNAKEMAKE[@]}" --list-rules 2>"$STATE/list-rules.log") \
    || die "snakemake --list-rules failed (see $STATE/list-rules.log)"
if grep -qx report <<<"$RULES"; then
    [ -s "$WORK/results/report.html" ] || die "results/report.html is missing"
    log "final target: results/report.html ($(stat -c %s "$WORK/results/report.html") bytes)"
else
    variants=$("$PYTHON" - "$REPO/config.yaml" <<'EOF'
import sys, yaml
print(" ".join(yaml.safe_load(open(sys.argv[1]))["variants"]))
EOF
)
    for v in $variants; do
        [ -s "$WORK/results/variants/$v/metrics.json" ] \
            || die "results/variants/$v/metrics.json is missing"
    done
    log "final targets: metrics.json for every variant ($variants)"
fi
# The tiny config's sweep: one SLURM job per lockstep job, gathered into sweep.json.
if grep -qx train_sweep_job <<<"$RULES"; then
    [ -s "$WORK/results/sweeps/gain_depth/sweep.json" ] \
        || die "results/sweeps/gain_depth/sweep.json is missing"
    log "sweep: $(ls "$WORK/results/sweeps/gain_depth/jobs" | tr '\n' ' ')"
fi
# Completeness, not freshness: without the mtime/code triggers, a source file edited while
# the test ran does not count as work left.
"${SNAKEMAKE[@]}" --dry-run --rerun-triggers params input software-env \
    >"$STATE/dryrun.log" 2>&1 || die "dry run failed (see $STATE/dryrun.log)"
grep -q "Nothing to be done" "$STATE/dryrun.log" \
    || die "the workflow is not complete: a dry run still has jobs (see $STATE/dryrun.log)"

mapfile -t SUBMITTED < <(grep -oE "submitted with SLURM jobid [0-9]+" "$STATE/snakemake.log" \
    | grep -oE "[0-9]+$" | sort -n)
[ ${#SUBMITTED[@]} -gt 0 ] || die "snakemake submitted no job to SLURM"
for id in "${SUBMITTED[@]}"; do
    job_state=$(squeue -h --states=all -j "$id" -o %T 2>/dev/null || true)
    [ "$job_state" = COMPLETED ] || die "SLURM job $id is '$job_state', not COMPLETED"
done
# slurmctld logs each job start once: "sched: Allocate JobId=N ..." from the main scheduler
# or "sched/backfill: _start_job: Started JobId=N ..." from backfill.
STARTED='^\[[^]]*\] (sched: Allocate|sched/backfill: _start_job: Started) JobId=[0-9]+'
mapfile -t ALLOCATED < <(grep -oE "$STARTED" "$STATE/slurmctld.log" | grep -oE "[0-9]+$" | sort -n)
[ "${ALLOCATED[*]}" = "${SUBMITTED[*]}" ] \
    || die "slurmctld started jobs (${ALLOCATED[*]}), snakemake submitted (${SUBMITTED[*]})"

log "PASS: ${#SUBMITTED[@]} SLURM jobs (all COMPLETED, ${#ALLOCATED[@]} starts in slurmctld.log);" \
    "workflow ${WF_SECONDS} s, whole test $(( $(date +%s) - START )) s"
