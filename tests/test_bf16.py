"""bf16, what a GPU gets (`model.loading.pick_dtype`), run on CPU: every adapter kind trains (the
loss moves, nothing is NaN), packs train batched, the unified LoRA merges into a bf16 base, and the
harness's generation runs with LoRAs and prefixes. A dtype mismatch anywhere (fp32 adapter weights
on bf16 activations, prefix key/values against a bf16 cache) fails here before a GPU run does."""

from __future__ import annotations

import math

import pytest
import torch

import adaptcommand.model.loading as loading
from adaptcommand.data.io import write_json_atomic, write_jsonl_atomic
from adaptcommand.data.splits import make_splits
from adaptcommand.evaluate.generate import generate
from adaptcommand.evaluate.run import build_method_model
from adaptcommand.prompts import PromptConfig, generation_prompt
from adaptcommand.settings import LoraRecipe, PrefixRecipe
from adaptcommand.train.lora import train_adapters

LORA = LoraRecipe(
    r=4,
    alpha=8,
    dropout=0.1,
    target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
    lr=0.01,
    epochs=2,
    batch_size=2,
)
PREFIX = PrefixRecipe(num_virtual_tokens=4, lr=0.01, epochs=2, batch_size=2)


@pytest.fixture
def bf16(monkeypatch):
    monkeypatch.setattr(loading, "pick_dtype", lambda device: torch.bfloat16)


@pytest.fixture
def data(tmp_path, dialogs):
    write_jsonl_atomic(tmp_path / "dialogs.jsonl", dialogs)
    write_json_atomic(tmp_path / "splits.json", make_splits(dialogs, 0.5, 0.25))
    return str(tmp_path / "dialogs.jsonl"), str(tmp_path / "splits.json")


def test_every_adapter_kind_trains_and_generates_in_bf16(bf16, tiny, data, dialogs, tmp_path):
    path, _ = tiny
    personas = ["persona_000", "persona_001"]
    units = {p: [p] for p in personas}
    seed = 1
    out = {}
    for kind, recipe, batched, merge in (
        ("lora", LORA, False, ""),
        ("batched", LORA, True, ""),
        ("prefix", PREFIX, False, ""),
    ):
        dirs = {p: tmp_path / kind / p for p in personas}
        logs = train_adapters(
            path, *data, units, PromptConfig(), recipe, seed, dirs, batched=batched, merge=merge
        )
        for log in logs.values():
            assert all(math.isfinite(v) and v > 0 for v in log["val_loss"]), (kind, log["val_loss"])
            assert log["train_loss"][-1] < log["val_loss"][0] + 5, (kind, log)
        out[kind] = dirs
    # hybrid-like: a LoRA on the frozen unified model, merged into the bf16 base
    hybrid = {p: tmp_path / "hybrid" / p for p in personas}
    train_adapters(
        path, *data, units, PromptConfig(), LORA, seed, hybrid, merge=str(out["lora"]["persona_000"])
    )
    model, tok, _, _ = build_method_model(path, {})
    assert next(model.parameters()).dtype == torch.bfloat16
    prompts = [generation_prompt(tok, d, 1, PromptConfig()) for d in dialogs[:4:2]]
    for kind, merge in (("lora", ""), ("prefix", ""), ("hybrid", str(out["lora"]["persona_000"]))):
        dirs = out.get(kind) or hybrid
        routes = {p: str(d) for p, d in dirs.items()}
        model, tok, adapter_for, prompt_learning = build_method_model(path, routes, merge)
        names = [adapter_for(p) for p in personas]
        texts = generate(
            model,
            tok,
            prompts,
            max_new_tokens=4,
            batch_size=2,
            adapter_names=names,
            grouped=True,
            share_prefixes=not prompt_learning,
        )
        assert len(texts) == 2, kind
