"""Train adapters (LoRA or prefix) on the train split of some personas; the epoch is chosen on val.

`train_adapters` trains several independent adapters in one process (a "pack": e.g. one per persona),
loading the dialogues and the base model once. Each adapter starts from its own fresh copy of the
starting model with the same seed, so it is exactly the adapter a process of its own would train.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
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


def train_adapters(
    base: str,
    dialogs_path: str,
    splits_path: str,
    units: Mapping[str, list[str]],
    pc: PromptConfig,
    recipe: dict,
    tc: TrainConfig,
    out_dirs: Mapping[str, str | Path],
    name: str = "default",
    merge: str = "",
    history: dict | None = None,
    batched: bool = False,
) -> dict[str, dict]:
    """Fit one adapter per unit ({unit: personas}) on its personas' train dialogues; their val
    dialogues only choose the epoch. Adapter of unit u goes to out_dirs[u].

    `batched` (LoRA recipes, several units): every unit's examples go through the model in the same
    batches, each through its own LoRA (`train.batched`): the same adapters up to float rounding, one
    large batch per step instead of one small batch per unit.

    `recipe` is the adapter recipe (LoRA: r/alpha/dropout/target_modules; prefix: num_virtual_tokens).
    With `merge`, that adapter (the unified LoRA) is merged into the base first and stays frozen.
    With `history` ({(persona_id, session_id): retrieved train exchanges}, covering the train and val
    dialogues) every example carries its dialogue's retrieved exchanges in the system message.
    Returns {unit: the training log written next to its adapter}.
    """
    import torch

    dialogs, splits = load_dialogs(dialogs_path), load_splits(splits_path)
    start_model, tokenizer = load_base(base)
    if merge:
        start_model = merged_base(start_model, merge)
    if batched and len(units) > 1 and "num_virtual_tokens" not in recipe:
        return _train_batched(
            start_model, tokenizer, dialogs, splits, units, pc, recipe, tc, out_dirs, merge, history
        )
    logs = {}
    for unit, personas in units.items():
        train_d = split_dialogs(dialogs, splits, "train", personas)
        val_d = split_dialogs(dialogs, splits, "val", personas)
        model = copy.deepcopy(start_model) if len(units) > 1 else start_model
        torch.manual_seed(tc.seed)
        peft_model = attach_adapter(model, recipe, name=name)
        result = train(
            peft_model,
            examples_for(tokenizer, train_d, pc, history),
            examples_for(tokenizer, val_d, pc, history),
            tc,
            tokenizer.pad_token_id,
            desc=f"train {unit}",
        )
        info = _unit_log(personas, train_d, val_d, recipe, merge, history, result)
        log.info(
            "%s: best epoch %d of %d, val loss %s",
            unit,
            result.best_epoch,
            len(result.val_loss) - 1,
            [round(v, 4) for v in result.val_loss],
        )
        save_adapter(peft_model, out_dirs[unit], info, adapter_name=name)
        logs[unit] = info
        del peft_model, model
    return logs


def _unit_log(personas, train_d, val_d, recipe, merge, history, result) -> dict:
    return {
        "personas": list(personas),
        "n_train_dialogs": len(train_d),
        "n_val_dialogs": len(val_d),
        "adapter": dict(recipe),
        "merged_into_base": merge,
        **({"history_in_prompt": True} if history is not None else {}),
        **result.to_dict(),
    }


def _train_batched(start_model, tokenizer, dialogs, splits, units, pc, recipe, tc, out_dirs, merge, history):
    from adaptcommand.train.batched import load_unit, train_many_loras

    data = {}
    for unit, personas in units.items():
        train_d = split_dialogs(dialogs, splits, "train", personas)
        val_d = split_dialogs(dialogs, splits, "val", personas)
        data[unit] = (personas, train_d, val_d)
    examples = {
        u: (examples_for(tokenizer, t, pc, history), examples_for(tokenizer, v, pc, history))
        for u, (_, t, v) in data.items()
    }
    peft_model, trained = train_many_loras(
        start_model,
        recipe,
        examples,
        tc,
        tokenizer.pad_token_id,
        desc=f"train {len(units)} adapters (batched)",
    )
    logs = {}
    for unit, (result, state) in trained.items():
        personas, train_d, val_d = data[unit]
        info = {
            **_unit_log(personas, train_d, val_d, recipe, merge, history, result),
            "batched_with": len(units),
        }
        log.info("%s: best epoch %d of %d (batched)", unit, result.best_epoch, len(result.val_loss) - 1)
        load_unit(peft_model, state)
        save_adapter(peft_model, out_dirs[unit], info)
        logs[unit] = info
    return logs


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
    """One adapter on `personas` (see `train_adapters`); returns its training log."""
    logs = train_adapters(
        base,
        dialogs_path,
        splits_path,
        {"adapter": personas},
        pc,
        lora,
        tc,
        {"adapter": out_dir},
        name=name,
        merge=merge,
        history=history,
    )
    return logs["adapter"]
