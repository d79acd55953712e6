"""One training loop for every trainable method (LoRA, prefix tuning, the demo's full pretraining).

Examples are {input_ids, labels} dicts from `prompts.training_example`. Each epoch the mean loss on
the validation examples is measured; training stops early once `patience` epochs in a row have not
improved on the best val loss (or at `epochs`, the cap), and the trainable weights of the best epoch
(lowest val loss, epoch 0 = before any update) are restored. Test data never enters here.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field

import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from adaptcommand.prompts import IGNORE_INDEX
from adaptcommand.settings import Training

ADAM_BETA2 = 0.999  # AdamW's second-moment decay (the demo base's pretraining passes 0.95)
MAX_GRAD_NORM = 1.0  # gradients are clipped to this total norm before every step


@dataclass
class TrainResult:
    best_epoch: int
    stopped_early: bool = False
    val_loss: list[float] = field(default_factory=list)  # index = epoch, 0 = before training
    train_loss: list[float] = field(default_factory=list)  # index = epoch - 1
    train_tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def collate(batch: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch for training (labels of padding are ignored)."""
    width = max(len(ex["input_ids"]) for ex in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, ex in enumerate(batch):
        n = len(ex["input_ids"])
        ids[i, :n] = torch.tensor(ex["input_ids"])
        labels[i, :n] = torch.tensor(ex["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


# Training batches group examples of similar length (less padding, the same tokens learned from): sorted
# by length jittered by up to this share of the median length, a new draw each epoch, so that the
# batches still mix differently every epoch; their order is shuffled.
LENGTH_JITTER = 0.05


def _batches(examples: list[dict], batch_size: int, rng: random.Random | None) -> list[list[dict]]:
    """`examples` in batches of `batch_size`, by length (evaluation, `rng` None: sorted) or, training,
    length-grouped with `rng`'s jitter and in `rng`'s order (`LENGTH_JITTER`)."""
    lengths = [len(ex["input_ids"]) for ex in examples]
    order = sorted(range(len(examples)), key=lengths.__getitem__)
    if rng is not None and examples:
        spread = LENGTH_JITTER * lengths[order[len(order) // 2]]
        jitter = [rng.uniform(-spread, spread) for _ in lengths]
        order.sort(key=lambda i: lengths[i] + jitter[i])
    batches = [[examples[i] for i in order[j : j + batch_size]] for j in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def token_losses(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(next-token loss of every labelled token, in row-major order; the (batch, length) mask of the
    positions they are predicted from).

    Logits are computed only where a label follows (`logits_to_keep` as a boolean mask): system and
    user tokens, about half of every example, never reach the vocabulary projection.
    """
    targets = batch["labels"][:, 1:]
    keep = torch.zeros_like(batch["labels"], dtype=torch.bool)
    keep[:, :-1] = targets != IGNORE_INDEX
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    ).logits
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), targets[keep[:, :-1]], reduction="none"
    )
    return losses, keep


def _token_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token loss over labelled tokens, and their count."""
    losses, keep = token_losses(model, batch)
    return losses.sum(), int(keep.sum())


@torch.no_grad()
def mean_loss(model, examples: list[dict], batch_size: int, pad_id: int) -> float:
    """Token-weighted mean loss of `model` on `examples` (eval mode)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for chunk in _batches(examples, batch_size, None):
        batch = {k: v.to(device) for k, v in collate(chunk, pad_id).items()}
        loss, n = _token_loss(model, batch)
        total, count = total + float(loss), count + n
    model.train(was_training)
    return total / max(count, 1)


def train(
    model,
    train_examples: list[dict],
    val_examples: list[dict],
    recipe: Training,
    seed: int,
    pad_id: int,
    desc: str = "train",
    adam_beta2: float = ADAM_BETA2,
) -> TrainResult:
    """Train the parameters of `model` that require grad with `recipe` (an adapter recipe of
    `adaptcommand.settings`, or any `Training`); `seed` draws the data order and dropout. Restores the
    best epoch by val loss."""
    start = time.perf_counter()
    for what, examples in (("train", train_examples), ("val", val_examples)):
        if examples and not any(label != IGNORE_INDEX for ex in examples for label in ex["labels"]):
            raise ValueError(
                f"{desc}: none of the {len(examples)} {what} examples has an assistant token to learn from "
                "(prompt.max_length too small for the system prompt and a user turn?): the loss would be 0"
            )
    epochs, batch_size, patience = int(recipe.epochs), int(recipe.batch_size), int(recipe.patience)
    seed = int(seed)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    optimizer = torch.optim.AdamW(
        params, lr=float(recipe.lr), weight_decay=float(recipe.weight_decay), betas=(0.9, adam_beta2)
    )
    steps = epochs * math.ceil(len(train_examples) / batch_size)
    warmup = int(float(recipe.warmup_ratio) * steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, max(steps, 1))

    def snapshot() -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    result = TrainResult(best_epoch=0)
    result.val_loss.append(mean_loss(model, val_examples, batch_size, pad_id))
    best, best_state = result.val_loss[0], snapshot()
    bar = tqdm(total=steps, desc=desc, unit="step", mininterval=2.0)
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = 0.0, 0
        for chunk in _batches(train_examples, batch_size, rng):
            batch = {k: v.to(device) for k, v in collate(chunk, pad_id).items()}
            loss_sum, n = _token_loss(model, batch)
            (loss_sum / max(n, 1)).backward()
            torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            total, count = total + loss_sum.item(), count + n
            result.train_tokens += int(batch["attention_mask"].sum())
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{total / max(count, 1):.3f}", refresh=False)
        result.train_loss.append(total / max(count, 1))
        result.val_loss.append(mean_loss(model, val_examples, batch_size, pad_id))
        if result.val_loss[-1] < best:
            best, best_state, result.best_epoch = result.val_loss[-1], snapshot(), epoch
        if patience and epoch - result.best_epoch >= patience and epoch < epochs:
            result.stopped_early = True
            break
    bar.close()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in best_state:
                p.copy_(best_state[n])
    model.eval()
    result.seconds = time.perf_counter() - start
    return result
