"""Score predictions turn by turn and aggregate micro (over turns) and macro (over personas).

This is the single place where metrics are computed; every method's predictions go through it.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from adaptcommand.metrics.actions import ACTION_COUNT_KEYS, action_counts, action_metrics
from adaptcommand.metrics.parser import extract_actions
from adaptcommand.metrics.text import ROUGE_KEYS, embedding_similarity, rouge_f1

TURN_SCORE_KEYS = ("similarity", *ROUGE_KEYS)


def score_turns(
    predictions: list[str], references: list[str], *, numeric_tolerance: int, minilm: str = ""
) -> list[dict]:
    """Per-turn scores: similarity, ROUGE F1s, extracted action triples and their match counts."""
    sims = embedding_similarity(predictions, references, minilm)
    rows = []
    for pred, ref, sim in zip(predictions, references, sims, strict=True):
        pa, ra = extract_actions(pred), extract_actions(ref)
        row = {"similarity": sim, **rouge_f1(pred, ref)}
        row.update(action_counts(pa, ra, numeric_tolerance))
        row["pred_actions"] = sorted([list(t) for t in pa], key=str)
        row["ref_actions"] = sorted([list(t) for t in ra], key=str)
        rows.append(row)
    return rows


# Turn kinds (targets.jsonl `kind`, see adaptcommand.routines) whose turns are also scored on their own,
# as metrics named <kind>_<metric>: routine turns are where personalisation must show; stated turns
# measure the generic skill (doing what the user just said).
KIND_PREFIXES = ("routine", "stated")


def _means(rows: list[dict]) -> dict[str, float]:
    """Means of the per-turn text scores plus micro-aggregated action metrics over `rows`."""
    out = {k: float(np.mean([r[k] for r in rows])) if rows else math.nan for k in TURN_SCORE_KEYS}
    out.update(action_metrics({k: r[k] for k in ACTION_COUNT_KEYS} for r in rows))
    return out


def aggregate(rows: list[dict]) -> dict[str, float]:
    """Every metric over all `rows`, then again over the rows of each kind in KIND_PREFIXES (prefixed,
    with their count `<kind>_n_turns`; NaN metrics where a kind has no rows)."""
    out = _means(rows)
    for kind in KIND_PREFIXES:
        subset = [r for r in rows if r.get("kind") == kind]
        out[f"{kind}_n_turns"] = len(subset)
        out.update({f"{kind}_{k}": v for k, v in _means(subset).items()})
    return out


def metric_names() -> list[str]:
    """The names of every metric of a per-persona row (the columns compare.headline may name)."""
    return [k for k in aggregate([]) if not k.endswith("n_turns")]


def per_persona(rows: list[dict]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["persona_id"]].append(r)
    return {p: {"n_turns": len(g), **aggregate(g)} for p, g in sorted(groups.items())}


def summarize(rows: list[dict]) -> dict:
    """{'micro': metrics over all turns, 'macro': mean over personas of per-persona metrics}."""
    personas = per_persona(rows)
    keys = [k for k in next(iter(personas.values())) if k != "n_turns"] if personas else []
    macro = {}
    for k in keys:
        vals = [v[k] for v in personas.values() if not math.isnan(v[k])]
        macro[k] = float(np.mean(vals)) if vals else math.nan
    return {"n_turns": len(rows), "n_personas": len(personas), "micro": aggregate(rows), "macro": macro}
