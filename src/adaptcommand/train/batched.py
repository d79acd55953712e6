"""Batched multi-adapter LoRA training: the LoRAs of many personas trained in one forward/backward
pass, each row of a batch through its own persona's low-rank weights, each persona exactly as if
trained alone.

PEFT trains one adapter per step (its mixed-adapter batches are for inference), so a pack of N
personas trained one after another runs N small batches through the base model where one large batch
would do. Here every target linear layer of one frozen copy of the model becomes a `MultiLoRALinear`
holding N (A, B) pairs; a batch is the concatenation of every active persona's own batch (each
persona's rows right-padded to the longest row of the whole batch), and each row is multiplied by its
persona's A and B (gathered per row, two `bmm`s).

What keeps each persona's training identical to `train.loop.train` on its own (up to float rounding):

- the same initial A/B (PEFT's initialisation under the same seed), its own AdamW and linear warm-up
  schedule over its own parameters, its own gradient clipping;
- its own data order (`random.Random(seed)`, the same batches) and loss normalisation (its batch's
  summed token loss over its labelled tokens; the losses of the personas are added, so each persona's
  gradient is its own);
- its own dropout masks: drawn from a generator per persona seeded as the separate run seeds the global
  one, with the shape the separate run's layer input has (its own rows and length), in the same layer
  order;
- its own val loss per epoch, early stopping (a persona that stops leaves the batch) and best-epoch
  restore.

The adapters are then saved as ordinary PEFT LoRA adapters (`adapters.save_adapter`), which every other
rule loads unchanged. Prefix tuning is not batched (it trains one persona after another in-process).
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from adaptcommand.prompts import IGNORE_INDEX
from adaptcommand.train.loop import TrainConfig, TrainResult, _batches, collate

__all__ = ["MultiLoRALinear", "train_many_loras"]


@dataclass
class _Routing:
    """Shared by every MultiLoRALinear of a model: which adapter each row of the batch uses, and for
    dropout each adapter's block of rows and its length."""

    rows: torch.Tensor | None = None  # (batch,) adapter index per row
    blocks: list[tuple[int, int, int, int]] = field(default_factory=list)  # (adapter, start, end, length)
    generators: list[torch.Generator] = field(default_factory=list)


class MultiLoRALinear(nn.Module):
    """A frozen linear layer plus N LoRA adapters; row b of the input goes through adapter rows[b]."""

    def __init__(
        self, base: nn.Linear, weights_a: list, weights_b: list, scaling: float, dropout: float, routing
    ):
        super().__init__()
        self.base = base
        self.A = nn.ParameterList([nn.Parameter(a.detach().clone().float()) for a in weights_a])  # (r, in)
        self.B = nn.ParameterList([nn.Parameter(b.detach().clone().float()) for b in weights_b])  # (out, r)
        self.scaling, self.dropout = scaling, dropout
        self._routing = [routing]  # a list: not a submodule

    def _dropout_masks(self, x: torch.Tensor) -> torch.Tensor:
        routing, p = self._routing[0], self.dropout
        mask = torch.ones_like(x)
        for adapter, start, end, length in routing.blocks:
            noise = torch.empty((end - start, length, x.shape[-1]), dtype=x.dtype, device=x.device)
            mask[start:end, :length] = noise.bernoulli_(1 - p, generator=routing.generators[adapter]).div_(
                1 - p
            )
        return mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        rows = self._routing[0].rows
        h = x.to(self.A[0].dtype)
        if self.training and self.dropout > 0:
            h = h * self._dropout_masks(h)
        a = torch.stack(tuple(self.A))[rows]  # (batch, r, in)
        b = torch.stack(tuple(self.B))[rows]  # (batch, out, r)
        delta = torch.bmm(torch.bmm(h, a.transpose(1, 2)), b.transpose(1, 2))
        return out + (self.scaling * delta).to(out.dtype)


