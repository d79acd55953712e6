#!/usr/bin/env bash
# slurm-ci.sh - a throw-away, single-node, real Slurm cluster for CI and local tests of
# profiles/slurm-ci (Debian 12, run as root, no systemd and no cgroups needed).
#
#   scripts/slurm-ci.sh install    apt-get slurmctld slurmd slurm-client munge (idempotent)
#   scripts/slurm-ci.sh start      write slurm.conf + gres.conf (fake GPUs), start munged,
#                                  slurmctld, slurmd; wait until the node is idle (idempotent:
#                                  a running, healthy cluster is left alone)
#   scripts/slurm-ci.sh selftest   srun, srun --gpus=1 (CUDA_VISIBLE_DEVICES), sbatch --wait
#   scripts/slurm-ci.sh status     daemons + sinfo; exit 0 when all daemons run, 3 otherwise
#   scripts/slurm-ci.sh stop       scancel jobs left in this cluster, kill the daemons listed in
#                                  OUR pid files, remove OUR /etc/slurm symlinks (idempotent)
#
# Environment knobs (all optional):
#   SLURM_CI_DIR=/tmp/slurm-ci    config, state, logs, sockets, pid files, fake devices
#   SLURM_CI_GPUS=2               number of fake GPUs (GRES gpu); 0 = no GRES
#   SLURM_CI_PARTITION=debug      name of the default partition; profiles/slurm-ci
#                                 uses this name (a second partition, "gpu", spans the same
#                                 node: the Slurm test sends the GPU rules there)
#                                 uses this name
#   SLURM_CI_PORT_BASE=6817       slurmctld = BASE, slurmd = BASE+1 (127.0.0.1 only)
#   SLURM_CI_MEM_MB=<90% of RAM>  RealMemory advertised for the node; more than the machine has
#                                 is allowed (SlurmdParameters=config_overrides; memory is not
#                                 enforced here), for rules that declare a big mem_mb
#   SLURM_CI_CPUS=<nproc>         CPUs advertised; != nproc also uses config_overrides (and
#                                 TaskPlugin=task/none: no binding to cores that do not exist)
#   SLURM_CI_TIMEOUT=60           seconds to wait for the node to become idle
#
# Tested with Debian 12 packages slurm 22.05.8-4+deb12u3 and munge 0.5.15-2+deb12u1, and
# snakemake 9.27.1 + snakemake-executor-plugin-slurm 2.8.0 (jobstep 0.6.1).
# Recipe and the failures behind each setting: /work/shared/notes/slurm-local.md.
#
# Why /etc/slurm: the slurm-jobstep plugin strips every SLURM_* variable (SLURM_CONF too)
# before the `srun` it runs inside each job, so the config must be at the compiled-in path
# /etc/slurm/slurm.conf. We symlink it there from $SLURM_CI_DIR/etc (and refuse to replace
# a real file). Only one such cluster can run per machine (ports and /etc/slurm are global).
# No slurmdbd: `sacct` does not work, so Snakemake must use `slurm-status-command: squeue`
# (profiles/slurm-ci does); slurm.conf keeps finished jobs for squeue with MinJobAge=300.
set -euo pipefail

DIR=${SLURM_CI_DIR:-/tmp/slurm-ci}
GPUS=${SLURM_CI_GPUS:-2}
PART=${SLURM_CI_PARTITION:-debug}
PORT=${SLURM_CI_PORT_BASE:-6817}
WAIT=${SLURM_CI_TIMEOUT:-60}
ETC=/etc/slurm
HOST=$(hostname -s)
PKGS=(slurmctld slurmd slurm-client munge)
DAEMONS=(munged slurmctld slurmd)

log() { echo "[slurm-ci $(date +%T)] $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# wait_for <seconds> <description> <command...>: poll every 0.2 s; the probe command must
# bound itself (it may be a shell function, so `timeout` cannot wrap it here)
wait_for() {
  local t=$1 what=$2
  shift 2
  local end=$(($(date +%s) + t))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) >= end)); then
      log "timeout after ${t}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pidfile <pidfile> <name>: SIGTERM, wait up to 10 s, then SIGKILL; only this pid
stop_pidfile() {
  local f=$1 name=$2 pid i
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 10 s, SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

node_state() { timeout 10 sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -1; }
node_ready() { node_state | grep -Eq '^(idle|mixed|allocated)$'; }

cmd_install() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "installing needs root"
    log "apt-get install ${missing[*]}"
    timeout 300 apt-get update -qq
    # the postinst scripts try to start the services; without systemd this is refused
    # ("policy-rc.d denied execution of start"), which is harmless: `start` runs them itself
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  log "installed: $(dpkg-query -W -f='${Package}=${Version} ' "${PKGS[@]}")"
}

