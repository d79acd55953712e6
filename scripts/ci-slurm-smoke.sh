#!/usr/bin/env bash
# ci-slurm-smoke.sh - prove the Slurm profile mechanics on the local CI cluster, independent of
# the real workflow: a throw-away Snakefile in a temp dir (one CPU rule, three per-persona GPU
# jobs of a rule named like the real one, `train_persona`, so the grouping of profiles/slurm
# applies) is run through sbatch with
#     snakemake --profile profiles/slurm --profile profiles/slurm-ci --workflow-profile none
# and the script asserts: sbatch job ids in the log; the GPU jobs ran as ONE Slurm job (group)
# that was given `--gpus=1`; each GPU job saw a CUDA_VISIBLE_DEVICES from Slurm, which
# adaptcommand.gpuslots.gpu_slot() left alone; Slurm logs were kept; a re-run says
# "Nothing to be done". Prints the wall times.
#
#   scripts/ci-slurm-smoke.sh                  # needs a running cluster (scripts/slurm-ci.sh start)
#   scripts/ci-slurm-smoke.sh --start-cluster  # install + start it first, stop it at the end
#
# Env: SMOKE_PROFILES (default "profiles/slurm profiles/slurm-ci", paths relative to the repo),
#      SNAKEMAKE (default: .venv/bin/snakemake of the repo, else `snakemake` on PATH),
#      SMOKE_TIMEOUT (default 300 s per snakemake run), SMOKE_KEEP=1 keeps the temp dir.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMOKE_PROFILES=${SMOKE_PROFILES:-profiles/slurm profiles/slurm-ci}
TIMEOUT=${SMOKE_TIMEOUT:-300}
if [[ -n ${SNAKEMAKE:-} ]]; then
  SMK=$SNAKEMAKE
elif [[ -x $REPO/.venv/bin/snakemake ]]; then
  SMK=$REPO/.venv/bin/snakemake
else
  SMK=$(command -v snakemake) || {
    echo "snakemake not found" >&2
    exit 1
  }
fi

