"""Strict validation of the three raw files and flattening into one record per dialogue.

``clean(raw_dir, out_path)`` writes ``dialogs_clean.jsonl`` with one line per dialogue::

    {"persona_id": "persona_000", "session_id": 0, "character": "...",
     "routines": [{"triggers": {"time_of_day": "evening", ...}, "actions": {"ac": {"mode": "heat", ...}}}],
     "meta": {"time_of_day": ..., "day_of_week": ..., "sun_phase": ..., "weather": ..., "outdoor_temp": ...},
     "messages": [{"role": "user", "text": "..."}, {"role": "assistant", "text": "..."}, ...],
     "applied_routines": [2] | [] | null}

Routines are normalised: null trigger fields, null devices and null parameters are dropped (a device
whose parameters are all null is dropped). Records are in persona (line) order, then session_id order.
Any problem raises `DataError` naming ``file:line`` and the problem; no output file is left behind
(a stale one from an earlier run is removed). The files are held to the dataset's own schema, exactly:
keys it does not define (an error unless ``unknown_keys="warn"``, which lists them and goes on, for a
release that adds a field), duplicate JSON keys, NaN, invalid UTF-8, lone surrogates, control
characters, absurd sizes (`LIMITS`), duplicated users, negative or repeated session ids and
``applied_routines`` that name no routine of the user are all refused.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from adaptcommand.data.io import DataError, read_jsonl, write_json_atomic, write_jsonl_atomic
from adaptcommand.schema import (
    ACTION_SCHEMA,
    CONTEXT_FIELDS,
    DEVICES,
    RAW_FILES,
    ROLES,
    check_action_value,
    persona_id,
)

__all__ = ["clean", "validate_raw", "LIMITS", "UNKNOWN_KEYS_MODES"]

UNKNOWN_KEYS_MODES = ("error", "warn")

# The keys each object of the dataset may have (its pydantic models; see
# shared/notes/edgewise-dataset.md); trigger, meta and action keys are checked against the schema.
ALLOWED_KEYS = {
    "character line": {"character"},
    "routines line": {"routines"},
    "routine": {"triggers", "actions"},
    "sessions line": {"sessions"},
    "session": {"session_id", "meta", "messages", "applied_routines", "session_summarization"},
    "message": {"role", "text"},
}

# Sizes no real user reaches (the dataset: 50 sessions, ~10 messages, ~4 routines per user).
LIMITS = {
    "text_chars": 20_000,  # one message, character sketch or session summary
    "messages": 500,  # per session
    "sessions": 10_000,  # per user
    "routines": 1_000,  # per user
    "session_id": 10**9,  # ids are 0 <= id < this
}

# C0/C1 control characters other than tab, newline and carriage return; lone UTF-16 surrogates
# (JSON's "\ud800" decodes to one; it cannot be written as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A chat template's control marker (<|im_start|>, <|im_end|>, <|endoftext|>: Qwen2, SmolLM2, ChatML):
# in a text, the tokenizer would read it as the model's own turn boundary, so a user's message could
# forge a turn. Refused here; the prompt builder refuses every special token of the model's tokenizer
# (adaptcommand.prompts.check_text).
_MARKER = re.compile(r"<\|[^|<>\s]{1,40}\|>")


def _read_all(path: Path) -> list[tuple[int, object]]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return list(read_jsonl(path, strict=True))


def _check_strings(value: object, where: str) -> None:
    """Every string inside `value` (keys too) is printable text of a sane length."""
    if isinstance(value, str):
        bad = _SURROGATE.search(value) or _CONTROL.search(value)
        if bad:
            kind = "lone surrogate" if _SURROGATE.match(bad.group()) else "control character"
            raise ValueError(f"{where}: {kind} U+{ord(bad.group()):04X} at character {bad.start() + 1}")
        marker = _MARKER.search(value)
        if marker:
            raise ValueError(
                f"{where}: {marker.group()!r} at character {marker.start() + 1} is a chat template's control "
                "token: in a prompt it would end or open a turn (text is never allowed to)"
            )
        if len(value) > LIMITS["text_chars"]:
            raise ValueError(f"{where}: text of {len(value)} characters (limit {LIMITS['text_chars']})")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, f"{where}: key")
            _check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{where}[{i}]")


class _Keys:
    """Unknown keys: an error (``mode="error"``) or counted for one warning (``"warn"``)."""

    def __init__(self, mode: str) -> None:
        if mode not in UNKNOWN_KEYS_MODES:
            raise ValueError(f"unknown_keys must be one of {list(UNKNOWN_KEYS_MODES)}, got {mode!r}")
        self.mode = mode
        self.seen: Counter[str] = Counter()

    def check(self, obj: dict, kind: str, where: str) -> None:
        extra = sorted(set(obj) - ALLOWED_KEYS[kind])
        if not extra:
            return
        if self.mode == "error":
            raise ValueError(
                f"{where}: unknown key(s) {extra} (a {kind} has {sorted(ALLOWED_KEYS[kind])}; "
                "data.unknown_keys: warn lists them and goes on)"
            )
        self.seen.update(f"{kind}.{key}" for key in extra)


def _err(path: Path, line: int, problem: str) -> DataError:
    return DataError(f"{path}:{line}: {problem}")


def _check_context(value: object, where: str, *, required: bool) -> dict:
    """Validate a triggers/meta mapping; returns it with null fields dropped. Raises ValueError(problem)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object, got {type(value).__name__}")
    out = {}
    for key in value:
        if key not in CONTEXT_FIELDS:
            raise ValueError(f"{where}: unknown field {key!r}")
    for key, allowed in CONTEXT_FIELDS.items():
        v = value.get(key)
        if v is None:
            if required:
                raise ValueError(f"{where}: missing {key}")
            continue
        if v not in allowed:
            raise ValueError(f"{where}.{key}={v!r} not one of {list(allowed)}")
        out[key] = v
    return out


