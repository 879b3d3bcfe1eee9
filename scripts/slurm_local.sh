#!/usr/bin/env bash
# A one-node SLURM on this machine, so that the workflow test of the slurm/ profile
# (tests/workflow/test_slurm_cluster.py) submits real jobs through sbatch.
#
#   scripts/slurm_local.sh start    install (once), configure, start the daemons, wait till idle
#   scripts/slurm_local.sh status   the controller's answer and the node's state
#   scripts/slurm_local.sh stop     stop the daemons this script started
#
# Partitions: `cpu` (default) and `gpu`, both on this node. Point the profile at them with
#   export AVREPRO_SLURM_ACCOUNT=local AVREPRO_SLURM_PARTITION=cpu AVREPRO_SLURM_GPU_PARTITION=gpu
#
# Runs as root (CI containers are root; there is no sudo). Debian's slurm-wlm 22.05 without
# systemd: every daemon is started here by hand and tracked by its pid file. The config is
# rewritten on every start; to apply a change to running daemons, `stop` then `start`.
set -euo pipefail

SLURM_CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PID=/run/munge/munged.pid
SLURMCTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
FAKE_GPU_DIR=/run/slurm-fake-gpus
READY_TIMEOUT_S=60

log() { echo "slurm_local: $*" >&2; }

# True when the process named in pid file $1 is alive.
running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    "$(dirname "$0")/install_system_packages.sh" slurm-wlm munge
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        log "slurm-wlm and munge could not be installed (see the warnings above)"
        exit 1
    fi
}

write_config() {
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(free -m | awk '/^Mem:/ {print $2}')
    mkdir -p /etc/slurm "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"

    local tmp
    tmp=$(mktemp "$SLURM_CONF.XXXXXX")
    cat >"$tmp" <<EOF
# Written by scripts/slurm_local.sh: a one-node cluster for tests. Do not edit by hand.
ClusterName=avrepro-local
SlurmctldHost=$host
AuthType=auth/munge
# Root runs everything: a test box has no slurm service account set up.
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$SLURMCTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# No cgroups in a container: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# No slurmdbd: no accounting, so sacct cannot answer and the executor plugin must poll
# squeue (--slurm-status-command squeue).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# squeue forgets a job MinJobAge seconds after it ends. The plugin trusts squeue only when
# MinJobAge >= 3 x its first-poll delay (40 s by default) and otherwise falls back to sacct,
# which has nothing to say here. An hour outlasts a whole test run, so the test can still
# ask squeue afterwards in which partition each of its jobs ran.
MinJobAge=3600
# CPUs (counted as nproc counts them) and memory are consumable, GPUs through GresTypes.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
GresTypes=gpu
# A node that was down comes back by itself once its slurmd registers again.
ReturnToService=2

# This machine, as nproc and free see it. It has no GPU, yet the profile's GPU rules ask
# for one (the plugin submits them with --gpus=1): Gres gives the node one fake GPU per CPU
# (see gres.conf) so that GPU jobs are schedulable and may run side by side like CPU jobs.
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$cpus State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF
    mv "$tmp" "$SLURM_CONF"
    chmod 644 "$SLURM_CONF"

    # SLURM counts a GPU only where gres.conf names its device file, and that file must be a
    # character device. The fake GPUs are device nodes that behave like /dev/null (major 1,
    # minor 3): harmless to open, and the smoke tier runs on the CPU anyway.
    mkdir -p "$FAKE_GPU_DIR"
    tmp=$(mktemp "$GRES_CONF.XXXXXX")
    {
        echo "# Written by scripts/slurm_local.sh: fake GPUs, no autodetection (no NVML here)."
        echo "AutoDetect=off"
        for ((i = 0; i < cpus; i++)); do
            [[ -c $FAKE_GPU_DIR/gpu$i ]] || mknod "$FAKE_GPU_DIR/gpu$i" c 1 3
            echo "NodeName=$host Name=gpu File=$FAKE_GPU_DIR/gpu$i"
        done
    } >"$tmp"
    mv "$tmp" "$GRES_CONF"
    chmod 644 "$GRES_CONF"
}

start_munge() {
    if running "$MUNGE_PID"; then
        return
    fi
    if [[ ! -s $MUNGE_KEY ]]; then
        mungekey --create --keyfile="$MUNGE_KEY"
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 400 "$MUNGE_KEY"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    # munged refuses to run as root; it runs as the munge user the package created.
    runuser -u munge -- /usr/sbin/munged
    munge -n | unmunge >/dev/null
}

# Start daemon $1 (with options $3...) unless its pid file $2 names a live process. Both
# slurm daemons fork into the background once they have read the config.
start_daemon() {
    local name=$1 pid_file=$2
    shift 2
    if running "$pid_file"; then
        return
    fi
    "/usr/sbin/$name" "$@"
}

wait_until_idle() {
    local host state waited=0
    host=$(hostname -s)
    while ((waited < READY_TIMEOUT_S)); do
        state=$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null | head -n 1 || true)
        if [[ $state == idle || $state == mixed || $state == allocated ]]; then
            log "node $host is $state"
            sinfo
            return
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "node $host did not come up within ${READY_TIMEOUT_S}s (state: '${state:-none}');" \
        "see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log"
    exit 1
}

stop_daemon() {
    local name=$1 pid_file=$2 pid
    if ! running "$pid_file"; then
        return
    fi
    pid=$(cat "$pid_file")
    kill "$pid"
    # Wait till it is gone, so that a `start` right after starts a fresh one.
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.2
    done
    log "stopped $name ($pid)"
}

case "${1:-}" in
    start)
        install_packages
        write_config
        start_munge
        # -c: every start is a fresh cluster. Saved state (old jobs, a node drained by an
        # earlier config) would otherwise outlive the config this start has just written.
        start_daemon slurmctld "$SLURMCTLD_PID" -c
        start_daemon slurmd "$SLURMD_PID"
        wait_until_idle
        ;;
    stop)
        stop_daemon slurmd "$SLURMD_PID"
        stop_daemon slurmctld "$SLURMCTLD_PID"
        stop_daemon munged "$MUNGE_PID"
        ;;
    status)
        scontrol ping
        sinfo
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
