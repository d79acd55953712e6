"""Batched multi-adapter LoRA training: the LoRAs of many personas trained in one forward/backward
pass, each row of a batch through its own persona's low-rank weights, each persona exactly as if
trained alone.

PEFT trains one adapter per step (its mixed-adapter batches are for inference), so a pack of N
personas trained one after another runs N small batches through the base model where one large batch
would do. Here every target linear layer of one frozen copy of the model becomes a `MultiLoRALinear`
holding the N personas' A and B stacked, (N, r, in) and (N, out, r); a batch is the concatenation of
every active persona's own batch (each persona's rows right-padded to the longest row of the whole
batch): the frozen weights see one large batch, and each row goes through its persona's A and B
(gathered per row, two `bmm`s): a step costs the same number of operations for 2 or 200 personas.

What keeps each persona's training identical to `train.loop.train` on its own (up to float rounding):

- the same initial A/B (PEFT's initialisation under the same seed); its own AdamW state, step count
  and linear warm-up schedule, and its own gradient clipping: the update of torch's AdamW and
  clip_grad_norm_, computed for every persona at once on the stacked weights (`_StackedAdamW`);
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
from dataclasses import dataclass, field

import torch
from torch import nn

from adaptcommand.prompts import IGNORE_INDEX
from adaptcommand.settings import LoraRecipe
from adaptcommand.train.loop import ADAM_BETA2, MAX_GRAD_NORM, TrainResult, _batches, collate, token_losses

__all__ = ["MultiLoRALinear", "train_many_loras"]


@dataclass
class _Routing:
    """Shared by every MultiLoRALinear of a model: the persona of each row of the batch, and for
    dropout each persona's block of rows and its length."""

    rows: torch.Tensor | None = None  # (batch,) persona index per row
    blocks: list[tuple[int, int, int, int]] = field(default_factory=list)  # (persona, start, end, length)
    generators: list[torch.Generator] = field(default_factory=list)


class MultiLoRALinear(nn.Module):
    """A frozen linear layer plus N LoRAs (stacked A (N, r, in), B (N, out, r)); row b of the input
    goes through LoRA rows[b]."""

    def __init__(
        self,
        base: nn.Linear,
        a: torch.Tensor,
        b: torch.Tensor,
        n: int,
        scaling: float,
        dropout: float,
        routing,
    ):
        super().__init__()
        self.base = base
        self.A = nn.Parameter(a.detach().float().unsqueeze(0).repeat(n, 1, 1))
        self.B = nn.Parameter(b.detach().float().unsqueeze(0).repeat(n, 1, 1))
        self.scaling, self.dropout = scaling, dropout
        self._routing = [routing]  # a list: not a submodule

    def _dropout_masks(self, x: torch.Tensor) -> torch.Tensor:
        """Each persona's mask from its own generator, of the shape its separate run's input has."""
        routing, p = self._routing[0], self.dropout
        mask = torch.ones_like(x)
        for persona, start, end, length in routing.blocks:
            noise = torch.empty((end - start, length, x.shape[-1]), dtype=x.dtype, device=x.device)
            mask[start:end, :length] = noise.bernoulli_(1 - p, generator=routing.generators[persona]).div_(
                1 - p
            )
        return mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)  # the frozen layer: one matmul for every persona's rows
        rows = self._routing[0].rows
        h = x.to(self.A.dtype)
        if self.training and self.dropout > 0:
            h = h * self._dropout_masks(h)
        delta = torch.bmm(torch.bmm(h, self.A[rows].transpose(1, 2)), self.B[rows].transpose(1, 2))
        return out + (self.scaling * delta).to(out.dtype)


