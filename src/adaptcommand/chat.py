"""Talk to a trained method: the evaluation's model, prompt builder and generation, for one user.

A finished run describes every scored method in a *method card* per run (training seed),
``results/methods/<method>/seed<s>.json`` (``untrained.json`` for the base; rule method_card): the
base model, the adapter merged into it first, the adapter of every persona
(new users included where the method serves them), the prompt settings and, for the history method,
where its past exchanges are retrieved from. `Assistant` loads one persona's model from a card
exactly as the evaluation builds it (`evaluate.run.build_method_model`), renders the conversation
with `prompts.generation_prompt` and answers with `evaluate.generate.generate` (greedy). Routing's
card names, per persona, the method chosen on val; that method's card is loaded.

    from adaptcommand.chat import Assistant
    bot = Assistant.load("hybrid", "persona_003", workdir="path/to/finished/run")
    bot.reply("make it cosy for reading")
    bot.reply("a bit warmer", history=[{"role": "user", "text": "..."}, {"role": "assistant", "text": "..."}])

The command line (`adaptcommand chat --help`) does the same for one message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from adaptcommand.layout import CARDS

__all__ = [
    "ChatError",
    "Assistant",
    "card",
    "card_path",
    "load_card",
    "reply",
    "read_history",
    "write_card",
]


class ChatError(ValueError):
    """A request `chat` cannot serve; the message says what to run or choose instead."""


def card_path(workdir: str | Path, method: str, run: str) -> Path:
    return Path(workdir) / CARDS / method / f"{run}.json"


def _available(workdir: Path) -> list[str]:
    return (
        sorted(p.name for p in (workdir / CARDS).iterdir() if p.is_dir())
        if (workdir / CARDS).is_dir()
        else []
    )


def load_card(workdir: str | Path, method: str, seed: int | str | None = None) -> dict:
    """The card of `method` in the run at `workdir`: of training seed `seed` (default: its first
    seed), or of its untrained run; a clear `ChatError` if there is none."""
    workdir = Path(workdir)
    cards = sorted(
        (workdir / CARDS / method).glob("*.json"), key=lambda p: (p.stem != "untrained", len(p.stem), p.stem)
    )
    if seed is not None:
        wanted = card_path(workdir, method, f"seed{seed}")
        if wanted.exists():
            return _read_card(wanted, workdir)
        if cards and cards[0].stem != "untrained":
            raise ChatError(
                f"no seed {seed} of {method} in {workdir / CARDS / method} "
                f"(seeds of this run: {', '.join(p.stem.removeprefix('seed') for p in cards)})"
            )
    if cards:
        return _read_card(cards[0], workdir)
    known = _available(workdir)
    if not known:
        raise ChatError(
            f"no method cards in {workdir / CARDS}: run chat in a finished workflow directory (or pass "
            "--workdir), after `snakemake` (the cards are part of its default target)"
        )
    raise ChatError(
        f"no card for method {method!r} in {workdir / CARDS} (methods of this run: {', '.join(known)}). "
        f"If {method!r} is a method of workflow/methods.yaml, add it to eval.methods and run "
        f"`snakemake {CARDS}/{method}/seed<s>.json` with the run's --configfile: that builds its models"
    )


def _read_card(path: Path, workdir: Path) -> dict:
    from adaptcommand.rundir import remake_command

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ChatError(
            f"{path}: not a method card ({exc}); the workflow re-makes it: {remake_command(workdir)}"
        ) from None


def read_history(path: str | Path) -> list[dict]:
    """Earlier turns of the conversation: a JSON list (or JSON lines) of {"role": "user" |
    "assistant", "text": ...} ("content" is accepted for "text"), oldest first."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChatError(
            f"{path}: cannot be read as UTF-8 text ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    try:
        rows = json.loads(text)
    except json.JSONDecodeError:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            try:
                rows += [json.loads(line)] if line.strip() else []
            except json.JSONDecodeError as exc:
                raise ChatError(f"{path}:{n}: neither a JSON list nor JSON lines ({exc.msg})") from None
    if not isinstance(rows, list):
        raise ChatError(f"{path}: expected a list of messages")
    turns = []
    for i, m in enumerate(rows):
        role = m.get("role") if isinstance(m, dict) else None
        content = (m.get("text", m.get("content")) if isinstance(m, dict) else None) or ""
        if role not in ("user", "assistant") or not isinstance(content, str) or not content.strip():
            raise ChatError(f"{path}: message {i + 1} needs role user|assistant and a non-empty text")
        turns.append({"role": role, "text": content})
    return turns


