"""The evaluation targets of a split: which assistant turns every method is scored on."""

from __future__ import annotations

import hashlib
import json

from adaptcommand.prompts import context_start
from adaptcommand.routines import routine_actions, turn_kind


def eval_targets(dialogs: list[dict], skip_assistant_turns: int, context_messages: int) -> list[dict]:
    """Every assistant turn from the (k+1)-th on of each dialogue, k = `skip_assistant_turns`.

    Returns [{persona_id, session_id, turn_index, reference, kind}] in dialogue order; turn_index is
    the position of the target message in the dialogue, kind its `routines.turn_kind` given the
    context the prompt shows (the last `context_messages` messages, from a user turn on).
    """
    targets = []
    for d in dialogs:
        routine = routine_actions(d)
        seen = 0
        for i, m in enumerate(d["messages"]):
            if m["role"] != "assistant":
                continue
            seen += 1
            if seen > skip_assistant_turns:
                context = d["messages"][context_start(d["messages"], i, context_messages) : i]
                targets.append(
                    {
                        "persona_id": d["persona_id"],
                        "session_id": d["session_id"],
                        "turn_index": i,
                        "reference": m["text"],
                        "kind": turn_kind(m["text"], [c["text"] for c in context], routine),
                    }
                )
    unscored = sorted({d["persona_id"] for d in dialogs} - {t["persona_id"] for t in targets})
    if targets and unscored:  # (none at all: the rule names the setting that skipped everything)
        raise ValueError(
            f"{', '.join(unscored[:5])}: no assistant turn past the first {skip_assistant_turns} of any "
            "of their dialogues (eval.skip_assistant_turns): they would be left out of every score"
        )
    return targets


def target_key(t: dict) -> tuple[str, int, int]:
    return (t["persona_id"], int(t["session_id"]), int(t["turn_index"]))


def targets_fingerprint(targets: list[dict]) -> str:
    """A hash of the (persona, dialogue, turn) list, to prove two methods were scored on the same items."""
    keys = sorted(target_key(t) for t in targets)
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:16]


class TargetMismatchError(AssertionError):
    pass


def assert_same_targets(expected: list[dict], actual: list[dict], what: str) -> None:
    e, a = {target_key(t) for t in expected}, {target_key(t) for t in actual}
    if e != a or len(actual) != len(expected):
        raise TargetMismatchError(
            f"{what}: scored on a different target list ({len(a - e)} extra, {len(e - a)} missing, "
            f"{len(actual)} rows vs {len(expected)} targets)"
        )
