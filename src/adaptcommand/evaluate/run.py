"""Evaluate one method: build its model from the base (+ merged adapter) and adapters, run the harness.

A method is described by its routes, {persona_id: adapter directory or ""}, and optionally an adapter
merged into the base first (methods trained on top of the frozen unified model). Every method, whatever
its kind, goes through the same harness on the same targets.
"""

from __future__ import annotations

import logging
import time

from adaptcommand.adapters import is_prompt_learning, load_adapters, merged_base
from adaptcommand.data.io import load_dialogs, load_splits, read_jsonl
from adaptcommand.data.splits import split_dialogs
from adaptcommand.evaluate.harness import run_harness, write_results
from adaptcommand.model.loading import load_base
from adaptcommand.prompts import PromptConfig
from adaptcommand.settings import Generation, Scoring

log = logging.getLogger(__name__)


def adapter_names(routes: dict[str, str]) -> dict[str, str]:
    """A short, PEFT-safe adapter name per distinct directory."""
    return {d: f"ad{i}" for i, d in enumerate(sorted({d for d in routes.values() if d}))}


def build_method_model(base: str, routes: dict[str, str], merge: str = ""):
    """(model, tokenizer, adapter_for(persona) -> name | '__base__' | None, prompt_learning: bool)."""
    model, tokenizer = load_base(base)
    if merge:
        model = merged_base(model, merge)
    names = adapter_names(routes)
    if not names:
        return model, tokenizer, None, False
    model = load_adapters(model, {name: d for d, name in names.items()})
    prompt_learning = any(is_prompt_learning(d) for d in names)
    log.info("%d adapters (%s)", len(names), "prefix" if prompt_learning else "lora")

    def adapter_for(persona: str) -> str:
        if persona not in routes:
            raise KeyError(f"method has no route for {persona}")
        return names[routes[persona]] if routes[persona] else "__base__"

    return model, tokenizer, adapter_for, prompt_learning


def evaluate_method(
    *,
    method: str,
    split: str,
    base: str,
    prompt: PromptConfig,
    generation: Generation,
    scoring: Scoring,
    routes: dict[str, str],
    merge: str,
    dialogs_path: str,
    splits_path: str,
    targets_path: str,
    out: dict[str, str],
    history: dict | None = None,
    data_split: str | None = None,
) -> dict:
    """`routes`: {persona: adapter directory} (adaptcommand.manifests.routes_of its manifest; {} = the
    base), `merge`: the adapter merged into the base first ("" = none);
    `history`: {(persona_id, session_id): retrieved exchanges} put into every prompt (None = none);
    `split`: the evaluation set's name, `data_split`: the split of the data it is (default `split`;
    the new users' set cold_start is their test split)."""
    start = time.perf_counter()
    targets = [row for _, row in read_jsonl(targets_path)]
    personas = sorted({t["persona_id"] for t in targets})
    dialogs = split_dialogs(
        load_dialogs(dialogs_path), load_splits(splits_path), data_split or split, personas
    )
    model, tokenizer, adapter_for, prompt_learning = build_method_model(base, routes, merge)
    rows = run_harness(
        model,
        tokenizer,
        dialogs,
        targets,
        pc=prompt,
        adapter_for=adapter_for,
        prompt_learning=prompt_learning,
        max_new_tokens=int(generation.max_new_tokens),
        batch_size=int(generation.batch_size),
        numeric_tolerance=int(scoring.numeric_tolerance),
        minilm=scoring.minilm,
        desc=f"{method}/{split}",
        history=history,
    )
    for r in rows:  # record which adapter directory produced each row ("" = none)
        r["method"], r["split"], r["adapter"] = method, split, routes.get(r["persona_id"], "")
    meta = {
        "method": method,
        "split": split,
        "seconds": round(time.perf_counter() - start, 2),
        "max_new_tokens": int(generation.max_new_tokens),
        "merged_into_base": merge,
        **({"history_in_prompt": True} if history is not None else {}),
    }
    return write_results(rows, targets, out, meta)
