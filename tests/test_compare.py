"""The measurement chain (turn kinds -> per-turn scores -> per-persona table -> paired bootstrap ->
controls) sees a planted personalisation effect and sees none where there is none."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from adaptcommand.compare.report import HEADLINE, write_comparison
from adaptcommand.data import synthetic
from adaptcommand.data.clean import clean
from adaptcommand.data.io import load_dialogs
from adaptcommand.data.splits import make_splits, split_dialogs
from adaptcommand.evaluate.harness import write_results
from adaptcommand.evaluate.targets import eval_targets
from adaptcommand.metrics.scoring import score_turns

N_PERSONAS = 10


def _shift_numbers(text: str) -> str:
    """The same reply with every number wrong (what a model without the user's habits says)."""
    return re.sub(r"\b\d+\b", lambda m: str(int(m.group()) + 7), text)


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    synthetic.write_raw(raw, N_PERSONAS, 20, 7)
    clean(raw, raw / "dialogs.jsonl")
    dialogs = load_dialogs(raw / "dialogs.jsonl")
    test = split_dialogs(dialogs, make_splits(dialogs), "test")
    return eval_targets(test, skip_assistant_turns=0, context_messages=10)


def _method(tmp_path, name, targets, predict) -> dict[str, str]:
    preds = [predict(t) for t in targets]
    scores = score_turns(preds, [t["reference"] for t in targets], numeric_tolerance=2)
    rows = [{**t, "prediction": p, **s} for t, p, s in zip(targets, preds, scores, strict=True)]
    out = {k: str(tmp_path / f"{name}.{k}") for k in ("predictions", "per_persona", "metrics")}
    write_results(rows, targets, out, {"method": name})
    return out


def test_planted_effect_is_detected_and_no_effect_is_not(tmp_path, targets):
    assert sum(t["kind"] == "routine" for t in targets) > 3 * N_PERSONAS
    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    files = {
        "base": _method(tmp_path, "base", targets, generic),
        # planted effect: knows the user's routine values
        "persona": _method(tmp_path, "persona", targets, lambda t: t["reference"]),
        # a method with no effect at all
        "unified": _method(tmp_path, "unified", targets, generic),
        # another user's habits: as wrong as the base
        "persona_swapped": _method(tmp_path, "persona_swapped", targets, generic),
    }
    names = ["base", "persona", "unified", "persona_swapped"]
    out = {k: str(tmp_path / f"out.{k}") for k in ("figure", "summary", "markdown", "controls")}
    summary = write_comparison(
        names[:3],
        names[3:],
        [files[m]["metrics"] for m in names],
        [files[m]["per_persona"] for m in names],
        {},
        out,
        resamples=500,
        seed=0,
    )
    assert summary.loc["persona", f"{HEADLINE}_diff_base_low"] > 0.3  # numbers wrong, categories right
    assert summary.loc["persona_swapped", f"{HEADLINE}_diff_base_low"] <= 0
    assert summary.loc["persona_swapped", f"{HEADLINE}_diff_base_high"] >= 0
    assert summary.loc["persona_swapped", "role"] == "control" and summary.loc["persona", "role"] == "method"
    checks = json.loads((tmp_path / "out.controls").read_text())
    assert checks["passed"] and [c["kind"] for c in checks["checks"]] == ["positive", "negative"]
    # Ordered by the headline; stated-value turns are equal for all (the planted effect is routine-only).
    assert list(summary.index)[0] == "persona"
    assert summary.loc[names, "stated_param_f1_persona_mean"].nunique() == 1
    on_disk = pd.read_csv(out["summary"], index_col="method")
    assert f"{HEADLINE}_ci_low" in on_disk and "routine_similarity_diff_base_low" in on_disk
    assert "**passed**" in (tmp_path / "out.markdown").read_text()


def test_a_failed_negative_control_is_reported(tmp_path, targets):
    """If the 'swapped' adapter knew the user's values (a leak), the check must say FAILED."""
    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    files = {
        "base": _method(tmp_path, "base", targets, generic),
        "persona": _method(tmp_path, "persona", targets, lambda t: t["reference"]),
        "persona_swapped": _method(tmp_path, "persona_swapped", targets, lambda t: t["reference"]),
    }
    names = ["base", "persona", "persona_swapped"]
    out = {k: str(tmp_path / f"out.{k}") for k in ("figure", "summary", "markdown", "controls")}
    write_comparison(
        names[:2],
        names[2:],
        [files[m]["metrics"] for m in names],
        [files[m]["per_persona"] for m in names],
        {},
        out,
        resamples=200,
        seed=0,
    )
    checks = json.loads((tmp_path / "out.controls").read_text())
    assert not checks["passed"]
    assert [c["passed"] for c in checks["checks"]] == [True, False]
    assert "FAILED" in (tmp_path / "out.markdown").read_text()
