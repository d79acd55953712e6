"""Typed, frozen settings built from exactly the keys of a config section.

Every rule hands the library its config sections as nested, named params (``recipe=...``,
``prompt=...``, ``generation=...``); the library builds one of these from each and refuses a key it
does not know or a required key that is missing, naming the section. What a job was given is thus
what it used, and what it records (``train_log.json`` holds the recipe, nothing else of the params).

    recipe = recipe_from({"adapter": "lora", "r": 8, ...}, "train.persona")
    train(model, train_examples, val_examples, recipe, seed, pad_id)   # adaptcommand.train.loop

A recipe goes as it is to the training loop, which reads `recipe.lr` where it builds the optimiser.
This module imports nothing else of adaptcommand: it is the bottom layer every other module may use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "DemoBase",
    "Generation",
    "LoraRecipe",
    "MergeSettings",
    "PrefixRecipe",
    "Protocol",
    "Scoring",
    "Section",
    "SettingsError",
    "Training",
    "plain",
    "recipe_from",
]


class SettingsError(ValueError):
    """A settings section with an unknown or a missing key (the message names the section)."""


class Section:
    """Mixin of the frozen settings dataclasses: `from_section` takes exactly the class's fields, every
    one of them (the config sections arrive with the schema's defaults filled in); the defaults of a
    class serve code that builds settings directly (tests, benchmarks)."""

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = ""):
        where = where or cls.__name__
        if not isinstance(section, Mapping):
            raise SettingsError(f"{where}: expected a mapping of settings, got {type(section).__name__}")
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(section) - set(fields))
        missing = [n for n in fields if n not in section]
        if unknown or missing:
            problems = ([f"unknown key(s) {unknown}"] if unknown else []) + (
                [f"missing key(s) {missing}"] if missing else []
            )
            raise SettingsError(f"{where}: {'; '.join(problems)} (its keys: {sorted(fields)})")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
        return cls(**values)

    @classmethod
    def of(cls, section: Section | Mapping[str, Any], where: str = ""):
        """`section` as this class: as it is if it already is one, else `from_section` (a library
        function takes either its typed settings or the config section's mapping)."""
        return section if isinstance(section, cls) else cls.from_section(section, where)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def plain(section: Mapping) -> dict:
    """A config section as a params value: a dict with its keys sorted at every level, so Snakemake's
    params trigger (which compares reprs) sees the names and every change, but not the key order."""
    return {
        k: plain(v) if isinstance(v, Mapping) else list(v) if isinstance(v, tuple) else v
        for k, v in sorted(section.items())
    }


@dataclass(frozen=True, kw_only=True)
class Training:
    """How an adapter is trained, what every recipe shares (defaults: the schema's); the training loop
    (`adaptcommand.train.loop.train`) takes it as it is, with the seed."""

    lr: float
    epochs: int  # the cap; early stopping on val loss usually ends training before it
    batch_size: int
    patience: int = 0  # stop after this many epochs without a better val loss (0 = never early)
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class LoraRecipe(Section, Training):
    """train.<method> of a LoRA method (schema `$defs/lora`)."""

    adapter: str = "lora"
    r: int
    alpha: int
    dropout: float
    target_modules: tuple[str, ...]
    KIND: ClassVar[str] = "lora"


@dataclass(frozen=True, kw_only=True)
class PrefixRecipe(Section, Training):
    """train.prefix: PEFT prefix tuning (schema `$defs/prefix`)."""

    adapter: str = "prefix"
    num_virtual_tokens: int
    prefix_projection: bool = False
    KIND: ClassVar[str] = "prefix"


RECIPES = {r.KIND: r for r in (LoraRecipe, PrefixRecipe)}


def recipe_from(section: Mapping[str, Any], where: str = "recipe") -> LoraRecipe | PrefixRecipe:
    """The recipe of a config section; its `adapter` field (lora | prefix) says which kind it is."""
    kind = section.get("adapter") if isinstance(section, Mapping) else None
    if kind not in RECIPES:
        raise SettingsError(f"{where}.adapter = {kind!r}: must be one of {sorted(RECIPES)}")
    return RECIPES[kind].from_section(section, where)


@dataclass(frozen=True)
class Generation(Section):
    """How every method's replies are generated (config eval: greedy decoding)."""

    max_new_tokens: int
    batch_size: int  # prompts per generation batch


@dataclass(frozen=True)
class Scoring(Section):
    """How replies are scored (config metrics)."""

    numeric_tolerance: int
    minilm: str = ""  # sentence-transformers directory; "" = the bundled all-MiniLM-L6-v2


@dataclass(frozen=True)
class MergeSettings(Section):
    """Merges of persona LoRAs in weight-update space (config merge)."""

    neighbors_k: int
    combination: str
    weight_scales: tuple[float, ...]
    density: float | None = None  # ties_svd / dare_ties_svd: the share of each update's values kept


@dataclass(frozen=True)
class Protocol(Section):
    """What the comparison claims and checks (config compare): the headline metric every ranking,
    figure and routing decision uses, the rows differences are taken to, the positive control."""

    headline: str
    second: str  # shown next to the headline (all turns)
    references: tuple[str, ...]
    positive_control: str


@dataclass(frozen=True, kw_only=True)
class DemoBase(Section):
    """The offline demo's base model (config model.demo; `adaptcommand.demo.base.build_demo_base`)."""

    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    pretrain_personas: int
    pretrain_sessions: int
    pretrain_seed: int
    pretrain_routine_share: float = 0.75
    epochs: int
    lr: float
    batch_size: int
    weight_decay: float = 0.0
    adam_beta2: float = 0.999
    threads: int = 2  # of the build_demo_base job
    seed: int = 42  # the base's initialisation
