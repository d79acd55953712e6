"""Where every file of a run lives: the one module that answers "where is X" for the rules, the rule
scripts and the library (how jobs are cut: adaptcommand.scheduling; what they cost: adaptcommand.costs).

A path names what a file is (method, seed, unit), never how the job that wrote it was scheduled:

- the adapter of one unit of a method trained with one seed: ``models/<method>/seed<s>/<unit>/``
  (unit = a persona id, a cluster id, or ``all`` for one adapter shared by every persona);
- the manifests of a method and seed, ``models/<method>/seed<s>/adapters.json`` (unit -> directory,
  recipe, seed, what was selected on val; and which unit serves which persona): the only thing that
  later steps read to find its adapters; ``new_users.json`` beside it the same for the new users
  where the method serves them with adapters of their own or a cluster's (`manifest`);
- one evaluation of a method: ``results/eval/<split>/<method>/<run>/``, run = ``seed<s>`` for a
  method that learns, ``untrained`` for one that does not (the base): `runs`;
- the per-seed results of the steps between (clustering, new users' assignments, routing), the
  retrieved history per split, the method cards and the comparison;
- the log and the benchmark of a job: ``logs/<job>.log`` and ``results/benchmarks/<job>.tsv``
  (`log`, `benchmark`), where <job> names the rule and its wildcards.

Seeds are a dimension of the experiment (config ``train.seeds``): everything that learns from data is
drawn again per seed, and adding a seed adds paths without touching the others'. So is a user's history
(config ``train.sessions``): with a budget of N sessions every persona's train split is cut to its N
most recent sessions (`splits`), and everything learned from it carries the budget in its run,
``seed<s>-n<N>``; the full history keeps the plain ``seed<s>``. The ``{seed}`` wildcard of the rules is
such a *draw*, a seed with its budget (`draw`: ``1`` or ``1-n3``). A function takes a wildcard pattern
as readily as a value (``unit_dir("unified", "{seed}", ALL)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from adaptcommand.methods import has_history, kind_of

ALL = "all"  # the unit of a method with one adapter for every persona (scope all)
COLD = "cold_start"  # the evaluation set of the new users
UNTRAINED = "untrained"  # the run of a method that learns nothing (the base)
# The ways of serving a new user (the table's cold_start) that choose adapters for each of them: their
# own manifest, new_users.json.
OWN_NEW_USER_MANIFEST = ("nearest_cluster", "nearest_personas", "adapt")

# The raw data, the known personas' cleaned dialogues and splits; the new users' dialogues (read by
# their evaluation only), splits and character texts.
RAW = "data/raw"
CLEAN = "data/cleaned/dialogs_clean.jsonl"
SPLITS = "data/splits/edgesplits.json"
SPLIT_REPORT = "data/splits/validation_report.json"
NEW_DIALOGS = "data/cold_start/dialogs_clean.jsonl"
NEW_SPLITS = "data/cold_start/splits.json"
NEW_SPLIT_REPORT = "data/cold_start/validation_report.json"
NEW_CHARACTERS = "data/cold_start/characters.json"
CARDS = "results/methods"  # the method cards `adaptcommand chat` loads (`card`)
RUN_RECORD = "results/run.json"  # what made the run: its setup and command (adaptcommand.rundir)

# Where the workflow writes (relative to its working directory): every output, log and benchmark of a
# rule lies under one of them (tests/test_data_safety.py checks the rules), and so does Snakemake's own
# state. Snakemake deletes a job's outputs before it runs the job again: a user's path is never inside.
OUTPUT_DIRS = (
    RAW,
    "data/cleaned",
    "data/splits",
    "data/cold_start",
    "models",
    "results",
    "logs",
    ".snakemake",
)


BUDGET_MARK = "-n"  # seed1-n3: seed 1, each persona's 3 most recent train sessions


def budget_suffix(budget: int | None) -> str:
    """What a budget adds to a draw and to the files made from its data: "-n<N>", or nothing for the
    full history (None)."""
    return "" if budget is None else f"{BUDGET_MARK}{budget}"


def draw(seed: int | str, budget: int | None = None) -> str:
    """The value of the ``{seed}`` wildcard for `seed` trained with `budget` sessions per persona
    (None: all of them): "1", "1-n3"."""
    return f"{seed}{budget_suffix(budget)}"


def seed_number(draw_or_run: str | int) -> int:
    """The seed of a draw ("1-n3") or a learned method's run ("seed1-n3")."""
    return int(str(draw_or_run).removeprefix("seed").split(BUDGET_MARK)[0])


def budget_of(draw_or_run: str | int) -> int | None:
    """The budget of a draw or run (None: the full history, and the untrained run)."""
    parts = str(draw_or_run).split(BUDGET_MARK)
    return int(parts[1]) if len(parts) == 2 else None


