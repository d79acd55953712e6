"""Shared fixtures: a handful of hand-written dialogues and a tiny chat model built from them."""

from __future__ import annotations

import os

import pytest
from helpers import dialog_record

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The longest test files, started first (pytest-xdist hands out files in collection order), so that
# the other files fill the second worker while the demo workflow runs on the first.
LONGEST_FIRST = ("test_workflow.py", "test_slurm.py", "test_real_model.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within each file is kept


def _dialog(pid: str, sid: int, lines: list[str]) -> dict:
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "text": t} for i, t in enumerate(lines)]
    return dialog_record(pid, sid, msgs, f"{pid} likes quiet evenings.")


@pytest.fixture(scope="session")
def dialogs() -> list[dict]:
    base = [
        "Hi, could you get the living room ready?",
        "Of course. Setting the lights to 40% brightness with a warm colour.",
        "Thanks. It is chilly, the usual for the AC please.",
        "Setting the AC to heat mode at 22 degrees with fan speed 2.",
        "Perfect, and some music?",
        "Speaker volume set to 30 with bass boost.",
        "Great, thank you.",
        "You're welcome, enjoy your evening!",
    ]
    out = []
    for p in range(3):
        for s in range(4):
            out.append(_dialog(f"persona_{p:03d}", s, base[: 6 + 2 * (s % 2)]))
    return out


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, dialogs):
    """(directory, tokenizer) of a randomly initialised tiny Qwen2 saved like a real checkpoint."""
    from adaptcommand.demo.base import build_tokenizer
    from adaptcommand.model.architecture import build_model
    from adaptcommand.prompts import PromptConfig, chat_messages

    pc = PromptConfig()
    corpus = [m["content"] for d in dialogs for m in chat_messages(d, pc)] * 5
    tok = build_tokenizer(corpus, 600)
    model = build_model(
        tok,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
        vocab_size=640,
        seed=0,
    )
    path = tmp_path_factory.mktemp("tiny") / "base"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path), tok
