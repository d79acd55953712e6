"""Routing: choice on val (ties, NaN, missing personas), composition of test rows, the test oracle."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adaptcommand.evaluate.harness import write_results
from adaptcommand.metrics.actions import action_counts
from adaptcommand.routing import (
    ORACLE_LABEL,
    RoutingError,
    RoutingPlan,
    choose,
    chosen_methods,
    compose,
    oracle,
    parse_candidates,
    read_scores,
)

CANDS = ["unified", "persona", "hybrid"]


def test_choose_picks_best_val_score_per_persona():
    val = {
        "unified": {"p0": 0.5, "p1": 0.7},
        "persona": {"p0": 0.6, "p1": 0.2},
        "hybrid": {"p0": 0.55, "p1": 0.3},
    }
    result = choose(val, CANDS, "similarity")
    assert chosen_methods(result) == {"p0": "persona", "p1": "unified"}
    assert result["split"] == "val" and result["counts"] == {"unified": 1, "persona": 1, "hybrid": 0}
    assert result["personas"]["p0"]["val_scores"] == {"unified": 0.5, "persona": 0.6, "hybrid": 0.55}


def test_ties_go_to_the_first_candidate_in_config_order():
    val = {"unified": {"p0": 0.6}, "persona": {"p0": 0.6}, "hybrid": {"p0": 0.6}}
    assert chosen_methods(choose(val, CANDS, "m")) == {"p0": "unified"}
    assert chosen_methods(choose(val, ["hybrid", "persona", "unified"], "m")) == {"p0": "hybrid"}
    val["unified"]["p0"] = 0.1
    assert chosen_methods(choose(val, CANDS, "m")) == {"p0": "persona"}


def test_nan_never_wins():
    val = {"unified": {"p0": math.nan, "p1": math.nan}, "persona": {"p0": 0.0, "p1": math.nan}}
    result = choose(val, ["unified", "persona"], "param_f1")
    assert chosen_methods(result) == {"p0": "persona", "p1": "unified"}  # all NaN: first candidate
    assert result["personas"]["p1"]["val_scores"] == {"unified": None, "persona": None}
    json.dumps(result, allow_nan=False)  # valid JSON


def test_missing_persona_or_candidate_raises():
    val = {"unified": {"p0": 0.5, "p1": 0.7}, "persona": {"p0": 0.6}}
    with pytest.raises(RoutingError, match="missing persona"):
        choose(val, ["unified", "persona"], "m")
    with pytest.raises(RoutingError, match="missing persona"):
        choose({"unified": {"p0": 0.5}}, ["unified"], "m", personas=["p0", "p1"])
    with pytest.raises(RoutingError, match="candidate"):
        choose(val, ["unified", "hybrid"], "m")


def test_candidates_are_parsed_in_order_and_checked():
    assert parse_candidates(["unified", "persona", "hybrid"]) == CANDS
    for bad in ([], ["unified", "unified"], ["unified", "routing"], "unified,persona"):
        with pytest.raises(RoutingError):
            parse_candidates(bad)


def _row(method, persona, session, turn, pred, ref, sim):
    return {
        "persona_id": persona,
        "session_id": session,
        "turn_index": turn,
        "reference": ref,
        "prediction": pred,
        "method": method,
        "split": "test",
        "similarity": sim,
        "rouge1": sim,
        "rouge2": sim / 2,
        "rougeL": sim,
        **action_counts([("lights", "brightness", "40")], [("lights", "brightness", "40")], 2),
    }


def _predictions(method, sims):
    keys = [("p0", 0, 3), ("p0", 1, 3), ("p1", 0, 3), ("p1", 0, 5)]
    return [
        _row(method, p, s, t, f"{method} says {i}", f"ref {i}", sims[i]) for i, (p, s, t) in enumerate(keys)
    ]


def test_compose_takes_each_persona_rows_from_its_chosen_method():
    preds = {
        "unified": _predictions("unified", [0.1, 0.2, 0.3, 0.4]),
        "persona": _predictions("persona", [0.9] * 4),
    }
    rows = compose({"p0": "persona", "p1": "unified"}, preds)
    assert [(r["persona_id"], r["session_id"], r["turn_index"]) for r in rows] == [
        ("p0", 0, 3),
        ("p0", 1, 3),
        ("p1", 0, 3),
        ("p1", 0, 5),
    ]
    assert [r["prediction"] for r in rows] == [
        "persona says 0",
        "persona says 1",
        "unified says 2",
        "unified says 3",
    ]
    assert [r["routed_from"] for r in rows] == ["persona", "persona", "unified", "unified"]
    assert {r["method"] for r in rows} == {"routing"}
    assert [r["similarity"] for r in rows] == [0.9, 0.9, 0.3, 0.4]


def test_compose_refuses_inconsistent_inputs():
    preds = {"unified": _predictions("unified", [0.1] * 4), "persona": _predictions("persona", [0.9] * 4)}
    with pytest.raises(RoutingError, match="no routing choice"):
        compose({"p0": "persona"}, preds)
    with pytest.raises(RoutingError, match="no predictions"):
        compose({"p0": "persona", "p1": "hybrid"}, preds)
    with pytest.raises(RoutingError, match="without predictions"):
        compose({"p0": "persona", "p1": "unified", "p9": "unified"}, preds)
    preds["persona"] = preds["persona"][:-1]
    with pytest.raises(RoutingError, match="different targets"):
        compose({"p0": "persona", "p1": "unified"}, preds)


def test_composed_rows_aggregate_like_the_chosen_methods(tmp_path):
    """The harness's write_results on the composed rows: per persona = the chosen method's per persona."""
    preds = {
        "unified": _predictions("unified", [0.1, 0.2, 0.3, 0.4]),
        "persona": _predictions("persona", [0.9] * 4),
    }
    targets = [
        {k: r[k] for k in ("persona_id", "session_id", "turn_index", "reference")} for r in preds["unified"]
    ]
    out = {k: str(tmp_path / f"{k}.x") for k in ("predictions", "per_persona", "metrics")}
    summary = write_results(
        compose({"p0": "persona", "p1": "unified"}, preds), targets, out, {"method": "routing"}
    )
    scores = read_scores(out["per_persona"], "similarity")
    assert scores == pytest.approx({"p0": 0.9, "p1": 0.35})
    assert summary["macro"]["similarity"] == pytest.approx((0.9 + 0.35) / 2)
    with pytest.raises(AssertionError):  # the harness's target check still applies
        write_results(compose({"p0": "persona", "p1": "unified"}, preds)[:-1], targets, out, {})


def test_oracle_uses_test_scores_not_val():
    val = {"unified": {"p0": 0.9, "p1": 0.1}, "persona": {"p0": 0.1, "p1": 0.9}}
    test = {"unified": {"p0": 0.2, "p1": 0.3}, "persona": {"p0": 0.8, "p1": 0.4}}
    routed = chosen_methods(choose(val, ["unified", "persona"], "similarity"))
    assert routed == {"p0": "unified", "p1": "persona"}
    result = oracle(test, ["unified", "persona"], "similarity", routed=routed)
    assert result["label"] == ORACLE_LABEL and result["split"] == "test"
    assert {p: v["method"] for p, v in result["personas"].items()} == {"p0": "persona", "p1": "persona"}
    assert result["personas"]["p0"]["routed_test_score"] == 0.2
    macro = result["macro_similarity"]
    assert macro["oracle"] == pytest.approx(0.6) and macro["routing"] == pytest.approx(0.3)
    assert macro["unified"] == pytest.approx(0.25) and macro["persona"] == pytest.approx(0.6)
    assert result["routing_agrees_with_oracle"] == 0.5
    assert oracle(test, ["unified", "persona"], "similarity", routed=routed)["personas"] == result["personas"]


def test_read_scores(tmp_path):
    f = tmp_path / "per_persona.csv"
    f.write_text("persona_id,n_turns,similarity,param_f1\np0,3,0.5,\np1,2,0.25,nan\n")
    assert read_scores(f, "similarity") == {"p0": 0.5, "p1": 0.25}
    assert all(math.isnan(v) for v in read_scores(f, "param_f1").values())
    with pytest.raises(RoutingError, match="no column"):
        read_scores(f, "simlarity")


def test_routing_plan_lists_the_candidates_files():
    plan = RoutingPlan(["unified", "hybrid"], "similarity")
    assert plan.candidates == ["unified", "hybrid"] and plan.metric == "similarity"
    assert plan.files("results/eval/val/{method}/per_persona.csv") == [
        "results/eval/val/unified/per_persona.csv",
        "results/eval/val/hybrid/per_persona.csv",
    ]
    with pytest.raises(RoutingError, match="its own candidates"):
        RoutingPlan(["unified", "routing"], "similarity")


REPO = Path(__file__).resolve().parents[1]


def test_route_rule_reads_val_only_and_the_oracle_comes_after(tmp_path):
    """Dry run of the workflow: route's inputs are val files; the oracle is downstream of evaluate_routing."""
    overlay = tmp_path / "overlay.yaml"
    methods = ["base", "unified", "persona", "hybrid", "routing"]
    overlay.write_text(yaml.safe_dump({"eval": {"methods": methods}}))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(REPO / "config/demo.yaml"), str(overlay), "--cores", "1", "-n"]
    cmd += [
        "--workflow-profile",
        "none",
        "results/routing/seed1/oracle.json",
        "results/comparison/summary.csv",
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks: dict[str, list[dict]] = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        head = re.match(r"^(?:local)?rule (\w+):$", line)
        if head:
            job: dict = {}
            blocks.setdefault(head.group(1), []).append(job)
        elif line.startswith("    ") and ": " in line and blocks:
            key, value = line.strip().split(": ", 1)
            job[key] = value
    route = next(job for job in blocks["route"] if "seed1" in job["output"])
    data = [f for f in route["input"].split(", ") if f.startswith("results/")]
    assert sorted(data) == sorted(
        f"results/eval/val/{m}/seed1/{f}"
        for m in ("hybrid", "persona", "unified")
        for f in ("per_persona.csv", "predictions.jsonl")
    )
    composed = next(job for job in blocks["evaluate_routing"] if "seed1" in job["output"])
    assert "results/eval/test/routing/seed1/metrics.json" in composed["output"]
    families = ("evaluate", "evaluate_pack")
    generated = [j for rule, jobs in blocks.items() if rule.split(".")[0] in families for j in jobs]
    assert generated and all("/routing/" not in job["output"] for job in generated)
    orc = next(job for job in blocks["routing_oracle"] if "seed1" in job["output"])
    assert "results/eval/test/routing/seed1/per_persona.csv" in orc["input"]
    # Only the comparison reads the oracle (to draw it as a labelled bound); no selection does.
    readers = {
        rule
        for rule, jobs in blocks.items()
        for job in jobs
        if job is not orc and "oracle" in job.get("input", "")
    }
    assert readers <= {"compare"}, readers


def test_a_pick_beyond_noise_replaces_the_default_and_one_within_noise_does_not():
    """Routing keeps routing.default unless another candidate's val advantage survives resampling the
    persona's val dialogues: a candidate right on every dialogue replaces it, one right on a single
    dialogue of six (the better mean, but within noise) does not."""
    from adaptcommand.metrics.scoring import score_turns
    from adaptcommand.routing import choose, within_noise

    def rows(right: dict[str, set[int]]) -> list[dict]:
        out = []
        for persona, sessions in right.items():
            for s in range(6):
                refs = [f"Setting the lights to {30 + s}% brightness."] * 2
                preds = refs if s in sessions else [f"Setting the lights to {80 + s}% brightness."] * 2
                scores = score_turns(preds, refs, numeric_tolerance=0)
                for ti, sc in enumerate(scores):
                    out.append(
                        {"persona_id": persona, "session_id": s, "turn_index": ti, "kind": "routine", **sc}
                    )
        return out

    val = {
        "hybrid": rows({"p1": set(), "p2": set()}),
        "persona": rows({"p1": set(range(6)), "p2": {0}}),
    }
    from adaptcommand.metrics.scoring import per_persona

    scores = {c: {p: v["routine_param_f1"] for p, v in per_persona(r).items()} for c, r in val.items()}
    picked = choose(scores, ["hybrid", "persona"], "routine_param_f1")
    assert chosen_methods(picked) == {"p1": "persona", "p2": "persona"}  # the better val mean, both
    routed = within_noise(picked, val, "hybrid", confidence=0.9, resamples=200, seed=0)
    assert chosen_methods(routed) == {"p1": "persona", "p2": "hybrid"}
    assert (
        routed["personas"]["p2"]["val_best"] == "persona" and routed["personas"]["p2"]["advantage_low"] <= 0
    )
    assert routed["personas"]["p1"]["advantage_low"] > 0
    assert routed["counts"] == {"hybrid": 1, "persona": 1} and routed["default"] == "hybrid"
    with pytest.raises(RoutingError, match="routing.default"):
        within_noise(picked, val, "unified", confidence=0.9, resamples=50, seed=0)
