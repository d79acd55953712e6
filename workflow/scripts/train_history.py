"""Rule train_history: the unified recipe with each dialogue's retrieved past exchanges in the prompt."""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.prompts import PromptConfig
from adaptcommand.retrieval import load_history
from adaptcommand.runtime import rule_context
from adaptcommand.train.loop import TrainConfig
from adaptcommand.train.lora import train_lora_adapter

with rule_context(snakemake), gpu_slot():  # noqa: F821
    s = snakemake  # noqa: F821
    p = dict(s.params.items())
    train_lora_adapter(
        p["base"],
        s.input.dialogs,
        s.input.splits,
        p["personas"].split(","),
        PromptConfig.from_config(p),
        p,
        TrainConfig.from_config(p),
        s.output[0],
        history=load_history(s.input.history_train, s.input.history_val),
    )
