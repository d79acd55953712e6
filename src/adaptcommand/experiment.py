"""The experiment a validated config describes, as the workflow's input functions see it.

Who learns (the known personas) and who is served as a new user, the seeds, the method table; and
from them what a method's manifest is made of (`manifest_sources`, `manifest_spec`) and what its
method card holds (`card_inputs`, `card`). rules/common.smk makes one `Experiment` and hands it
wildcards' values; nothing here reads files or needs a model library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from adaptcommand import layout, scheduling
from adaptcommand.data.splits import split_sizes
from adaptcommand.layout import CLEAN, NEW_DIALOGS, NEW_SPLITS, SPLITS
from adaptcommand.methods import has_history, kind_of, recipe_section
from adaptcommand.personas import persona_sets
from adaptcommand.settings import plain

__all__ = ["Experiment", "history_budgets", "train_sessions"]


def train_sessions(config: dict) -> int:
    """The train sessions of every persona (data.sessions_per_persona cut by the split fractions)."""
    split = config["split"]
    return split_sizes(config["data"]["sessions_per_persona"], split["train_frac"], split["val_frac"])[0]


def history_budgets(config: dict) -> list[int | None]:
    """train.sessions as budgets, ascending: N (each persona's N most recent train sessions) or None for
    the whole train split ("all", or N equal to it), which comes last. Raises ValueError for a budget
    beyond the train split (config_checks reports it with the key)."""
    full = train_sessions(config)
    budgets = set()
    for value in config["train"].get("sessions", ["all"]):
        if value != "all" and int(value) > full:
            raise ValueError(f"train.sessions: {value} is more than the {full} train sessions of a persona")
        budgets.add(None if value in ("all", full) else int(value))
    return sorted(budgets, key=lambda b: (b is None, b or 0))


@dataclass(frozen=True)
class Experiment:
    """A validated config and its method table (workflow/methods.yaml plus the config's variants)."""

    config: dict
    table: dict[str, dict]

    @cached_property
    def _persona_sets(self) -> tuple[list[str], list[str]]:
        sets = self.config["personas"]
        return persona_sets(self.config["data"]["n_personas"], sets["evaluate"], sets["cold_start"])

    @property
    def personas(self) -> list[str]:
        """The known personas: everything learns from them."""
        return self._persona_sets[0]

    @property
    def new_users(self) -> list[str]:
        """The last personas, held out of everything that learns and evaluated as new users."""
        return self._persona_sets[1]

    @cached_property
    def budgets(self) -> list[int | None]:
        """The budgets of a user's history (train.sessions, `history_budgets`), the largest last."""
        return history_budgets(self.config)

    def draws(self, budgets: list[int | None] | None = None) -> list[str]:
        """The values of the {seed} wildcard: every seed at every budget of `budgets` (default all),
        budget by budget (layout.draw)."""
        seeds = self.config["train"]["seeds"]
        return [layout.draw(s, b) for b in (self.budgets if budgets is None else budgets) for s in seeds]

    @property
    def full_draws(self) -> list[str]:
        """The draws at the largest budget: what the summary, the controls, the new users and the
        method cards are made of (today's comparison when the full history is a budget)."""
        return self.draws(self.budgets[-1:])

    @staticmethod
    def learned_from(draw: str) -> dict[str, str]:
        """{splits, history_train, history_val}: the files a job of `draw` (the {seed} wildcard: a seed,
        with its budget) learns from: the budget's splits and the exchanges retrieved from them."""
        budget = layout.budget_of(draw)
        history = {f"history_{s}": layout.history(s, budget) for s in ("train", "val")}
        return dict(splits=layout.splits(budget), **history)

    def runs(self, method: str, split: str = "test", budgets: list[int | None] | None = None) -> list[str]:
        """The runs of `method` on evaluation set `split`: per seed and budget if it learns (a control,
        and every method on the new users, at the largest budget only), else one untrained run."""
        largest = self.budgets[-1:]
        if budgets is None:
            curve = split != layout.COLD and self.table[method]["role"] == "method"
            budgets = self.budgets if curve else largest
        return layout.runs(self.table[method], self.draws(budgets))

    @cached_property
    def recipes(self) -> dict[str, dict]:
        """{trained method: its recipe}, the section of train each trains with (methods.recipe_section:
        its own, the table's `recipe`, or train.prefix), as the training rules pass it on."""
        return {
            m: plain(self.config["train"][recipe_section(m, e)])
            for m, e in self.table.items()
            if kind_of(e).trains
        }

    @property
    def prompt(self) -> dict:
        """The prompt section, as every rule passes it to the library (settings.PromptConfig)."""
        return plain(self.config["prompt"])

    def prompt_of(self, method: str) -> dict:
        """The prompt section of `method`'s training and evaluation: the run's, with the persona's text
        in the system message where its table row says so (prompt: [persona])."""
        persona = "persona" in self.table[method]["prompt"]
        return plain(self.config["prompt"] | ({"persona_in_system": True} if persona else {}))

    def start_kind(self, method: str) -> str:
        """How `method` starts (table `start`): "" from the base; "merge" from one adapter for everybody
        (e.g. unified) merged into the base, frozen, and served that way; "fold" per persona from the
        start method's adapter of the same persona, folded into its own adapter when saved
        (train.lora.train_adapters `starts`: merge-then-adapt)."""
        start = self.table[method]["start"]
        if start == "base":
            return ""
        return "merge" if self.table[start]["scope"] == layout.ALL else "fold"

    def on_unified(self, method: str) -> bool:
        """`method` is trained on, and served from, a frozen shared model (start_kind "merge")."""
        return self.start_kind(method) == "merge"

    def start_adapter(self, method: str, seed: int | str, population: str = "adapters") -> str:
        """What `method` starts from: the shared adapter merged into the base, or (start_kind "fold")
        the start method's manifest of `population` (the known personas or the new users)."""
        start = self.table[method]["start"]
        if self.start_kind(method) == "fold":
            return layout.manifest(start, seed, population)
        return layout.unit_dir(start, seed, layout.ALL)

    def adapting_inputs(self, method: str) -> dict[str, str]:
        """The data and start of the training of `method` on the new users (cold_start adapt): their
        dialogues and splits (the first history.cold_start_sessions of their train split are trained
        on), each one's adapter of the start method (its new-user manifest)."""
        return self.eval_data(layout.COLD) | dict(start=self.start_adapter(method, "{seed}", "new_users"))

    @property
    def adapting(self) -> list[str]:
        """The evaluated methods that serve a new user by training on its first sessions from their
        start's adapter for it (table cold_start: adapt; rule train_<method>_new_users)."""
        return [m for m in self.new_user_methods if self.table[m]["cold_start"] == "adapt"]

    @property
    def new_user_methods(self) -> list[str]:
        """The methods that can serve a new user without training on them (table field cold_start)."""
        methods = self.config["eval"]["methods"]
        return [m for m in methods if self.new_users and self.table[m]["cold_start"] != "none"]

    @property
    def reused(self) -> set[str]:
        """The methods whose adapters other methods of the table take (merge or borrow: methods.Kind)."""
        kinds = [kind_of(entry) for entry in self.table.values()]
        return {k.merges or k.borrows for k in kinds} - {""}

    @property
    def scored(self) -> list[str]:
        """The methods, then the controls (scored exactly like methods, never ranked as methods)."""
        return self.config["eval"]["methods"] + self.config["eval"]["controls"]

    @property
    def routed(self) -> list[str]:
        """The evaluated methods that compose their candidates' predictions (routing kind)."""
        return [m for m in self.config["eval"]["methods"] if not kind_of(self.table[m]).generates]

    @property
    def evaluated(self) -> dict[str, list[str]]:
        """{evaluation set: the methods evaluated on it}: val the routing candidates (when something
        routes), test every scored method, cold_start the methods that serve new users."""
        val = self.config["routing"]["candidates"] if self.routed else []
        return {"val": val, "test": self.scored, layout.COLD: self.new_user_methods}

    @cached_property
    def eval_packs(self) -> dict[str, dict[str, list[str]]]:
        """{split: {label: methods}} evaluated one pack per job and seed (resources.eval_pack_size;
        scheduling.eval_packs); variants keep a job each (adding one re-runs only it)."""
        variants = self.config["variants"]
        return scheduling.eval_packs(
            {s: [m for m in ms if m not in variants] for s, ms in self.evaluated.items()},
            self.table,
            self.config["resources"]["eval_pack_size"],
        )

    def check_rules(self, families: set[str]) -> None:
        """Raise ValueError unless every rule the table names is one of the workflow's rule
        `families` (a rule's name, or a pack rule's "<family>.<label>" before the dot)."""
        for name, entry in self.table.items():
            missing = [r for r in entry["rules"] if r not in families]
            if missing:
                raise ValueError(f"workflow/methods.yaml: {name}.rules names no rule {missing}")

    # ---- evaluation sets (rules/eval.smk) ----------------------------------------------------------

    def eval_data(self, split: str) -> dict[str, str]:
        """{dialogs, splits}: the files of the personas of evaluation set `split`."""
        if split == layout.COLD:
            return dict(dialogs=NEW_DIALOGS, splits=NEW_SPLITS)
        return dict(dialogs=CLEAN, splits=SPLITS)

    @staticmethod
    def data_split(split: str) -> str:
        """The split of the data an evaluation set reads (the new users' test split for cold_start)."""
        return "test" if split == layout.COLD else split

    def eval_personas(self, split: str) -> list[str]:
        """The personas of evaluation set `split`."""
        return self.new_users if split == layout.COLD else self.personas

    def history_for(self, method: str, split: str, run: str | None = None) -> list[str]:
        """The split's retrieved exchanges (from the train sessions of the run's budget), for a method
        with history in its prompts ([] otherwise)."""
        if not has_history(self.table[method]):
            return []
        known = run and split != layout.COLD  # (new users retrieve from their own first sessions)
        return [layout.history(split, layout.budget_of(run) if known else None)]

    def eval_members(self, methods, split: str, run: str) -> dict[str, dict[str, str]]:
        """params.members of an evaluation job: {method: {manifest, history}} (paths, "" = none), and
        `prompt` for a method whose prompt is not the run's (`prompt_of`)."""
        members = {}
        for m in methods:
            manifest = layout.manifest_for(m, self.table[m], split, run)
            history = self.history_for(m, split, run)
            members[m] = dict(manifest=(manifest or [""])[0], history=(history or [""])[0])
            if self.prompt_of(m) != self.prompt:
                members[m]["prompt"] = self.prompt_of(m)
        return members

    # ---- manifests (rules/adapters.smk) ------------------------------------------------------------

    def manifest_sources(
        self, method: str, population: str, seed: str, clusters: Callable[[], tuple[list[str], str]]
    ) -> dict:
        """The adapter directories (or manifests and assignments) of the manifest of `population`
        ("adapters": the known personas; "new_users") of `method` and `seed`. `clusters()` gives the
        seed's (cluster ids, assignments file); it is called for a cluster-scope method only (it waits
        for the clustering checkpoint)."""
        entry = self.table[method]
        if population == "new_users":
            if entry["cold_start"] == "nearest_cluster":
                assignments = layout.new_user_assignment(seed, "assignments.json")
                return dict(known=layout.manifest(method, seed), assignments=assignments)
            return dict(units=[layout.unit_dir(method, seed, p) for p in self.new_users])
        borrows = kind_of(entry).borrows
        if borrows:
            return dict(borrowed=layout.manifest(borrows, seed))
        if entry["scope"] == "all":
            return dict(units=[layout.unit_dir(method, seed, layout.ALL)])
        if entry["scope"] == "persona":
            return dict(units=[layout.unit_dir(method, seed, p) for p in self.personas])
        ids, assignments = clusters()
        return dict(units=[layout.unit_dir(method, seed, c) for c in ids], assignments=assignments)

    def manifest_spec(self, method: str, population: str, seed: str) -> dict:
        """Who a manifest serves, and the table fields that decide how (its kind, scope, cold start;
        an edit of a method's description re-runs nothing)."""
        entry = self.table[method]
        new = population == "new_users"
        merge = self.on_unified(method) and not new
        return dict(
            method=method,
            entry={k: entry[k] for k in ("adapter", "scope", "cold_start")},
            personas=self.new_users if new else self.personas,
            merge=self.start_adapter(method, seed) if merge else "",
        )

    # ---- what a finished run holds (adaptcommand.integrity) --------------------------------------

    def stored(self) -> tuple[list[str], list[str]]:
        """(every manifest the run makes, every evaluation and routing file its comparison is made
        from): of each evaluated method, per seed and evaluation set, and of the methods they take
        adapters from."""
        manifests, results = set(), set()
        for split, methods in self.evaluated.items():
            for m in methods:
                runs = self.runs(m, split)
                for run in runs:
                    manifests.update(layout.manifest_for(m, self.table[m], split, run))
                    results.update(layout.eval_files(split, m, run).values())
                kind = kind_of(self.table[m])
                source = kind.merges or kind.borrows
                manifests.update(layout.manifest(source, layout.draw_of(r)) for r in runs if source)
        for draw in self.draws() if self.routed else []:
            results.update(layout.routing(layout.run_of(draw), f) for f in ("oracle", "choices"))
        return sorted(manifests), sorted(results)

    # ---- method cards (rules/eval.smk) -------------------------------------------------------------

    def card_manifests(self, method: str, run: str) -> dict[str, list[str]]:
        """{manifest: the personas it serves on the card} ({} for a method without adapters)."""
        serves, entry = {}, self.table[method]
        new = self.new_users if method in self.new_user_methods else []
        for split, personas in (("test", self.personas), (layout.COLD, new)):
            for path in layout.manifest_for(method, entry, split, run) * bool(personas):
                serves[path] = serves.get(path, []) + personas
        return serves

    def card_inputs(self, method: str, run: str, base: list[str]) -> dict:
        """A card's inputs: the method's manifests, the data the chat reads and `base` (the base model
        directory when the workflow builds it); for routing the run's choices and its candidates'
        cards."""
        if not kind_of(self.table[method]).generates:
            cards = [layout.card(c, run) for c in self.config["routing"]["candidates"]]
            return dict(choices=layout.routing(run, "choices"), cards=cards)
        new = method in self.new_user_methods
        return dict(
            base=base,
            manifests=list(self.card_manifests(method, run)),
            dialogs=[CLEAN, SPLITS] + ([NEW_DIALOGS, NEW_SPLITS] if new else []),
        )

    def card(self, method: str, run: str, retrieval: dict) -> dict:
        """The card's content (adaptcommand.chat.card), paths relative to the run directory;
        `retrieval`: how history is retrieved (rules/history.smk)."""
        entry, config = self.table[method], self.config
        if not kind_of(entry).generates:
            return dict(method=method, about=entry["about"], run=run)
        history = retrieval | {"cold_start_sessions": config["history"]["cold_start_sessions"]}
        return dict(
            method=method,
            about=entry["about"],
            run=run,
            base=config["model"]["base"],
            serves=self.card_manifests(method, run),
            known=dict(personas=self.personas, dialogs=CLEAN, splits=SPLITS),
            new_users=dict(
                personas=self.new_users if method in self.new_user_methods else [],
                dialogs=NEW_DIALOGS,
                splits=NEW_SPLITS,
            ),
            prompt=self.prompt_of(method),
            max_new_tokens=config["eval"]["max_new_tokens"],
            history=history if has_history(entry) else None,
        )
