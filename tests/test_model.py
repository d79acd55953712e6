"""Prompt building and label masking, training, adapters and generation on a tiny Qwen2."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch

from adaptcommand.adapters import attach_adapter, load_adapters, save_adapter
from adaptcommand.evaluate.generate import generate
from adaptcommand.evaluate.targets import eval_targets
from adaptcommand.hub import HubUnavailableError
from adaptcommand.model.loading import load_base
from adaptcommand.prompts import IGNORE_INDEX, PromptConfig, generation_prompt, training_example
from adaptcommand.settings import LoraRecipe, PrefixRecipe, Training
from adaptcommand.train.loop import train

# (the training settings of a recipe matter only where train_adapters uses it)
LORA = LoraRecipe(
    r=4, alpha=8, dropout=0.0, target_modules=("q_proj", "v_proj"), lr=5e-3, epochs=3, batch_size=2
)


def test_labels_cover_exactly_the_assistant_turns(tiny, dialogs):
    _, tok = tiny
    d = dialogs[0]
    ex = training_example(tok, d, PromptConfig())
    assert len(ex["input_ids"]) == len(ex["labels"])
    labelled = tok.decode(
        [t for t, lab in zip(ex["input_ids"], ex["labels"], strict=True) if lab != IGNORE_INDEX]
    )
    expected = "".join(m["text"] + "<|im_end|>" for m in d["messages"] if m["role"] == "assistant")
    assert labelled == expected
    # Nothing of the system prompt or user turns is trained on.
    assert "Hi, could you" not in labelled and "smart home" not in labelled


def test_training_and_generation_share_the_template(tiny, dialogs):
    _, tok = tiny
    d, pc = dialogs[0], PromptConfig()
    prompt = generation_prompt(tok, d, 3, pc)
    full = tok.apply_chat_template(
        [{"role": "system", "content": ""}]
        + [{"role": m["role"], "content": m["text"]} for m in d["messages"]],
        tokenize=False,
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    # The prompt's dialogue part is a prefix of the training rendering of the same dialogue.
    dialogue_part = prompt.split("<|im_end|>\n", 1)[1].removesuffix("<|im_start|>assistant\n")
    assert dialogue_part and dialogue_part in full
    assert "Context: time of day evening" in prompt


def test_context_window_and_persona_switch(tiny, dialogs):
    _, tok = tiny
    d = dialogs[1]  # 8 messages
    short = generation_prompt(tok, d, 7, PromptConfig(context_messages=3))
    assert d["messages"][3]["text"] not in short and d["messages"][4]["text"] in short
    # A window that would open on an assistant turn starts at the next user turn instead.
    two = generation_prompt(tok, d, 7, PromptConfig(context_messages=2))
    assert d["messages"][5]["text"] not in two and d["messages"][6]["text"] in two
    assert two.split("<|im_end|>\n", 1)[1].startswith("<|im_start|>user\n")
    assert d["character"] in generation_prompt(tok, d, 3, PromptConfig(persona_in_system=True))
    assert d["character"] not in generation_prompt(tok, d, 3, PromptConfig(persona_in_system=False))


def test_long_dialogues_drop_oldest_turns(tiny, dialogs):
    _, tok = tiny
    full = training_example(tok, dialogs[1], PromptConfig())
    limit = len(full["input_ids"]) - 10
    ex = training_example(tok, dialogs[1], PromptConfig(max_length=limit))
    assert len(ex["input_ids"]) <= limit
    labelled = tok.decode(
        [t for t, lab in zip(ex["input_ids"], ex["labels"], strict=True) if lab != IGNORE_INDEX]
    )
    # The oldest turns went, the system prompt and the last assistant turn stayed.
    assert dialogs[1]["messages"][0]["text"] not in tok.decode(ex["input_ids"])
    assert "smart home" in tok.decode(ex["input_ids"])
    assert labelled.endswith(dialogs[1]["messages"][-1]["text"] + "<|im_end|>")


def test_a_window_never_starts_at_a_trailing_user_turn(tiny, dialogs):
    """Dialogues often end with a user turn ("thanks!"). When the dialogue does not fit max_length, the
    window that is kept must still hold an assistant message: SmolLM2's tokenizer (3x the tokens of
    the demo's own BPE) at max_length 64 picked the trailing user turn alone for 7 of 10 dialogues,
    examples with no labelled token, and their val loss was 0.0, "the best epoch"."""
    _, tok = tiny
    d = {**dialogs[1], "messages": dialogs[1]["messages"] + [{"role": "user", "text": "Thanks, bye."}]}
    full = training_example(tok, d, PromptConfig())
    # limits at which the last user-assistant exchange fits only without the trailing user turn
    exchange = training_example(tok, {**d, "messages": d["messages"][-3:-1]}, PromptConfig())
    for limit in range(len(exchange["input_ids"]) - 2, len(full["input_ids"]), 2):
        ex = training_example(tok, d, PromptConfig(max_length=limit))
        assert any(lab != IGNORE_INDEX for lab in ex["labels"]), limit


def test_training_refuses_examples_without_assistant_tokens(tiny, dialogs):
    path, _ = tiny
    model, tok = load_base(path, device=torch.device("cpu"))
    model = attach_adapter(model, LORA)
    good = training_example(tok, dialogs[0], PromptConfig())
    empty = {"input_ids": good["input_ids"], "labels": [IGNORE_INDEX] * len(good["labels"])}
    with pytest.raises(ValueError, match="none of the 1 val examples has an assistant token"):
        train(model, [good], [empty], Training(epochs=1, lr=0.01, batch_size=8), 0, tok.pad_token_id)


def test_saved_tokenizer_and_model_are_what_is_loaded(tiny, dialogs, tmp_path):
    """The demo base directory holds a Qwen2 config.json (where AutoTokenizer would substitute Qwen2's
    digit-splitting pre-tokenizer): load_tokenizer must encode exactly as the saved tokenizer.json."""
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    from adaptcommand.model.loading import load_tokenizer

    path, built = tiny
    raw = Tokenizer.from_file(f"{path}/tokenizer.json")
    loaded = load_tokenizer(path)
    texts = [m["text"] for d in dialogs for m in d["messages"]] + [
        "Set the AC to 22 degrees, volume 35, lights 70% warm. Thanks, Leila!",
        "HDMI1 at 100%, 16-30 degrees; 1234567 and 7:30pm — café?",
    ]
    for text in texts:
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        expected = built(text, add_special_tokens=False)["input_ids"]
        assert ids == raw.encode(text, add_special_tokens=False).ids == expected, text
    assert loaded.tokenize("volume 20") == built.tokenize("volume 20")
    assert (loaded.pad_token_id, loaded.eos_token, loaded.padding_side) == (
        built.pad_token_id,
        built.eos_token,
        "left",
    )
    assert loaded.chat_template == built.chat_template and len(loaded) == len(built)
    # The model round-trips bit for bit.
    model, _ = load_base(path)
    model.save_pretrained(tmp_path / "again")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "again")
    for (n, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), n
    config = lambda m: {k: v for k, v in m.config.to_dict().items() if k != "_name_or_path"}  # noqa: E731
    assert config(again) == config(model)


def test_early_stopping_keeps_the_best_epoch(tiny, dialogs):
    path, _ = tiny
    model, tok = load_base(path)
    torch.manual_seed(0)
    peft_model = attach_adapter(model, LORA, name="es")
    examples = [training_example(tok, d, PromptConfig()) for d in dialogs]
    # A learning rate this high overshoots quickly: val loss stops improving long before the cap.
    recipe = Training(epochs=40, lr=5.0, batch_size=4, patience=2)
    result = train(peft_model, examples[:8], examples[8:], recipe, 0, tok.pad_token_id)
    assert result.stopped_early and len(result.val_loss) < 41
    assert len(result.val_loss) - 1 - result.best_epoch == 2  # stopped after 2 epochs without a new best
    assert result.best_epoch == min(range(len(result.val_loss)), key=result.val_loss.__getitem__)


def test_eval_targets_skip_first_assistant_turns(dialogs):
    targets = eval_targets(dialogs[:2], skip_assistant_turns=2, context_messages=10)
    # dialog 0 has 3 assistant turns, dialog 1 has 4: targets are the 3rd (and 4th).
    assert [(t["session_id"], t["turn_index"]) for t in targets] == [(0, 5), (1, 5), (1, 7)]
    assert targets[0]["reference"] == dialogs[0]["messages"][5]["text"]


def test_training_picks_best_val_epoch_and_lora_round_trips(tiny, dialogs, tmp_path):
    path, tok = tiny
    model, tok = load_base(path)
    torch.manual_seed(0)
    peft_model = attach_adapter(model, LORA, name="p0")
    examples = [training_example(tok, d, PromptConfig()) for d in dialogs]
    result = train(
        peft_model, examples[:8], examples[8:], Training(epochs=3, lr=5e-3, batch_size=4), 0, tok.pad_token_id
    )
    assert len(result.val_loss) == 4 and result.best_epoch == min(range(4), key=result.val_loss.__getitem__)
    assert result.val_loss[result.best_epoch] < result.val_loss[0]  # learning happened
    save_adapter(peft_model, tmp_path / "p0", result.to_dict(), adapter_name="p0")
    assert (tmp_path / "p0" / "adapter_model.safetensors").exists()
    assert not (tmp_path / "p0.tmp").exists()
    batch = torch.tensor([examples[0]["input_ids"]])
    with torch.no_grad():
        before = peft_model(input_ids=batch).logits
        base2, _ = load_base(path)
        after = load_adapters(base2, {"p0": tmp_path / "p0"})(input_ids=batch).logits
    torch.testing.assert_close(before, after)


def test_batched_mixed_adapter_generation_matches_one_at_a_time(tiny, dialogs, tmp_path):
    path, _ = tiny
    model, tok = load_base(path)
    examples = [training_example(tok, d, PromptConfig()) for d in dialogs]
    dirs = {}
    for i, name in enumerate(["ka", "kb"]):
        base, _ = load_base(path)
        torch.manual_seed(i)
        pm = attach_adapter(base, LORA, name=name)
        res = train(
            pm, examples[i::2], examples[:2], Training(epochs=2, lr=2e-2, batch_size=4), 0, tok.pad_token_id
        )
        save_adapter(pm, tmp_path / name, res.to_dict(), adapter_name=name)
        dirs[name] = tmp_path / name
    multi = load_adapters(load_base(path)[0], dirs)
    pc = PromptConfig()
    prompts = [generation_prompt(tok, d, 3, pc) for d in dialogs[:6]]
    names = ["ka", "kb", "__base__", "kb", "ka", "ka"]
    batched = generate(multi, tok, prompts, max_new_tokens=8, batch_size=4, adapter_names=names)
    single = [
        generate(multi, tok, [p], max_new_tokens=8, batch_size=1, adapter_names=[n])[0]
        for p, n in zip(prompts, names, strict=True)
    ]
    assert batched == single


def test_hub_id_fails_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(HubUnavailableError, match="model.base"):
        load_base("Qwen/Qwen2.5-0.5B-Instruct")
    assert time.perf_counter() - start < 10


def test_missing_local_model_dir_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_base("./models/does-not-exist")


def test_prefix_adapters_on_merged_base_generate_grouped(tiny, dialogs, tmp_path):
    """Prefix tuning on top of a merged LoRA: trains, saves, and grouped generation matches per-prompt."""
    from adaptcommand.adapters import is_prompt_learning, merged_base

    path, _ = tiny
    base, tok = load_base(path)
    examples = [training_example(tok, d, PromptConfig()) for d in dialogs]
    pm = attach_adapter(base, LORA, name="u")
    res = train(
        pm, examples[:8], examples[8:], Training(epochs=1, lr=1e-2, batch_size=4), 0, tok.pad_token_id
    )
    save_adapter(pm, tmp_path / "u", res.to_dict(), adapter_name="u")
    dirs = {}
    for i, name in enumerate(["pa", "pb"]):
        merged = merged_base(load_base(path)[0], tmp_path / "u")
        torch.manual_seed(i)
        recipe = PrefixRecipe(num_virtual_tokens=4, lr=5e-2, epochs=2, batch_size=4)
        px = attach_adapter(merged, recipe, name=name)
        res = train(px, examples[i::2], examples[:2], recipe, 0, tok.pad_token_id)
        assert res.val_loss[res.best_epoch] <= res.val_loss[0]
        save_adapter(px, tmp_path / name, res.to_dict(), adapter_name=name)
        dirs[name] = tmp_path / name
        assert is_prompt_learning(dirs[name]) and not is_prompt_learning(tmp_path / "u")
    multi = load_adapters(merged_base(load_base(path)[0], tmp_path / "u"), dirs)
    prompts = [generation_prompt(tok, d, 3, PromptConfig()) for d in dialogs[:5]]
    names = ["pa", "pb", "__base__", "pb", "pa"]
    grouped = generate(multi, tok, prompts, max_new_tokens=6, batch_size=4, adapter_names=names, grouped=True)
    single = []
    for p, n in zip(prompts, names, strict=True):
        single += generate(multi, tok, [p], max_new_tokens=6, batch_size=1, adapter_names=[n], grouped=True)
    assert grouped == single


def test_a_pack_trains_each_adapter_exactly_as_alone(tiny, dialogs, tmp_path):
    """One process training several personas' adapters (rules with params.pack) gives each persona the
    adapter a process of its own would train: same starting weights, seed, data order, best epoch;
    so does the pack spread over forked workers (bit for bit)."""
    from safetensors.torch import load_file

    from adaptcommand.data.io import write_json_atomic, write_jsonl_atomic
    from adaptcommand.data.splits import make_splits
    from adaptcommand.train.lora import train_adapters, train_lora_adapter

    path, _ = tiny
    # Each persona its own light level, so that the personas' adapters differ.
    own = [
        {
            **d,
            "messages": [
                {**m, "text": m["text"].replace("40%", f"{20 * int(d['persona_id'][-1]) + 10}%")}
                for m in d["messages"]
            ],
        }
        for d in dialogs
    ]
    write_jsonl_atomic(tmp_path / "dialogs.jsonl", own)
    write_json_atomic(tmp_path / "splits.json", make_splits(own, 0.5, 0.25))
    args = (str(tmp_path / "dialogs.jsonl"), str(tmp_path / "splits.json"))
    # dropout draws random numbers: the seed must be reset per adapter
    recipe = replace(LORA, dropout=0.1, epochs=3, lr=5e-3, batch_size=2, patience=1)
    seed = 3
    personas = ["persona_000", "persona_001", "persona_002"]
    packed = train_adapters(
        path,
        *args,
        {p: [p] for p in personas},
        PromptConfig(),
        recipe,
        seed,
        {p: tmp_path / "pack" / p for p in personas},
    )
    # The same pack spread over two forked single-thread workers (a CPU pack job with 2 threads).
    forked = train_adapters(
        path,
        *args,
        {p: [p] for p in personas},
        PromptConfig(),
        recipe,
        seed,
        {p: tmp_path / "forked" / p for p in personas},
        workers=2,
    )
    assert list(forked) == personas
    for p in personas:
        alone = train_lora_adapter(path, *args, [p], PromptConfig(), recipe, seed, tmp_path / "alone" / p)
        for got in (packed[p], forked[p]):
            assert (alone["val_loss"], alone["best_epoch"]) == (got["val_loss"], got["best_epoch"])
        a = load_file(tmp_path / "alone" / p / "adapter_model.safetensors")
        for kind in ("pack", "forked"):
            b = load_file(tmp_path / kind / p / "adapter_model.safetensors")
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), kind
    # The personas' adapters differ (their data do), so the comparison above could fail.
    first = load_file(tmp_path / "pack" / personas[0] / "adapter_model.safetensors")
    second = load_file(tmp_path / "pack" / personas[1] / "adapter_model.safetensors")
    assert any(not torch.equal(first[k], second[k]) for k in first)


def _own_light_levels(dialogs):
    """Each persona its own light level (and every other dialogue longer), so that adapters differ."""
    out = []
    for d in dialogs:
        level = 20 * int(d["persona_id"][-1]) + 10
        msgs = [{**m, "text": m["text"].replace("40%", f"{level}%")} for m in d["messages"]]
        out.append({**d, "messages": msgs})
    return out


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_batched_training_gives_each_persona_its_separate_adapter(tiny, dialogs, tmp_path, dropout):
    """Several personas' LoRAs trained in the same batches (train.batched) are the adapters each
    persona's own training gives: same val losses, best epoch and weights up to float rounding, also
    with dropout (each persona's own masks) and early stopping; saved as ordinary PEFT adapters."""
    from safetensors.torch import load_file

    from adaptcommand.data.io import write_json_atomic, write_jsonl_atomic
    from adaptcommand.data.splits import make_splits
    from adaptcommand.train.lora import train_adapters

    path, _ = tiny
    own = _own_light_levels(dialogs)
    write_jsonl_atomic(tmp_path / "dialogs.jsonl", own)
    write_json_atomic(tmp_path / "splits.json", make_splits(own, 0.5, 0.25))
    args = (str(tmp_path / "dialogs.jsonl"), str(tmp_path / "splits.json"))
    recipe = replace(
        LORA,
        dropout=dropout,
        target_modules=("q_proj", "v_proj", "o_proj", "down_proj"),
        epochs=4,
        lr=2e-2,
        batch_size=1,
        patience=1,
    )
    seed = 5
    personas = ["persona_000", "persona_001", "persona_002"]
    units = {p: [p] for p in personas}
    alone = train_adapters(
        path, *args, units, PromptConfig(), recipe, seed, {p: tmp_path / "a" / p for p in personas}
    )
    together = train_adapters(
        path,
        *args,
        units,
        PromptConfig(),
        recipe,
        seed,
        {p: tmp_path / "b" / p for p in personas},
        batched=True,
    )
    epochs = set()
    for p in personas:
        a, b = alone[p], together[p]
        assert b["batched_with"] == 3 and a["best_epoch"] == b["best_epoch"], (a["val_loss"], b["val_loss"])
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        epochs.add(len(a["val_loss"]))
        wa = load_file(tmp_path / "a" / p / "adapter_model.safetensors")
        wb = load_file(tmp_path / "b" / p / "adapter_model.safetensors")
        assert wa.keys() == wb.keys()
        for k in wa:
            torch.testing.assert_close(wb[k], wa[k], rtol=1e-3, atol=1e-5)  # float rounding only
    # The test could fail: the adapters moved from their start and differ between personas.
    w0 = load_file(tmp_path / "b" / personas[0] / "adapter_model.safetensors")
    w1 = load_file(tmp_path / "b" / personas[1] / "adapter_model.safetensors")
    assert any((w0[k] - w1[k]).abs().max() > 1e-3 for k in w0 if "lora_B" in k)
    # And what is saved is what every rule loads: PEFT reads the batched adapter back.
    from adaptcommand.adapters import load_adapters
    from adaptcommand.model.loading import load_base

    base, _ = load_base(path)
    load_adapters(base, {"x": tmp_path / "b" / personas[0]})


def test_an_untrained_prefix_starts_as_the_model_it_is_added_to(tiny, dialogs):
    """PEFT's N(0, 1) prefix made an untrained prefix far from the start model on a real model
    (SmolLM2: val loss 3.70 -> 5.42), so epoch 0 of every prefix method was not the start model. The
    prefix now starts as the model's own key/values of the system turn (2 query / 1 key-value head
    here, grouped-query attention as in SmolLM2 and Qwen2.5)."""
    from adaptcommand.adapters import init_prefix_from_tokens
    from adaptcommand.prompts import system_turn_ids
    from adaptcommand.train.loop import mean_loss

    path, _ = tiny
    model, tok = load_base(path, device=torch.device("cpu"))
    examples = [training_example(tok, d, PromptConfig()) for d in dialogs[:4]]
    base = mean_loss(model, examples, 4, tok.pad_token_id)
    torch.manual_seed(0)
    peft = attach_adapter(model, PrefixRecipe(num_virtual_tokens=6, lr=0.01, epochs=1, batch_size=4))
    random_init = mean_loss(peft, examples, 4, tok.pad_token_id)
    ids = system_turn_ids(tok, PromptConfig())
    assert init_prefix_from_tokens(peft, ids)
    from_tokens = mean_loss(peft, examples, 4, tok.pad_token_id)
    assert abs(from_tokens - base) < 0.5 * abs(random_init - base), (base, random_init, from_tokens)
    # what PEFT stores per virtual token: layers x (key, value) x key-value heads x head_dim
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    weight = peft.prompt_encoder["default"].embedding.weight
    assert weight.shape == (6, cfg.num_hidden_layers * 2 * cfg.num_key_value_heads * head_dim)


def test_a_pack_with_an_unusable_persona_fails_naming_it_before_training_any(tiny, dialogs, tmp_path):
    """A persona whose dialogues hold no assistant turn (the cleaner refuses such data; here it is
    planted behind its back): the pack stops before any unit trains, naming that persona only."""
    from adaptcommand.data.io import write_json_atomic, write_jsonl_atomic
    from adaptcommand.data.splits import make_splits
    from adaptcommand.train.lora import train_adapters

    broken = [
        {**d, "messages": d["messages"][:1]} if d["persona_id"] == "persona_001" else d for d in dialogs
    ]
    write_jsonl_atomic(tmp_path / "dialogs.jsonl", broken)
    write_json_atomic(tmp_path / "splits.json", make_splits(dialogs, 0.5, 0.25))
    personas = ["persona_000", "persona_001", "persona_002"]
    data = (str(tmp_path / "dialogs.jsonl"), str(tmp_path / "splits.json"))
    out = {p: tmp_path / "pack" / p for p in personas}
    with pytest.raises(ValueError, match=r"^cannot train persona_001: no train dialogue") as failure:
        train_adapters(tiny[0], *data, {p: [p] for p in personas}, PromptConfig(), LORA, 0, out)
    assert "persona_000" not in str(failure.value) and not (tmp_path / "pack").exists()


def test_training_batches_group_lengths_and_still_mix_every_epoch():
    """Training batches (train.loop._batches with an rng): every example once per epoch, far less padding
    than a random shuffle, and a different batching each epoch (the seed decides; same seed, same)."""
    import random

    from adaptcommand.train.loop import _batches

    rng = random.Random(0)
    examples = [{"input_ids": [0] * rng.randint(120, 260), "i": i} for i in range(60)]

    def padding(batches):
        sizes = [[len(e["input_ids"]) for e in b] for b in batches]
        return 1 - sum(map(sum, sizes)) / sum(max(s) * len(s) for s in sizes)

    shuffled = list(examples)
    random.Random(1).shuffle(shuffled)
    random_batches = [shuffled[j : j + 4] for j in range(0, 60, 4)]
    epochs = [_batches(examples, 4, r) for r in [random.Random(7)] for _ in range(3)]
    for batches in epochs:
        assert sorted(e["i"] for b in batches for e in b) == list(range(60))
        assert padding(batches) < padding(random_batches) / 2
    as_sets = [{frozenset(e["i"] for e in b) for b in batches} for batches in epochs]
    assert as_sets[0] != as_sets[1] != as_sets[2]
    again = random.Random(7)
    assert [[e["i"] for e in b] for b in _batches(examples, 4, again)] == [
        [e["i"] for e in b] for b in epochs[0]
    ]
