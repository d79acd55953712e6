"""Rule evaluate: one method on one split through the shared harness.

A method with retrieved history (input `history`) also gets each dialogue's past exchanges in its prompts.
"""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log, gpu_slot():
    from adaptcommand.evaluate.run import evaluate_method
    from adaptcommand.retrieval import load_history

    s = snakemake
    summary = evaluate_method(
        method=s.params.method,
        split=s.wildcards.split,
        data_split=s.params.data_split,
        params=dict(s.params.items()),
        routes=dict(s.params.routes),
        merge=s.params.merge,
        dialogs_path=s.input.dialogs,
        splits_path=s.input.splits,
        targets_path=s.input.targets,
        out={
            "predictions": s.output.predictions,
            "per_persona": s.output.per_persona,
            "metrics": s.output.metrics,
        },
        history=load_history(s.input.history[0]) if s.input.history else None,
    )
    log.info("%s on %s: %s", s.params.method, s.wildcards.split, summary["micro"])
