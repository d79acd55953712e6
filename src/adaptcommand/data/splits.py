"""Per-persona temporal train / val / test splits, their validation, and selection of a split.

Splits file format (``data/splits/edgesplits.json``)::

    {"fractions": {"train": 0.6, "val": 0.2, "test": 0.2},
     "personas": {"persona_000": {"train": [0, 1, ...], "val": [30, ...], "test": [40, ...]}, ...}}

Session ids are listed in increasing order; within a persona the first ``round(n*train)`` sessions
(by session_id) are train, the next ``round(n*val)`` val, the rest test (30/10/10 for 50 sessions).
`split_dialogs` is THE way other code selects the dialogues of a split.
"""

from __future__ import annotations

from collections import defaultdict

from adaptcommand.data.io import DataError

__all__ = ["SPLIT_NAMES", "make_splits", "validate_splits", "split_dialogs", "split_sizes", "with_budget"]

SPLIT_NAMES = ("train", "val", "test")


def split_sizes(n: int, train_frac: float = 0.6, val_frac: float = 0.2) -> tuple[int, int, int]:
    """(train, val, test) sizes for `n` sessions: round() of the fractions, every part >= 1."""
    if n < 3:
        raise DataError(f"a persona needs at least 3 sessions to split, got {n}")
    n_train = max(1, round(n * train_frac))
    n_val = max(1, round(n * val_frac))
    while n_train + n_val > n - 1:  # keep at least one test session
        if n_train >= n_val and n_train > 1:
            n_train -= 1
        else:
            n_val -= 1
    return n_train, n_val, n - n_train - n_val


def _sessions_by_persona(dialogs: list[dict]) -> dict[str, list[int]]:
    by_persona: dict[str, list[int]] = defaultdict(list)
    for d in dialogs:
        by_persona[d["persona_id"]].append(d["session_id"])
    return by_persona


def make_splits(dialogs: list[dict], train_frac: float = 0.6, val_frac: float = 0.2) -> dict:
    """Split every persona's dialogues in session order (sorted by session_id)."""
    if not (0 < train_frac < 1 and 0 < val_frac < 1 and train_frac + val_frac < 1):
        raise ValueError(
            f"need 0 < train_frac, val_frac and train_frac + val_frac < 1, got {train_frac}, {val_frac}"
        )
    personas = {}
    for pid, sids in sorted(_sessions_by_persona(dialogs).items()):
        ordered = sorted(sids)
        if len(set(ordered)) != len(ordered):
            dup = sorted({s for s in ordered if ordered.count(s) > 1})
            raise DataError(f"{pid}: duplicate session ids {dup}")
        try:
            n_train, n_val, _ = split_sizes(len(ordered), train_frac, val_frac)
        except DataError as exc:
            raise DataError(f"{pid}: {exc}") from None
        personas[pid] = {
            "train": ordered[:n_train],
            "val": ordered[n_train : n_train + n_val],
            "test": ordered[n_train + n_val :],
        }
    if not personas:
        raise DataError("no dialogues to split")
    return {
        "fractions": {"train": train_frac, "val": val_frac, "test": round(1 - train_frac - val_frac, 10)},
        "personas": personas,
    }


def with_first_sessions(splits: dict, n: int) -> dict:
    """`splits` with every persona's train split cut to its FIRST `n` sessions (a new user's first
    sessions, history.cold_start_sessions: what it retrieves from and trains on); val and test
    unchanged."""
    if n < 1:
        raise ValueError(f"{n} first sessions: need at least 1")
    personas = {
        pid: {**parts, "train": sorted(parts["train"])[:n]} for pid, parts in splits["personas"].items()
    }
    return {**splits, "personas": personas}


def with_budget(splits: dict, budget: int) -> dict:
    """`splits` with every persona's train split cut to its `budget` most recent sessions (the ones
    just before val: what a deployed assistant would have after `budget` sessions of a user's
    history); val and test unchanged, so every budget is scored on the same turns. The cut is
    recorded as "train_sessions"."""
    if budget < 1:
        raise ValueError(f"a budget of {budget} train sessions: need at least 1")
    personas = {}
    for pid, parts in splits["personas"].items():
        if len(parts["train"]) < budget:
            raise DataError(f"{pid} has {len(parts['train'])} train sessions, fewer than the budget {budget}")
        personas[pid] = {**parts, "train": sorted(parts["train"])[-budget:]}
    return {**splits, "train_sessions": budget, "personas": personas}


