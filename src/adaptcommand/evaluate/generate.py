"""The one generation routine: batched, left-padded, greedy; optionally one adapter per row.

By default the targets of a dialogue share the key/value cache of their common context
(`prefix_sharing`): the context is run once per dialogue instead of once per target, with the same
greedy outputs. Without sharing, prompts are sorted by length so that each batch pads little.

With one adapter per row, `grouped=True` runs the rows of each adapter together with that adapter
active (what the harness does: with 16 LoRAs on every linear layer, PEFT's mixed-adapter batches
spend most of their time looping over adapters in Python, 2.5x slower on the demo); `grouped=False`
puts rows of different adapters into one PEFT mixed-adapter batch (`adapter_names`).
"""

from __future__ import annotations

import contextlib

import torch
from tqdm.auto import tqdm

from adaptcommand.evaluate.prefix_sharing import find_hosts, left_pad, plan_batches, shared_prefix_inputs


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
    share_prefixes: bool = True,
    desc: str = "generate",
) -> list[str]:
    """Greedy continuation of every prompt (order preserved).

    `adapter_names` (one per prompt, "__base__" for none): a PEFT model applies each row's own adapter,
    in mixed batches or, with `grouped`, one adapter at a time (required for prefix tuning, which must
    also run without prefix sharing: its virtual tokens occupy the cache). `share_prefixes=False` runs
    every prompt in full (the reference that benchmarks/generation_speed.py compares with).
    """
    if adapter_names is not None and len(adapter_names) != len(prompts):
        raise ValueError("adapter_names must have one entry per prompt")
    if grouped and adapter_names is not None:
        return _generate_grouped(
            model, tokenizer, prompts, adapter_names, max_new_tokens, batch_size, share_prefixes, desc
        )
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id
    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    if share_prefixes:
        hosts = find_hosts(ids, adapter_names or [""] * len(ids))
        batches = plan_batches(ids, hosts, batch_size)
    else:
        batches = batches_by_length(ids, batch_size)
    outputs: list[str] = [""] * len(prompts)
    bar = tqdm(total=len(prompts), desc=desc, unit="ex", mininterval=2.0)
    for rows in batches:
        if share_prefixes:
            inputs = shared_prefix_inputs(model, ids, rows, hosts, pad_id, adapter_names)
        else:
            input_ids, mask = left_pad([ids[i] for i in rows], pad_id, device)
            inputs = {"input_ids": input_ids, "attention_mask": mask}
        if adapter_names is not None:
            inputs["adapter_names"] = [adapter_names[i] for i in rows]
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos_id,
            pad_token_id=pad_id,
        )
        new = out[:, inputs["input_ids"].shape[1] :]
        for i, text in zip(rows, tokenizer.batch_decode(new, skip_special_tokens=True), strict=True):
            outputs[i] = text.strip()
        bar.update(len(rows))
    bar.close()
    return outputs


def batches_by_length(ids: list[list[int]], batch_size: int) -> list[list[int]]:
    """Row indices, longest prompts first, in batches of `batch_size`: little padding per batch."""
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


def _generate_grouped(
    model, tokenizer, prompts, adapter_names, max_new_tokens, batch_size, share_prefixes, desc
):
    """One adapter active at a time, over the rows routed to it."""
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
                share_prefixes=share_prefixes,
                desc=f"{desc} [{name}]",
            )
        for i, text in zip(rows, texts, strict=True):
            outputs[i] = text
    return outputs