def _resolve(workdir: Path, path: str) -> str:
    """A path of the card relative to the run directory; a Hub id stays as it is."""
    return str(workdir / path) if path and (workdir / path).exists() else path


@dataclass
class Assistant:
    """One persona's model of one method, loaded once; `reply` answers one message."""

    method: str
    persona: str
    card: dict
    workdir: Path
    model: object
    tokenizer: object
    adapter_name: str | None
    prompt_learning: bool
    character: str
    history_pool: list[dict] | None  # the persona's dialogues history is retrieved from (history method)

    @classmethod
    def load(
        cls, method: str, persona: str, workdir: str | Path = ".", seed: int | str | None = None
    ) -> Assistant:
        """`seed`: which training seed's models (default: the first of the run)."""
        workdir = Path(workdir)
        card = load_card(workdir, method, seed)
        if card.get("choices"):  # routing: the method chosen on val for this persona, of the same seed
            if persona not in card["choices"]:
                raise ChatError(_unknown_persona(method, persona, card["choices"]))
            card = load_card(workdir, card["choices"][persona], card["run"].removeprefix("seed"))
        routes = card["routes"]
        if persona not in routes:
            raise ChatError(_unknown_persona(method, persona, routes))
        adapter = routes[persona]
        from adaptcommand.manifests import DamagedAdapterError, check_stored

        try:  # the weights served are the ones their manifest recorded (deleted or damaged: refused)
            for stored in (adapter, card["merge"]):
                if stored:
                    check_stored(stored, workdir)
        except DamagedAdapterError as exc:
            raise ChatError(str(exc)) from None
        from adaptcommand.data.io import load_dialogs, load_splits  # (torch only for a valid request)
        from adaptcommand.evaluate.run import build_method_model
        from adaptcommand.retrieval import pool_of

        model, tokenizer, adapter_for, prompt_learning = build_method_model(
            _resolve(workdir, card["base"]),
            {persona: _resolve(workdir, adapter) if adapter else ""},
            _resolve(workdir, card["merge"]),
        )
        model.eval()
        # The dialogue file that holds the persona (its character, and the history pool's dialogues).
        mine = [d for d in load_dialogs(workdir / card["characters"][persona]) if d["persona_id"] == persona]
        pool = None
        if card.get("history"):
            spec = card["history"]["pools"][persona]
            splits = load_splits(workdir / spec["splits"])
            pool = pool_of(mine, splits, [persona], int(spec["pool_sessions"]))
        return cls(
            method=method,
            persona=persona,
            card=card,
            workdir=workdir,
            model=model,
            tokenizer=tokenizer,
            adapter_name=adapter_for(persona) if adapter_for else None,
            prompt_learning=prompt_learning,
            character=mine[0]["character"],
            history_pool=pool,
        )

    def _retrieved(self, dialog: dict) -> list[dict] | None:
        spec = self.card.get("history")
        if not spec:
            return None
        from adaptcommand.retrieval import dialog_query, minilm_encoder, retrieve_for_query

        query = dialog_query(dialog, int(spec["query_turns"]))
        return retrieve_for_query(query, self.history_pool, int(spec["k"]), minilm_encoder(spec["minilm"]))

    def prompt(self, message: str, history: list[dict] | None = None, context: dict | None = None) -> str:
        """The prompt text the model is given (the evaluation's prompt builder)."""
        from adaptcommand.prompts import PromptConfig, generation_prompt

        if not message.strip():
            raise ChatError("empty message")
        messages = list(history or []) + [
            {"role": "user", "text": message},
            {"role": "assistant", "text": ""},
        ]
        dialog = {
            "persona_id": self.persona,
            "session_id": -1,
            "character": self.character,
            "meta": dict(context or {}),
            "messages": messages,
        }
        pc = PromptConfig.from_section(self.card["prompt"], f"{CARDS}/{self.method}.json: prompt")
        return generation_prompt(self.tokenizer, dialog, len(messages) - 1, pc, self._retrieved(dialog))

    def reply(self, message: str, history: list[dict] | None = None, context: dict | None = None) -> str:
        """The assistant's next message after `history` (earlier turns) and the user's `message`;
        `context`: the session context the system message states (e.g. {"time_of_day": "evening"})."""
        from adaptcommand.evaluate.generate import generate

        (text,) = generate(
            self.model,
            self.tokenizer,
            [self.prompt(message, history, context)],
            max_new_tokens=int(self.card["max_new_tokens"]),
            batch_size=1,
            adapter_names=[self.adapter_name] if self.adapter_name else None,
            grouped=True,
            share_prefixes=not self.prompt_learning,
            desc="chat",
        )
        return text.strip()


