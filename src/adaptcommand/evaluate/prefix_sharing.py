"""Shared prompt prefixes: run a dialogue's common context once, not once per evaluation target.

The targets of one dialogue are its assistant turns, and the prompt of each is the prompt of the
previous one plus one more exchange (as long as the context window has not started to slide). So
every prompt except its last token is a prefix of a longer prompt of the same dialogue, its "host".
The harness runs each host once and gives every row of its family a copy of the host's key/value
cache for all but the row's last token; `model.generate` then runs only that last token and decodes.
Causal attention makes the cached keys/values of a prefix independent of what follows it, so the
greedy outputs are those of running every prompt in full (tested, and compared string for string in
benchmarks/generation_speed.py).

Families are found from the token ids alone, so any prompt layout works: a prompt without a longer
prompt that extends it is its own host and costs one extra token.
"""

from __future__ import annotations

import bisect

import torch
from transformers import DynamicCache


def find_hosts(ids: list[list[int]], keys: list[str]) -> list[int]:
    """For every prompt, the index of the longest prompt with the same key that starts with all of it
    but its last token (itself if none is longer). Prompts with different keys (adapters) never share:
    their keys and values differ."""
    order = sorted(range(len(ids)), key=lambda i: (keys[i], ids[i]))
    ranked = [(keys[i], ids[i]) for i in order]
    hosts = []
    for i in range(len(ids)):
        head, best = ids[i][:-1], None
        # In sorted order the prompts that start with `head` (prompt i among them) follow one another;
        # the first longest one is the host, so identical prompts get the same host.
        for pos in range(bisect.bisect_left(ranked, (keys[i], head)), len(order)):
            j = order[pos]
            if keys[j] != keys[i] or ids[j][: len(head)] != head:
                break
            if best is None or len(ids[j]) > len(ids[best]):
                best = j
        hosts.append(best)
    return hosts


def plan_batches(ids: list[list[int]], hosts: list[int], batch_size: int) -> list[list[int]]:
    """Rows in batches of `batch_size`, each family kept together (longest hosts first), so that a host
    usually runs once; a family cut by a batch boundary runs its host in both batches."""
    families: dict[int, list[int]] = {}
    for i, h in enumerate(hosts):
        families.setdefault(h, []).append(i)
    rows = [i for h in sorted(families, key=lambda h: (-len(ids[h]), h)) for i in families[h]]
    return [rows[s : s + batch_size] for s in range(0, len(rows), batch_size)]


def left_pad(seqs: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), padded on the left to the longest sequence."""
    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for b, s in enumerate(seqs):
        if s:
            input_ids[b, width - len(s) :] = torch.tensor(s)
            mask[b, width - len(s) :] = 1
    return input_ids.to(device), mask.to(device)


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids counted from each row's first real token, as `generate` counts them."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def shared_prefix_inputs(
    model, ids: list[list[int]], rows: list[int], hosts: list[int], pad_id: int, adapter_names
) -> dict:
    """`generate` inputs for `rows`: the left-padded prompts and a cache of all but their last token,
    sliced from one forward pass over the rows' hosts."""
    device = next(model.parameters()).device
    batch_hosts = list(dict.fromkeys(hosts[i] for i in rows))
    slot = {h: k for k, h in enumerate(batch_hosts)}  # host -> its row in the host pass
    host_ids, host_mask = left_pad([ids[h] for h in batch_hosts], pad_id, device)
    extra = {"adapter_names": [adapter_names[h] for h in batch_hosts]} if adapter_names else {}
    past = model(
        input_ids=host_ids,
        attention_mask=host_mask,
        position_ids=positions(host_mask),
        use_cache=True,
        logits_to_keep=1,
        **extra,
    ).past_key_values

    input_ids, mask = left_pad([ids[i] for i in rows], pad_id, device)
    width, host_width = input_ids.shape[1], host_ids.shape[1]
    cached = width - 1  # every row runs its last token itself
    # Column c of row b's cache is token c - (width - len) of the row, which the host pass put at
    # column c - (width - len) + (host_width - len(host)); columns left of the row are padding.
    lengths = torch.tensor([len(ids[i]) for i in rows], device=device)
    host_lengths = torch.tensor([len(ids[hosts[i]]) for i in rows], device=device)
    which = torch.tensor([slot[hosts[i]] for i in rows], device=device)
    cols = torch.arange(cached, device=device)
    src = cols[None, :] - (width - lengths)[:, None] + (host_width - host_lengths)[:, None]
    real = cols[None, :] >= (width - lengths)[:, None]
    src = src.clamp(0, host_width - 1)

    def gather(
        t: torch.Tensor,
    ) -> torch.Tensor:  # [hosts, heads, host_width, dim] -> [rows, heads, cached, dim]
        picked = t[
            which[:, None], :, src
        ]  # advanced indexing puts the index dims first: [rows, cached, heads, dim]
        return (picked * real[:, :, None, None]).permute(0, 2, 1, 3).contiguous()

    layers = [(gather(layer.keys), gather(layer.values)) for layer in past.layers]
    return {
        "input_ids": input_ids,
        "attention_mask": mask,
        "past_key_values": DynamicCache(layers, config=getattr(model, "config", None)),
    }
