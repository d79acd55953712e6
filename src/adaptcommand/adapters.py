"""PEFT adapters: how they are configured, attached, saved atomically and loaded for evaluation."""

from __future__ import annotations

import json
from pathlib import Path

from peft import LoraConfig, PeftModel, PrefixTuningConfig, get_peft_model

from adaptcommand.data.io import atomic_directory
from adaptcommand.manifests import weights_digest
from adaptcommand.settings import LoraRecipe, PrefixRecipe


def lora_config(recipe: LoraRecipe) -> LoraConfig:
    """PEFT's LoraConfig of a LoRA recipe (r, alpha, dropout, target_modules)."""
    return LoraConfig(
        r=int(recipe.r),
        lora_alpha=int(recipe.alpha),
        lora_dropout=float(recipe.dropout),
        target_modules=list(recipe.target_modules),
        task_type="CAUSAL_LM",
    )


def prefix_config(recipe: PrefixRecipe) -> PrefixTuningConfig:
    """PEFT's PrefixTuningConfig of a prefix recipe (num_virtual_tokens, prefix_projection)."""
    return PrefixTuningConfig(
        num_virtual_tokens=int(recipe.num_virtual_tokens),
        prefix_projection=bool(recipe.prefix_projection),
        task_type="CAUSAL_LM",
    )


def attach_adapter(
    model, recipe: LoraRecipe | PrefixRecipe, name: str = "default", init_ids: list[int] | None = None
):
    """Wrap `model` with a fresh trainable adapter of `recipe` (its `adapter` field: lora | prefix).

    `init_ids` (prefix tuning): start the prefix from the key/values the model computes for these
    tokens (`init_prefix_from_tokens`) instead of PEFT's random ones.
    """
    peft_cfg = prefix_config(recipe) if recipe.adapter == "prefix" else lora_config(recipe)
    peft_model = get_peft_model(model, peft_cfg, adapter_name=name)
    if init_ids is not None and recipe.adapter == "prefix":
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
    with atomic_directory(out_dir) as tmp:
        peft_model.save_pretrained(tmp, selected_adapters=[adapter_name])
        if adapter_name != "default":  # save_pretrained nests non-default adapters in a subfolder
            nested = tmp / adapter_name
            for f in nested.iterdir():
                f.rename(tmp / f.name)
            nested.rmdir()
        # the weights' digest, recorded where they are made: a manifest is never made from other weights
        info = {**info, "weights_digest": weights_digest(tmp)}
        (tmp / "train_log.json").write_text(json.dumps(info, indent=2) + "\n")


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
