"""Train adapters (LoRA or prefix) on the train split of some personas; the epoch is chosen on val.

`train_adapters` trains several independent adapters in one process (a "pack": e.g. one per persona),
loading the dialogues and the base model once. Each adapter starts from its own fresh copy of the
starting model with the same seed, so it is exactly the adapter a process of its own would train.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from adaptcommand.adapters import attach_adapter, merged_base, save_adapter
from adaptcommand.data.io import load_dialogs, load_splits
from adaptcommand.data.splits import split_dialogs, with_first_sessions
from adaptcommand.model.loading import load_base
from adaptcommand.prompts import PromptConfig, system_turn_ids, training_example
from adaptcommand.retrieval import history_for
from adaptcommand.settings import LoraRecipe, PrefixRecipe
from adaptcommand.train.loop import train

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
    recipe: LoraRecipe | PrefixRecipe,
    seed: int,
    out_dirs: Mapping[str, str | Path],
    name: str = "default",
    merge: str = "",
    history: dict | None = None,
    batched: bool = False,
    workers: int = 1,
    starts: Mapping[str, str | Path] | None = None,
    first_sessions: int = 0,
) -> dict[str, dict]:
    """Fit one adapter per unit ({unit: personas}) on its personas' train dialogues; their val
    dialogues only choose the epoch. Adapter of unit u goes to out_dirs[u].

    `batched` (LoRA recipes, several units): every unit's examples go through the model in the same
    batches, each through its own LoRA (`train.batched`): the same adapters up to float rounding, one
    large batch per step instead of one small batch per unit.

    `workers` (a CPU job's threads): the units are spread over that many forked single-thread worker
    processes, each of them trains its units one after another (or, `batched`, its share of the units
    in the same batches): the same adapters, both cores busy (`adaptcommand.parallel`). Ignored on a GPU.

    `first_sessions` > 0: each unit's train split cut to its persona's first that many sessions (a new
    user's first sessions, `data.splits.with_first_sessions`); val still chooses the epoch.

    `recipe` is the adapter recipe (`adaptcommand.settings`: LoRA or prefix tuning, and how it is
    trained); `seed` draws the adapter's initialisation, the data order and dropout.
    With `merge`, that adapter (the unified LoRA) is merged into the base first and stays frozen.
    With `starts` ({unit: LoRA directory}, e.g. each persona's merge of its neighbours'), each unit
    trains on the base with ITS start merged in, and its saved adapter is the start and the trained
    LoRA folded into one LoRA on the base (`merging.fold_start`: the exact sum of both updates), so it is
    served like any per-persona LoRA.
    With `history` ({(persona_id, session_id): retrieved train exchanges}, covering the train and val
    dialogues) every example carries its dialogue's retrieved exchanges in the system message.
    Returns {unit: the training log written next to its adapter}.
    """
    from adaptcommand.parallel import fork_map, workers_for

    dialogs, splits = load_dialogs(dialogs_path), load_splits(splits_path)
    if first_sessions:
        splits = with_first_sessions(splits, first_sessions)
    start_model, tokenizer = load_base(base)
    if merge:
        start_model = merged_base(start_model, merge)
    data = {
        unit: (
            list(personas),
            split_dialogs(dialogs, splits, "train", personas),
            split_dialogs(dialogs, splits, "val", personas),
        )
        for unit, personas in units.items()
    }
    unusable = [
        f"{unit}: no {split} dialogue with an assistant turn"
        for unit, (_, train_d, val_d) in data.items()
        for split, split_d in (("train", train_d), ("val", val_d))
        if not any(m["role"] == "assistant" for d in split_d for m in d["messages"])
    ]
    if unusable:  # before any unit trains: nothing of the pack is spent on a job that cannot finish
        raise ValueError("cannot train " + "; ".join(unusable))
    batched = batched and len(units) > 1 and recipe.adapter == "lora" and not starts
    n_workers = workers_for(workers, len(units), next(start_model.parameters()).device.type)
    one_copy_each = len(units) > 1 or bool(starts)  # each unit on a fresh copy: the start model stays
    setting = _Setting(tokenizer, pc, recipe, int(seed), out_dirs, name, merge, history, dict(starts or {}))

    def run(group: list[str]) -> dict[str, dict]:
        if batched and len(group) > 1:
            return _train_batched(start_model, {u: data[u] for u in group}, setting)
        return {u: _train_one(start_model, u, data[u], setting, one_copy_each) for u in group}

    if n_workers > 1:
        log.info("%d units over %d forked workers of one thread each", len(units), n_workers)
    # batched: one share of the units per worker; else one unit at a time to whichever worker is free
    groups = _shares(list(units), n_workers) if batched else [[u] for u in units]
    logs = {}
    for part in fork_map(run, groups, n_workers):
        logs.update(part)
    return {u: logs[u] for u in units}


@dataclass(frozen=True)
class _Setting:
    """What every unit of a `train_adapters` call shares."""

    tokenizer: object
    pc: PromptConfig
    recipe: LoraRecipe | PrefixRecipe
    seed: int
    out_dirs: Mapping[str, str | Path]
    name: str
    merge: str
    history: dict | None
    starts: dict  # {unit: its own start LoRA} (`train_adapters`)


def _shares(units: list[str], n: int) -> list[list[str]]:
    """`units` in n contiguous shares of sizes differing by at most one."""
    size, extra = divmod(len(units), n)
    shares, start = [], 0
    for i in range(n):
        end = start + size + (i < extra)
        shares.append(units[start:end])
        start = end
    return [s for s in shares if s]


def _train_one(start_model, unit: str, unit_data, st: _Setting, copy_model: bool) -> dict:
    """Train and save unit's adapter on (a copy of) `start_model`; returns its training log."""
    import torch

    personas, train_d, val_d = unit_data
    model = copy.deepcopy(start_model) if copy_model else start_model
    if unit in st.starts:
        model = merged_base(model, st.starts[unit])
    torch.manual_seed(st.seed)
    # a prefix starts as the key/values of the system turn's first tokens: untrained = the start model
    init_ids = system_turn_ids(st.tokenizer, st.pc) if st.recipe.adapter == "prefix" else None
    peft_model = attach_adapter(model, st.recipe, name=st.name, init_ids=init_ids)
    try:
        result = train(
            peft_model,
            examples_for(st.tokenizer, train_d, st.pc, st.history),
            examples_for(st.tokenizer, val_d, st.pc, st.history),
            st.recipe,
            st.seed,
            st.tokenizer.pad_token_id,
            desc=f"train {unit}",
        )
    except Exception as exc:  # whatever fails names the unit (and its personas) it failed on
        exc.add_note(f"while training unit {unit} (personas {', '.join(personas[:5])})")
        raise
    info = _unit_log(personas, train_d, val_d, st, result)
    log.info(
        "%s: best epoch %d of %d, val loss %s",
        unit,
        result.best_epoch,
        len(result.val_loss) - 1,
        [round(v, 4) for v in result.val_loss],
    )
    if unit in st.starts:
        from adaptcommand.merging import fold_start

        base = copy.deepcopy(start_model)  # (the plain base: the start is merged into the copy above)
        return fold_start(base, st.starts[unit], peft_model, st.name, st.out_dirs[unit], info)
    save_adapter(peft_model, st.out_dirs[unit], info, adapter_name=st.name)
    return info


def _unit_log(personas, train_d, val_d, st: _Setting, result) -> dict:
    """train_log.json: the recipe and seed the adapter was trained with, on what, and how it went."""
    return {
        "recipe": st.recipe.to_dict(),
        "seed": st.seed,
        "personas": list(personas),
        "n_train_dialogs": len(train_d),
        "n_val_dialogs": len(val_d),
        "merged_into_base": st.merge,
        **({"history_in_prompt": True} if st.history is not None else {}),
        **result.to_dict(),
    }


def _train_batched(start_model, data: dict, st: _Setting) -> dict[str, dict]:
    from adaptcommand.train.batched import load_unit, train_many_loras

    def of(dialogs):
        return examples_for(st.tokenizer, dialogs, st.pc, st.history)

    examples = {u: (of(t), of(v)) for u, (_, t, v) in data.items()}
    peft_model, trained = train_many_loras(
        start_model,
        st.recipe,
        examples,
        st.seed,
        st.tokenizer.pad_token_id,
        desc=f"train {len(data)} adapters (batched)",
    )
    logs = {}
    for unit, (result, state) in trained.items():
        personas, train_d, val_d = data[unit]
        info = {
            **_unit_log(personas, train_d, val_d, st, result),
            "batched_with": len(data),
        }
        log.info("%s: best epoch %d of %d (batched)", unit, result.best_epoch, len(result.val_loss) - 1)
        load_unit(peft_model, state)
        save_adapter(peft_model, st.out_dirs[unit], info)
        logs[unit] = info
    return logs


def train_lora_adapter(
    base: str,
    dialogs_path: str,
    splits_path: str,
    personas: list[str],
    pc: PromptConfig,
    recipe: LoraRecipe | PrefixRecipe,
    seed: int,
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
        recipe,
        seed,
        {"adapter": out_dir},
        name=name,
        merge=merge,
        history=history,
    )
    return logs["adapter"]
