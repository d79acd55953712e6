"""Turn kinds: routine / stated / other, computed from the data alone, agree with what the generator made."""

from __future__ import annotations

from collections import Counter

import pytest

from adaptcommand.data.clean import clean
from adaptcommand.data.io import load_dialogs
from adaptcommand.demo import synthetic
from adaptcommand.evaluate.targets import eval_targets
from adaptcommand.routines import routine_actions, turn_kind

ROUTINE = {("tv", "volume", 20), ("tv", "input_source", "Netflix"), ("lights", "brightness", 30)}


def test_routine_values_the_context_does_not_state_make_a_routine_turn():
    reply = "Setting the TV to volume 20 and Netflix."
    assert turn_kind(reply, ["The usual movie night, please."], ROUTINE) == "routine"
    # The same reply after the user stated the values: it confirms them.
    assert turn_kind(reply, ["Set the TV to volume 20 on Netflix."], ROUTINE) == "stated"
    # Partly stated: one routine value still comes from the user's habits only.
    assert turn_kind(reply, ["TV on Netflix, please."], ROUTINE) == "routine"


def test_stated_other_and_values_outside_the_routine():
    assert turn_kind("Hi Ethan, how can I help?", ["Hi!"], ROUTINE) == "other"
    assert turn_kind("What volume would you like?", ["Turn on the TV."], ROUTINE) == "other"
    # Values from nowhere that are not the routine's: not a routine turn, not stated either.
    assert turn_kind("Setting the AC to 22 degrees.", ["Warm it up."], ROUTINE) == "other"
    # A value answer without a device is read with the question before it.
    context = ["Turn on the speaker.", "What volume should the speaker play at?", "Volume 40."]
    assert turn_kind("Setting the speaker to volume 40.", context, set()) == "stated"


def test_routine_actions_read_applied_routines():
    dialog = {
        "routines": [
            {"triggers": {}, "actions": {"tv": {"volume": 20}}},
            {"triggers": {}, "actions": {"ac": {"mode": "heat", "temperature": 22}}},
        ],
        "applied_routines": [1, 7],  # an index without a routine is ignored here (cleaning checks it)
    }
    assert routine_actions(dialog) == {("ac", "mode", "heat"), ("ac", "temperature", 22)}
    assert routine_actions({**dialog, "applied_routines": None}) == set()


@pytest.fixture(scope="module")
def demo_dialogs(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    synthetic.write_raw(raw, 16, 50, 7)
    clean(raw, raw / "dialogs.jsonl", 16, 50)
    return load_dialogs(raw / "dialogs.jsonl")


def test_kinds_from_the_data_agree_with_what_the_generator_made(demo_dialogs):
    """The demo's generator records what each assistant turn was made to do; the data-only definition
    (extractor + routines, as for the real dataset) must recover it."""
    acts = synthetic.generated_acts(16, 50, 7)
    targets = eval_targets(demo_dialogs, skip_assistant_turns=0, context_messages=10)
    by_key = {(d["persona_id"], d["session_id"]): d for d in demo_dialogs}
    pairs = Counter()
    for t in targets:
        d = by_key[(t["persona_id"], t["session_id"])]
        k = sum(m["role"] == "assistant" for m in d["messages"][: t["turn_index"]])
        pairs[(acts[(t["persona_id"], t["session_id"])][k], t["kind"])] += 1
    total = sum(pairs.values())
    agree = sum(n for (made, found), n in pairs.items() if made == found)
    assert agree / total > 0.98, pairs
    for kind in ("routine", "stated", "other"):
        made = sum(n for (m, _), n in pairs.items() if m == kind)
        assert made > 0.1 * total and pairs[(kind, kind)] / made > 0.95, (kind, pairs)
