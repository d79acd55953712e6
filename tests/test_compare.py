"""The measurement chain (turn kinds -> per-turn scores -> per-persona table -> intervals ->
controls) sees a planted personalisation effect and sees none where there is none."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from adaptcommand.compare.report import by_headline, write_comparison
from adaptcommand.data.clean import clean
from adaptcommand.data.io import load_dialogs
from adaptcommand.data.splits import make_splits, split_dialogs
from adaptcommand.demo import synthetic
from adaptcommand.evaluate.harness import write_results
from adaptcommand.evaluate.targets import eval_targets
from adaptcommand.metrics.scoring import score_turns
from adaptcommand.settings import Protocol

N_PERSONAS = 10
HEADLINE = "routine_param_f1"


def runs_of(names: list[str]) -> dict[str, list[str]]:
    """One run each: the base untrained, every other row trained with one seed."""
    return {m: ["untrained"] if m == "base" else ["seed1"] for m in names}


def protocol(headline: str = HEADLINE) -> Protocol:
    return Protocol(
        headline=headline,
        second="similarity",
        references=("unified", "base"),
        positive_control="persona",
    )


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


OUTPUTS = ("figure", "summary", "markdown", "latex", "per_persona", "controls", "cold_start")


def _outputs(tmp_path) -> dict[str, str]:
    return {k: str(tmp_path / f"out.{k}") for k in OUTPUTS}


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
    out = _outputs(tmp_path)
    summary = write_comparison(
        runs_of(names),
        names[3:],
        [files[m]["metrics"] for m in names],
        [files[m]["per_persona"] for m in names],
        {},
        out,
        protocol(),
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
    out = _outputs(tmp_path)
    write_comparison(
        runs_of(names),
        names[2:],
        [files[m]["metrics"] for m in names],
        [files[m]["per_persona"] for m in names],
        {},
        out,
        protocol(),
    )
    checks = json.loads((tmp_path / "out.controls").read_text())
    assert not checks["passed"]
    assert [c["passed"] for c in checks["checks"]] == [True, False]
    assert "FAILED" in (tmp_path / "out.markdown").read_text()


def test_controls_without_the_rows_they_need_fail_instead_of_passing(tmp_path, targets):
    """Without base (the row the controls are differences to), or without the positive control, the
    comparison stops naming the missing rows: it never writes controls that "passed" with nothing
    checked."""
    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    files = {m: _method(tmp_path, m, targets, generic) for m in ("base", "unified", "persona_swapped")}
    for names, missing in (
        (["unified", "persona_swapped"], "adapter none"),
        (["base", "unified"], "'persona'"),
    ):
        with pytest.raises(ValueError, match=f"need the rows .*{missing}"):
            write_comparison(
                runs_of(names),
                [n for n in names if n == "persona_swapped"],
                [files[m]["metrics"] for m in names],
                [files[m]["per_persona"] for m in names],
                {},
                _outputs(tmp_path),
                protocol(),
            )
    assert not (tmp_path / "out.controls").exists()


def _latex_rows(tex: str) -> list[str]:
    return [line for line in tex.splitlines() if line.endswith(r"\\")]


def test_tables_for_the_paper_and_the_new_users(tmp_path, targets):
    """summary.tex (booktabs, names escaped, one row per method with every column), summary.md (MAE,
    pooled values), per-persona plot, and with new users cold_start.csv and the figure's fifth panel."""
    from PIL import Image

    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    files = {
        "base": _method(tmp_path, "base", targets, generic),
        "persona": _method(tmp_path, "persona", targets, lambda t: t["reference"]),
        "persona_swapped": _method(tmp_path, "persona_swapped", targets, generic),
    }
    # "New users": other targets (a subset of the personas), scored by base and a method that knows them.
    new_targets = [t for t in targets if t["persona_id"] in {"persona_007", "persona_008", "persona_009"}]
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    new = {
        "base": _method(new_dir, "base", new_targets, generic),
        "unified": _method(new_dir, "unified", new_targets, lambda t: t["reference"]),
    }
    names = ["base", "persona", "persona_swapped"]
    args = (
        runs_of(names),
        names[2:],
        [files[m]["metrics"] for m in names],
        [files[m]["per_persona"] for m in names],
        {},
    )
    without, with_new = _outputs(tmp_path / "a"), _outputs(tmp_path / "b")
    for out in (without, with_new):
        Path(out["figure"]).parent.mkdir()
    write_comparison(*args, without, protocol())
    new_users = {
        "runs": runs_of(["base", "unified"]),
        "metrics": [new[m]["metrics"] for m in ("base", "unified")],
        "per_persona": [new[m]["per_persona"] for m in ("base", "unified")],
        "benchmarks": {},
    }
    summary = write_comparison(*args, with_new, protocol(), new_users=new_users)

    tex = Path(with_new["latex"]).read_text()
    assert tex.count(r"\toprule") == 2 and tex.count(r"\bottomrule") == 2  # main + new users
    rows = _latex_rows(tex)
    assert len(rows) == 2 + len(summary) + 2  # two headers, the methods, the new-user rows
    assert len({row.count(" & ") for row in rows}) == 1, "every row has every column"
    assert r"persona\_swapped" in tex and "persona_swapped" not in tex
    unescaped = re.sub(r"\\[_%&#$]", "", "\n".join(rows)).replace(" & ", " ")
    assert not re.search(r"[_%&#$]", unescaped), "a special character left unescaped in a cell"
    assert tex.count("{") == tex.count("}")
    assert "[" in rows[2] and "--" not in rows[2].split(" & ")[3]  # the best row has a CI
    md = Path(with_new["markdown"]).read_text()
    assert "MAE (all)" in md and "pooled turns" in md and "## New users (cold start)" in md
    assert "New users" not in Path(without["markdown"]).read_text()

    cold = pd.read_csv(with_new["cold_start"], index_col="method")
    main = pd.read_csv(with_new["summary"], index_col="method")
    # the columns of summary.csv (the pairwise order columns name each table's own methods)
    assert {c for c in main.columns if "_order_" not in c} <= set(cold.columns)
    assert f"{HEADLINE}_diff_unified_low" in cold
    assert list(cold.index) == ["unified", "base"] and (cold["n_personas"] == 3).all()
    # 3 new users: the values, no interval (fewer than 5 units)
    assert cold.loc["unified", f"{HEADLINE}_diff_base"] > 0 and cold[f"{HEADLINE}_diff_base_low"].isna().all()
    assert "no interval is given" in md
    assert not Path(without["cold_start"]).exists()
    # the fifth panel: the figure is a panel wider
    w4, w5 = Image.open(without["figure"]).size[0], Image.open(with_new["figure"]).size[0]
    assert w5 > w4 * 1.15, (w4, w5)
    assert Image.open(with_new["per_persona"]).size[1] > 200


