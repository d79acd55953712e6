"""Merges in weight-update space: the merged LoRA's dW is exactly the weighted sum of the sources' dW.

Also documents the reference study's flaw 3: averaging the A's and the B's separately (PEFT "linear")
is not an average of the updates, so it is refused.
"""

from __future__ import annotations

import json

import pytest
import torch

from adaptcommand.adapters import attach_adapter, load_adapters, save_adapter
from adaptcommand.data.io import write_json_atomic, write_jsonl_atomic
from adaptcommand.data.splits import make_splits
from adaptcommand.merging import add_merge, lora_deltas, merge_error, merge_on_val, merge_weights
from adaptcommand.model.loading import load_base
from adaptcommand.prompts import PromptConfig
from adaptcommand.settings import LoraRecipe

# Different ranks and alphas on purpose: a merge must respect each source's own scaling alpha / r.
_QV = dict(dropout=0.0, target_modules=("q_proj", "v_proj"), lr=1e-3, epochs=1, batch_size=4)
RECIPES = {
    "s1": LoraRecipe(r=4, alpha=8, **_QV),
    "s2": LoraRecipe(r=2, alpha=6, **_QV),
    "s3": LoraRecipe(r=4, alpha=4, **_QV),
}


@pytest.fixture(scope="module")
def sources(tiny, tmp_path_factory):
    """Three saved LoRA adapters with random (non-zero) A and B, like trained ones.

    Their names must not occur inside "lora_" (PEFT would re-initialise such adapters on loading).
    """
    path, _ = tiny
    out = tmp_path_factory.mktemp("sources")
    dirs = {}
    for i, (name, recipe) in enumerate(RECIPES.items()):
        base, _ = load_base(path)
        pm = attach_adapter(base, recipe, name=name)
        gen = torch.Generator().manual_seed(100 + i)
        with torch.no_grad():
            for pname, p in pm.named_parameters():
                if "lora_" in pname:
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))
        save_adapter(pm, out / name, {"recipe": recipe.to_dict()}, adapter_name=name)
        dirs[name] = str(out / name)
    return dirs


def _model(tiny, sources):
    return load_adapters(load_base(tiny[0])[0], sources)


@pytest.mark.parametrize("weights", [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.2, 1.3], [1.0, -0.5, 0.25]])
def test_cat_merge_update_is_the_weighted_sum_of_updates(tiny, sources, weights):
    model = _model(tiny, sources)
    names = list(sources)
    add_merge(model, names, weights, "m", "cat")
    deltas = {n: lora_deltas(model, n) for n in names}
    merged = lora_deltas(model, "m")
    assert set(merged) == set(deltas["s1"]) and len(merged) == 4  # q and v in 2 layers
    for module, got in merged.items():
        want = sum(w * deltas[n][module] for n, w in zip(names, weights, strict=True))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert model.peft_config["m"].r == sum(r.r for r in RECIPES.values())  # rank = sum of ranks
    assert merge_error(model, names, weights, "m") < 1e-5


