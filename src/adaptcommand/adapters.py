"""PEFT adapters: how they are configured, attached, saved atomically and loaded for evaluation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from peft import LoraConfig, PeftModel, get_peft_model


def lora_config(cfg: dict) -> LoraConfig:
    """LoraConfig from a config section with r, alpha, dropout and target_modules (list or comma string)."""
    targets = cfg["target_modules"]
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(
        r=int(cfg["r"]),
        lora_alpha=int(cfg["alpha"]),
        lora_dropout=float(cfg["dropout"]),
        target_modules=list(targets),
        task_type="CAUSAL_LM",
    )


def attach_lora(model, cfg: dict, name: str = "default"):
    """Wrap `model` with a fresh trainable LoRA adapter (seeded by the caller)."""
    return get_peft_model(model, lora_config(cfg), adapter_name=name)


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
