#!/usr/bin/env bash
# dag_scale.sh - how long Snakemake takes to plan the full-size experiment: config/config.yaml
# (200 personas x 50 sessions, every per-persona job) with data.source switched to synthetic, as a
# dry run (-n) in a temporary working directory. Nothing is built or downloaded.
#
#   benchmarks/dag_scale.sh            # 3 timed dry runs (the first includes cold caches)
#   DAG_SCALE_RUNS=5 benchmarks/dag_scale.sh
#   DAG_SCALE_PROFILE=slurm benchmarks/dag_scale.sh   # through profiles/slurm (job groups on)
#
# Prints the Job stats table of the last run and one line per run; fails unless exactly 200
# train_persona jobs are planned. tests/test_dag.py asserts the same (and < 10 s).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${DAG_SCALE_RUNS:-3}
PROFILE=${DAG_SCALE_PROFILE:-}
if [[ -n $PROFILE ]]; then RUN_ARGS=(--profile "$REPO/profiles/$PROFILE"); else RUN_ARGS=(--cores 4); fi
if [[ -x $REPO/.venv/bin/python ]]; then PY=$REPO/.venv/bin/python; else PY=$(command -v python3); fi

TMP=$(mktemp -d /tmp/dag-scale.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/synthetic.yaml" <<'YAML'
# config/config.yaml at its real size, with synthetic data in place of the Hub download
data:
  source: synthetic
YAML

times=()
for ((i = 1; i <= RUNS; i++)); do
  t0=$(date +%s.%N)
  timeout 300 "$PY" -m snakemake -s "$REPO/Snakefile" --directory "$TMP/work" \
    --configfile "$REPO/config/config.yaml" "$TMP/synthetic.yaml" \
    --workflow-profile none "${RUN_ARGS[@]}" --dry-run >"$TMP/dryrun.log" 2>&1 || {
    tail -n 40 "$TMP/dryrun.log" >&2
    echo "dry run failed" >&2
    exit 1
  }
  t1=$(date +%s.%N)
  times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
  echo "run $i: ${times[-1]} s"
done

# the Job stats table (first occurrence) of the last run
awk '/^Job stats:/ { on = 1 } on { print } on && /^total/ { exit }' "$TMP/dryrun.log"
n=$(awk '/^Job stats:/ { on = 1 } on && $1 == "train_persona" { print $2; exit }' "$TMP/dryrun.log")
total=$(awk '/^Job stats:/ { on = 1 } on && $1 == "total" { print $2; exit }' "$TMP/dryrun.log")
[[ $n == 200 ]] || {
  echo "expected 200 train_persona jobs, planned: ${n:-none}" >&2
  exit 1
}
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
echo "DAG scale (profile: ${PROFILE:-none}): ${total} jobs (200 train_persona) planned; dry-run wall times (s, sorted): ${sorted}"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); snakemake $("$PY" -m snakemake --version)"
