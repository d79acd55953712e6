"""Rule compare: summary tables (CSV, Markdown, LaTeX; one CSV per seed), the comparison figure, the
per-persona gains and, with new users, the cold-start table, from every run (seed) of every method's
test results, by the config's protocol (compare: headline, references, positive control); with budgets
of train.sessions, the learning curve."""

from adaptcommand.compare.report import write_comparison
from adaptcommand.runtime import rule_context
from adaptcommand.settings import Protocol

with rule_context(snakemake) as log:
    s = snakemake

    # Evaluations besides the summary's: {"runs", "metrics", "per_persona", ...} of the inputs named
    # <prefix>_metrics / <prefix>_per_persona, or None where the run has none.
    def evaluations(prefix, runs, **more):
        files = {k: list(getattr(s.input, f"{prefix}_{k}")) for k in ("metrics", "per_persona")}
        return dict(runs=dict(runs), **files, **more) if runs else None

    new_users = evaluations("new_user", s.params.new_user_runs, benchmarks=dict(s.params.new_user_benchmarks))
    curve = evaluations(
        "curve", s.params.curve_runs, full=s.params.full_history_sessions, synthetic=s.params.synthetic
    )
    outputs = dict(s.output.items())
    outputs["seeds"] = list(s.output.seeds)
    summary = write_comparison(
        dict(s.params.runs),
        list(s.params.controls),
        list(s.input.metrics),
        list(s.input.per_persona),
        dict(s.params.benchmarks),  # {method: {"gpu": [files], "cpu": [files]}}
        outputs,
        Protocol.from_section(s.params.protocol, "compare"),
        oracle=[f for f in s.input.oracle if f.endswith("oracle.json")],  # (choices.json beside each)
        new_users=new_users,
        curve=curve,
        made_by=dict(s.params.made_by),
    )
    log.info("\n%s", summary.to_string())
