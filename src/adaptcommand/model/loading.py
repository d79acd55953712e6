"""Load the base model and tokenizer from a local directory or a Hub id, with the same Auto classes."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

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


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(_local_or_cached(name_or_path))
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
