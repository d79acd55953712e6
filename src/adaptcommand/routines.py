"""A persona's routines and the kind of each evaluated turn: the one definition for synthetic and real data.

A target assistant turn is

- ``routine`` when its reference states at least one (device, parameter, value) of the session's
  applied routines (the dataset's ``applied_routines`` indices into the persona's routines) that no
  message of its context states: only the user's own history can supply that value;
- ``stated`` when it states values and every one of them appears in its context (the user said them);
- ``other`` otherwise (greetings, questions, small talk, values from nowhere).

Values are read with the same extractor the metrics use (`metrics.actions.extract_actions`), so a
turn's kind and its scores see the same triples.
"""

from __future__ import annotations

from adaptcommand.metrics.parser import Action, extract_actions


def routine_actions(dialog: dict) -> set[Action]:
    """The (device, parameter, value) triples of the session's applied routines (cleaned-record form)."""
    routines = dialog.get("routines") or []
    triples: set[Action] = set()
    for idx in dialog.get("applied_routines") or []:
        if not 0 <= idx < len(routines):
            continue
        for device, params in routines[idx]["actions"].items():
            triples.update((device, param, value) for param, value in params.items())
    return triples


def turn_kind(reference: str, context: list[str], routine: set[Action]) -> str:
    """The kind of a target turn (module doc): its reference, its context texts, the routine triples."""
    said = extract_actions(reference)
    if not said:
        return "other"
    # The context is read as one running text, so a value answer without a device ("Volume 70.") is
    # bound to the device the previous turn asked about ("What volume should the speaker play at?").
    known = extract_actions("\n".join(context))
    if (said & routine) - known:
        return "routine"
    if said <= known:
        return "stated"
    return "other"
