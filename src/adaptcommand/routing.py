"""Routing: per persona, the candidate method with the best VALIDATION score, and its test results.

- `choose` decides from per-persona val scores only (higher is better). Ties go to the candidate that
  comes first in the configured candidate order (`routing.candidates`); a NaN score never wins over a
  number, and a persona whose candidates are all NaN gets the first candidate.
- `compose` builds the routed method's test rows from the candidates' test predictions: every method
  is scored on the same targets with greedy decoding, so the routed prediction for a persona is the
  chosen method's prediction for it. The rows are then aggregated by the harness's own
  `write_results`, like any other method.
- `oracle` picks per persona the best candidate on TEST scores: an upper bound, not a method. Nothing
  it returns may feed back into `choose` (the route rule reads val files only).
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from adaptcommand.evaluate.targets import target_key

ORACLE_LABEL = "oracle (upper bound, chosen on test — not a method)"
ROUTED = "routing"  # the method label of the rows `compose` writes (the routed method's results)
TIE_BREAK = (
    "higher is better; ties go to the first candidate in routing.candidates order; a NaN score never "
    "wins over a number (all NaN: the first candidate)"
)

Scores = Mapping[str, Mapping[str, float]]  # {method: {persona_id: score}}


class RoutingError(ValueError):
    """Inconsistent routing inputs (a candidate or a persona missing, an unknown metric, ...)."""


def parse_candidates(names: Sequence[str]) -> list[str]:
    """The candidate methods as a list (order kept; empty names, duplicates and routing refused)."""
    if isinstance(names, str):
        raise RoutingError(f"routing.candidates must be a list of methods, got the string {names!r}")
    items = [str(c).strip() for c in names]
    items = [c for c in items if c]
    if not items:
        raise RoutingError("routing needs at least one candidate method")
    if len(set(items)) != len(items):
        raise RoutingError(f"routing candidates repeat a method: {items}")
    if ROUTED in items:  # a candidate labelled like the rows compose() writes
        raise RoutingError("routing cannot be one of its own candidates")
    return items


def _is_number(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _number_or_none(v) -> float | None:
    """A score as float, NaN/None as None (JSON has no NaN)."""
    return float(v) if _is_number(v) else None


def best_candidate(scores: Mapping[str, float], candidates: Sequence[str]) -> str:
    """The candidate with the highest score; ties -> earliest in `candidates`; NaN never wins."""
    best, best_v = candidates[0], None
    for c in candidates:
        v = scores[c]
        if _is_number(v) and (best_v is None or v > best_v):
            best, best_v = c, v
    return best


def _check(scores: Scores, candidates: Sequence[str], personas: Iterable[str] | None, split: str) -> list:
    """The persona list every candidate must cover exactly; raises on anything missing."""
    missing = [c for c in candidates if c not in scores]
    if missing:
        raise RoutingError(f"no {split} scores for candidate(s) {missing}")
    expected = (
        sorted(personas) if personas is not None else sorted(set().union(*(scores[c] for c in candidates)))
    )
    if not expected:
        raise RoutingError(f"no personas in the {split} scores")
    for c in candidates:
        lacking = sorted(set(expected) - set(scores[c]))
        extra = sorted(set(scores[c]) - set(expected))
        if lacking or extra:
            raise RoutingError(
                f"{split} scores of {c!r}: missing persona(s) {lacking[:5]}"
                + (f", unexpected {extra[:5]}" if extra else "")
            )
    return expected


def _pick(scores: Scores, candidates: Sequence[str], personas: list[str], key: str) -> dict[str, dict]:
    out = {}
    for p in personas:
        row = {c: _number_or_none(scores[c][p]) for c in candidates}
        out[p] = {"method": best_candidate(row, candidates), key: row}
    return out


def choose(
    val_scores: Scores,
    candidates: Sequence[str],
    metric: str,
    personas: Iterable[str] | None = None,
) -> dict:
    """Per persona, the candidate with the best VAL `metric` score.

    `val_scores` is {method: {persona_id: score}} read from the val split; every candidate must have a
    score for every persona (`personas`, or the union over candidates), else `RoutingError`.
    Returns {"split": "val", "metric", "candidates", "tie_break", "personas": {p: {"method",
    "val_scores": {candidate: score}}}, "counts": {method: n personas}}.
    """
    candidates = parse_candidates(candidates)
    plist = _check(val_scores, candidates, personas, "val")
    chosen = _pick(val_scores, candidates, plist, "val_scores")
    counts = Counter(v["method"] for v in chosen.values())
    return {
        "split": "val",
        "metric": metric,
        "candidates": list(candidates),
        "tie_break": TIE_BREAK,
        "personas": chosen,
        "counts": {c: counts.get(c, 0) for c in candidates},
    }


def within_noise(
    choice: dict,
    val_rows: Mapping[str, Sequence[dict]],
    default: str,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict:
    """`choose`'s result with every pick that is not the `default` candidate kept only when its val
    advantage over the default is beyond noise: resampling the persona's val dialogues (the same
    dialogues for both, paired), the one-sided `confidence` lower bound of (pick - default) on the
    metric must be above 0; otherwise the persona gets the default. `val_rows`: {candidate: its val
    predictions.jsonl rows (per-turn scores)}. Each persona records its val-best candidate and the
    bound; the result's "counts" are recounted."""
    import numpy as np

    from adaptcommand.metrics.scoring import aggregate

    if default not in choice["candidates"]:
        raise RoutingError(f"routing.default {default!r} is not one of the candidates {choice['candidates']}")
    metric, rng = choice["metric"], np.random.default_rng(seed)
    by = {
        c: {p: _by_dialogue([r for r in rows if r["persona_id"] == p]) for p in choice["personas"]}
        for c, rows in val_rows.items()
    }
    for p, v in choice["personas"].items():
        best = v["method"]
        v["val_best"], v["advantage_low"] = best, None
        if best == default:
            continue
        sessions = sorted(by[best][p])
        diffs = []
        for _ in range(resamples):
            draw = [sessions[i] for i in rng.integers(0, len(sessions), len(sessions))]
            pick = aggregate([r for d in draw for r in by[best][p][d]])[metric]
            base = aggregate([r for d in draw for r in by[default][p][d]])[metric]
            if _is_number(pick) and _is_number(base):
                diffs.append(pick - base)
        low = float(np.quantile(diffs, 1 - confidence)) if diffs else math.nan
        v["advantage_low"] = _number_or_none(low)
        if not (low > 0):
            v["method"] = default
    counts = Counter(v["method"] for v in choice["personas"].values())
    return {
        **choice,
        "default": default,
        "rule": f"the val-best candidate replaces {default} when its paired bootstrap {confidence:.0%} lower "
        f"bound over the persona's val dialogues ({resamples} resamples) is above 0",
        "counts": {c: counts.get(c, 0) for c in choice["candidates"]},
    }


