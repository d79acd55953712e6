"""Retrieval of a persona's own past exchanges for the `history` method (OPPU / LaMP style).

Candidates: the (user message, assistant reply) pairs of the SAME persona's TRAIN dialogues in which
the assistant sets at least one device setting (closed-schema action extraction, as in the metrics;
greetings, weather talk and thanks carry no preference). A persona without any such exchange falls back
to all of its train exchanges. A training dialogue never retrieves from itself. Val and test dialogues
are queries only, never candidates, and no persona ever sees another persona's exchanges.

Query (one per dialogue, the same definition for train, val and test): the dialogue's first
`query_turns` user messages, joined by newlines; the workflow sets query_turns = skip_assistant_turns
+ 1, i.e. every user message before the dialogue's first EVALUATED assistant turn. At evaluation these
messages precede every target of the dialogue (ground-truth context, never a reference); training
renders the same dialogue with the same retrieved exchanges, one example per dialogue. (The first
user message alone is usually a greeting, which retrieves greetings.)

Score: cosine of normalised all-MiniLM-L6-v2 embeddings of the query and the candidate's user
message; the top `k` are kept, best first (ties: older session first, then earlier turn). Exact
duplicate (user, assistant) pairs are kept once (the best-placed copy), so k slots hold k different
exchanges.

File format (``results/history/{split}.jsonl``), one row per dialogue of the split::

    {"persona_id": "persona_000", "session_id": 31, "split": "val", "query": "...",
     "exchanges": [{"session_id": 4, "turn_index": 2, "user": "...", "assistant": "...",
                    "score": 0.81}, ...]}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from adaptcommand.data.io import DataError, read_jsonl
from adaptcommand.data.splits import split_dialogs, with_first_sessions

__all__ = [
    "dialog_query",
    "candidate_exchanges",
    "pool_of",
    "retrieve_for_query",
    "retrieve_for_split",
    "load_history",
    "history_for",
    "minilm_encoder",
]

Encoder = Callable[[list[str]], "object"]  # texts -> (n, d) array-like of L2-normalised rows


def dialog_query(dialog: dict, query_turns: int = 1) -> str:
    """The retrieval query of a dialogue: its first `query_turns` user messages, one a line."""
    users = [m["text"] for m in dialog["messages"] if m["role"] == "user"][:query_turns]
    if not users:
        raise DataError(f"{dialog['persona_id']} session {dialog['session_id']}: no user message")
    return "\n".join(users)


def candidate_exchanges(dialogs: Sequence[dict], actionable_only: bool = True) -> list[dict]:
    """(user message, next assistant reply) pairs of `dialogs`, in dialogue then turn order.

    With `actionable_only`, per persona only the pairs whose reply sets a device setting, unless the
    persona has none (then all of its pairs).
    """
    out = []
    for d in dialogs:
        msgs = d["messages"]
        for i in range(len(msgs) - 1):
            if msgs[i]["role"] == "user" and msgs[i + 1]["role"] == "assistant":
                out.append(
                    {
                        "persona_id": d["persona_id"],
                        "session_id": d["session_id"],
                        "turn_index": i,
                        "user": msgs[i]["text"],
                        "assistant": msgs[i + 1]["text"],
                    }
                )
    if not actionable_only:
        return out
    from adaptcommand.metrics.parser import extract_actions

    acting = [bool(extract_actions(c["assistant"])) for c in out]
    with_actions = {c["persona_id"] for c, a in zip(out, acting, strict=True) if a}
    return [c for c, a in zip(out, acting, strict=True) if a or c["persona_id"] not in with_actions]


def minilm_encoder(model_path: str = "", batch_size: int = 128) -> Encoder:
    """texts -> normalised MiniLM embeddings (numpy), the encoder of the similarity metric."""
    from adaptcommand.metrics.text import _encoder, minilm_path

    encoder = _encoder(minilm_path(model_path))

    def encode(texts: list[str]):
        return encoder.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )

    return encode


def _top_k(query_vec, pool: list[dict], pool_vecs, k: int, exclude_session: int | None) -> list[dict]:
    import numpy as np

    scores = np.asarray(pool_vecs) @ np.asarray(query_vec)
    order = sorted(
        range(len(pool)),
        key=lambda i: (-float(scores[i]), pool[i]["session_id"], pool[i]["turn_index"]),
    )
    picked, seen = [], set()
    for i in order:
        c = pool[i]
        if exclude_session is not None and c["session_id"] == exclude_session:
            continue
        key = (c["user"], c["assistant"])
        if key in seen:
            continue
        seen.add(key)
        picked.append(
            {
                "session_id": c["session_id"],
                "turn_index": c["turn_index"],
                "user": c["user"],
                "assistant": c["assistant"],
                "score": round(float(scores[i]), 6),
            }
        )
        if len(picked) == k:
            break
    return picked


def pool_of(dialogs: list[dict], splits: dict, personas: list[str], pool_sessions: int = 0) -> list[dict]:
    """The train dialogues of `personas` that exchanges are retrieved from (with `pool_sessions` > 0,
    each persona's first that many train sessions only)."""
    if pool_sessions > 0:
        splits = with_first_sessions(splits, pool_sessions)
    return split_dialogs(dialogs, splits, "train", personas)


def retrieve_for_query(
    query: str, pool_dialogs: list[dict], k: int, encode: Encoder, actionable_only: bool = True
) -> list[dict]:
    """The top-`k` exchanges of `pool_dialogs` (one persona's, see `pool_of`) for a new query text,
    scored as `retrieve_for_split` scores a dialogue's query (what `adaptcommand chat` retrieves)."""
    import numpy as np

    pool = candidate_exchanges(pool_dialogs, actionable_only)
    if not pool:
        raise DataError("no train exchanges to retrieve from")
    pool_vecs = np.asarray(encode([c["user"] for c in pool]))
    return _top_k(np.asarray(encode([query]))[0], pool, pool_vecs, k, exclude_session=None)


def retrieve_for_split(
    dialogs: list[dict],
    splits: dict,
    split: str,
    personas: list[str],
    k: int,
    query_turns: int = 1,
    encode: Encoder | None = None,
    actionable_only: bool = True,
    pool_sessions: int = 0,
) -> list[dict]:
    """One row per dialogue of `split` (for `personas`): its query and top-`k` TRAIN exchanges.

    The candidate pool is built from ``split_dialogs(..., "train", ...)`` only, per persona; for
    split == "train" the query dialogue itself is excluded from its own pool. `pool_sessions` > 0
    keeps only each persona's first that many train sessions (a new user's first sessions).
    """
    import numpy as np

    if k < 1 or query_turns < 1:
        raise ValueError(f"need k >= 1 and query_turns >= 1, got k={k}, query_turns={query_turns}")
    encode = encode or minilm_encoder()
    if pool_sessions > 0 and split == "train":
        raise ValueError("pool_sessions limits the pool of val or test queries, not of train ones")
    pool_dialogs = pool_of(dialogs, splits, personas, pool_sessions)
    queries = pool_dialogs if split == "train" else split_dialogs(dialogs, splits, split, personas)

    pool = candidate_exchanges(pool_dialogs, actionable_only)
    texts = [dialog_query(d, query_turns) for d in queries]
    # One encoder call for every candidate and one for every query (rows are L2-normalised).
    pool_vecs = np.asarray(encode([c["user"] for c in pool]))
    query_vecs = np.asarray(encode(texts))
    by_persona: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(pool):
        by_persona[c["persona_id"]].append(i)
    rows = []
    for d, text, qv in zip(queries, texts, query_vecs, strict=True):
        pid = d["persona_id"]
        mine = by_persona.get(pid)
        if not mine:
            raise DataError(f"{pid}: no train exchanges to retrieve from")
        rows.append(
            {
                "persona_id": pid,
                "session_id": d["session_id"],
                "split": split,
                "query": text,
                "exchanges": _top_k(
                    qv,
                    [pool[i] for i in mine],
                    pool_vecs[mine],
                    k,
                    exclude_session=d["session_id"] if split == "train" else None,
                ),
            }
        )
    return rows


def load_history(*paths: str) -> dict[tuple[str, int], list[dict]]:
    """{(persona_id, session_id): exchanges} from one or more ``results/history/{split}.jsonl``."""
    out: dict[tuple[str, int], list[dict]] = {}
    for path in paths:
        for lineno, row in read_jsonl(path):
            key = (row["persona_id"], int(row["session_id"]))
            if key in out:
                raise DataError(f"{path}:{lineno}: {key} retrieved twice")
            out[key] = row["exchanges"]
    return out


def history_for(history: dict[tuple[str, int], list[dict]] | None, dialog: dict) -> list[dict] | None:
    """The retrieved exchanges of `dialog` (None without history); a missing entry is an error."""
    if history is None:
        return None
    key = (dialog["persona_id"], int(dialog["session_id"]))
    try:
        return history[key]
    except KeyError:
        raise DataError(f"no retrieved history for {key}") from None