class _StackedAdamW:
    """torch.optim.AdamW (decoupled weight decay, no amsgrad) and clip_grad_norm_ for N personas whose
    parameters are stacked along dim 0: each persona its own moments, step count and learning rate;
    only the personas in `active` step (the others keep their weights and state)."""

    def __init__(
        self, params: list[nn.Parameter], n: int, lr: float, betas, weight_decay: float, eps: float = 1e-8
    ):
        self.params, self.n = params, n
        self.lr, self.betas, self.weight_decay, self.eps = lr, betas, weight_decay, eps
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.steps = [0] * n

    def clip_(self, max_norm: float) -> None:
        """Per persona: scale its gradients so that their total norm is at most max_norm."""
        sq = sum(p.grad.float().pow(2).flatten(1).sum(dim=1) for p in self.params)  # (N,)
        coef = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        for p in self.params:
            p.grad.mul_(coef.view(-1, *([1] * (p.dim() - 1))).to(p.grad.dtype))

    def step(self, lrs: dict[int, float]) -> None:
        """One AdamW step for the personas of `lrs` ({persona: its learning rate this step})."""
        b1, b2 = self.betas
        idx = torch.tensor(sorted(lrs), device=self.params[0].device)
        for i in lrs:
            self.steps[i] += 1
        shape = (-1,) + (1,) * (self.params[0].dim() - 1)
        lr = torch.tensor([lrs[i] for i in sorted(lrs)], dtype=torch.float64)
        bc1 = torch.tensor([1 - b1 ** self.steps[i] for i in sorted(lrs)], dtype=torch.float64)
        bc2 = torch.tensor([1 - b2 ** self.steps[i] for i in sorted(lrs)], dtype=torch.float64)
        step_size = (lr / bc1).to(self.params[0].device, torch.float32).view(shape)
        bc2_sqrt = bc2.sqrt().to(self.params[0].device, torch.float32).view(shape)
        decay = (1 - lr * self.weight_decay).to(self.params[0].device, torch.float32).view(shape)
        with torch.no_grad():
            for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
                g, w, mi, vi = p.grad[idx], p[idx], m[idx], v[idx]
                w = w * decay
                mi = mi.lerp(g, 1 - b1)
                vi = vi * b2 + (1 - b2) * g * g
                w = w - step_size * mi / (vi.sqrt() / bc2_sqrt + self.eps)
                p[idx], m[idx], v[idx] = w, mi, vi
                p.grad = None


