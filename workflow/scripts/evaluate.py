"""Rules evaluate and evaluate_pack.*: methods on one evaluation set through the shared harness.

params.members: {method: {manifest, history}}: one method (rule evaluate), or a pack of the split's
learned methods for one seed (resources.eval_pack_size), evaluated one after another in this process.
A method's adapters are found through its manifest ("" for the base); a method with retrieved history
also gets each dialogue's past exchanges in its prompts, and one whose prompt is not the run's (the
persona's text in it: table field prompt) its own prompt section. Each writes its own layout.eval_files.
"""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log, gpu_slot():
    from adaptcommand import layout
    from adaptcommand.evaluate.run import evaluate_method
    from adaptcommand.manifests import read_manifest, routes_of
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.retrieval import load_history
    from adaptcommand.settings import Generation, Scoring

    s = snakemake
    split = s.wildcards.split
    run = s.wildcards.get("run") or layout.run_of(s.wildcards.seed)
    for method, inputs in s.params.members.items():
        out = layout.eval_files(split, method, run)
        if not set(out.values()) <= set(s.output):
            raise ValueError(f"{method}: {sorted(out.values())} are not outputs of this job")
        routes, merge = {}, ""
        if inputs["manifest"]:
            manifest = read_manifest(inputs["manifest"])
            routes, merge = routes_of(manifest, list(s.params.personas)), manifest["merge"]
        summary = evaluate_method(
            method=method,
            split=split,
            data_split=s.params.data_split,
            base=s.params.base,
            prompt=PromptConfig.from_section(inputs.get("prompt", s.params.prompt), "prompt"),
            generation=Generation.from_section(s.params.generation, "generation"),
            scoring=Scoring.from_section(s.params.scoring, "metrics"),
            routes=routes,
            merge=merge,
            dialogs_path=s.input.dialogs,
            splits_path=s.input.splits,
            targets_path=s.input.targets,
            out=out,
            history=load_history(inputs["history"]) if inputs["history"] else None,
        )
        log.info("%s on %s: %s", method, split, summary["micro"])
