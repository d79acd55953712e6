"""Prefix sharing in the harness: which prompts share a host, how rows are batched, and that generation
with shared key/value caches gives exactly the outputs of running every prompt in full."""

from __future__ import annotations

import torch

from adaptcommand.adapters import attach_adapter, load_adapters, save_adapter
from adaptcommand.evaluate.generate import generate
from adaptcommand.evaluate.prefix_sharing import find_hosts, left_pad, plan_batches, positions
from adaptcommand.evaluate.targets import eval_targets
from adaptcommand.model.loading import load_base
from adaptcommand.prompts import PromptConfig, generation_prompt
from adaptcommand.settings import LoraRecipe

LORA = LoraRecipe(
    r=4, alpha=8, dropout=0.0, target_modules=("q_proj", "v_proj"), lr=1e-3, epochs=1, batch_size=4
)


def test_a_dialogues_prompts_share_the_longest_one_as_host():
    system, dialog_b = [1, 2, 3], [1, 2, 4]
    ids = [
        system + [10, 99],  # turn 1: ends with the generation header token 99
        system + [10, 11, 12, 99],  # turn 3 = turn 1 without its last token + one exchange
        system + [10, 11, 12, 13, 14, 98],  # turn 5: its last token differs, still a family member
        dialog_b + [10, 99],  # another dialogue: a different system prompt
        system + [10, 11, 12, 13, 14, 98],  # the same prompt twice: one host
    ]
    hosts = find_hosts(ids, [""] * len(ids))
    assert hosts[0] == hosts[1] == hosts[2] == hosts[4] and hosts[2] in (2, 4)
    assert hosts[3] == 3
    # Only rows with the same adapter share: their caches differ otherwise.
    hosts = find_hosts(ids, ["a", "a", "b", "a", "b"])
    assert hosts[0] == hosts[1] == 1 and hosts[2] == hosts[4] and hosts[3] == 3


def test_a_prompt_whose_last_two_tokens_change_is_its_own_host():
    ids = [[1, 2, 3, 99], [1, 2, 7, 5, 6]]  # [1, 2, 3] is not a prefix of the longer prompt
    assert find_hosts(ids, ["", ""]) == [0, 1]


def test_batches_keep_families_together_longest_first():
    ids = [[1] * n for n in (3, 9, 5, 4, 2)]
    hosts = [1, 1, 2, 2, 4]  # families {0, 1} (host 1, 9 tokens), {2, 3} (host 2), {4}
    assert plan_batches(ids, hosts, 2) == [[0, 1], [2, 3], [4]]
    assert plan_batches(ids, hosts, 3) == [[0, 1, 2], [3, 4]]  # family {2, 3} cut: host 2 runs twice
    assert sorted(i for b in plan_batches(ids, hosts, 4) for i in b) == [0, 1, 2, 3, 4]


def test_left_padding_and_positions():
    input_ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0, device="cpu")
    assert input_ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert positions(mask).tolist() == [[0, 1, 2], [0, 0, 0]]


def _all_target_prompts(tok, dialogs, pc):
    by_key = {(d["persona_id"], d["session_id"]): d for d in dialogs}
    targets = eval_targets(dialogs, skip_assistant_turns=0, context_messages=pc.context_messages)
    return targets, [
        generation_prompt(tok, by_key[(t["persona_id"], t["session_id"])], t["turn_index"], pc)
        for t in targets
    ]


def test_harness_prompts_of_a_dialogue_form_one_family(tiny, dialogs):
    _, tok = tiny
    targets, prompts = _all_target_prompts(tok, dialogs[:2], PromptConfig())
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    hosts = find_hosts(ids, [t["persona_id"] for t in targets])
    assert len(prompts) == 7 and len(set(hosts)) == 1  # dialog 1 extends dialog 0 (same persona)
    assert hosts[0] == max(range(len(ids)), key=lambda i: len(ids[i]))
    # A sliding context window breaks the chain: each prompt starts at another message.
    _, prompts = _all_target_prompts(tok, dialogs[1:2], PromptConfig(context_messages=2))
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    assert find_hosts(ids, [""] * len(ids)) == list(range(len(ids)))


def test_shared_prefix_generation_matches_full_prompts_with_mixed_adapters(tiny, dialogs, tmp_path):
    path, tok = tiny
    dirs = {}
    for i, name in enumerate(["ka", "kb"]):
        torch.manual_seed(i)
        pm = attach_adapter(load_base(path)[0], LORA, name=name)
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                torch.nn.init.normal_(p, std=0.5)  # untrained B is zero: make each adapter change outputs
        save_adapter(pm, tmp_path / name, {}, adapter_name=name)
        dirs[name] = tmp_path / name
    multi = load_adapters(load_base(path)[0], dirs)
    targets, prompts = _all_target_prompts(tok, dialogs[:8], PromptConfig())
    route = {"persona_000": "ka", "persona_001": "kb", "persona_002": "__base__"}
    names = [route[t["persona_id"]] for t in targets]
    shared = generate(multi, tok, prompts, max_new_tokens=8, batch_size=5, adapter_names=names)
    single = [
        generate(multi, tok, [p], max_new_tokens=8, batch_size=1, adapter_names=[n], share_prefixes=False)[0]
        for p, n in zip(prompts, names, strict=True)
    ]
    assert shared == single
    # The adapters matter here (so routing is tested too), and rows did share hosts.
    plain = generate(load_base(path)[0], tok, prompts, max_new_tokens=8, batch_size=5)
    assert plain != shared
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    assert len(set(find_hosts(ids, names))) < len(prompts) / 2