def test_the_headline_is_config(tmp_path, targets):
    """compare.headline decides the ranking of summary.csv / summary.md, the controls and the figure's
    order: a method that wins on routine turns but loses on similarity moves down when the headline
    becomes similarity, with no code change."""
    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    # routine values right, every other turn garbled: best on routine_param_f1, worst on similarity
    garbled = lambda t: t["reference"] if t["kind"] == "routine" else "no idea"  # noqa: E731
    files = {
        "base": _method(tmp_path, "base", targets, generic),
        "persona": _method(tmp_path, "persona", targets, garbled),
        "unified": _method(tmp_path, "unified", targets, generic),
    }
    names = ["base", "persona", "unified"]
    args = (
        runs_of(names),
        [],
        [files[m]["metrics"] for m in names],
        [files[m]["per_persona"] for m in names],
        {},
    )
    ranked = {}
    for headline in (HEADLINE, "similarity"):
        out = _outputs(tmp_path / headline)
        Path(out["figure"]).parent.mkdir()
        summary = write_comparison(*args, out, protocol(headline=headline))
        ranked[headline] = list(summary.index)
        md = Path(out["markdown"]).read_text()
        table_rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ")][1:]
        assert table_rows == ranked[headline], (table_rows, ranked[headline])
        assert f"**{headline.replace('_', ' ').replace('f1', 'F1')}**" in md
        assert json.loads(Path(out["controls"]).read_text())["metric"] == headline
    assert ranked[HEADLINE][0] == "persona" and ranked["similarity"][-1] == "persona"
    assert list(by_headline(summary, protocol(headline="similarity")).index) == ranked["similarity"]


def test_the_tables_are_the_long_table(tmp_path, targets):
    """summary.csv is the pooled wide form of one long table (method, role, seed, metric, statistic,
    value): every cell is one row of it."""
    from adaptcommand.compare.report import _rows_meta
    from adaptcommand.compare.table import POOLED, load_runs, summary_long, to_wide, wide_name

    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    files = {m: _method(tmp_path, m, targets, generic) for m in ("base", "unified")}
    metrics, tables = load_runs(
        runs_of(list(files)),
        [f["metrics"] for f in files.values()],
        [f["per_persona"] for f in files.values()],
    )
    long = summary_long(_rows_meta([], metrics), tables, {}, protocol())
    assert list(long.columns) == ["method", "role", "seed", "metric", "statistic", "value"]
    wide = to_wide(long)
    pooled = long[long["seed"] == POOLED]
    assert len(pooled) == wide.drop(columns="role").notna().sum().sum() + pooled["value"].isna().sum()
    row = pooled[(pooled.metric == HEADLINE) & (pooled.statistic == "diff_base_low")].set_index("method")[
        "value"
    ]
    assert wide.loc["unified", wide_name(HEADLINE, "diff_base_low")] == row["unified"]
    assert wide.loc["base", wide_name(HEADLINE, "persona_mean")] == pytest.approx(
        tables["base"]["untrained"][HEADLINE].mean()
    )


