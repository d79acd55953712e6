"""Generic training rules (rules/train.smk): one adapter per output directory models/<method>/<unit>.

A unit is a persona of a pack (trained alone on its own dialogues), a cluster or `all` (params.members
gives their personas). The recipe, prompt and seed arrive as named sections and are checked there
(`adaptcommand.settings`); a method with history in its prompts also puts each dialogue's retrieved
past exchanges (inputs history_train/history_val) into them. params.merge: the shared adapter merged
into the base first; params.fold: the manifest of each unit's own start (merge-then-adapt);
params.first_sessions: a new user's first sessions are its train split. On a CPU a pack's units are
spread over the job's threads.
"""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.runtime import rule_context

with rule_context(snakemake), gpu_slot():
    from adaptcommand.layout import units_of
    from adaptcommand.manifests import read_manifest, routes_of
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.retrieval import load_history
    from adaptcommand.settings import recipe_from
    from adaptcommand.train.lora import train_adapters

    s = snakemake
    history = None
    if hasattr(s.input, "history_train"):
        history = load_history(s.input.history_train, s.input.history_val)
    units, out_dirs = units_of(s.output, s.params.get("members"))
    fold = s.params.get("fold")
    starts = routes_of(read_manifest(fold), list(units)) if fold else None
    train_adapters(
        s.params.base,
        s.input.dialogs,
        s.input.splits,
        units,
        PromptConfig.from_section(s.params.prompt, "prompt"),
        recipe_from(s.params.recipe, f"recipe of {s.rule}"),
        s.params.seed,
        out_dirs,
        merge=s.params.get("merge", ""),
        history=history,
        batched=s.params.batched,
        workers=s.threads,  # on a CPU, a pack's units over the job's cores (adaptcommand.parallel)
        starts=starts,
        first_sessions=s.params.get("first_sessions", 0),
    )
