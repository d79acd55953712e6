"""Rule build_demo_base: tokenizer + tiny Qwen2 pretrained offline on never-evaluated personas."""

from adaptcommand.gpuslots import gpu_slot
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log, gpu_slot():
    from adaptcommand.demo.base import build_demo_base
    from adaptcommand.prompts import PromptConfig

    s = snakemake
    info = build_demo_base(
        s.output[0],
        PromptConfig.from_section(s.params.prompt, "prompt"),
        dict(s.params.demo),
        seed=s.params.demo["seed"],  # fixed: the base is not re-drawn per training seed
    )
    log.info(
        "demo base: %d parameters, best epoch %d, val loss %s",
        info["parameters"],
        info["best_epoch"],
        info["val_loss"],
    )