write_config() {
  local mem=${SLURM_CI_MEM_MB:-} cpus=${SLURM_CI_CPUS:-} nproc overrides="" task=task/affinity
  nproc=$(nproc)
  [[ -n $mem ]] || mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  [[ $mem =~ ^[0-9]+$ ]] || die "SLURM_CI_MEM_MB must be an integer (MB), got '$mem'"
  local node_hw
  if [[ -n $cpus && $cpus != "$nproc" ]]; then
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "SLURM_CI_CPUS must be a positive integer, got '$cpus'"
    node_hw="CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1"
    task=task/none
  else
    # exact topology as slurmd sees it, so slurmctld does not drain the node
    node_hw=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //' -e 's/ RealMemory=[0-9]*//')
  fi
  # advertised CPUs/memory differ from the real ones: slurmd must trust the config
  [[ -n ${SLURM_CI_MEM_MB:-}${SLURM_CI_CPUS:-} ]] && overrides="SlurmdParameters=config_overrides"
  local gres_types="" gres_node=""
  if ((GPUS > 0)); then
    gres_types="GresTypes=gpu"
    gres_node="Gres=gpu:$GPUS"
    # a GPU GRES without File= is dropped by slurmd ("Removing file-less GPU") and the node
    # goes INVAL; fake device files: char devices with /dev/null's major/minor (1, 3)
    mkdir -p "$DIR/dev"
    local i
    for ((i = 0; i < GPUS; i++)); do
      [[ -c $DIR/dev/nvidia$i ]] || mknod -m 666 "$DIR/dev/nvidia$i" c 1 3 ||
        die "mknod failed (needs root / CAP_MKNOD)"
    done
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/dev/nvidia[0-%d]\n' \
      "$HOST" "$DIR" $((GPUS - 1)) >"$DIR/etc/gres.conf"
  else
    : >"$DIR/etc/gres.conf"
  fi
  cat >"$DIR/etc/slurm.conf" <<EOF
# generated by scripts/slurm-ci.sh - single-node CI cluster, do not use in production
ClusterName=ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.sock
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$DIR/state/ctld
SlurmdSpoolDir=$DIR/state/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no systemd, no cgroups: task/affinity only needs sched_setaffinity
ProctrackType=proctrack/linuxproc
TaskPlugin=$task
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
# no slurmdbd: sacct does not work, Snakemake must use slurm-status-command: squeue
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default, a job that gives no --mem gets the whole node's memory
DefMemPerCPU=500
ReturnToService=2
# keep finished jobs visible to squeue for 5 min; the Snakemake plugin only trusts squeue
# when MinJobAge >= 3 x slurm-init-seconds-before-status-checks
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
$overrides
$gres_types
NodeName=$HOST NodeAddr=127.0.0.1 $node_hw RealMemory=$mem $gres_node State=UNKNOWN
PartitionName=$PART Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL Default=NO MaxTime=240 State=UP
EOF
}

link_etc() {
  mkdir -p "$ETC"
  local f
  for f in slurm.conf gres.conf; do
    if [[ -e $ETC/$f && ! -L $ETC/$f ]]; then
      die "$ETC/$f exists and is not a symlink; refusing to overwrite a real Slurm config"
    fi
    ln -sfn "$DIR/etc/$f" "$ETC/$f"
  done
}

unlink_etc() {
  local f
  for f in slurm.conf gres.conf; do
    if [[ -L $ETC/$f && $(readlink "$ETC/$f") == "$DIR/etc/$f" ]]; then rm -f "$ETC/$f"; fi
  done
  rmdir "$ETC" 2>/dev/null || true
}

start_munge() {
  mkdir -p "$DIR/munge"
  chmod 755 "$DIR/munge" # munged insists on a+x for the socket directory
  [[ -s $DIR/munge/munge.key ]] || mungekey --create --keyfile="$DIR/munge/munge.key"
  chmod 600 "$DIR/munge/munge.key"
  log "starting munged"
  munged --socket="$DIR/munge/munge.sock" --key-file="$DIR/munge/munge.key" \
    --log-file="$DIR/log/munged.log" --pid-file="$DIR/run/munged.pid" \
    --seed-file="$DIR/munge/munged.seed"
  wait_for 10 munged timeout 5 bash -c \
    "munge -S '$DIR/munge/munge.sock' -n | unmunge -S '$DIR/munge/munge.sock'"
}

