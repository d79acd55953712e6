"""Adapter training rules: one adapter (LoRA or prefix) on the listed personas' train split, or with
params.pack one adapter per listed persona, each in <output>/<persona_id>, or with params.units
({cluster_id: members}) one per cluster in <output>/<cluster_id> (trained in one process;
with params.batched the pack's LoRAs in the same batches; on a CPU spread over the job's threads as
forked single-thread workers).

train_history also puts each dialogue's retrieved past exchanges (inputs history_train/history_val)
into the prompts.
"""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.runtime import rule_context

with rule_context(snakemake), gpu_slot():
    from adaptcommand.data.io import atomic_directory
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.retrieval import load_history
    from adaptcommand.train.loop import TrainConfig
    from adaptcommand.train.lora import train_adapters

    s = snakemake
    p = dict(s.params.items())
    history = None
    if hasattr(s.input, "history_train"):
        history = load_history(s.input.history_train, s.input.history_val)
    with atomic_directory(s.output[0]) as out:
        if "pack" in p:  # a pack of personas: one adapter each
            units = {persona: [persona] for persona in p["pack"]}
            out_dirs = {persona: out / persona for persona in units}
        elif "units" in p:  # a pack of clusters: {cluster_id: its members}, one adapter each
            units = {unit: list(members) for unit, members in p["units"].items()}
            out_dirs = {unit: out / unit for unit in units}
        else:
            units, out_dirs = {"adapter": list(p["personas"])}, {"adapter": out}
        train_adapters(
            p["base"],
            s.input.dialogs,
            s.input.splits,
            units,
            PromptConfig.from_config(p),
            p,
            TrainConfig.from_config(p),
            out_dirs,
            merge=p.get("merge", ""),
            history=history,
            batched=bool(p.get("batched", False)),
            workers=s.threads,  # on a CPU, a pack's units over the job's cores (adaptcommand.parallel)
        )