def test_seeds_are_pooled_and_each_stays_inspectable(tmp_path, targets):
    """Three seeds of each learned method: the pooled row counts them (n_seeds), each seed has its own
    table, the spread across seeds is reported, the controls are checked pooled and per seed, and a
    difference one seed reverses is not claimed."""
    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    knows = lambda t: t["reference"]  # noqa: E731
    # knows the user's values on half of the personas in one seed, on the other half in another
    half = sorted({t["persona_id"] for t in targets})[: N_PERSONAS // 2]
    first = lambda t: knows(t) if t["persona_id"] in half else generic(t)  # noqa: E731
    second = lambda t: generic(t) if t["persona_id"] in half else knows(t)  # noqa: E731
    plan = {
        "base": {"untrained": generic},
        "persona": {f"seed{s}": knows for s in (1, 2, 3)},
        "unified": {"seed1": first, "seed2": second, "seed3": generic},
        "persona_swapped": {f"seed{s}": generic for s in (1, 2, 3)},
    }
    runs = {m: list(r) for m, r in plan.items()}
    files = {
        (m, r): _method(tmp_path / m / r, m, targets, f) for m, rs in plan.items() for r, f in rs.items()
    }
    out = _outputs(tmp_path / "out")
    Path(out["figure"]).parent.mkdir(parents=True)
    out["seeds"] = [str(tmp_path / "out" / f"seed{s}.csv") for s in (1, 2, 3)]
    order = [(m, r) for m, rs in runs.items() for r in rs]
    summary = write_comparison(
        runs,
        ["persona_swapped"],
        [files[k]["metrics"] for k in order],
        [files[k]["per_persona"] for k in order],
        {},
        out,
        protocol(),
    )
    assert summary["n_seeds"].to_dict() == {"persona": 3, "unified": 3, "base": 1, "persona_swapped": 3}
    seeds = {s: pd.read_csv(tmp_path / "out" / f"seed{s}.csv", index_col="method") for s in (1, 2, 3)}
    col = f"{HEADLINE}_persona_mean"
    assert seeds[3].loc["unified", col] == pytest.approx(seeds[3].loc["base", col])
    assert seeds[1].loc["unified", col] > seeds[3].loc["unified", col]
    assert summary.loc["unified", col] == pytest.approx(
        sum(seeds[s].loc["unified", col] for s in (1, 2, 3)) / 3
    )
    # persona beats base in every seed; unified's gain is seed-dependent: not separable from base
    assert summary.loc["persona", f"{HEADLINE}_rank_low"] == 1
    assert summary.loc["persona", f"{HEADLINE}_diff_base_low"] > 0
    assert "base" in summary.loc["unified", "tied_with"].split()
    checks = json.loads(Path(out["controls"]).read_text())
    assert checks["passed"] and set(checks["checks"][0]["seeds"]) == {"1", "2", "3"}
    md = Path(out["markdown"]).read_text()
    assert "## Seeds" in md and "tied with" in md and "detectable" in md


def test_the_baseline_is_the_row_that_learns_nothing_whatever_its_name(tmp_path, targets):
    """The controls, the per-persona gains and the detectable difference are taken to the reference
    evaluated untrained (the table's method without an adapter), not to a row named "base": the same
    comparison with that row renamed gives the same numbers under the new name."""
    generic = lambda t: _shift_numbers(t["reference"]) if t["kind"] == "routine" else t["reference"]  # noqa: E731
    predict = {"persona": lambda t: t["reference"]}
    tables = {}
    for baseline in ("base", "as_is"):
        names = [baseline, "persona", "unified", "persona_swapped"]
        files = {m: _method(tmp_path / baseline, m, targets, predict.get(m, generic)) for m in names}
        out = _outputs(tmp_path / baseline)
        runs = {m: ["untrained"] if m == baseline else ["seed1"] for m in names}
        refs = ("unified", baseline)
        proto = Protocol(headline=HEADLINE, second="similarity", references=refs, positive_control="persona")
        summary = write_comparison(
            runs,
            names[3:],
            [files[m]["metrics"] for m in names],
            [files[m]["per_persona"] for m in names],
            {},
            out,
            proto,
        )
        checks = json.loads(Path(out["controls"]).read_text())
        assert checks["reference"] == baseline and checks["passed"], checks
        assert f"detectable vs {baseline}" in Path(out["markdown"]).read_text()
        renamed = {c: c.replace(f"_{baseline}", "_BASELINE") for c in summary.columns}
        summary = summary.rename(index={baseline: "BASELINE"}, columns=renamed)
        summary["tied_with"] = summary["tied_with"].str.replace(baseline, "BASELINE")
        tables[baseline] = summary
    assert f"{HEADLINE}_detectable_BASELINE" in tables["base"]
    pd.testing.assert_frame_equal(tables["base"], tables["as_is"])
