"""Rule compare: summary table, markdown and the comparison figure from every method's test results."""

from adaptcommand.compare.report import write_comparison
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    s = snakemake
    benchmarks = dict(s.params.benchmarks)  # {method: {"gpu": [files], "cpu": [files]}}
    summary = write_comparison(
        list(s.params.methods),
        list(s.params.controls),
        list(s.input.metrics),
        list(s.input.per_persona),
        benchmarks,
        {
            "figure": s.output.figure,
            "summary": s.output.summary,
            "markdown": s.output.markdown,
            "controls": s.output.controls,
        },
        s.params.resamples,
        s.params.seed,
        oracle=s.input.oracle[0] if s.input.oracle else "",
    )
    log.info("\n%s", summary.to_string())