def _unknown_persona(method: str, persona: str, routes: dict) -> str:
    valid = sorted(routes)
    return f"unknown persona {persona!r} for {method}: one of {', '.join(valid)}"


def reply(
    message: str,
    method: str,
    persona: str,
    workdir: str | Path = ".",
    history: list[dict] | None = None,
    context: dict | None = None,
    seed: int | str | None = None,
) -> str:
    """One answer (loads the model each call; keep an `Assistant` for a conversation)."""
    return Assistant.load(method, persona, workdir, seed).reply(message, history, context)


def card(
    *,
    method: str,
    about: str,
    run: str,
    base: str,
    serves: dict[str, list[str]],
    known: dict,
    new_users: dict,
    prompt: dict,
    max_new_tokens: int,
    history: dict | None = None,
) -> dict:
    """A method card (what rule method_card writes); paths relative to the run directory.

    `serves`: {manifest: the personas it serves} (adaptcommand.manifests): every persona's adapter and
    the adapter merged into the base come from the method's manifests; personas without one get the
    base (the base method). `known` / `new_users`: {personas, dialogs, splits} of the two populations
    (a method that cannot serve new users has none); `history` ({k, query_turns, minilm,
    cold_start_sessions}): where a history method retrieves from, per persona (a known persona's
    train split, a new user's first sessions)."""
    from adaptcommand.manifests import read_manifest, routes_of

    populations = [(known, 0), (new_users, (history or {}).get("cold_start_sessions", 0))]
    routes, merge = {p: "" for pop, _ in populations for p in pop["personas"]}, ""
    for path, served in serves.items():
        doc = read_manifest(path)
        routes.update(routes_of(doc, served))
        merge = doc["merge"]
    if history is not None:
        pools = {
            p: dict(splits=pop["splits"], pool_sessions=n) for pop, n in populations for p in pop["personas"]
        }
        history = {k: v for k, v in history.items() if k != "cold_start_sessions"} | {"pools": pools}
    return {
        "method": method,
        "about": about,
        "run": run,
        "base": base,
        "merge": merge,
        "routes": dict(sorted(routes.items())),
        "characters": dict(sorted((p, pop["dialogs"]) for pop, _ in populations for p in pop["personas"])),
        "prompt": prompt,
        "max_new_tokens": int(max_new_tokens),
        "history": history,
    }


def write_card(
    path: str | Path, spec: dict, choices: str | Path | None = None, log: str | Path | None = None
) -> dict:
    """Rule method_card: the card of `spec` (the `card` arguments), or for routing (`choices`: its
    results/routing/seed<s>/choices.json) the method chosen per persona; written atomically."""
    from adaptcommand.data.io import write_json_atomic

    if choices is not None:
        from adaptcommand.routing import chosen_methods

        doc = {**spec, "choices": chosen_methods(json.loads(Path(choices).read_text()))}
    else:
        doc = card(**spec)
    write_json_atomic(path, doc)
    if log is not None:
        n = len(doc.get("routes") or doc.get("choices") or {})
        Path(log).write_text(f"{doc['method']}: card for {n} personas -> {path}\n")
    return doc