def _lora_layers(peft_model, adapter: str = "default") -> dict[str, object]:
    """{module path inside the base model: PEFT LoRA layer} of a PEFT model with one LoRA."""
    from peft.tuners.lora import LoraLayer

    prefix = "base_model.model."
    return {
        name.removeprefix(prefix): module
        for name, module in peft_model.named_modules()
        if isinstance(module, LoraLayer) and adapter in module.lora_A
    }


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _row_token_losses(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed next-token loss per row, labelled tokens per row), logits only where a label follows."""
    targets = batch["labels"][:, 1:]
    keep = torch.zeros_like(batch["labels"], dtype=torch.bool)
    keep[:, :-1] = targets != IGNORE_INDEX
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    ).logits
    losses = nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), targets[keep[:, :-1]], reduction="none"
    )
    row_of = keep.nonzero()[:, 0]
    n_rows = batch["input_ids"].shape[0]
    sums = torch.zeros(n_rows, dtype=losses.dtype, device=losses.device).index_add(0, row_of, losses)
    return sums, keep.sum(dim=1)


def _combined(chunks: list[tuple[int, list[dict]]], pad_id: int, device) -> tuple[dict, list, torch.Tensor]:
    """One batch from (adapter, examples) chunks: each chunk collated as alone (its own length), then
    right-padded to the longest and stacked. Returns (batch, blocks, row adapter index)."""
    parts, blocks, rows, start = [], [], [], 0
    for adapter, examples in chunks:
        part = collate(examples, pad_id)
        length = part["input_ids"].shape[1]
        parts.append(part)
        blocks.append((adapter, start, start + len(examples), length))
        rows += [adapter] * len(examples)
        start += len(examples)
    width = max(p["input_ids"].shape[1] for p in parts)
    fill = {"input_ids": pad_id, "labels": IGNORE_INDEX, "attention_mask": 0}
    batch = {
        k: torch.cat([nn.functional.pad(p[k], (0, width - p[k].shape[1]), value=v) for p in parts]).to(device)
        for k, v in fill.items()
    }
    return batch, blocks, torch.tensor(rows, device=device)


def train_many_loras(
    start_model,
    recipe: dict,
    examples: dict[str, tuple[list[dict], list[dict]]],
    tc: TrainConfig,
    pad_id: int,
    desc: str = "train (batched)",
):
    """Train one LoRA (`recipe`) per unit of `examples` ({unit: (train examples, val examples)}) on
    `start_model` (left unchanged), all units in the same batches. Returns (peft_model, {unit:
    (TrainResult, {LoRA parameter name: tensor})}): load a unit's tensors into the PEFT model
    (`load_unit`) to save it as an ordinary adapter."""
    from adaptcommand.adapters import attach_adapter

    start = time.perf_counter()
    units = list(examples)
    torch.manual_seed(tc.seed)  # PEFT's initialisation, as train_adapters does for a separate run
    peft_model = attach_adapter(copy.deepcopy(start_model), recipe)
    layers = _lora_layers(peft_model)
    routing = _Routing()
    model = copy.deepcopy(start_model)
    for p in model.parameters():
        p.requires_grad_(False)
    multi = {}
    for path, layer in layers.items():
        scaling = layer.scaling["default"]
        p = layer.lora_dropout["default"].p if hasattr(layer.lora_dropout["default"], "p") else 0.0
        a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
        multi[path] = MultiLoRALinear(
            model.get_submodule(path), [a] * len(units), [b] * len(units), scaling, float(p), routing
        )
        _set_submodule(model, path, multi[path])
    device = next(model.parameters()).device
    model.to(device)

    def params_of(i: int) -> list[nn.Parameter]:
        return [t for m in multi.values() for t in (m.A[i], m.B[i])]

    def snapshot(i: int) -> dict[str, torch.Tensor]:
        return {
            f"{path}.{ab}": getattr(m, ab)[i].detach().clone() for path, m in multi.items() for ab in "AB"
        }

    optimizers, schedulers, rngs, results, best, best_state = [], [], [], [], [], []
    for i, unit in enumerate(units):
        params = params_of(i)
        opt = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, tc.adam_beta2))
        steps = tc.epochs * math.ceil(len(examples[unit][0]) / tc.batch_size)
        optimizers.append(opt)
        schedulers.append(get_linear_schedule_with_warmup(opt, int(tc.warmup_ratio * steps), max(steps, 1)))
        rngs.append(random.Random(tc.seed))
        routing.generators.append(torch.Generator(device=device).manual_seed(tc.seed))
        results.append(TrainResult(best_epoch=0, config=asdict(tc)))
        best_state.append(snapshot(i))

    def val_losses(active: list[int]) -> dict[int, float]:
        """Token-weighted mean val loss of each active unit (its rows in mixed batches, eval mode)."""
        model.eval()
        rows = [(i, ex) for i in active for ex in examples[units[i]][1]]
        rows.sort(key=lambda t: len(t[1]["input_ids"]))
        total, count = dict.fromkeys(active, 0.0), dict.fromkeys(active, 0)
        step = tc.batch_size * max(len(active), 1)
        with torch.no_grad():
            for j in range(0, len(rows), step):
                chunk = rows[j : j + step]
                batch = {k: v.to(device) for k, v in collate([ex for _, ex in chunk], pad_id).items()}
                routing.rows, routing.blocks = torch.tensor([i for i, _ in chunk], device=device), []
                sums, counts = _row_token_losses(model, batch)
                for (i, _), s, n in zip(chunk, sums.tolist(), counts.tolist(), strict=True):
                    total[i], count[i] = total[i] + s, count[i] + n
        return {i: total[i] / max(count[i], 1) for i in active}

    active = list(range(len(units)))
    for i, v in val_losses(active).items():
        results[i].val_loss.append(v)
    best = [r.val_loss[0] for r in results]
    for epoch in range(1, tc.epochs + 1):
        model.train()
        plans = {i: _batches(examples[units[i]][0], tc.batch_size, rngs[i]) for i in active}
        sums = dict.fromkeys(active, 0.0)
        counts = dict.fromkeys(active, 0)
        for j in range(max(len(b) for b in plans.values())):
            chunks = [(i, plans[i][j]) for i in active if j < len(plans[i])]
            batch, blocks, rows = _combined(chunks, pad_id, device)
            routing.rows, routing.blocks = rows, blocks
            row_sums, row_counts = _row_token_losses(model, batch)
            loss = 0.0
            for i, s, e, _ in blocks:
                n = int(row_counts[s:e].sum())
                unit_sum = row_sums[s:e].sum()
                loss = loss + unit_sum / max(n, 1)
                sums[i], counts[i] = sums[i] + float(unit_sum.detach()), counts[i] + n
                results[i].train_tokens += int(batch["attention_mask"][s:e].sum())
            loss.backward()
            for i, *_ in blocks:
                torch.nn.utils.clip_grad_norm_(params_of(i), tc.max_grad_norm)
                optimizers[i].step()
                schedulers[i].step()
                optimizers[i].zero_grad(set_to_none=True)
        losses = val_losses(active)
        for i in list(active):
            r = results[i]
            r.train_loss.append(sums[i] / max(counts[i], 1))
            r.val_loss.append(losses[i])
            if losses[i] < best[i]:
                best[i], best_state[i], r.best_epoch = losses[i], snapshot(i), epoch
            if tc.patience and epoch - r.best_epoch >= tc.patience and epoch < tc.epochs:
                r.stopped_early = True
                active.remove(i)
        if not active:
            break
    seconds = time.perf_counter() - start
    out = {}
    for i, unit in enumerate(units):
        results[i].seconds = seconds  # the pack's wall time: the units trained together
        out[unit] = (results[i], best_state[i])
    return peft_model, out


def load_unit(peft_model, state: dict[str, torch.Tensor]) -> None:
    """Put a unit's trained A/B (from `train_many_loras`) into the PEFT model's LoRA weights."""
    layers = _lora_layers(peft_model)
    with torch.no_grad():
        for path, layer in layers.items():
            layer.lora_A["default"].weight.copy_(state[f"{path}.A"])
            layer.lora_B["default"].weight.copy_(state[f"{path}.B"])
