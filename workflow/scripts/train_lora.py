"""Adapter training rules: one adapter (LoRA or prefix) on the listed personas' train split."""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.prompts import PromptConfig
from adaptcommand.runtime import rule_context
from adaptcommand.train.loop import TrainConfig
from adaptcommand.train.lora import train_lora_adapter

with rule_context(snakemake), gpu_slot():  # noqa: F821
    p = dict(snakemake.params.items())  # noqa: F821
    train_lora_adapter(
        p["base"],
        snakemake.input.dialogs,  # noqa: F821
        snakemake.input.splits,  # noqa: F821
        p["personas"].split(","),
        PromptConfig.from_config(p),
        p,
        TrainConfig.from_config(p),
        snakemake.output[0],  # noqa: F821
        merge=p.get("merge", ""),
    )
