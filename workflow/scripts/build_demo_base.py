"""Rule build_demo_base: tokenizer + tiny Qwen2 pretrained offline on never-evaluated personas."""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.model.tiny import build_demo_base
from adaptcommand.prompts import PromptConfig
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log, gpu_slot():
    p = dict(snakemake.params.items())
    info = build_demo_base(snakemake.output[0], PromptConfig.from_config(p), p, seed=p["seed"])
    log.info(
        "demo base: %d parameters, best epoch %d, val loss %s",
        info["parameters"],
        info["best_epoch"],
        info["val_loss"],
    )
