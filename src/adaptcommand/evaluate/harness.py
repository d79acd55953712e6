"""The evaluation harness: one protocol for every method.

Given a model that may hold one adapter per persona, build the prompt of every target turn with the
shared prompt builder, generate greedily in batches (each row with its persona's adapter), score with
the shared metrics, and return one row per target. Outputs are written by `write_results`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable

from adaptcommand.data.io import atomic_file, write_json_atomic, write_jsonl_atomic
from adaptcommand.evaluate.generate import generate
from adaptcommand.evaluate.targets import assert_same_targets, targets_fingerprint
from adaptcommand.metrics.scoring import per_persona, score_turns, summarize
from adaptcommand.prompts import PromptConfig, generation_prompt
from adaptcommand.retrieval import history_for


def run_harness(
    model,
    tokenizer,
    dialogs: list[dict],
    targets: list[dict],
    *,
    pc: PromptConfig,
    adapter_for: Callable[[str], str] | None,
    prompt_learning: bool = False,
    max_new_tokens: int,
    batch_size: int,
    numeric_tolerance: int,
    minilm: str = "",
    desc: str = "eval",
    history: dict | None = None,
) -> list[dict]:
    """`history`: {(persona_id, session_id): retrieved exchanges} for the system message (None = none);
    `prompt_learning`: the adapters are prefix-tuned (no shared key/value prefixes then)."""
    by_key = {(d["persona_id"], d["session_id"]): d for d in dialogs}
    prompts = []
    for t in targets:
        d = by_key[(t["persona_id"], t["session_id"])]
        prompts.append(generation_prompt(tokenizer, d, t["turn_index"], pc, history_for(history, d)))
    names = [adapter_for(t["persona_id"]) for t in targets] if adapter_for else None
    preds = generate(
        model,
        tokenizer,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        adapter_names=names,
        grouped=True,  # each adapter's rows together (faster than PEFT mixed batches, same outputs)
        share_prefixes=not prompt_learning,
        desc=desc,
    )
    scores = score_turns(
        preds, [t["reference"] for t in targets], numeric_tolerance=numeric_tolerance, minilm=minilm
    )
    rows = []
    for i, (t, pred, s) in enumerate(zip(targets, preds, scores, strict=True)):
        rows.append({**t, "adapter": names[i] if names else "__base__", "prediction": pred, **s})
    assert_same_targets(targets, rows, desc)
    return rows


def _clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def write_results(rows: list[dict], targets: list[dict], out: dict[str, str], meta: dict) -> dict:
    """predictions.jsonl, per_persona.csv and metrics.json (micro + macro + provenance)."""
    assert_same_targets(targets, rows, meta.get("method", "method"))
    write_jsonl_atomic(out["predictions"], rows)
    table = per_persona(rows)
    keys = list(next(iter(table.values())))
    with atomic_file(out["per_persona"]) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["persona_id", *keys])
        for p, vals in table.items():
            w.writerow([p, *[vals[k] for k in keys]])
    summary = summarize(rows)
    summary = {**meta, "targets_fingerprint": targets_fingerprint(targets), **summary}
    summary["micro"] = {k: _clean(v) for k, v in summary["micro"].items()}
    summary["macro"] = {k: _clean(v) for k, v in summary["macro"].items()}
    write_json_atomic(out["metrics"], summary)
    return summary