log() { echo "[slurm-smoke $(date +%T)] $*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

STARTED_CLUSTER=0
WORK=$(mktemp -d /tmp/slurm-smoke.XXXXXX)
cleanup() {
  local rc=$?
  if [[ $STARTED_CLUSTER == 1 ]]; then "$REPO/scripts/slurm-ci.sh" stop || true; fi
  if [[ ${SMOKE_KEEP:-0} == 1 || $rc != 0 ]]; then
    log "work dir kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

T_INSTALL=- T_START=-
if [[ ${1:-} == --start-cluster ]]; then
  t0=$(now)
  "$REPO/scripts/slurm-ci.sh" install
  t1=$(now)
  STARTED_CLUSTER=1
  "$REPO/scripts/slurm-ci.sh" start
  t2=$(now)
  T_INSTALL=$(secs "$t0" "$t1") T_START=$(secs "$t1" "$t2")
fi
timeout 10 sinfo -h -o '%P %a %T %G' >/dev/null 2>&1 ||
  fail "no Slurm cluster answers (run scripts/slurm-ci.sh start, or pass --start-cluster)"

PROFILE_ARGS=()
for p in $SMOKE_PROFILES; do PROFILE_ARGS+=(--profile "$REPO/$p"); done

cat >"$WORK/Snakefile" <<'EOF'
import sys

PERSONAS = ["p001", "p002", "p003"]


rule all:
    input:
        expand("models/persona/{persona_id}/slot.txt", persona_id=PERSONAS),


rule prepare:  # CPU-only: no gpu resource
    output:
        "data/prepared.txt",
    shell:
        "echo CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES:-}} > {output}; "
        "echo SLURM_JOB_ID=${{SLURM_JOB_ID:-}} >> {output}"


rule train_persona:  # GPU rule, named like the real one so that profiles/slurm groups it
    input:
        "data/prepared.txt",
    output:
        "models/persona/{persona_id}/slot.txt",
    params:
        py=sys.executable,
    threads: 1
    resources:
        gpu=1,
        mem_mb=300,
        runtime=5,
    shell:
        "echo CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES:-}} > {output}; "
        "echo SLURM_JOB_ID=${{SLURM_JOB_ID:-}} >> {output}; "
        "{params.py} -c 'from adaptcommand.gpuslots import gpu_slot\n"
        "with gpu_slot() as s: print(\"gpu_slot=\" + str(s))' >> {output}"
EOF

cd "$WORK"
log "snakemake ${PROFILE_ARGS[*]} (in $WORK)"
t0=$(now)
rc=0
timeout -k 10 "$TIMEOUT" "$SMK" "${PROFILE_ARGS[@]}" --workflow-profile none --verbose \
  >run1.log 2>&1 || rc=$?
t1=$(now)
T_RUN=$(secs "$t0" "$t1")
if ((rc != 0)); then
  tail -n 60 run1.log >&2
  fail "snakemake exited with $rc after ${T_RUN}s (124/137 = timeout)"
fi

# 1. sbatch job ids
mapfile -t JOBIDS < <(sed -n 's/.*has been submitted with SLURM jobid \([0-9][0-9]*\).*/\1/p' run1.log)
((${#JOBIDS[@]} >= 2)) || fail "expected >= 2 'submitted with SLURM jobid' lines, got ${#JOBIDS[@]}"
log "Slurm job ids: ${JOBIDS[*]}"
GPU_SBATCH=$(grep -m1 '^sbatch call: .*--gpus=1' run1.log | sed 's/ --wrap=.*//') ||
  fail "no sbatch call with --gpus=1"
log "GPU sbatch: ${GPU_SBATCH#sbatch call: }"

# 2. the CPU job ran in Slurm without a GPU
grep -qx 'SLURM_JOB_ID=[0-9][0-9]*' data/prepared.txt || fail "CPU job: no SLURM_JOB_ID"
grep -qx 'CUDA_VISIBLE_DEVICES=' data/prepared.txt || fail "CPU job saw a GPU: $(cat data/prepared.txt)"

# 3. every GPU job saw Slurm's CUDA_VISIBLE_DEVICES, and gpu_slot() kept it
GPU_JOBS=()
for f in models/persona/*/slot.txt; do
  cvd=$(sed -n 's/^CUDA_VISIBLE_DEVICES=//p' "$f")
  jid=$(sed -n 's/^SLURM_JOB_ID=//p' "$f")
  slot=$(sed -n 's/^gpu_slot=//p' "$f")
  [[ $cvd =~ ^[0-9]+(,[0-9]+)*$ ]] || fail "$f: no CUDA_VISIBLE_DEVICES from Slurm: $(cat "$f")"
  [[ $jid =~ ^[0-9]+$ ]] || fail "$f: no SLURM_JOB_ID"
  [[ $slot == "$cvd" ]] || fail "$f: gpu_slot() yielded '$slot', Slurm set '$cvd'"
  GPU_JOBS+=("$jid")
  log "$f: CUDA_VISIBLE_DEVICES=$cvd SLURM_JOB_ID=$jid gpu_slot=$slot"
done
((${#GPU_JOBS[@]} == 3)) || fail "expected 3 GPU outputs, got ${#GPU_JOBS[@]}"
GROUPED=0
for p in $SMOKE_PROFILES; do grep -q '^groups:' "$REPO/$p/config.yaml" && GROUPED=1; done
if ((GROUPED)); then
  [[ $(printf '%s\n' "${GPU_JOBS[@]}" | sort -u | wc -l) == 1 ]] ||
    fail "grouping is configured but the GPU jobs ran in different Slurm jobs: ${GPU_JOBS[*]}"
  log "grouping: the 3 train_persona jobs ran in one Slurm job (${GPU_JOBS[0]})"
fi

# 4. Slurm logs of successful jobs were kept (slurm-keep-successful-logs)
NLOGS=$(find .snakemake/slurm_logs -name '*.log' | wc -l)
((NLOGS >= 2)) || fail "expected >= 2 kept Slurm logs, found $NLOGS"

# 5. a re-run has nothing to do
t2=$(now)
rc=0
timeout -k 10 120 "$SMK" "${PROFILE_ARGS[@]}" --workflow-profile none >run2.log 2>&1 || rc=$?
t3=$(now)
T_RERUN=$(secs "$t2" "$t3")
((rc == 0)) || fail "re-run exited with $rc"
grep -q 'Nothing to be done' run2.log || {
  tail -n 30 run2.log >&2
  fail "re-run did not say 'Nothing to be done'"
}

log "PASS"
echo "TIMES install=${T_INSTALL}s start=${T_START}s snakemake=${T_RUN}s rerun=${T_RERUN}s"