def _linear_warmup(step: int, warmup: int, total: int) -> float:
    """transformers' get_linear_schedule_with_warmup factor at `step` (0-based)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


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
    """(summed next-token loss per row, labelled tokens per row)."""
    losses, keep = token_losses(model, batch)
    n_rows = batch["input_ids"].shape[0]
    sums = torch.zeros(n_rows, dtype=losses.dtype, device=losses.device).index_add(
        0, keep.nonzero()[:, 0], losses
    )
    return sums, keep.sum(dim=1)


def _combined(chunks: list[tuple[int, list[dict]]], pad_id: int, device) -> tuple[dict, list]:
    """One batch from (adapter, examples) chunks: each chunk collated as alone (its own length), then
    right-padded to the longest and stacked. Returns (batch, blocks (adapter, start, end, length))."""
    parts, blocks, start = [], [], 0
    for adapter, examples in chunks:
        part = collate(examples, pad_id)
        length = part["input_ids"].shape[1]
        parts.append(part)
        blocks.append((adapter, start, start + len(examples), length))
        start += len(examples)
    width = max(p["input_ids"].shape[1] for p in parts)
    fill = {"input_ids": pad_id, "labels": IGNORE_INDEX, "attention_mask": 0}
    batch = {
        k: torch.cat([nn.functional.pad(p[k], (0, width - p[k].shape[1]), value=v) for p in parts]).to(device)
        for k, v in fill.items()
    }
    return batch, blocks


def train_many_loras(
    start_model,
    recipe: LoraRecipe,
    examples: dict[str, tuple[list[dict], list[dict]]],
    seed: int,
    pad_id: int,
    desc: str = "train (batched)",
):
    """Train one LoRA (`recipe`: its adapter and how it is trained) per unit of `examples` ({unit:
    (train examples, val examples)}) on `start_model` (left unchanged), all units in the same batches;
    every unit with `seed`, as `train.loop.train` would train it alone.
    Returns (peft_model, {unit: (TrainResult, {LoRA parameter name: tensor})}): load a unit's tensors
    into the PEFT model (`load_unit`) to save it as an ordinary adapter."""
    from tqdm.auto import tqdm

    from adaptcommand.adapters import attach_adapter

    start = time.perf_counter()
    units = list(examples)
    n = len(units)
    epochs, batch_size, patience = int(recipe.epochs), int(recipe.batch_size), int(recipe.patience)
    seed = int(seed)
    lr = float(recipe.lr)
    torch.manual_seed(seed)  # PEFT's initialisation, as train_adapters does for a separate run
    peft_model = attach_adapter(copy.deepcopy(start_model), recipe)
    routing = _Routing()
    model = copy.deepcopy(start_model)
    for p in model.parameters():
        p.requires_grad_(False)
    multi = {}
    for path, layer in _lora_layers(peft_model).items():
        drop = layer.lora_dropout["default"]
        multi[path] = MultiLoRALinear(
            model.get_submodule(path),
            layer.lora_A["default"].weight,
            layer.lora_B["default"].weight,
            n,
            layer.scaling["default"],
            float(getattr(drop, "p", 0.0)),
            routing,
        )
        _set_submodule(model, path, multi[path])
    device = next(model.parameters()).device
    model.to(device)
    params = [t for m in multi.values() for t in (m.A, m.B)]
    optimizer = _StackedAdamW(params, n, lr, (0.9, ADAM_BETA2), float(recipe.weight_decay))
    total_steps = [epochs * math.ceil(len(examples[u][0]) / batch_size) for u in units]
    warmup = [int(float(recipe.warmup_ratio) * t) for t in total_steps]
    rngs = [random.Random(seed) for _ in units]
    routing.generators = [torch.Generator(device=device).manual_seed(seed) for _ in units]
    results = [TrainResult(best_epoch=0) for _ in units]

    def snapshot(i: int) -> dict[str, torch.Tensor]:
        return {
            f"{path}.{ab}": getattr(m, ab)[i].detach().clone() for path, m in multi.items() for ab in "AB"
        }

    best_state = [snapshot(i) for i in range(n)]

    def val_losses(active: list[int]) -> dict[int, float]:
        """Token-weighted mean val loss of each active unit (its rows in mixed batches, eval mode)."""
        model.eval()
        rows = sorted(
            ((i, ex) for i in active for ex in examples[units[i]][1]), key=lambda t: len(t[1]["input_ids"])
        )
        total, count = dict.fromkeys(active, 0.0), dict.fromkeys(active, 0)
        step = batch_size * max(len(active), 1)
        with torch.no_grad():
            for j in range(0, len(rows), step):
                chunk = rows[j : j + step]
                batch = {k: v.to(device) for k, v in collate([ex for _, ex in chunk], pad_id).items()}
                routing.rows, routing.blocks = torch.tensor([i for i, _ in chunk], device=device), []
                sums, counts = _row_token_losses(model, batch)
                for (i, _), s, c in zip(chunk, sums.tolist(), counts.tolist(), strict=True):
                    total[i], count[i] = total[i] + s, count[i] + c
        return {i: total[i] / max(count[i], 1) for i in active}

    active = list(range(n))
    best = []
    for i, v in sorted(val_losses(active).items()):
        results[i].val_loss.append(v)
        best.append(v)
    bar = tqdm(total=max(total_steps), desc=desc, unit="step", mininterval=2.0)
    for epoch in range(1, epochs + 1):
        model.train()
        plans = {i: _batches(examples[units[i]][0], batch_size, rngs[i]) for i in active}
        sums, counts = dict.fromkeys(active, 0.0), dict.fromkeys(active, 0)
        for j in range(max(len(b) for b in plans.values())):
            chunks = [(i, plans[i][j]) for i in active if j < len(plans[i])]
            batch, blocks = _combined(chunks, pad_id, device)
            routing.rows = torch.tensor([i for i, s, e, _ in blocks for _ in range(s, e)], device=device)
            routing.blocks = blocks
            row_sums, row_counts = _row_token_losses(model, batch)
            loss = 0.0
            for i, s, e, _ in blocks:
                tokens = int(row_counts[s:e].sum())
                unit_sum = row_sums[s:e].sum()
                loss = loss + unit_sum / max(tokens, 1)
                sums[i], counts[i] = sums[i] + float(unit_sum.detach()), counts[i] + tokens
                results[i].train_tokens += int(batch["attention_mask"][s:e].sum())
            loss.backward()
            stepping = [i for i, *_ in blocks]
            optimizer.clip_(MAX_GRAD_NORM)
            optimizer.step(
                {
                    i: lr * _linear_warmup(optimizer.steps[i], warmup[i], max(total_steps[i], 1))
                    for i in stepping
                }
            )
            bar.update(1)
        losses = val_losses(active)
        for i in list(active):
            r = results[i]
            r.train_loss.append(sums[i] / max(counts[i], 1))
            r.val_loss.append(losses[i])
            if losses[i] < best[i]:
                best[i], best_state[i], r.best_epoch = losses[i], snapshot(i), epoch
            if patience and epoch - r.best_epoch >= patience and epoch < epochs:
                r.stopped_early = True
                active.remove(i)
        if not active:
            break
    bar.close()
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
