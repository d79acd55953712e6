"""Train one adapter (LoRA or prefix) on the train split of some personas; the epoch is chosen on val."""

from __future__ import annotations

import logging
from pathlib import Path

from adaptcommand.adapters import attach_adapter, merged_base, save_adapter
from adaptcommand.data.io import load_dialogs, load_splits
from adaptcommand.data.splits import split_dialogs
from adaptcommand.model.loading import load_base
from adaptcommand.prompts import PromptConfig, training_example
from adaptcommand.retrieval import history_for
from adaptcommand.train.loop import TrainConfig, train

log = logging.getLogger(__name__)


def examples_for(tokenizer, dialogs: list[dict], pc: PromptConfig, history: dict | None = None) -> list[dict]:
    """One example per dialogue; with `history` ({(persona, session): exchanges}) in its system message."""
    return [training_example(tokenizer, d, pc, history_for(history, d)) for d in dialogs]


def train_lora_adapter(
    base: str,
    dialogs_path: str,
    splits_path: str,
    personas: list[str],
    pc: PromptConfig,
    lora: dict,
    tc: TrainConfig,
    out_dir: str | Path,
    name: str = "default",
    merge: str = "",
    history: dict | None = None,
) -> dict:
    """Fit an adapter on `personas`' train dialogues; their val dialogues only choose the epoch.

    `lora` is the adapter recipe (LoRA: r/alpha/dropout/target_modules; prefix: num_virtual_tokens).
    With `merge`, that adapter (the unified LoRA) is merged into the base first and stays frozen.
    With `history` ({(persona_id, session_id): retrieved train exchanges}, covering the train and val
    dialogues) every example carries its dialogue's retrieved exchanges in the system message.
    Returns the training log written next to the adapter.
    """
    import torch

    dialogs, splits = load_dialogs(dialogs_path), load_splits(splits_path)
    train_d = split_dialogs(dialogs, splits, "train", personas)
    val_d = split_dialogs(dialogs, splits, "val", personas)
    model, tokenizer = load_base(base)
    if merge:
        model = merged_base(model, merge)
    torch.manual_seed(tc.seed)
    peft_model = attach_adapter(model, lora, name=name)
    result = train(
        peft_model,
        examples_for(tokenizer, train_d, pc, history),
        examples_for(tokenizer, val_d, pc, history),
        tc,
        tokenizer.pad_token_id,
        desc=f"train {name}",
    )
    info = {
        "personas": personas,
        "n_train_dialogs": len(train_d),
        "n_val_dialogs": len(val_d),
        "adapter": dict(lora),
        "merged_into_base": merge,
        **({"history_in_prompt": True} if history is not None else {}),
        **result.to_dict(),
    }
    log.info("best epoch %d, val loss %s", result.best_epoch, [round(v, 4) for v in result.val_loss])
    save_adapter(peft_model, out_dir, info, adapter_name=name)
    return info
