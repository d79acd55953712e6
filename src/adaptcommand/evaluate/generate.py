"""The one generation routine: batched, left-padded, greedy; optionally one adapter per row."""

from __future__ import annotations

import contextlib

import torch
from tqdm.auto import tqdm


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_new_tokens: int,
    batch_size: int,
    adapter_names: list[str] | None = None,
    grouped: bool = False,
    desc: str = "generate",
) -> list[str]:
    """Greedy continuation of every prompt (order preserved).

    Prompts are sorted by length so each batch pads little; with `adapter_names` (one per prompt,
    "__base__" for none) a PEFT model applies each row's own LoRA in the same batch.
    """
    if adapter_names is not None and len(adapter_names) != len(prompts):
        raise ValueError("adapter_names must have one entry per prompt")
    if grouped and adapter_names is not None:
        return _generate_grouped(model, tokenizer, prompts, adapter_names, max_new_tokens, batch_size, desc)
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    outputs: list[str] = [""] * len(prompts)
    bar = tqdm(total=len(prompts), desc=desc, unit="ex", mininterval=2.0)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        enc = tokenizer(
            [prompts[i] for i in rows], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(device)
        kwargs = {}
        if adapter_names is not None:
            kwargs["adapter_names"] = [adapter_names[i] for i in rows]
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id,
            **kwargs,
        )
        new = out[:, enc["input_ids"].shape[1] :]
        for i, text in zip(rows, tokenizer.batch_decode(new, skip_special_tokens=True), strict=True):
            outputs[i] = text.strip()
        bar.update(len(rows))
    bar.close()
    return outputs


def _generate_grouped(model, tokenizer, prompts, adapter_names, max_new_tokens, batch_size, desc):
    """Adapters that cannot share a batch (prefix tuning): one adapter active at a time."""
    outputs: list[str] = [""] * len(prompts)
    for name in sorted(set(adapter_names)):
        rows = [i for i, n in enumerate(adapter_names) if n == name]
        sub = [prompts[i] for i in rows]
        if name != "__base__":
            model.set_adapter(name)
        context = model.disable_adapter() if name == "__base__" else contextlib.nullcontext()
        with context:
            texts = generate(
                model,
                tokenizer,
                sub,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                desc=f"{desc} [{name}]",
            )
        for i, text in zip(rows, texts, strict=True):
            outputs[i] = text
    return outputs