all_running() {
  local d
  for d in "${DAEMONS[@]}"; do pid_alive "$DIR/run/$d.pid" || return 1; done
}

any_running() {
  local d
  for d in "${DAEMONS[@]}"; do pid_alive "$DIR/run/$d.pid" && return 0; done
  return 1
}

cmd_start() {
  command -v slurmctld >/dev/null || die "Slurm is not installed: run '$0 install' first"
  [[ $(id -u) == 0 ]] || die "start needs root (SlurmUser=root, mknod, /etc/slurm)"
  if all_running && [[ -L $ETC/slurm.conf ]] && node_ready; then
    log "already running: $(timeout 10 sinfo -h -o '%P %a %D %T %G')"
    return 0
  fi
  if any_running; then
    log "partially running: stopping the leftovers first"
    cmd_stop
  fi
  # the dir is wiped below: only ever one that this script created (marker file)
  [[ $DIR == /?* ]] || die "SLURM_CI_DIR must be an absolute path other than /, got '$DIR'"
  if [[ -d $DIR && -n $(ls -A "$DIR") && ! -f $DIR/.slurm-ci ]]; then
    die "$DIR exists, is not empty and was not made by slurm-ci.sh; pick another SLURM_CI_DIR"
  fi
  mkdir -p "$DIR"
  touch "$DIR/.slurm-ci"
  # fresh state every time (job ids restart at 1)
  rm -rf "$DIR/state" "$DIR/log" "$DIR/run"
  mkdir -p "$DIR/etc" "$DIR/state/ctld" "$DIR/state/spool" "$DIR/log" "$DIR/run"
  write_config
  link_etc
  start_munge
  log "starting slurmctld"
  slurmctld -i
  log "starting slurmd"
  slurmd
  if ! wait_for "$WAIT" "node $HOST to become idle" node_ready; then
    timeout 10 sinfo -N -o '%N %T %E' >&2 || true
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    die "node did not become idle (see $DIR/log)"
  fi
  log "cluster up: $(timeout 10 sinfo -h -o '%P %a %D %T %G')"
}

# cancel jobs still queued/running in OUR cluster (through slurmctld), so no slurmstepd or job
# process outlives the daemons; bounded wait
queue_empty() { [[ -z $(timeout 5 squeue -h -o %i) ]]; }

cancel_jobs() {
  pid_alive "$DIR/run/slurmctld.pid" || return 0
  local ids
  ids=$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ') || return 0
  [[ -n ${ids// /} ]] || return 0
  log "cancelling jobs still in the queue: $ids"
  # shellcheck disable=SC2086
  timeout 10 scancel $ids || true
  wait_for 15 "cancelled jobs to end" queue_empty || true
}

cmd_stop() {
  cancel_jobs
  stop_pidfile "$DIR/run/slurmd.pid" slurmd
  stop_pidfile "$DIR/run/slurmctld.pid" slurmctld
  stop_pidfile "$DIR/run/munged.pid" munged
  unlink_etc
  log "stopped"
}

cmd_status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if pid_alive "$DIR/run/$d.pid"; then
      echo "$d: running (pid $(cat "$DIR/run/$d.pid"))"
    else
      echo "$d: stopped"
      rc=3
    fi
  done
  if ((rc == 0)); then timeout 10 sinfo -N -o '%N %P %T %c %m %G %E' || rc=3; fi
  return "$rc"
}

cmd_selftest() {
  local tmp rc=0
  tmp=$(mktemp -d)
  (
    cd "$tmp"
    timeout 30 srun hostname >/dev/null
    if ((GPUS > 0)); then
      cvd=$(timeout 30 srun --gpus=1 env | sed -n 's/^CUDA_VISIBLE_DEVICES=//p')
      [[ $cvd == 0 ]] || die "srun --gpus=1 saw CUDA_VISIBLE_DEVICES='$cvd' (expected 0)"
      log "srun --gpus=1: CUDA_VISIBLE_DEVICES=$cvd"
    fi
    # shellcheck disable=SC2016  # $SLURM_JOB_ID is for the job's shell
    timeout 60 sbatch --wait -o out.txt --wrap 'echo "ok job=$SLURM_JOB_ID"' >/dev/null
    grep -q '^ok job=[0-9]' out.txt || die "sbatch --wait produced: $(cat out.txt)"
  ) || rc=$?
  rm -rf "$tmp"
  ((rc == 0)) || die "selftest failed"
  log "selftest passed"
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
selftest) cmd_selftest ;;
*)
  echo "usage: $0 install|start|selftest|status|stop" >&2
  exit 2
  ;;
esac
