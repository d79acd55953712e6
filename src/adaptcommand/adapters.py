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


def attach_adapter(model, cfg: dict, name: str = "default", init_ids: list[int] | None = None):
    """Wrap `model` with a fresh trainable adapter: prefix tuning if cfg has num_virtual_tokens, else LoRA.

    `init_ids` (prefix tuning): start the prefix from the key/values the model computes for these
    tokens (`init_prefix_from_tokens`) instead of PEFT's random ones.
    """
    peft_cfg = prefix_config(cfg) if "num_virtual_tokens" in cfg else lora_config(cfg)
    peft_model = get_peft_model(model, peft_cfg, adapter_name=name)
    if init_ids is not None and "num_virtual_tokens" in cfg:
        init_prefix_from_tokens(peft_model, init_ids, name)
    return peft_model


def init_prefix_from_tokens(peft_model, ids: list[int], name: str = "default") -> bool:
    """Set prefix-tuning adapter `name`'s virtual keys/values to the start model's own key/values of
    `ids` (the first num_virtual_tokens of them, cycled if there are fewer); False (left random) for a
    prefix with a projection MLP.

    PEFT initialises a prefix with N(0, 1) vectors. A tiny model trained from scratch hardly notices,
    but a real pretrained one does: SmolLM2-135M-Instruct's val loss goes from 3.70 to 5.42 with 4
    untrained random virtual tokens, so "epoch 0 = the untrained adapter = the start model", which the
    epoch choice relies on, was false for every prefix method and each started far behind. Key/values
    of real tokens (of the chat's system turn; Li & Liang 2021 initialise from real words too) leave
    the model as it was (3.69). With grouped-query attention they are the key/value heads' (what PEFT
    stores: num_layers x 2 x kv_heads x head_dim per virtual token).
    """
    import torch

    config = peft_model.peft_config[name]
    encoder = peft_model.prompt_encoder[name]
    if getattr(config, "prefix_projection", False) or not hasattr(encoder, "embedding"):
        return False
    n = config.num_virtual_tokens
    if not ids:
        raise ValueError("no tokens to initialise the prefix from")
    ids = [ids[i % len(ids)] for i in range(n)]
    weight = encoder.embedding.weight
    base = peft_model.get_base_model()
    with torch.no_grad(), peft_model.disable_adapter():
        past = base(input_ids=torch.tensor([ids], device=weight.device), use_cache=True).past_key_values
        rows = [
            torch.cat(
                [t for layer in past.layers for t in (layer.keys[0, :, i], layer.values[0, :, i])], dim=0
            )
            for i in range(n)
        ]
        init = torch.stack([r.reshape(-1) for r in rows])
        if init.shape != weight.shape:
            raise ValueError(f"prefix of shape {tuple(weight.shape)}, key/values of {tuple(init.shape)}")
        weight.copy_(init.to(weight.dtype))
    return True


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
