"""No test data reaches training or any selection: proved on the demo's job DAG and on the library.

(a) DAG: in a dry run of the demo (every registered method added to eval.methods), no training,
    selection (routing choice, clustering, merge weights, history retrieval for training) or merge job
    has a test file among its inputs, nor anywhere upstream of it.
(b) Library: training, retrieval, clustering, merging and routing run on a dialogue file from which
    every test dialogue has been REMOVED (so they cannot read one), and every split they request
    through `split_dialogs` is train or val.
(c) Routing: results/routing/choices.json is upstream of the routed test predictions, and nothing
    upstream of choices.json is a test file (the choice is fixed before any routed test prediction
    exists). The same for history: its test retrieval is read by evaluation only.
(d) New users (personas.cold_start): their dialogues are written to a file of their own when cleaning
    (the file every training reads has none of them), and no training, selection, clustering, merge or
    assignment job has that file, their splits, their evaluation or their retrieval upstream; what is
    known of them upstream of their merges and cluster assignment is their character text only.

The DAG is read from `snakemake --dry-run` (one block per job: rule, input, output). Jobs behind a
checkpoint (the clustering) only appear once it has run, so the test runs the checkpoint and its
upstream data jobs for real (seconds of CPU) and dry-runs again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml
from helpers import effective_config, snakemake_cmd

from adaptcommand.methods import load_methods

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "config" / "demo.yaml"

# Rules that train, select or merge: none may see a test file, directly or upstream.
GUARDED_RULE = re.compile(r"^(train_|route|cluster|merge|retrieve|select|choose|assign|build_demo_base)")
# Outputs that are models or selections, whatever the rule that writes them is called.
GUARDED_OUTPUT = re.compile(r"^(models/|results/clusters/|results/routing/seed[^/]+/choices\.json$)")


# The new users' files that only their evaluation may read (their character texts are not among them).
NEW_USER_FILES = re.compile(
    r"^(data/cold_start/(dialogs_clean\.jsonl|splits\.json)|results/eval/cold_start/|results/history/cold_start\.jsonl)"
)


# The new users' own trainings (table cold_start adapt: rule train_<method>_new_users) read their
# dialogues and splits, of which only their first history.cold_start_sessions train sessions
# (test_a_new_users_training_reads_its_first_sessions_and_val_only).
NEW_USER_ADAPTATION = re.compile(r"^train_\w+_new_users(\.|$)")
OWN_FIRST_SESSIONS = {"data/cold_start/dialogs_clean.jsonl", "data/cold_start/splits.json"}
NEW_USERS = {f"persona_{i:03d}" for i in range(12, 15)}  # the demo's


def is_test_file(path: str) -> bool:
    """A workflow file of the TEST split: results/eval/test/..., results/history/test.jsonl, ..."""
    if path.startswith("/"):  # code files (absolute paths into the repository)
        return False
    return any(p == "test" or p.startswith(("test.", "test_", "test-")) for p in PurePosixPath(path).parts)


@dataclass
class Job:
    rule: str
    checkpoint: bool = False
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    wildcards: str = ""

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return (self.rule, tuple(self.outputs))

    def __str__(self) -> str:
        return f"{self.rule}[{self.wildcards or ','.join(self.outputs)}]"


# (indented inside a "group job" block: the pack rules belong to rule-level groups)
_HEADER = re.compile(r"^\s*(?:local)?(rule|checkpoint) (\S+):$")


def parse_dry_run(text: str) -> list[Job]:
    """The jobs of `snakemake --dry-run` output (a block per job: header, then indented key: value)."""
    jobs, current = [], None
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            current = Job(rule=m.group(2), checkpoint=m.group(1) == "checkpoint")
            jobs.append(current)
            continue
        if current is None:
            continue
        if not line.startswith("    "):
            current = None
            continue
        key, _, value = line.strip().partition(": ")
        if key == "input":
            current.inputs = value.split(", ")
        elif key == "output":
            current.outputs = value.split(", ")
        elif key == "wildcards":
            current.wildcards = value
    return jobs


def snakemake(workdir: Path, configfile: Path, *args: str, timeout: int = 600) -> str:
    cmd = snakemake_cmd(workdir, [configfile], "--workflow-profile", "none", *args)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + "\n" + proc.stderr


METHOD_TABLE = load_methods(REPO / "workflow" / "methods.yaml")  # every method and control


class Dag:
    def __init__(self, jobs: list[Job]):
        self.jobs = jobs
        self.producer: dict[str, Job] = {}
        for j in jobs:
            for o in j.outputs:
                self.producer[o] = j

    def upstream_files(self, job: Job) -> set[str]:
        """Every file `job` needs, directly or through the jobs that make its inputs."""
        seen, todo = set(), list(job.inputs)
        while todo:
            f = todo.pop()
            if f in seen:
                continue
            seen.add(f)
            if f in self.producer:
                todo += self.producer[f].inputs
        return seen

    def of_rule(self, rule: str) -> list[Job]:
        """The jobs of `rule`, or of its pack rules (`rule.<pack>`)."""
        return [j for j in self.jobs if j.rule.split(".")[0] == rule]

    def evaluations(self) -> list[Job]:
        """The jobs that generate and score: one method each (evaluate) or a split's learned methods of
        a seed (evaluate_pack.<split>.<label>, the demo's resources.eval_pack_size)."""
        return self.of_rule("evaluate") + self.of_rule("evaluate_pack")


@pytest.fixture(scope="module")
def dag(tmp_path_factory) -> Dag:
    workdir = tmp_path_factory.mktemp("leakage")
    cfg = effective_config(DEMO)
    # Every method of the table is evaluated; controls stay controls, all of them on.
    controls = [m for m, e in METHOD_TABLE.items() if e["role"] == "control"]
    methods = [m for m, e in METHOD_TABLE.items() if e["role"] == "method"]
    cfg["eval"]["methods"] = list(dict.fromkeys(cfg["eval"]["methods"] + methods))
    cfg["eval"]["controls"] = controls
    cfg["train"]["sessions"] = [3, "all"]  # and a budget of each persona's history (train.sessions)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(cfg, sort_keys=False))
    jobs = {j.key: j for j in parse_dry_run(snakemake(workdir, configfile, "--dry-run"))}
    checkpoint_outputs = [o for j in jobs.values() if j.checkpoint for o in j.outputs]
    if checkpoint_outputs:  # run the checkpoints (and their data jobs), then see the whole DAG
        snakemake(workdir, configfile, *checkpoint_outputs)
        jobs.update({j.key: j for j in parse_dry_run(snakemake(workdir, configfile, "--dry-run"))})
    return Dag(list(jobs.values()))


def guarded(job: Job) -> bool:
    return bool(GUARDED_RULE.match(job.rule)) or any(GUARDED_OUTPUT.match(o) for o in job.outputs)


def test_the_dag_is_read_correctly(dag):
    rules = {j.rule for j in dag.jobs}
    assert {"train_unified", "train_history", "retrieve_history", "evaluate", "eval_targets"} <= rules
    # The detector sees test files where they belong: evaluation reads them.
    assert any(is_test_file(f) for j in dag.evaluations() for f in j.inputs)
    assert is_test_file("results/history/test.jsonl") and is_test_file("results/eval/test/targets.jsonl")
    assert is_test_file("results/history/test-n3.jsonl")  # a budget's retrieval (train.sessions)
    assert any(j.outputs == ["data/splits/edgesplits-n3.json"] for j in dag.of_rule("budget_splits"))
    assert dag.of_rule("train_persona") and any(
        "seed1-n3" in o for j in dag.of_rule("train_persona") for o in j.outputs
    )
    assert not is_test_file("results/history/train.jsonl") and not is_test_file("models/persona/persona_000")
    assert sum(guarded(j) for j in dag.jobs) >= 3 + len(dag.of_rule("train_persona"))


def test_no_training_selection_or_merge_job_sees_a_test_file(dag):
    offenders = {}
    for job in filter(guarded, dag.jobs):
        if job.rule == "retrieve_history" and is_test_file(job.outputs[0]):
            # The test queries' retrieval is evaluation input; it still reads no test FILE.
            assert not any(is_test_file(f) for f in dag.upstream_files(job)), str(job)
            continue
        bad = sorted(f for f in dag.upstream_files(job) if is_test_file(f))
        if bad:
            offenders[str(job)] = bad
    assert not offenders, f"test files upstream of training/selection jobs: {offenders}"


def test_no_learning_job_sees_a_new_users_dialogue(dag):
    evaluations = [j for j in dag.evaluations() if "split=cold_start" in j.wildcards]
    assert evaluations, "the demo evaluates new users"
    assert all("data/cold_start/dialogs_clean.jsonl" in j.inputs for j in evaluations)  # the detector sees
    # the new users' own merges, found through their manifest
    assert any(f == "models/merge_neighbors/seed1/new_users.json" for j in evaluations for f in j.inputs)
    offenders = {}
    for job in filter(guarded, dag.jobs):
        if job.rule == "retrieve_history" and job.outputs == ["results/history/cold_start.jsonl"]:
            continue  # the new users' own first sessions, for their evaluation only
        # merge-then-adapt of a new user (and its manifest): its own first sessions (library test below)
        adapting = (
            NEW_USER_ADAPTATION.match(job.rule) and {o.split("/")[-1] for o in job.outputs} <= NEW_USERS
        )
        its_manifest = job.rule == "adapter_manifest" and job.outputs[0].endswith("/new_users.json")
        allowed = OWN_FIRST_SESSIONS if adapting or its_manifest else set()
        bad = sorted(f for f in dag.upstream_files(job) if NEW_USER_FILES.match(f) and f not in allowed)
        if bad:
            offenders[str(job)] = bad
    assert not offenders, f"new users' files upstream of learning jobs: {offenders}"
    for assign in dag.of_rule("assign_new_users"):  # one per seed
        assert "data/cold_start/characters.json" in assign.inputs
    merges = dag.of_rule("merge_neighbors_new_users")
    assert merges and all(
        any(re.fullmatch(r"results/cold_start/seed\d+/similarity\.json", f) for f in m.inputs) for m in merges
    )


# The rows of issue 28 (the field's methods): each is in the DAG with the jobs its table row derives,
# and none of its training, retrieval or merge jobs has a test file (or a new user's) upstream.
FIELD_METHODS = [
    "retrieval",
    "persona_prompt",
    "oppu",
    "merge_adapt",
    "merge_neighbors_ties",
    "merge_neighbors_dare",
]


@pytest.mark.parametrize("method", FIELD_METHODS)
def test_the_fields_methods_learn_and_retrieve_from_no_test_dialogue(dag, method):
    from adaptcommand.config_checks import validated_config

    table = validated_config(effective_config(DEMO), REPO)
    wanted = {f"results/eval/test/{method}/{run}/predictions.jsonl" for run in ("seed1", "untrained")}
    (evaluation,) = [j for j in dag.jobs if wanted & set(j.outputs)]
    upstream = dag.upstream_files(evaluation)
    makers = list({dag.producer[f].key: dag.producer[f] for f in upstream if f in dag.producer}.values())
    for rule in table[method]["rules"]:  # the jobs that make it (training, retrieval, merge, clustering)
        jobs = [j for j in makers if j.rule.split(".")[0] == rule]
        assert jobs, f"{method}: no {rule} job upstream of its evaluation"
        for job in jobs:
            if job.rule == "retrieve_history" and is_test_file(job.outputs[0]):
                continue  # the test queries' retrieval (from train sessions): evaluation input
            bad = [f for f in dag.upstream_files(job) if is_test_file(f) or NEW_USER_FILES.match(f)]
            assert not bad, f"{method}: {job} has {bad[:3]} upstream"
    if "history" in table[method]["prompt"]:  # retrieved exchanges in its prompts: train / val / test files
        assert "results/history/test.jsonl" in evaluation.inputs
        trainings = [j for j in makers if j.rule.startswith("train_")]
        for train in [t for t in trainings if t.rule.split(".")[0] == f"train_{method}"]:
            assert {"results/history/train.jsonl", "results/history/val.jsonl"} <= set(train.inputs)


def test_cleaning_writes_new_users_apart(tmp_path):
    from adaptcommand.data.clean import clean
    from adaptcommand.data.io import load_dialogs
    from adaptcommand.demo.synthetic import write_raw

    write_raw(tmp_path / "raw", n_personas=5, sessions_per_persona=4, seed=3)
    new = ["persona_003", "persona_004"]
    held = {"personas": new, "dialogs": tmp_path / "new.jsonl", "characters": tmp_path / "chars.json"}
    stats = clean(tmp_path / "raw", tmp_path / "known.jsonl", 5, 4, held_out=held)
    known = load_dialogs(tmp_path / "known.jsonl")
    apart = load_dialogs(tmp_path / "new.jsonl")
    assert {d["persona_id"] for d in known} == {"persona_000", "persona_001", "persona_002"}
    assert {d["persona_id"] for d in apart} == set(new) and len(apart) == 8 and stats["held_out"] == 2
    chars = json.loads((tmp_path / "chars.json").read_text())
    assert set(chars) == set(new) and all(isinstance(t, str) and t for t in chars.values())


def test_history_training_reads_train_and_val_retrieval_only(dag):
    trainings = dag.of_rule("train_history")
    assert trainings  # one per seed
    for train in trainings:  # a budget's retrieval for a budget's training (train.sessions)
        budget = "-n3" if any("-n3/" in o for o in train.outputs) else ""
        assert {f"results/history/train{budget}.jsonl", f"results/history/val{budget}.jsonl"} <= set(
            train.inputs
        )
        assert not any(is_test_file(f) for f in dag.upstream_files(train))
    (evaluation,) = [j for j in dag.jobs if "results/eval/test/history/seed1/predictions.jsonl" in j.outputs]
    assert evaluation in dag.evaluations()
    assert {"results/history/test.jsonl", "models/history/seed1/adapters.json"} <= set(evaluation.inputs)


def test_routing_is_chosen_on_val_before_any_routed_test_prediction(dag):
    choices = [f for f in dag.producer if re.fullmatch(r"results/routing/seed[^/]+/choices\.json", f)]
    assert choices, "the demo routes (one choice per seed)"
    for path in choices:
        choose, run = dag.producer[path], path.split("/")[2]
        routed = dag.producer.get(f"results/eval/test/routing/{run}/predictions.jsonl")
        assert routed is not None, "routing chooses but its test predictions have no rule"
        assert path in dag.upstream_files(routed)
        assert not [f for f in dag.upstream_files(choose) if is_test_file(f)]
        direct = [f for f in choose.inputs if not f.startswith("/")]
        assert direct and all(f.startswith("results/eval/val/") and f"/{run}/" in f for f in direct), direct


# ---- (b) the library: training and selection code paths request train / val only ---------------------


@pytest.fixture(scope="module")
def no_test_world(tmp_path_factory):
    """Synthetic dialogues of 4 personas x 10 sessions, their splits, and a dialogue file WITHOUT the
    test dialogues (whatever would read one fails)."""
    from adaptcommand.data.clean import clean
    from adaptcommand.data.io import load_dialogs, write_json_atomic, write_jsonl_atomic
    from adaptcommand.data.splits import make_splits
    from adaptcommand.demo.synthetic import write_raw

    root = tmp_path_factory.mktemp("no_test")
    write_raw(root / "raw", n_personas=4, sessions_per_persona=10, seed=3)
    clean(root / "raw", root / "all.jsonl", expected_personas=4, expected_sessions=10)
    dialogs = load_dialogs(root / "all.jsonl")
    splits = make_splits(dialogs, 0.6, 0.2)
    test = {(p, s) for p, parts in splits["personas"].items() for s in parts["test"]}
    kept = [d for d in dialogs if (d["persona_id"], d["session_id"]) not in test]
    assert len(kept) == len(dialogs) - len(test) and test
    write_jsonl_atomic(root / "dialogs.jsonl", kept)
    write_json_atomic(root / "splits.json", splits)
    return {
        "root": root,
        "dialogs_path": str(root / "dialogs.jsonl"),
        "splits_path": str(root / "splits.json"),
        "dialogs": kept,
        "splits": splits,
        "personas": sorted(splits["personas"]),
    }


@pytest.fixture
def requested_splits(monkeypatch):
    """Record every split name asked of `split_dialogs`, wherever adaptcommand imported it."""
    import adaptcommand.data.splits as splits_mod

    for name in (
        "adaptcommand.train.lora",
        "adaptcommand.retrieval",
        "adaptcommand.clusters",
        "adaptcommand.merging",
        "adaptcommand.routing",
    ):
        try:
            __import__(name)
        except ImportError:
            pass
    original = splits_mod.split_dialogs
    calls: list[str] = []

    def recording(dialogs, splits, split_name, personas=None):
        calls.append(split_name)
        return original(dialogs, splits, split_name, personas)

    for mod in list(sys.modules.values()):
        ours = getattr(mod, "__name__", "").startswith("adaptcommand")
        if ours and getattr(mod, "split_dialogs", None) is original:
            monkeypatch.setattr(mod, "split_dialogs", recording)
    return calls


def test_the_world_has_no_test_dialogues(no_test_world):
    from adaptcommand.data.io import DataError
    from adaptcommand.data.splits import split_dialogs

    w = no_test_world
    with pytest.raises(DataError, match="has no dialogue"):
        split_dialogs(w["dialogs"], w["splits"], "test", w["personas"])


def _hash_encoder(texts):
    """A cheap deterministic stand-in for MiniLM: normalised hashed bag of words."""
    import zlib

    import numpy as np

    vecs = np.full((len(texts), 16), 0.1)
    for i, t in enumerate(texts):
        for word in t.lower().split():
            vecs[i, zlib.crc32(word.encode()) % 16] += 1
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def trained(no_test_world, tiny):
    """One tiny LoRA trained on the world's train split (val for the epoch), no history."""
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.settings import LoraRecipe
    from adaptcommand.train.lora import train_lora_adapter

    w = no_test_world
    out = w["root"] / "lora"
    info = train_lora_adapter(
        tiny[0],
        w["dialogs_path"],
        w["splits_path"],
        w["personas"][:2],
        PromptConfig(max_length=256),
        LoraRecipe(
            r=2, alpha=4, dropout=0.0, target_modules=("q_proj", "v_proj"), lr=1e-3, epochs=1, batch_size=4
        ),
        0,
        out,
    )
    return out, info


def test_training_requests_train_and_val_only(no_test_world, tiny, requested_splits, tmp_path):
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.retrieval import retrieve_for_split
    from adaptcommand.settings import LoraRecipe
    from adaptcommand.train.lora import train_lora_adapter

    w = no_test_world
    history = {}
    for split in ("train", "val"):  # what rule train_history reads
        for row in retrieve_for_split(w["dialogs"], w["splits"], split, w["personas"], 2, 3, _hash_encoder):
            history[(row["persona_id"], row["session_id"])] = row["exchanges"]
    info = train_lora_adapter(
        tiny[0],
        w["dialogs_path"],
        w["splits_path"],
        w["personas"],
        PromptConfig(max_length=256),
        LoraRecipe(
            r=2, alpha=4, dropout=0.0, target_modules=("q_proj", "v_proj"), lr=1e-3, epochs=1, batch_size=8
        ),
        0,
        tmp_path / "history",
        history=history,
    )
    assert info["n_train_dialogs"] == 24 and info["n_val_dialogs"] == 8 and info["history_in_prompt"]
    assert set(requested_splits) == {"train", "val"}, requested_splits


def test_a_new_users_training_reads_its_first_sessions_and_val_only(no_test_world, tiny, trained, tmp_path):
    """Merge-then-adapt on a new user (cold_start adapt): trained from a start LoRA on its first 2 train
    sessions, the epoch chosen on val, on a dialogue file holding ONLY those and its val sessions (a
    request for any other dialogue fails)."""
    from adaptcommand.data.io import write_jsonl_atomic
    from adaptcommand.prompts import PromptConfig
    from adaptcommand.settings import LoraRecipe
    from adaptcommand.train.lora import train_adapters

    w, user = no_test_world, no_test_world["personas"][3]
    parts = w["splits"]["personas"][user]
    first = sorted(parts["train"])[:2]
    keep = {(user, s) for s in first + list(parts["val"])}
    only = [d for d in w["dialogs"] if (d["persona_id"], d["session_id"]) in keep]
    write_jsonl_atomic(tmp_path / "first.jsonl", only)
    start, _ = trained
    recipe = LoraRecipe(
        r=2, alpha=4, dropout=0.0, target_modules=("q_proj",), lr=1e-3, epochs=1, batch_size=4
    )

    def adapt(out: str, first_sessions: int = 0) -> dict:
        args = (tiny[0], str(tmp_path / "first.jsonl"), w["splits_path"], {user: [user]})
        return train_adapters(
            *args,
            PromptConfig(max_length=256),
            recipe,
            0,
            {user: tmp_path / out},
            starts={user: start},
            first_sessions=first_sessions,
        )[user]

    log = adapt("adapted", first_sessions=2)
    assert log["n_train_dialogs"] == 2 and log["n_val_dialogs"] == len(parts["val"])
    assert log["folded"]["start"] == str(start)
    with pytest.raises(Exception, match="has no dialogue"):  # the control: all its train sessions
        adapt("all")


def test_clustering_requests_train_only(no_test_world, requested_splits):
    clusters = pytest.importorskip("adaptcommand.clusters")
    w = no_test_world
    doc, _ = clusters.cluster_personas(
        w["dialogs"], w["splits"], w["personas"], features="behaviour", k=2, k_min=2, k_max=3, seed=0
    )
    assert set(doc["assignment"]) == set(w["personas"])
    assert requested_splits and set(requested_splits) <= {"train"}, requested_splits


def test_merge_weights_are_chosen_on_val_only(no_test_world, tiny, trained, requested_splits, tmp_path):
    merging = pytest.importorskip("adaptcommand.merging")
    from adaptcommand.prompts import PromptConfig

    w = no_test_world
    adapter, _ = trained
    merging.merge_on_val(
        tiny[0],
        {"a": adapter},
        w["dialogs_path"],
        w["splits_path"],
        w["personas"][2:3],
        PromptConfig(max_length=256),
        [0.5, 1.0],
        "cat",
        tmp_path / "merged",
    )
    assert (tmp_path / "merged" / "train_log.json").exists()
    assert requested_splits and set(requested_splits) <= {"val"}, requested_splits


def test_routing_choice_reads_only_the_val_scores_it_is_given(requested_splits):
    routing = pytest.importorskip("adaptcommand.routing")
    scores = {
        "unified": {"persona_000": 0.5, "persona_001": 0.7},
        "persona": {"persona_000": 0.6, "persona_001": 0.6},
    }
    result = routing.choose(scores, ["unified", "persona"], "similarity")
    assert result["split"] == "val"
    assert {p: v["method"] for p, v in result["personas"].items()} == {
        "persona_000": "persona",
        "persona_001": "unified",
    }
    assert requested_splits == []  # no data access at all: the DAG test shows its inputs are val files


def test_the_checker_catches_a_leak():
    """A negative control: a dry run in which a selection job reads a test file is flagged."""
    text = "\n".join(
        [
            "rule evaluate:",
            "    input: data/splits/edgesplits.json, results/eval/test/targets.jsonl",
            "    output: results/eval/test/unified/per_persona.csv",
            "    wildcards: split=test, method=unified",
            "[Sat Nov 21 08:00:00 2026]",
            "rule route:",
            "    input: results/eval/test/unified/per_persona.csv, /repo/workflow/scripts/route.py",
            "    output: results/routing/choices.json",
            "rule train_x:",
            "    input: results/routing/choices.json",
            "    output: models/x",
        ]
    )
    dag = Dag(parse_dry_run(text))
    assert [j.rule for j in dag.jobs] == ["evaluate", "route", "train_x"]
    leaking = [str(j) for j in dag.jobs if guarded(j) and any(map(is_test_file, dag.upstream_files(j)))]
    assert leaking == ["route[results/routing/choices.json]", "train_x[models/x]"]