def run_of(draw: int | str) -> str:
    """The run directory of one draw (a seed, with its budget): seed<s>, seed<s>-n<N>."""
    return f"seed{draw}"


def draw_of(run: str) -> str:
    """The draw (the {seed} wildcard's value) of a learned method's run directory: seed1-n3 -> 1-n3."""
    return run.removeprefix("seed")


def runs(entry: dict, draws) -> list[str]:
    """The runs of a method: one per draw (seed, or seed and budget) if it learns, else one untrained
    run; one per budget of `draws` (untrained-n<N>, untrained) if its prompts retrieve from the train
    sessions (the retrieval pool is the budget's)."""
    if entry["adapter"] != "none":
        return [run_of(d) for d in draws]
    if has_history(entry):
        return [UNTRAINED + budget_suffix(b) for b in dict.fromkeys(budget_of(d) for d in draws)]
    return [UNTRAINED]


def unit_dir(method: str, seed: int | str, unit: str) -> str:
    """The adapter directory of one unit of `method` trained with `seed`."""
    return f"models/{method}/{run_of(seed)}/{unit}"


def manifest(method: str, seed: int | str, population: str = "adapters") -> str:
    """The manifest of `method` and `seed`: the known personas' (adapters) or the new users'
    (new_users)."""
    return f"models/{method}/{run_of(seed)}/{population}.json"


def manifest_for(method: str, entry: dict, split: str, run: str) -> list[str]:
    """The manifest an evaluation of `method` (its `run`) on evaluation set `split` reads ([] for the
    base)."""
    if not kind_of(entry).adapters:
        return []
    if split == COLD and entry["cold_start"] in OWN_NEW_USER_MANIFEST:
        return [manifest(method, draw_of(run), "new_users")]
    return [manifest(method, draw_of(run))]


def targets(split: str) -> str:
    """The (persona, dialogue, turn, kind) list every method is scored on, of evaluation set `split`."""
    return f"results/eval/{split}/targets.jsonl"


def eval_files(split: str, method: str, run: str) -> dict[str, str]:
    """{predictions, per_persona, metrics}: the files of one evaluation of `method` (its `run`) on
    evaluation set `split`, whichever job made them (one per method, or a pack's)."""
    root = f"results/eval/{split}/{method}/{run}"
    return dict(
        predictions=f"{root}/predictions.jsonl",
        per_persona=f"{root}/per_persona.csv",
        metrics=f"{root}/metrics.json",
    )


def splits(budget: int | None | str = None) -> str:
    """The splits file of a budget: SPLITS for the full history, else every persona's train split cut
    to its `budget` most recent sessions (val and test unchanged). A wildcard pattern passes as the
    suffix itself ("{budget}")."""
    suffix = budget if isinstance(budget, str) else budget_suffix(budget)
    return SPLITS if not suffix else SPLITS.replace(".json", f"{suffix}.json")


def history(split: str, budget: int | None | str = None) -> str:
    """The retrieved past exchanges (from the budget's train sessions) of every dialogue of `split`."""
    suffix = budget if isinstance(budget, str) else budget_suffix(budget)
    return f"results/history/{split}{suffix}.jsonl"


def clustering(seed: int | str, name: str) -> str:
    """The seed's clustering: assignments.json, silhouette.csv, similarity.json."""
    return f"results/clusters/{run_of(seed)}/{name}"


def new_user_assignment(seed: int | str, name: str) -> str:
    """The new users' nearest cluster and known personas by character text, per seed: assignments.json,
    similarity.json."""
    return f"results/cold_start/{run_of(seed)}/{name}"


def routing(run: str, name: str) -> str:
    """Routing's per-persona choices (choices) and the test oracle (oracle) of one run."""
    return f"results/routing/{run}/{name}.json"


def card(method: str, run: str) -> str:
    """The method card `adaptcommand chat` loads."""
    return f"{CARDS}/{method}/{run}.json"


def comparison(name: str) -> str:
    """A file of the comparison (summary.csv, comprehensive.png, seeds/seed<s>.csv, ...)."""
    return f"results/comparison/{name}"


def log(*job: str) -> str:
    """The log of a job: logs/<job parts>.log."""
    return f"logs/{'/'.join(job)}.log"


def benchmark(*job: str) -> str:
    """The benchmark (wall and CPU time) of a job: results/benchmarks/<job parts>.tsv."""
    return f"results/benchmarks/{'/'.join(job)}.tsv"


def units_of(outputs: Sequence[str], members: dict[str, list[str]] | None = None):
    """({unit: its personas}, {unit: its directory}) of a training or merge job from its output
    directories (models/<method>/seed<s>/<unit>): `members` gives a cluster's or an all-persona unit's
    personas; without it every output is a persona of a pack, trained alone."""
    dirs = {Path(out).name: str(out) for out in outputs}
    units = {u: list(members[u]) if members else [u] for u in dirs}
    return units, dirs
