"""The `history` method: retrieval of a persona's own past TRAIN exchanges, and prompts built with them."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import dialog_record

from adaptcommand.data.io import DataError, write_jsonl_atomic
from adaptcommand.data.splits import make_splits
from adaptcommand.prompts import (
    HISTORY_HEADER,
    IGNORE_INDEX,
    PromptConfig,
    chat_messages,
    generation_prompt,
    training_example,
)
from adaptcommand.retrieval import (
    candidate_exchanges,
    dialog_query,
    history_for,
    load_history,
    minilm_encoder,
    retrieve_for_split,
)

TOPICS = ["lights", "heating", "music", "television", "alarm"]
SETTINGS = {
    "lights": "Setting the lights to {v}% brightness.",
    "heating": "Setting the AC to {v} degrees in heat mode.",
    "music": "Speaker volume set to {v}.",
    "television": "TV volume set to {v}.",
    "alarm": "Security armed, alarm volume {v}.",
}


def _dialog(pid: str, sid: int, topics: list[str]) -> dict:
    msgs = [{"role": "user", "text": "Hello!"}, {"role": "assistant", "text": f"Hi {pid}, what can I do?"}]
    for j, t in enumerate(topics):
        msgs.append({"role": "user", "text": f"Please do the {t} for {pid} in session {sid} turn {j}."})
        msgs.append({"role": "assistant", "text": SETTINGS[t].format(v=10 + sid)})
    return dialog_record(pid, sid, msgs, f"{pid} is a test user.")


@pytest.fixture(scope="module")
def world() -> tuple[list[dict], dict]:
    """3 personas x 10 sessions (6 train / 2 val / 2 test), every session with two device requests."""
    dialogs = []
    for p in range(3):
        for s in range(10):
            dialogs.append(_dialog(f"persona_{p:03d}", s, [TOPICS[(s + p) % 5], TOPICS[(2 * s + 1) % 5]]))
    return dialogs, make_splits(dialogs, 0.6, 0.2)


def topic_encoder(texts: list[str]) -> np.ndarray:
    """A transparent stand-in for MiniLM: normalised topic-word counts (+ a small constant)."""
    vecs = np.array([[t.count(w) for w in TOPICS] + [0.1] for t in texts], dtype=float)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def _by_key(dialogs):
    return {(d["persona_id"], d["session_id"]): d for d in dialogs}


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_retrieval_uses_only_the_same_personas_train_dialogues(world, split):
    dialogs, splits = world
    personas = sorted(splits["personas"])
    rows = retrieve_for_split(dialogs, splits, split, personas, k=3, query_turns=3, encode=topic_encoder)
    index = _by_key(dialogs)
    # One row per dialogue of the split, in split order.
    assert [(r["persona_id"], r["session_id"]) for r in rows] == [
        (p, s) for p in personas for s in splits["personas"][p][split]
    ]
    for r in rows:
        train_sessions = set(splits["personas"][r["persona_id"]]["train"])
        assert len(r["exchanges"]) == 3
        for ex in r["exchanges"]:
            assert ex["session_id"] in train_sessions  # never val/test, never another persona
            source = index[(r["persona_id"], ex["session_id"])]["messages"]
            assert source[ex["turn_index"]] == {"role": "user", "text": ex["user"]}
            assert source[ex["turn_index"] + 1] == {"role": "assistant", "text": ex["assistant"]}
            assert r["persona_id"] in ex["user"]  # the texts name their persona
            if split == "train":
                assert ex["session_id"] != r["session_id"]  # a dialogue never retrieves itself


def test_training_dialogue_excludes_itself_even_when_it_is_the_best_match():
    dialogs = [_dialog("persona_000", 0, ["alarm"])] + [
        _dialog("persona_000", s, ["lights"]) for s in (1, 2, 3)
    ]
    splits = {"personas": {"persona_000": {"train": [0, 1, 2, 3], "val": [], "test": []}}}
    rows = retrieve_for_split(
        dialogs, splits, "train", ["persona_000"], k=2, query_turns=2, encode=topic_encoder
    )
    row = rows[0]
    assert row["session_id"] == 0 and "alarm" in row["query"]
    own = topic_encoder([row["query"]])[0] @ topic_encoder([dialogs[0]["messages"][2]["text"]])[0]
    # Its own alarm request is by far the best match, yet only other sessions come back.
    assert own > 0.9 > max(ex["score"] for ex in row["exchanges"])
    assert [ex["session_id"] for ex in row["exchanges"]] == [1, 2]
    assert all(ex["session_id"] != r["session_id"] for r in rows for ex in r["exchanges"])


def test_top_k_is_best_first_and_matches_brute_force(world):
    dialogs, splits = world
    pid = "persona_001"
    rows = retrieve_for_split(dialogs, splits, "test", [pid], k=3, query_turns=3, encode=topic_encoder)
    pool = candidate_exchanges([d for d in dialogs if d["persona_id"] == pid and d["session_id"] < 6])
    for r in rows:
        q = topic_encoder([r["query"]])[0]
        scored = sorted(
            ((float(q @ topic_encoder([c["user"]])[0]), c["session_id"], c["turn_index"]) for c in pool),
            key=lambda x: (-x[0], x[1], x[2]),
        )
        got = [(ex["score"], ex["session_id"], ex["turn_index"]) for ex in r["exchanges"]]
        assert [g[1:] for g in got] == [s[1:] for s in scored[:3]]
        assert [g[0] for g in got] == sorted((g[0] for g in got), reverse=True)
        np.testing.assert_allclose([g[0] for g in got], [s[0] for s in scored[:3]], atol=1e-6)


def test_query_is_the_leading_user_messages_and_candidates_set_devices(world):
    dialogs, _ = world
    d = dialogs[0]
    assert dialog_query(d, 1) == "Hello!"
    assert dialog_query(d, 3).split("\n") == [m["text"] for m in d["messages"] if m["role"] == "user"][:3]
    cands = candidate_exchanges([d])
    assert [c["turn_index"] for c in cands] == [2, 4]  # the greeting exchange sets nothing
    assert [c["turn_index"] for c in candidate_exchanges([d], actionable_only=False)] == [0, 2, 4]


def test_duplicates_are_kept_once():
    dialogs = [_dialog("persona_000", s, ["lights"]) for s in range(5)]
    for d in dialogs:  # identical exchanges in every session
        d["messages"][2]["text"] = "Lights please."
        d["messages"][3]["text"] = "Setting the lights to 40% brightness."
    dialogs[4]["messages"][3]["text"] = "Setting the lights to 50% brightness."
    splits = {"personas": {"persona_000": {"train": [0, 1, 2, 3], "val": [4], "test": []}}}
    (row,) = retrieve_for_split(
        dialogs, splits, "val", ["persona_000"], k=3, query_turns=2, encode=topic_encoder
    )
    assert len(row["exchanges"]) == 1 and row["exchanges"][0]["session_id"] == 0


def test_history_file_round_trip_and_missing_entries(world, tmp_path):
    dialogs, splits = world
    rows = retrieve_for_split(dialogs, splits, "val", ["persona_002"], k=2, encode=topic_encoder)
    write_jsonl_atomic(tmp_path / "val.jsonl", rows)
    history = load_history(str(tmp_path / "val.jsonl"))
    d = next(d for d in dialogs if (d["persona_id"], d["session_id"]) == ("persona_002", 6))
    assert history_for(history, d) == rows[0]["exchanges"]
    assert history_for(None, d) is None
    with pytest.raises(DataError, match="no retrieved history"):
        history_for(history, dialogs[0])
    with pytest.raises(DataError, match="retrieved twice"):
        load_history(str(tmp_path / "val.jsonl"), str(tmp_path / "val.jsonl"))


def test_minilm_ranks_the_matching_request_first():
    encode = minilm_encoder()
    d = _dialog("persona_000", 9, ["lights"])
    d["messages"][2]["text"] = "Could you dim the lamps in the living room?"
    pool = [_dialog("persona_000", s, [t]) for s, t in enumerate(["heating", "lights", "music"])]
    pool[1]["messages"][2]["text"] = "Please turn the lights down a bit."
    splits = {"personas": {"persona_000": {"train": [0, 1, 2], "val": [9], "test": []}}}
    (row,) = retrieve_for_split(pool + [d], splits, "val", ["persona_000"], k=3, query_turns=2, encode=encode)
    assert row["exchanges"][0]["session_id"] == 1
    assert -1.0 <= row["exchanges"][-1]["score"] <= row["exchanges"][0]["score"] <= 1.0


# ---- prompts ----------------------------------------------------------------------------------------

HISTORY = [
    {"user": "Lights to 40 please.", "assistant": "Setting the lights to 40% brightness."},
    {"user": "Music, usual volume.", "assistant": "Speaker volume set to 30."},
]
BLOCK = (
    "Past exchanges with this user:\n"
    "User: Lights to 40 please.\nAssistant: Setting the lights to 40% brightness.\n"
    "User: Music, usual volume.\nAssistant: Speaker volume set to 30."
)


def test_prompt_without_history_is_unchanged(tiny, dialogs):
    """None and [] give exactly the prompt of the builder before history existed (pinned here)."""
    _, tok = tiny
    d = dialogs[0]
    system = (
        "You are a helpful smart home assistant. Help the user control their devices by understanding "
        "their preferences and the current context.\n"
        "Context: time of day evening, day of week weekday, sun phase after_sunset, weather rainy, "
        "outdoor temp cold."
    )
    expected = (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        + "".join(f"<|im_start|>{m['role']}\n{m['text']}<|im_end|>\n" for m in d["messages"][:3])
        + "<|im_start|>assistant\n"
    )
    for pc in (PromptConfig(), PromptConfig(persona_in_system=True), PromptConfig(include_context=False)):
        base = generation_prompt(tok, d, 3, pc)
        assert generation_prompt(tok, d, 3, pc, None) == base == generation_prompt(tok, d, 3, pc, [])
        example = training_example(tok, d, pc)
        assert training_example(tok, d, pc, None) == example == training_example(tok, d, pc, [])
        assert HISTORY_HEADER not in base
    assert generation_prompt(tok, d, 3, PromptConfig()) == expected


def test_prompt_with_history_carries_it_in_the_system_message(tiny, dialogs):
    _, tok = tiny
    d, pc = dialogs[1], PromptConfig()
    msgs = chat_messages(d, pc, history=HISTORY)
    assert msgs[0]["role"] == "system" and msgs[0]["content"].endswith("\n" + BLOCK)
    assert msgs[0]["content"].startswith(chat_messages(d, pc)[0]["content"] + "\n")
    assert msgs[1:] == chat_messages(d, pc)[1:]
    prompt = generation_prompt(tok, d, 5, pc, HISTORY)
    assert BLOCK in prompt
    assert prompt.replace("\n" + BLOCK, "") == generation_prompt(tok, d, 5, pc)


def test_history_is_context_never_a_training_label(tiny, dialogs):
    _, tok = tiny
    d, pc = dialogs[1], PromptConfig()
    plain, with_h = training_example(tok, d, pc), training_example(tok, d, pc, HISTORY)

    def labelled(ex):
        pairs = zip(ex["input_ids"], ex["labels"], strict=True)
        return tok.decode([t for t, lab in pairs if lab != IGNORE_INDEX])

    assert labelled(with_h) == labelled(plain)
    assert BLOCK in tok.decode(with_h["input_ids"]) and len(with_h["input_ids"]) > len(plain["input_ids"])
    # Too long: the oldest turns go, the history (system message) stays.
    short = training_example(tok, d, PromptConfig(max_length=len(with_h["input_ids"]) - 10), HISTORY)
    text = tok.decode(short["input_ids"])
    assert BLOCK in text and d["messages"][0]["text"] not in text
