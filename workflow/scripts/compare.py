"""Rule compare: summary tables (CSV, Markdown, LaTeX), the comparison figure, the per-persona gains
and, with new users, the cold-start table, from every method's test results, by the config's
protocol (compare: headline, references, positive control)."""

from adaptcommand.compare.report import write_comparison
from adaptcommand.runtime import rule_context
from adaptcommand.settings import Protocol

with rule_context(snakemake) as log:
    s = snakemake
    benchmarks = dict(s.params.benchmarks)  # {method: {"gpu": [files], "cpu": [files]}}
    new_users = None
    if s.params.new_user_methods:
        new_users = {
            "methods": list(s.params.new_user_methods),
            "metrics": list(s.input.new_user_metrics),
            "per_persona": list(s.input.new_user_per_persona),
            "benchmarks": dict(s.params.new_user_benchmarks),
        }
    summary = write_comparison(
        list(s.params.methods),
        list(s.params.controls),
        list(s.input.metrics),
        list(s.input.per_persona),
        benchmarks,
        dict(s.output.items()),
        Protocol.from_section(s.params.protocol, "compare"),
        oracle=s.input.oracle[0] if s.input.oracle else "",
        new_users=new_users,
    )
    log.info("\n%s", summary.to_string())
