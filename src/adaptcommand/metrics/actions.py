"""Per-turn action scores: `action_counts` compares the settings extracted from a predicted turn with
those of its reference (`adaptcommand.metrics.parser.extract_actions`), and `action_metrics`
micro-aggregates the counts of many turns into precision / recall / F1 and numeric / categorical rates.

Scoring
-------
`action_counts(pred, ref, tolerance)` for one turn; devices are the devices that occur in the triples:

- device_tp/fp/fn over the sets of devices; param_tp/fp/fn over the full triples (exact value match).
- numeric_n: numeric (device, parameter) keys present on both sides; for each, the pair of values with
  the smallest absolute difference is compared (ties: smallest reference, then smallest predicted
  value), adding numeric_exact (diff 0), numeric_within_tol (diff <= tolerance), numeric_abs_err (diff).
- categorical_n: enum/bool keys present on both sides; categorical_correct if the two value sets share
  a value. True and False are different values.

`action_metrics(rows)` sums the counts (micro average). precision = tp / (tp + fp) and is NaN when
nothing was predicted in any row; recall = tp / (tp + fn) and is NaN when the references hold nothing;
F1 = 2tp / (2tp + fp + fn) is NaN only when both sides hold nothing, and 0 when one of them is empty
(naming no setting where the reference sets some scores 0: it is not left out). A turn with nothing
on either side adds only zeros, so it does not move precision or recall. numeric_exact_rate,
numeric_within_tol_rate and numeric_mae are per numeric key present on both sides and NaN when there
is none; categorical_accuracy likewise (turns without numbers are not scored 0 - the reference study's error).
"""

from __future__ import annotations

from collections.abc import Iterable

from adaptcommand.metrics.parser import Action
from adaptcommand.schema import ACTION_SCHEMA

ACTION_COUNT_KEYS: tuple[str, ...] = (
    "device_tp",
    "device_fp",
    "device_fn",
    "param_tp",
    "param_fp",
    "param_fn",
    "numeric_n",
    "numeric_exact",
    "numeric_within_tol",
    "numeric_abs_err",
    "categorical_n",
    "categorical_correct",
)

ACTION_METRIC_KEYS: tuple[str, ...] = (
    "device_precision",
    "device_recall",
    "device_f1",
    "param_precision",
    "param_recall",
    "param_f1",
    "numeric_exact_rate",
    "numeric_within_tol_rate",
    "numeric_mae",
    "categorical_accuracy",
)


def _is_numeric(device: str, parameter: str) -> bool:
    spec = ACTION_SCHEMA.get(device, {}).get(parameter)
    return spec is not None and spec[0] == "int"


def _by_key(actions: set[Action]) -> dict[tuple[str, str], list[object]]:
    out: dict[tuple[str, str], list[object]] = {}
    for device, parameter, value in actions:
        out.setdefault((device, parameter), []).append(value)
    return out


def action_counts(pred: Iterable[Action], ref: Iterable[Action], tolerance: int) -> dict[str, float]:
    """Integer counts comparing one turn's predicted and reference action sets (module doc).

    Triples may also come as lists (as read back from JSON)."""
    pred = {tuple(a) for a in pred}  # type: ignore[misc]
    ref = {tuple(a) for a in ref}  # type: ignore[misc]
    pred_devices = {a[0] for a in pred}
    ref_devices = {a[0] for a in ref}
    counts: dict[str, float] = dict.fromkeys(ACTION_COUNT_KEYS, 0)
    counts["device_tp"] = len(pred_devices & ref_devices)
    counts["device_fp"] = len(pred_devices - ref_devices)
    counts["device_fn"] = len(ref_devices - pred_devices)
    counts["param_tp"] = len(pred & ref)
    counts["param_fp"] = len(pred - ref)
    counts["param_fn"] = len(ref - pred)
    pred_keys, ref_keys = _by_key(pred), _by_key(ref)
    abs_err = 0
    for key in sorted(pred_keys.keys() & ref_keys.keys()):
        pv, rv = pred_keys[key], ref_keys[key]
        if _is_numeric(*key):
            diff, _, _ = min((abs(int(p) - int(r)), int(r), int(p)) for p in pv for r in rv)  # type: ignore[call-overload]
            counts["numeric_n"] += 1
            counts["numeric_exact"] += int(diff == 0)
            counts["numeric_within_tol"] += int(diff <= tolerance)
            abs_err += diff
        else:
            counts["categorical_n"] += 1
            counts["categorical_correct"] += int(bool(set(pv) & set(rv)))
    counts["numeric_abs_err"] = abs_err
    return counts


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def _f1(tp: float, fp: float, fn: float) -> float:
    """2tp / (2tp + fp + fn): the harmonic mean of P and R where both exist, 0 when one side is empty
    and the other is not (nothing predicted for a turn that sets devices is a miss, not a gap)."""
    return _ratio(2 * tp, 2 * tp + fp + fn)


def action_metrics(rows: Iterable[dict]) -> dict[str, float]:
    """Micro-aggregate `action_counts` rows into P/R/F1 and rates (NaN conventions: module doc)."""
    total = dict.fromkeys(ACTION_COUNT_KEYS, 0.0)
    for row in rows:
        for key in ACTION_COUNT_KEYS:
            total[key] += float(row[key])
    out: dict[str, float] = {}
    for prefix in ("device", "param"):
        tp, fp, fn = total[f"{prefix}_tp"], total[f"{prefix}_fp"], total[f"{prefix}_fn"]
        p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        out[f"{prefix}_precision"] = p
        out[f"{prefix}_recall"] = r
        out[f"{prefix}_f1"] = _f1(tp, fp, fn)
    n = total["numeric_n"]
    out["numeric_exact_rate"] = _ratio(total["numeric_exact"], n)
    out["numeric_within_tol_rate"] = _ratio(total["numeric_within_tol"], n)
    out["numeric_mae"] = _ratio(total["numeric_abs_err"], n)
    out["categorical_accuracy"] = _ratio(total["categorical_correct"], total["categorical_n"])
    return {key: out[key] for key in ACTION_METRIC_KEYS}