def _by_dialogue(rows: Sequence[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r["session_id"], []).append(r)
    return out


def chosen_methods(choices: Mapping) -> dict[str, str]:
    """{persona_id: method} from a `choose` result (or choices.json)."""
    return {p: v["method"] for p, v in choices["personas"].items()}


def compose(chosen: Mapping[str, str], predictions_by_method: Mapping[str, Sequence[dict]]) -> list[dict]:
    """The routed method's rows: for each persona, the rows of its chosen method, in target order.

    `predictions_by_method` is {method: predictions.jsonl rows} of the candidates on the same split.
    All methods must cover the same (persona, dialogue, turn) keys, every persona in them needs a
    choice and every chosen method its predictions; anything else raises `RoutingError`. Each returned
    row is the chosen method's row with method="routing" and routed_from=<chosen method>.
    """
    if not predictions_by_method:
        raise RoutingError("no candidate predictions to compose from")
    indexed: dict[str, dict[tuple, dict]] = {}
    for m, rows in predictions_by_method.items():
        idx = {target_key(r): r for r in rows}
        if len(idx) != len(rows):
            raise RoutingError(f"predictions of {m!r} repeat a target")
        indexed[m] = idx
    first, *others = list(indexed)
    order = [target_key(r) for r in predictions_by_method[first]]
    for m in others:
        if set(indexed[m]) != set(order):
            raise RoutingError(f"predictions of {m!r} and {first!r} cover different targets")
    personas = {k[0] for k in order}
    no_choice = sorted(personas - set(chosen))
    if no_choice:
        raise RoutingError(f"no routing choice for persona(s) {no_choice[:5]}")
    unknown = sorted(set(chosen) - personas)
    if unknown:
        raise RoutingError(f"routing choices for persona(s) without predictions: {unknown[:5]}")
    lacking = sorted({m for m in chosen.values() if m not in indexed})
    if lacking:
        raise RoutingError(f"chosen method(s) {lacking} have no predictions")
    out = []
    for key in order:
        m = chosen[key[0]]
        out.append({**indexed[m][key], "method": ROUTED, "routed_from": m})
    return out


def oracle(
    test_scores: Scores,
    candidates: Sequence[str],
    metric: str,
    routed: Mapping[str, str] | None = None,
    personas: Iterable[str] | None = None,
) -> dict:
    """The per-persona best candidate on TEST `metric`: an upper bound (chosen on test), NOT a method.

    `test_scores` is {method: {persona_id: test score}}; `routed` ({persona: method chosen on val})
    adds, per persona, the test score routing actually got and whether it picked the oracle's method.
    Macro values are means over personas (NaN scores left out).
    """
    candidates = parse_candidates(candidates)
    plist = _check(test_scores, candidates, personas, "test")
    picks = _pick(test_scores, candidates, plist, "test_scores")

    def mean(vals):
        vals = [v for v in vals if _is_number(v)]
        return sum(vals) / len(vals) if vals else None

    macro = {"oracle": mean(picks[p]["test_scores"][picks[p]["method"]] for p in plist)}
    for c in candidates:
        macro[c] = mean(test_scores[c][p] for p in plist)
    out = {
        "label": ORACLE_LABEL,
        "split": "test",
        "metric": metric,
        "candidates": list(candidates),
        "tie_break": TIE_BREAK,
        "personas": picks,
    }
    if routed is not None:
        missing = sorted(set(plist) - set(routed))
        if missing:
            raise RoutingError(f"no routing choice for persona(s) {missing[:5]}")
        for p in plist:
            picks[p]["routed_method"] = routed[p]
            picks[p]["routed_test_score"] = picks[p]["test_scores"][routed[p]]
        macro[ROUTED] = mean(picks[p]["routed_test_score"] for p in plist)
        out["routing_agrees_with_oracle"] = sum(picks[p]["method"] == routed[p] for p in plist) / len(plist)
    counts = Counter(v["method"] for v in picks.values())
    out["counts"] = {c: counts.get(c, 0) for c in candidates}
    out[f"macro_{metric}"] = macro
    return out


def read_scores(per_persona_csv: str | Path, metric: str) -> dict[str, float]:
    """{persona_id: metric} from a harness per_persona.csv (empty / 'nan' cells -> NaN)."""
    with Path(per_persona_csv).open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or metric not in reader.fieldnames:
            raise RoutingError(
                f"{per_persona_csv}: no column {metric!r} (compare.headline must be one of "
                f"{[f for f in reader.fieldnames or [] if f != 'persona_id']})"
            )
        out = {}
        for row in reader:
            cell = row[metric]
            out[row["persona_id"]] = float(cell) if cell not in ("", None) else math.nan
    return out


class RoutingPlan:
    """The workflow's view of routing (rules/routing.smk): its candidates, the metric it decides on
    (the protocol's headline) and the files it reads."""

    def __init__(self, candidates: Sequence[str], metric: str):
        self.candidates = parse_candidates(candidates)
        self.metric = metric

    def files(self, pattern: str) -> list[str]:
        """`pattern` (a path with `{method}`) for every candidate, in candidate order."""
        return [pattern.format(method=c) for c in self.candidates]
