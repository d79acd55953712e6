"""PEFT adapters: how they are configured, attached, saved atomically and loaded for evaluation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from peft import LoraConfig, PeftModel, PrefixTuningConfig, get_peft_model


def lora_config(cfg: dict) -> LoraConfig:
    """LoraConfig from a config section with r, alpha, dropout and target_modules (a list of names)."""
    targets = cfg["target_modules"]
    if isinstance(targets, str):
        raise TypeError(f"target_modules must be a list of module names, got the string {targets!r}")
    return LoraConfig(
        r=int(cfg["r"]),
        lora_alpha=int(cfg["alpha"]),
        lora_dropout=float(cfg["dropout"]),
        target_modules=list(targets),
        task_type="CAUSAL_LM",
    )


def prefix_config(cfg: dict) -> PrefixTuningConfig:
    """PrefixTuningConfig from a config section with num_virtual_tokens (and prefix_projection)."""
    return PrefixTuningConfig(
        num_virtual_tokens=int(cfg["num_virtual_tokens"]),
        prefix_projection=bool(cfg.get("prefix_projection", False)),
        task_type="CAUSAL_LM",
    )


def attach_adapter(model, cfg: dict, name: str = "default"):
    """Wrap `model` with a fresh trainable adapter: prefix tuning if cfg has num_virtual_tokens, else LoRA."""
    peft_cfg = prefix_config(cfg) if "num_virtual_tokens" in cfg else lora_config(cfg)
    return get_peft_model(model, peft_cfg, adapter_name=name)


def save_adapter(peft_model, out_dir: str | Path, info: dict, adapter_name: str = "default") -> None:
    """Write the adapter and a train_log.json to `out_dir`; nothing half-written if this fails."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    peft_model.save_pretrained(tmp, selected_adapters=[adapter_name])
    if adapter_name != "default":  # save_pretrained nests non-default adapters in a subfolder
        nested = tmp / adapter_name
        for f in nested.iterdir():
            f.rename(tmp / f.name)
        nested.rmdir()
    (tmp / "train_log.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)


def is_prompt_learning(adapter_dir: str | Path) -> bool:
    """Prefix / prompt tuning adapters cannot share a batch with other adapters: generate per group."""
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    return cfg.get("peft_type") in {"PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING"}


def merged_base(base, adapter_dir: str | Path):
    """`base` with the LoRA at `adapter_dir` merged into its weights (a new frozen starting point)."""
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    return model.merge_and_unload()


def load_adapters(base, adapters: dict[str, str | Path]):
    """A PeftModel holding every adapter in `adapters` (name -> dir), for mixed-adapter batches."""
    names = list(adapters)
    if not names:
        raise ValueError("no adapters to load")
    model = PeftModel.from_pretrained(base, str(adapters[names[0]]), adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(str(adapters[name]), adapter_name=name)
    model.eval()
    return model
