"""Load the base model and tokenizer from a local directory or a Hub id, with the same Auto classes.

What was saved is what is loaded: a directory whose tokenizer was saved as a plain `tokenizers`
backend (the demo's own BPE) is read back as exactly that. `AutoTokenizer` alone would pick
`Qwen2Tokenizer` from the directory's `config.json` (model_type qwen2) and swap in Qwen2's own
pre-tokenizer (one digit per token), so the model would be trained and scored on token sequences it
never saw in pretraining.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from adaptcommand.hub import require_hub


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPU, fp32 on CPU (bf16 matmuls are slow and lossy on CPU)."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _local_or_cached(name_or_path: str) -> str:
    """Return a loadable local path or Hub id; fail fast with a clear message if neither is usable."""
    if Path(name_or_path).is_dir():
        return name_or_path
    parts = name_or_path.split("/")
    if len(parts) != 2 or not all(parts) or name_or_path.startswith((".", "~")):
        raise FileNotFoundError(
            f"model.base {name_or_path!r} is not a directory and not a Hub id (owner/name)"
        )
    try:  # already in the local Hugging Face cache?
        AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
        return name_or_path
    except OSError:
        pass
    require_hub(
        f"model {name_or_path!r}",
        "Download it on a connected machine (e.g. `hf download "
        f"{name_or_path} --local-dir models/hub/{name_or_path.split('/')[-1]}`), copy it here and set "
        "`model.base` in the config to that directory.",
    )
    return name_or_path


# tokenizer_class values of a tokenizer saved from a `tokenizers.Tokenizer` object (transformers 5 and 4).
_PLAIN_BACKENDS = {"TokenizersBackend", "PreTrainedTokenizerFast"}


def _declared_tokenizer_class(path: str) -> str:
    config = Path(path) / "tokenizer_config.json"
    if not config.is_file():
        return ""
    return json.loads(config.read_text()).get("tokenizer_class", "")


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """The tokenizer exactly as saved: the class its tokenizer_config.json declares.

    A plain `tokenizers` backend is loaded with `PreTrainedTokenizerFast` (its tokenizer.json as it is);
    anything else (Qwen2Tokenizer of the real model, a Hub id) through `AutoTokenizer`.
    """
    source = _local_or_cached(name_or_path)
    if _declared_tokenizer_class(source) in _PLAIN_BACKENDS:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(source)
    else:
        tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(
    name_or_path: str, device: torch.device | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (model, tokenizer); the model is on `device` (default: GPU if any) in eval mode."""
    device = device or pick_device()
    source = _local_or_cached(name_or_path)
    tokenizer = load_tokenizer(source)
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=pick_dtype(device), attn_implementation="sdpa"
    ).to(device)
    model.eval()
    return model, tokenizer