def test_merged_adapter_acts_like_the_summed_weights_and_round_trips(tiny, sources, dialogs, tmp_path):
    """The saved merge, reloaded on a fresh base, gives the logits of base weights W + sum_i w_i dW_i."""
    path, tok = tiny
    model = _model(tiny, sources)
    names, weights = list(sources), [0.6, 0.3, 0.1]
    add_merge(model, names, weights, "m", "cat")
    save_adapter(model, tmp_path / "m", {}, adapter_name="m")
    saved = json.loads((tmp_path / "m" / "adapter_config.json").read_text())
    assert saved["r"] == 10 and not (tmp_path / "m" / "s1").exists()  # only the merged adapter

    reloaded = load_adapters(load_base(path)[0], {"m": tmp_path / "m"})
    deltas = {n: lora_deltas(model, n) for n in names}
    dense, _ = load_base(path)
    with torch.no_grad():
        for module, _ in lora_deltas(model, "m").items():
            sub = dense.get_submodule(module.removeprefix("base_model.model."))
            sub.weight += sum(w * deltas[n][module] for n, w in zip(names, weights, strict=True))
    ids = torch.tensor([tok(dialogs[0]["messages"][0]["text"])["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids).logits, dense(input_ids=ids).logits)


def test_svd_merge_is_the_best_low_rank_approximation_of_the_sum(tiny, sources):
    model = _model(tiny, sources)
    names, weights = list(sources), [0.5, 0.5, 0.5]
    add_merge(model, names, weights, "s", "svd")
    deltas = {n: lora_deltas(model, n) for n in names}
    for module, got in lora_deltas(model, "s").items():
        want = sum(w * deltas[n][module] for n, w in zip(names, weights, strict=True))
        rank = 4  # svd keeps the largest source rank
        s = torch.linalg.svdvals(want)
        optimal = torch.sqrt((s[rank:] ** 2).sum())
        assert torch.linalg.matrix_rank(got) <= rank
        assert float(torch.linalg.norm(got - want)) <= float(optimal) * 1.01 + 1e-5


def test_averaging_a_and_b_separately_is_not_a_merge(tiny, sources):
    """Flaw 3 of the reference study: mean(B) @ mean(A) != mean(B @ A)."""
    same_rank = ["s1", "s3"]  # PEFT linear needs equal ranks
    model = _model(tiny, sources)
    weights = [0.5, 0.5]
    model.add_weighted_adapter(same_rank, weights, "lin", combination_type="linear")  # what it did
    add_merge(model, same_rank, weights, "cat", "cat")
    deltas = {n: lora_deltas(model, n) for n in same_rank}
    linear, cat = lora_deltas(model, "lin"), lora_deltas(model, "cat")
    for module in cat:
        want = 0.5 * deltas["s1"][module] + 0.5 * deltas["s3"][module]
        torch.testing.assert_close(cat[module], want, rtol=1e-5, atol=1e-6)
        gap = float((linear[module] - want).abs().max())
        assert gap > 0.05 * float(want.abs().max()), module
    with pytest.raises(AssertionError):
        torch.testing.assert_close(linear[module], want)
    # The library refuses it, and refuses a re-used name (PEFT would silently keep the old adapter).
    with pytest.raises(ValueError, match="update space"):
        add_merge(model, same_rank, weights, "lin2", "linear")
    with pytest.raises(ValueError, match="already exists"):
        add_merge(model, same_rank, [1.0, 1.0], "cat", "cat")


def test_merge_on_val_picks_the_scale_with_lowest_val_loss(tiny, sources, dialogs, tmp_path):
    path, _ = tiny
    dialogs_path, splits_path = tmp_path / "dialogs.jsonl", tmp_path / "splits.json"
    write_jsonl_atomic(dialogs_path, dialogs)
    write_json_atomic(splits_path, make_splits(dialogs, 0.5, 0.25))
    info = merge_on_val(
        path,
        {"persona_001": sources["s1"], "persona_002": sources["s2"]},
        str(dialogs_path),
        str(splits_path),
        ["persona_000"],
        PromptConfig(),
        [0.0, 0.5, 1.0],
        "cat",
        tmp_path / "out",
        target="neighbors of persona_000",
    )
    losses = [c["val_loss"] for c in info["candidates"]]
    assert info["chosen_scale"] == [0.0, 0.5, 1.0][losses.index(min(losses))]
    assert info["candidates"][0]["val_loss"] == pytest.approx(info["val_loss_base"], rel=1e-5)
    assert info["n_val_dialogs"] == 1 and info["val_personas"] == ["persona_000"]
    assert all(c["max_abs_update_error"] < 1e-5 for c in info["candidates"])
    log = json.loads((tmp_path / "out" / "train_log.json").read_text())
    assert log["sources"] == {"persona_001": sources["s1"], "persona_002": sources["s2"]}
    cfg = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert cfg["r"] == 6 and cfg["peft_type"] == "LORA"


def test_ties_merges_updates_and_its_total_weight_means_what_cat_s_does(tiny, sources):
    """TIES (PEFT ties_svd) works on the updates: two copies of one adapter merged with density 1 at
    total weight 1.5 give 1.5 x its update, as cat does (TIES averages over agreeing sources, so each
    gets the whole scale: merge_weights); with density 0.5 at most half of each update survives per
    source, so the merge differs from cat's."""
    model = _model(tiny, sources)
    model.load_adapter(sources["s1"], adapter_name="s1_again")
    pair = ["s1", "s1_again"]
    for combination in ("cat", "ties_svd"):
        density = 1.0 if combination == "ties_svd" else None
        add_merge(model, pair, merge_weights(combination, 1.5, 2), combination, combination, density)
    want = {m: 1.5 * d for m, d in lora_deltas(model, "s1").items()}
    for combination in ("cat", "ties_svd"):
        for module, got in lora_deltas(model, combination).items():
            torch.testing.assert_close(got, want[module], rtol=1e-4, atol=1e-5)
    names = list(sources)
    add_merge(model, names, merge_weights("ties_svd", 1.0, 3), "ties_half", "ties_svd", density=0.5)
    add_merge(model, names, merge_weights("cat", 1.0, 3), "cat_all", "cat")
    ties, cat = lora_deltas(model, "ties_half"), lora_deltas(model, "cat_all")
    gaps = [float((ties[m] - cat[m]).abs().max()) for m in cat]
    assert max(gaps) > 1e-3
    with pytest.raises(ValueError, match="density"):
        add_merge(model, names, [1.0] * 3, "cat_with_density", "cat", density=0.5)
    with pytest.raises(ValueError, match="density"):
        add_merge(model, names, [1.0] * 3, "ties_without", "ties_svd")


def test_dare_draws_from_the_seed(tiny, sources):
    """DARE keeps a random share of values: the same seed gives the same merge, another seed another."""
    model = _model(tiny, sources)
    names = list(sources)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        torch.manual_seed(seed)
        add_merge(model, names, merge_weights("dare_ties_svd", 1.0, 3), name, "dare_ties_svd", density=0.5)
    a, b, c = (lora_deltas(model, n) for n in "abc")
    assert all(torch.equal(a[m], b[m]) for m in a)
    assert any(not torch.allclose(a[m], c[m]) for m in a)


def test_merge_then_adapt_is_saved_as_one_lora_that_acts_like_start_plus_training(
    tiny, sources, dialogs, tmp_path
):
    """What is saved is what is served: a LoRA trained on the base with a start LoRA merged in, folded
    with that start (merging.fold_start), reloads on the plain base with the trained model's logits."""
    import copy

    from adaptcommand.adapters import merged_base
    from adaptcommand.merging import fold_start

    path, tok = tiny
    base, _ = load_base(path)
    trained = attach_adapter(merged_base(copy.deepcopy(base), sources["s1"]), RECIPES["s2"], name="own")
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for pname, p in trained.named_parameters():
            if "lora_" in pname:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    info = fold_start(copy.deepcopy(base), sources["s1"], trained, "own", tmp_path / "folded", {"seed": 1})
    assert info["folded"]["rank"] == RECIPES["s1"].r + RECIPES["s2"].r and info["seed"] == 1
    served = load_adapters(load_base(path)[0], {"m": tmp_path / "folded"})
    ids = torch.tensor([tok(dialogs[0]["messages"][0]["text"])["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(
            served(input_ids=ids).logits, trained(input_ids=ids).logits, rtol=1e-4, atol=1e-4
        )
        # ... and it is not the start alone, nor the base
        start_only = load_adapters(load_base(path)[0], {"s": sources["s1"]})(input_ids=ids).logits
        assert float((served(input_ids=ids).logits - start_only).abs().max()) > 1e-3