def validate_splits(splits: dict, dialogs: list[dict]) -> dict:
    """Check a splits object against the dialogues; return a report, raise `DataError` on any failure.

    Checks: every split of every persona non-empty; no session in two splits (or twice in one); temporal
    order (max train < min val and max val < min test); every dialogue assigned exactly once and no
    split entry without a dialogue; the same personas in both.
    """
    problems: list[str] = []
    checks = {"non_empty": True, "no_overlap": True, "temporal_order": True, "all_assigned_once": True}
    parts_by_persona = splits.get("personas") if isinstance(splits, dict) else None
    if not isinstance(parts_by_persona, dict):
        raise DataError('splits: missing "personas" object')
    available = _sessions_by_persona(dialogs)
    counts = dict.fromkeys(SPLIT_NAMES, 0)
    per_persona = {name: [] for name in SPLIT_NAMES}

    for pid in sorted(set(available) - set(parts_by_persona)):
        checks["all_assigned_once"] = False
        problems.append(f"{pid}: has dialogues but no splits")
    for pid in sorted(set(parts_by_persona) - set(available)):
        checks["all_assigned_once"] = False
        problems.append(f"{pid}: in splits but has no dialogues")

    for pid in sorted(parts_by_persona):
        parts = parts_by_persona[pid]
        if not isinstance(parts, dict) or not all(isinstance(parts.get(n), list) for n in SPLIT_NAMES):
            problems.append(f"{pid}: needs train/val/test lists")
            checks["non_empty"] = False
            continue
        for name in SPLIT_NAMES:
            counts[name] += len(parts[name])
            per_persona[name].append(len(parts[name]))
            if not parts[name]:
                checks["non_empty"] = False
                problems.append(f"{pid}: {name} split is empty")
        assigned = [s for name in SPLIT_NAMES for s in parts[name]]
        if len(set(assigned)) != len(assigned):
            checks["no_overlap"] = False
            dup = sorted({s for s in assigned if assigned.count(s) > 1})
            problems.append(f"{pid}: sessions {dup} assigned more than once")
        tr, va, te = parts["train"], parts["val"], parts["test"]
        if tr and va and te and not (max(tr) < min(va) and max(va) < min(te)):
            checks["temporal_order"] = False
            problems.append(
                f"{pid}: not in temporal order "
                f"(train max {max(tr)}, val {min(va)}..{max(va)}, test min {min(te)})"
            )
        if pid in available:
            have = set(available[pid])
            missing = sorted(have - set(assigned))
            extra = sorted(set(assigned) - have)
            if missing:
                checks["all_assigned_once"] = False
                problems.append(f"{pid}: sessions {missing} not assigned to any split")
            if extra:
                checks["all_assigned_once"] = False
                problems.append(f"{pid}: split sessions {extra} have no dialogue")

    if problems:
        shown = "; ".join(problems[:20]) + (
            f"; ... ({len(problems) - 20} more)" if len(problems) > 20 else ""
        )
        raise DataError(f"invalid splits: {shown}")
    return {
        "ok": True,
        "personas": len(parts_by_persona),
        "dialogues": sum(counts.values()),
        "counts": counts,
        "per_persona": {name: {"min": min(v), "max": max(v)} for name, v in per_persona.items()},
        "checks": checks,
    }


def split_dialogs(
    dialogs: list[dict], splits: dict, split_name: str, personas: list[str] | None = None
) -> list[dict]:
    """The dialogues of `split_name` for `personas` (default: all personas of the splits), ordered by
    persona id, then session id."""
    if split_name not in SPLIT_NAMES:
        raise ValueError(f"unknown split {split_name!r}; expected one of {list(SPLIT_NAMES)}")
    parts_by_persona = splits["personas"]
    wanted = sorted(parts_by_persona) if personas is None else sorted(set(personas))
    unknown = [p for p in wanted if p not in parts_by_persona]
    if unknown:
        raise DataError(f"personas not in splits: {unknown[:10]}")
    index = {(d["persona_id"], d["session_id"]): d for d in dialogs}
    out = []
    for pid in wanted:
        for sid in sorted(parts_by_persona[pid][split_name]):
            try:
                out.append(index[(pid, sid)])
            except KeyError:
                raise DataError(f"{pid}: session {sid} of split {split_name} has no dialogue") from None
    return out
