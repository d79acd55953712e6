"""Evaluate one method: load the base model and the method's adapters, run the harness, write results."""

from __future__ import annotations

import time

from adaptcommand.adapters import load_adapters
from adaptcommand.data.io import load_dialogs, load_splits, read_jsonl
from adaptcommand.data.splits import split_dialogs
from adaptcommand.evaluate.harness import run_harness, write_results
from adaptcommand.model.loading import load_base
from adaptcommand.prompts import PromptConfig


def adapter_router(adapters: dict[str, str]):
    """Per-persona adapters are keyed by persona id; a single other key is shared by every persona."""
    if not adapters:
        return None
    if len(adapters) == 1 and not next(iter(adapters)).startswith("persona_"):
        shared = next(iter(adapters))
        return lambda persona: shared

    def route(persona: str) -> str:
        if persona not in adapters:
            raise KeyError(f"no adapter for {persona}")
        return persona

    return route


def evaluate_method(
    *,
    method: str,
    split: str,
    params: dict,
    adapters: dict[str, str],
    dialogs_path: str,
    splits_path: str,
    targets_path: str,
    out: dict[str, str],
) -> dict:
    start = time.perf_counter()
    targets = [row for _, row in read_jsonl(targets_path)]
    personas = sorted({t["persona_id"] for t in targets})
    dialogs = split_dialogs(load_dialogs(dialogs_path), load_splits(splits_path), split, personas)
    model, tokenizer = load_base(params["base"])
    if adapters:
        model = load_adapters(model, adapters)
    rows = run_harness(
        model,
        tokenizer,
        dialogs,
        targets,
        pc=PromptConfig.from_config(params),
        adapter_for=adapter_router(adapters),
        max_new_tokens=int(params["max_new_tokens"]),
        batch_size=int(params["batch_size"]),
        numeric_tolerance=int(params["numeric_tolerance"]),
        minilm=params.get("minilm", ""),
        desc=f"{method}/{split}",
    )
    for r in rows:
        r["method"], r["split"] = method, split
    meta = {
        "method": method,
        "split": split,
        "seconds": round(time.perf_counter() - start, 2),
        "max_new_tokens": int(params["max_new_tokens"]),
    }
    return write_results(rows, targets, out, meta)
