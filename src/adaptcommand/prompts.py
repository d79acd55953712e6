"""The one prompt builder, shared by training and evaluation.

A dialogue becomes chat messages: a system message (fixed instruction, optionally the persona's
character text and the session context), then the dialogue's user/assistant turns. Training renders a
whole dialogue and puts the loss on assistant tokens only; evaluation renders the last N messages
before a target assistant turn and asks for the next assistant message. Both go through the
tokenizer's own chat template, so the format the model is trained on is the format it is tested on.

Optionally (the `history` method) the user's own retrieved past exchanges go into the system message,
at training and evaluation alike; without them every prompt is exactly what it was before.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from adaptcommand.schema import DEFAULT_SYSTEM_PROMPT
from adaptcommand.settings import Section

IGNORE_INDEX = -100
HISTORY_HEADER = "Past exchanges with this user:"


@dataclass(frozen=True)
class PromptConfig(Section):
    """The config's `prompt` section (`PromptConfig.from_section(config["prompt"])`)."""

    system: str = DEFAULT_SYSTEM_PROMPT
    persona_in_system: bool = False  # one switch, applied to training and evaluation alike
    include_context: bool = True  # session meta (time of day, weather, ...) in the system message
    context_messages: int = 10  # evaluation: last N ground-truth messages before the target
    max_length: int = 512  # training: tokens per example (oldest turns dropped first)


class ControlTokenError(ValueError):
    """A text (of the data or of a chat) holding one of the model's control tokens."""


@functools.lru_cache(maxsize=8)  # (asked once per prompt: the tokenizer's tokens do not change)
def control_tokens(tokenizer) -> tuple[str, ...]:
    """The tokenizer's special tokens (turn markers, end of text, ...): every string it would read as
    one control token id instead of as text."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens = set(tokenizer.all_special_tokens) | {t.content for t in added.values() if t.special}
    return tuple(sorted(t for t in tokens if t))


def check_text(tokenizer, messages: list[dict], where: str) -> None:
    """Refuse `messages` (chat messages) where a text holds a control token of `tokenizer`: rendered,
    it would become that token, and a user's message could end its turn and forge the assistant's.
    Refused rather than escaped: the data validator refuses the same (data.clean), so training and
    evaluation never see such a text, and a chat request fails with this one line."""
    tokens = control_tokens(tokenizer)
    for i, m in enumerate(messages):
        found = [t for t in tokens if t in m["content"]]
        if found:
            raise ControlTokenError(
                f"{where}: the {m['role']} text (message {i}) holds the model's control token {found[0]!r}: "
                "text is never allowed to open or end a turn"
            )


def history_block(history: list[dict]) -> str:
    """'Past exchanges with this user:' then one 'User: ...' / 'Assistant: ...' pair per exchange."""
    lines = [HISTORY_HEADER]
    for ex in history:
        lines += [f"User: {ex['user']}", f"Assistant: {ex['assistant']}"]
    return "\n".join(lines)


def system_message(dialog: dict, pc: PromptConfig, history: list[dict] | None = None) -> dict:
    parts = [pc.system]
    if pc.persona_in_system:
        parts.append(f"About the user: {dialog['character']}")
    if pc.include_context and dialog["meta"]:  # (a chat message may come without a session context)
        meta = dialog["meta"]
        parts.append("Context: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in meta.items()) + ".")
    if history:
        parts.append(history_block(history))
    return {"role": "system", "content": "\n".join(parts)}


def system_turn_ids(tokenizer, pc: PromptConfig) -> list[int]:
    """Token ids of the chat template's system turn with the fixed instruction (no persona, context or
    history): what every prompt starts with (prefix tuning starts from their key/values)."""
    text = tokenizer.apply_chat_template([{"role": "system", "content": pc.system}], tokenize=False)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def chat_messages(
    dialog: dict, pc: PromptConfig, messages: list[dict] | None = None, history: list[dict] | None = None
) -> list[dict]:
    turns = dialog["messages"] if messages is None else messages
    return [system_message(dialog, pc, history)] + [{"role": m["role"], "content": m["text"]} for m in turns]


def context_start(messages: list[dict], turn_index: int, context_messages: int) -> int:
    """First message of the context of target `turn_index`: at most `context_messages` messages back,
    and always a user message (as every training example starts), so a sliding window never opens
    with an assistant turn."""
    start = max(0, turn_index - context_messages)
    while start < turn_index and messages[start]["role"] != "user":
        start += 1
    return start


def generation_prompt(
    tokenizer, dialog: dict, turn_index: int, pc: PromptConfig, history: list[dict] | None = None
) -> str:
    """Prompt text for predicting message `turn_index` (an assistant turn) of `dialog`.

    `history`: retrieved past exchanges of the user for the system message (None = none).
    """
    start = context_start(dialog["messages"], turn_index, pc.context_messages)
    msgs = chat_messages(dialog, pc, dialog["messages"][start:turn_index], history)
    check_text(tokenizer, msgs, _where(dialog))
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def _where(dialog: dict) -> str:
    return f"{dialog.get('persona_id', 'chat')} session {dialog.get('session_id', '-')}"


def training_example(
    tokenizer, dialog: dict, pc: PromptConfig, history: list[dict] | None = None
) -> dict[str, list[int]]:
    """One example per dialogue: input_ids and labels with the loss on assistant tokens only.

    Assistant content and its end-of-turn token are labelled; system, user and the role headers are
    IGNORE_INDEX. If the dialogue is longer than max_length, the oldest messages are dropped (the
    system message stays) up to the next user turn, mirroring the evaluation's context window.
    `history` (retrieved past exchanges, in the system message) is never trained on and stays with
    the system message.
    """
    turns = dialog["messages"]
    # A window must hold an assistant message: dialogues often end with a user turn ("thanks!"), and
    # a window starting there would be an example without a single labelled token.
    last = max((i for i, m in enumerate(turns) if m["role"] == "assistant"), default=len(turns))
    check_text(tokenizer, chat_messages(dialog, pc, turns, history), _where(dialog))
    for start in [i for i, m in enumerate(turns) if m["role"] == "user" and i < last] or [0]:
        ids, labels = _render_with_labels(tokenizer, chat_messages(dialog, pc, turns[start:], history))
        if len(ids) <= pc.max_length:
            break
    else:
        ids, labels = ids[: pc.max_length], labels[: pc.max_length]
    return {"input_ids": ids, "labels": labels}


def _render_with_labels(tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    end_token = "<|im_end|>"
    spans, cursor = [], 0
    for m in messages:
        piece = m["content"] + end_token
        at = text.index(piece, cursor)
        if m["role"] == "assistant":
            spans.append((at, at + len(piece)))
        cursor = at + len(piece)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for tok, (a, b) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
        inside = any(s <= a and b <= e for s, e in spans) and b > a
        labels.append(tok if inside else IGNORE_INDEX)
    return list(enc["input_ids"]), labels
