"""Rule evaluate: one method on one evaluation set through the shared harness.

Its adapters are found through its manifest (input manifest; none for the base); a method with
retrieved history (input history) also gets each dialogue's past exchanges in its prompts.
"""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log, gpu_slot():
    from adaptcommand.evaluate.run import evaluate_method
    from adaptcommand.manifests import read_manifest, routes_of
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.retrieval import load_history
    from adaptcommand.settings import Generation, Scoring

    s = snakemake
    routes, merge = {}, ""
    if s.input.manifest:
        manifest = read_manifest(s.input.manifest[0])
        routes, merge = routes_of(manifest, list(s.params.personas)), manifest["merge"]
    summary = evaluate_method(
        method=s.params.method,
        split=s.wildcards.split,
        data_split=s.params.data_split,
        base=s.params.base,
        prompt=PromptConfig.from_section(s.params.prompt, "prompt"),
        generation=Generation.from_section(s.params.generation, "generation"),
        scoring=Scoring.from_section(s.params.scoring, "metrics"),
        routes=routes,
        merge=merge,
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
