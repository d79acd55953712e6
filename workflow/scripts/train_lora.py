"""Adapter training rules: one adapter (LoRA or prefix) on the listed personas' train split.

train_history also puts each dialogue's retrieved past exchanges (inputs history_train/history_val)
into the prompts.
"""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.prompts import PromptConfig
from adaptcommand.retrieval import load_history
from adaptcommand.runtime import rule_context
from adaptcommand.train.loop import TrainConfig
from adaptcommand.train.lora import train_lora_adapter

with rule_context(snakemake), gpu_slot():  # noqa: F821
    s = snakemake  # noqa: F821
    p = dict(s.params.items())
    history = None
    if hasattr(s.input, "history_train"):
        history = load_history(s.input.history_train, s.input.history_val)
    train_lora_adapter(
        p["base"],
        s.input.dialogs,
        s.input.splits,
        p["personas"].split(","),
        PromptConfig.from_config(p),
        p,
        TrainConfig.from_config(p),
        s.output[0],
        merge=p.get("merge", ""),
        history=history,
    )
