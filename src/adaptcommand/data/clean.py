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
(a stale one from an earlier run is removed).
"""

from __future__ import annotations

import os
from pathlib import Path

from adaptcommand.data.io import DataError, read_jsonl, write_jsonl_atomic
from adaptcommand.schema import ACTION_SCHEMA, CONTEXT_FIELDS, DEVICES, ROLES, check_action_value, persona_id

__all__ = ["clean", "validate_raw", "RAW_FILES"]

RAW_FILES = ("characters.jsonl", "routines.jsonl", "sessions.jsonl")


def _read_all(path: Path) -> list[tuple[int, object]]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return list(read_jsonl(path))


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


def _check_routines(obj: object) -> list[dict]:
    if not isinstance(obj, dict) or "routines" not in obj:
        raise ValueError('expected an object with key "routines"')
    routines = obj["routines"]
    if not isinstance(routines, list):
        raise ValueError('"routines" must be a list')
    out = []
    for j, routine in enumerate(routines):
        where = f"routine {j}"
        _require_keys(routine, where, ("triggers", "actions"))
        out.append(
            {
                "triggers": _check_context(routine["triggers"], f"{where} triggers", required=False),
                "actions": _check_actions(routine["actions"], f"{where} actions"),
            }
        )
    return out


def _check_messages(messages: object, where: str) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{where}: messages must be a non-empty list")
    out = []
    for k, msg in enumerate(messages):
        mw = f"{where}: message {k}"
        _require_keys(msg, mw, ("role", "text"))
        role, text = msg["role"], msg["text"]
        if role not in ROLES:
            raise ValueError(f"{mw}: role {role!r} not one of {list(ROLES)}")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{mw}: empty text")
        expected = ROLES[k % 2]
        if role != expected:
            raise ValueError(
                f"{mw}: role {role!r}, expected {expected!r} (sessions start with the user and alternate)"
            )
        out.append({"role": role, "text": text})
    return out


def _check_sessions(obj: object, expected_sessions: int | None) -> list[dict]:
    if not isinstance(obj, dict) or "sessions" not in obj:
        raise ValueError('expected an object with key "sessions"')
    sessions = obj["sessions"]
    if not isinstance(sessions, list):
        raise ValueError('"sessions" must be a list')
    if expected_sessions is not None and len(sessions) != expected_sessions:
        raise ValueError(f"expected {expected_sessions} sessions, found {len(sessions)}")
    out = []
    seen: dict[int, int] = {}
    for j, session in enumerate(sessions):
        where = f"session #{j}"
        _require_keys(session, where, ("session_id", "meta", "messages"))
        sid = session["session_id"]
        if isinstance(sid, bool) or not isinstance(sid, int):
            raise ValueError(f"{where}: session_id must be an integer, got {sid!r}")
        where = f"session {sid}"
        if sid in seen:
            raise ValueError(f"duplicate session_id {sid} (sessions #{seen[sid]} and #{j})")
        seen[sid] = j
        meta = _check_context(session["meta"], f"{where} meta", required=True)
        messages = _check_messages(session["messages"], where)
        applied = session.get("applied_routines")
        if applied is not None and (
            not isinstance(applied, list)
            or not all(isinstance(a, int) and not isinstance(a, bool) for a in applied)
        ):
            raise ValueError(f"{where}: applied_routines must be a list of integers or null, got {applied!r}")
        out.append({"session_id": sid, "meta": meta, "messages": messages, "applied_routines": applied})
    return out


def validate_raw(
    raw_dir: str | os.PathLike, expected_personas: int | None = None, expected_sessions: int | None = None
) -> list[dict]:
    """Validate the three raw files; return the cleaned records (see module doc). Raises `DataError`."""
    raw = Path(raw_dir)
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
    for i in range(n):
        (lc, char_obj), (lr, rout_obj), (ls, sess_obj) = contents[0][i], contents[1][i], contents[2][i]
        if not isinstance(char_obj, dict) or "character" not in char_obj:
            raise _err(paths[0], lc, 'expected an object with key "character"')
        character = char_obj["character"]
        if not isinstance(character, str) or not character.strip():
            raise _err(paths[0], lc, "empty character text")
        try:
            routines = _check_routines(rout_obj)
        except ValueError as exc:
            raise _err(paths[1], lr, str(exc)) from None
        try:
            sessions = _check_sessions(sess_obj, expected_sessions)
        except ValueError as exc:
            raise _err(paths[2], ls, str(exc)) from None
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
    return records


def clean(
    raw_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    expected_personas: int | None = None,
    expected_sessions: int | None = None,
) -> dict:
    """Validate ``raw_dir/{characters,routines,sessions}.jsonl`` and write the cleaned dialogues.

    `expected_personas`: number of lines required; `expected_sessions`: sessions required per persona.
    Returns stats: personas, dialogues, messages, user_messages, assistant_messages, mean_messages,
    routine_driven (dialogues with a non-empty applied_routines).
    """
    out = Path(out_path)
    try:
        records = validate_raw(raw_dir, expected_personas, expected_sessions)
        write_jsonl_atomic(out, records)
    except BaseException:
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
    }