def _check_actions(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object, got {type(value).__name__}")
    out = {}
    for device, params in value.items():
        if device not in DEVICES:
            raise ValueError(f"{where}: unknown device {device!r}")
        if params is None:
            continue
        if not isinstance(params, dict):
            raise ValueError(f"{where}.{device} must be an object or null")
        kept = {}
        for param, v in params.items():
            if v is None:
                if param not in ACTION_SCHEMA[device]:
                    raise ValueError(f"{where}: unknown parameter {device}.{param}")
                continue
            problem = check_action_value(device, param, v)
            if problem:
                raise ValueError(f"{where}: {problem}")
            kept[param] = v
        if kept:
            out[device] = kept
    return out


def _require_keys(value: object, where: str, keys: tuple[str, ...]) -> dict:
    """`value` as a dict that has every one of `keys`; a ValueError naming `where` otherwise."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    for key in keys:
        if key not in value:
            raise ValueError(f"{where}: missing key {key!r}")
    return value


def _listed(obj: object, key: str, keys: _Keys) -> list:
    """obj[key]: the list one line of routines.jsonl or sessions.jsonl holds, within LIMITS[key]."""
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f'expected an object with key "{key}"')
    keys.check(obj, f"{key} line", f"{key} line")
    items = obj[key]
    if not isinstance(items, list):
        raise ValueError(f'"{key}" must be a list')
    if len(items) > LIMITS[key]:
        raise ValueError(f"{len(items)} {key} (limit {LIMITS[key]})")
    return items


def _check_routines(obj: object, keys: _Keys) -> list[dict]:
    routines = _listed(obj, "routines", keys)
    out = []
    for j, routine in enumerate(routines):
        where = f"routine {j}"
        _require_keys(routine, where, ("triggers", "actions"))
        keys.check(routine, "routine", where)
        out.append(
            {
                "triggers": _check_context(routine["triggers"], f"{where} triggers", required=False),
                "actions": _check_actions(routine["actions"], f"{where} actions"),
            }
        )
    return out


def _check_messages(messages: object, where: str, keys: _Keys) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{where}: messages must be a non-empty list")
    if len(messages) > LIMITS["messages"]:
        raise ValueError(f"{where}: {len(messages)} messages (limit {LIMITS['messages']})")
    out = []
    for k, msg in enumerate(messages):
        mw = f"{where}: message {k}"
        _require_keys(msg, mw, ("role", "text"))
        keys.check(msg, "message", mw)
        role, text = msg["role"], msg["text"]
        if role not in ROLES:
            raise ValueError(f"{mw}: role {role!r} not one of {list(ROLES)}")
        if not isinstance(text, str):
            raise ValueError(f"{mw}: text must be a string, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"{mw}: empty text")
        expected = ROLES[k % 2]
        if role != expected:
            raise ValueError(
                f"{mw}: role {role!r}, expected {expected!r} (sessions start with the user and alternate)"
            )
        out.append({"role": role, "text": text})
    if len(out) < 2:
        raise ValueError(f"{where}: no assistant turn: nothing to train on or to score")
    return out


def _check_sessions(obj: object, expected_sessions: int | None, n_routines: int, keys: _Keys) -> list[dict]:
    sessions = _listed(obj, "sessions", keys)
    if expected_sessions is not None and len(sessions) != expected_sessions:
        raise ValueError(f"expected {expected_sessions} sessions, found {len(sessions)}")
    out = []
    seen: dict[int, int] = {}
    for j, session in enumerate(sessions):
        where = f"session #{j}"
        _require_keys(session, where, ("session_id", "meta", "messages"))
        keys.check(session, "session", where)
        sid = session["session_id"]
        if isinstance(sid, bool) or not isinstance(sid, int):
            raise ValueError(f"{where}: session_id must be an integer, got {sid!r}")
        if not 0 <= sid < LIMITS["session_id"]:
            raise ValueError(f"{where}: session_id {sid} out of range 0..{LIMITS['session_id'] - 1}")
        where = f"session {sid}"
        if sid in seen:
            raise ValueError(f"duplicate session_id {sid} (sessions #{seen[sid]} and #{j})")
        seen[sid] = j
        meta = _check_context(session["meta"], f"{where} meta", required=True)
        messages = _check_messages(session["messages"], where, keys)
        applied = session.get("applied_routines")
        if applied is not None and (
            not isinstance(applied, list)
            or not all(isinstance(a, int) and not isinstance(a, bool) for a in applied)
        ):
            raise ValueError(f"{where}: applied_routines must be a list of integers or null, got {applied!r}")
        dangling = [a for a in applied or [] if not 0 <= a < n_routines]
        if dangling:
            raise ValueError(
                f"{where}: applied_routines {dangling} name no routine of this user "
                f"(it has {n_routines}: 0..{n_routines - 1})"
            )
        summary = session.get("session_summarization")
        if summary is not None and not isinstance(summary, str):
            raise ValueError(f"{where}: session_summarization must be a string or null")
        out.append({"session_id": sid, "meta": meta, "messages": messages, "applied_routines": applied})
    return out


def validate_raw(
    raw_dir: str | os.PathLike,
    expected_personas: int | None = None,
    expected_sessions: int | None = None,
    *,
    unknown_keys: str = "error",
) -> tuple[list[dict], dict[str, int]]:
    """Validate the three raw files in `raw_dir` (a download, or the user's own directory).

    Returns the cleaned records (see module doc) and, with ``unknown_keys="warn"``, the count of each
    unknown key (``{"session.mood": 500}``; empty otherwise). Raises `DataError` naming file:line.
    """
    raw = Path(raw_dir)
    keys = _Keys(unknown_keys)
    paths = [raw / name for name in RAW_FILES]
    contents = [_read_all(p) for p in paths]
    counts = [len(c) for c in contents]
    n = min(counts)
    for path, content in zip(paths, contents, strict=True):
        if len(content) > n:
            shortest = RAW_FILES[counts.index(n)]
            raise _err(
                path,
                content[n][0],
                f"misaligned files: this line has no counterpart in {shortest} "
                f"(line counts: {dict(zip(RAW_FILES, counts, strict=True))})",
            )
    if n == 0:
        raise DataError(f"{raw}: the raw files are empty")
    if expected_personas is not None and n != expected_personas:
        raise DataError(f"{paths[0]}: expected {expected_personas} personas (lines), found {n}")

    records = []
    first_line_of: dict[tuple[str, str], int] = {}  # (file, canonical line) -> line: duplicated users
    for i in range(n):
        (lc, char_obj), (lr, rout_obj), (ls, sess_obj) = contents[0][i], contents[1][i], contents[2][i]
        for path, line, obj in ((paths[0], lc, char_obj), (paths[1], lr, rout_obj), (paths[2], ls, sess_obj)):
            try:
                _check_strings(obj, path.stem + " line")
            except ValueError as exc:
                raise _err(path, line, str(exc)) from None
        if not isinstance(char_obj, dict) or "character" not in char_obj:
            raise _err(paths[0], lc, 'expected an object with key "character"')
        try:
            keys.check(char_obj, "character line", "character line")
        except ValueError as exc:
            raise _err(paths[0], lc, str(exc)) from None
        character = char_obj["character"]
        if not isinstance(character, str):
            raise _err(paths[0], lc, f"character must be a string, got {type(character).__name__}")
        if not character.strip():
            raise _err(paths[0], lc, "empty character text")
        try:
            routines = _check_routines(rout_obj, keys)
        except ValueError as exc:
            raise _err(paths[1], lr, str(exc)) from None
        try:
            sessions = _check_sessions(sess_obj, expected_sessions, len(routines), keys)
        except ValueError as exc:
            raise _err(paths[2], ls, f"{persona_id(i)}: {exc}") from None
        # The same user twice: the same character sketch, or the same sessions.
        for path, line, key in ((paths[0], lc, character.strip()), (paths[2], ls, repr(sessions))):
            earlier = first_line_of.setdefault((path.name, key), line)
            if earlier != line:
                what = "character" if path is paths[0] else "sessions"
                raise _err(path, line, f"duplicated user: the same {what} as line {earlier}")
        pid = persona_id(i)
        for session in sorted(sessions, key=lambda s: s["session_id"]):
            records.append(
                {
                    "persona_id": pid,
                    "session_id": session["session_id"],
                    "character": character,
                    "routines": routines,
                    "meta": session["meta"],
                    "messages": session["messages"],
                    "applied_routines": session["applied_routines"],
                }
            )
    return records, dict(sorted(keys.seen.items()))


def clean(
    raw_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    expected_personas: int | None = None,
    expected_sessions: int | None = None,
    *,
    unknown_keys: str = "error",
    held_out: dict | None = None,
) -> dict:
    """Validate ``raw_dir/{characters,routines,sessions}.jsonl`` and write the cleaned dialogues.

    `expected_personas`: number of lines required; `expected_sessions`: sessions required per persona;
    `unknown_keys`: ``"error"`` (default) or ``"warn"`` (see `validate_raw`).
    `held_out` (new users, `adaptcommand.personas`): {"personas": [ids], "dialogs": path, "characters":
    path}: the dialogues of those personas go to their own file instead of `out_path`, and their
    character texts, {persona_id: text}, to "characters" (all the rest of the run may know of them).
    Returns stats: personas, dialogues, messages, user_messages, assistant_messages, mean_messages,
    routine_driven (dialogues with a non-empty applied_routines), unknown_keys (counts; warn mode),
    held_out (personas).
    """
    outs = [Path(out_path)] + ([Path(held_out["dialogs"]), Path(held_out["characters"])] if held_out else [])
    try:
        records, unknown = validate_raw(
            raw_dir, expected_personas, expected_sessions, unknown_keys=unknown_keys
        )
        new = set(held_out["personas"]) if held_out else set()
        missing = sorted(new - {r["persona_id"] for r in records})
        if missing:
            raise DataError(f"held-out personas {missing} have no dialogues")
        write_jsonl_atomic(outs[0], (r for r in records if r["persona_id"] not in new))
        if held_out:
            write_jsonl_atomic(outs[1], (r for r in records if r["persona_id"] in new))
            characters = {r["persona_id"]: r["character"] for r in records if r["persona_id"] in new}
            write_json_atomic(outs[2], dict(sorted(characters.items())))
    except BaseException:
        for out in outs:
            out.unlink(missing_ok=True)
        raise
    n_messages = sum(len(r["messages"]) for r in records)
    n_user = sum(1 for r in records for m in r["messages"] if m["role"] == "user")
    return {
        "personas": len({r["persona_id"] for r in records}),
        "dialogues": len(records),
        "messages": n_messages,
        "user_messages": n_user,
        "assistant_messages": n_messages - n_user,
        "mean_messages": round(n_messages / len(records), 3),
        "routine_driven": sum(1 for r in records if r["applied_routines"]),
        "unknown_keys": unknown,
        "held_out": len(new),
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m adaptcommand.data.clean RAW_DIR [OUT]`: check a copy of the dataset (and clean it
    into OUT) before pointing the workflow at it; exit status 1 with file:line on the first problem."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m adaptcommand.data.clean", description=main.__doc__)
    parser.add_argument("raw_dir", help="directory with " + ", ".join(RAW_FILES))
    parser.add_argument("out", nargs="?", help="cleaned dialogues to write (default: check only)")
    parser.add_argument("--personas", type=int, help="number of users (lines) required")
    parser.add_argument("--sessions", type=int, help="sessions required per user")
    parser.add_argument("--unknown-keys", choices=UNKNOWN_KEYS_MODES, default="error")
    args = parser.parse_args(argv)
    try:
        if args.out:
            stats = clean(
                args.raw_dir, args.out, args.personas, args.sessions, unknown_keys=args.unknown_keys
            )
        else:
            records, unknown = validate_raw(
                args.raw_dir, args.personas, args.sessions, unknown_keys=args.unknown_keys
            )
            stats = {"dialogues": len(records), "unknown_keys": unknown}
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if stats["unknown_keys"]:
        print(f"warning: unknown keys kept out of the cleaned data: {stats['unknown_keys']}", file=sys.stderr)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
