"""The import graph of src/adaptcommand: no cycle, and no module imports a module of a higher layer.

Every import statement counts, at module level or inside a function: ``import adaptcommand.x``,
``from adaptcommand.x import y`` (an import of the module adaptcommand.x.y if that is a module, else
of adaptcommand.x), relative imports alike. A new module must be placed in exactly one layer of LAYERS.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "adaptcommand"
ROOT = "__init__"  # the package's own __init__ (its version), as a module name below

# The layers of the library, bottom-up, as module name prefixes (relative to adaptcommand: "data" is
# adaptcommand.data and every module under it). A module may import its own layer and the ones below.
LAYERS = [
    # the settings types, the data schema, the method table, the environment
    [ROOT, "settings", "schema", "yamlfiles", "methods", "hub", "personas", "runtime", "gpuslots"],
    # files and splits, text and metrics, the model and its adapters, prompts; where files live, how
    # jobs are cut and what they cost
    [
        "data",
        "metrics",
        "routines",
        "model",
        "adapters",
        "prompts",
        "parallel",
        "layout",
        "scheduling",
        "profiles",
        "manifests",
        "rundir",
        "integrity",
        "tracking",
        "costs",
    ],
    # the steps of an experiment: training, evaluation, retrieval, clustering, merging; its plan
    ["train", "evaluate", "retrieval", "clusters", "merging", "experiment", "config_checks"],
    # decisions over results
    ["routing", "compare"],
    # the entry points: the chat, the command line, the offline demo (the library never imports it)
    ["chat", "cli", "demo"],
]


def module_name(path: Path, src: Path = SRC) -> str:
    """adaptcommand/data/io.py -> "data.io"; a package's __init__.py is the package ("data")."""
    parts = path.relative_to(src).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or ROOT


def imports_of(source: str, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules of `modules` (relative names) that the module `name` imports in `source`."""

    def known(dotted: str) -> str | None:  # the longest module `dotted` names, or None (not ours)
        if dotted == "adaptcommand":
            return ROOT
        if not dotted.startswith("adaptcommand."):
            return None
        parts = dotted.split(".")[1:]
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) or ROOT

    package = [] if name == ROOT else name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(known(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(["adaptcommand", *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:  # `from package import module` imports that module
                found.add(known(f"{module}.{alias.name}"))
    found.discard(None)
    found.discard(name)
    return found


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    files = {module_name(p, src): p for p in sorted(src.rglob("*.py"))}
    return {
        name: imports_of(path.read_text(), name, path.name == "__init__.py", set(files))
        for name, path in files.items()
    }


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer_of(name: str, layers: list[list[str]] = LAYERS) -> list[int]:
    """The layers (indices) a module is placed in by its name's prefixes (exactly one if placed well)."""
    return [
        i
        for i, prefixes in enumerate(layers)
        for prefix in prefixes
        if name == prefix or (prefix != ROOT and name.startswith(prefix + "."))
    ]


def upward_imports(graph: Mapping[str, set[str]], layers: list[list[str]] = LAYERS) -> list[str]:
    """Every import of a module of a higher layer, as "a (layer i) -> b (layer j)"."""
    return [
        f"{a} (layer {layer_of(a, layers)[0]}) -> {b} (layer {layer_of(b, layers)[0]})"
        for a in sorted(graph)
        for b in sorted(graph[a])
        if layer_of(b, layers)[0] > layer_of(a, layers)[0]
    ]


GRAPH = import_graph()


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_is_in_exactly_one_layer():
    misplaced = {name: layer_of(name) for name in GRAPH if len(layer_of(name)) != 1}
    assert not misplaced, f"modules in no layer or in several (add each to one layer of LAYERS): {misplaced}"


def test_no_module_imports_a_higher_layer():
    assert upward_imports(GRAPH) == []


def test_settings_import_nothing_of_the_library():
    """The settings types are the bottom: a rule, a script or any module may build them."""
    assert GRAPH["settings"] == set()
    assert "prompts" in GRAPH["train.loop"] and "settings" in GRAPH["prompts"]  # the graph is read


# ----------------------------------------------------------------------------------- the checker's checks


def test_the_checker_finds_a_planted_cycle_and_an_upward_import():
    fake = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(fake) == ["a", "b", "c", "a"]
    assert find_cycle({**fake, "c": {"d"}}) is None
    assert find_cycle({"x": {"x"}}) == ["x", "x"]
    layers = [["d", "c"], ["b"], ["a"]]
    assert upward_imports({"a": {"b"}, "b": {"c"}, "c": {"d"}, "d": set()}, layers) == []
    assert upward_imports({"a": set(), "b": set(), "c": {"a"}, "d": set()}, layers) == [
        "c (layer 0) -> a (layer 2)"
    ]
    assert layer_of("data.io", [["data"], ["data.io"]]) == [0, 1]  # a module placed twice
    assert layer_of("dataset", [["data"]]) == []  # a prefix is a whole name part


@pytest.mark.parametrize(
    "line, expected",
    [
        ("import adaptcommand.data.io", {"data.io"}),
        ("import adaptcommand.data.io as dio", {"data.io"}),
        ("from adaptcommand.data.io import read_jsonl", {"data.io"}),
        ("from adaptcommand.data import io", {"data.io"}),  # from package import module
        ("from adaptcommand import settings, __version__", {"settings", ROOT}),
        ("def f():\n    from adaptcommand.train.loop import train", {"train.loop"}),
        ("from . import io", {"data.io"}),
        ("from .io import read_jsonl", {"data.io"}),
        ("from ..settings import Training", {"settings"}),
        ("from .. import prompts", {"prompts"}),
        ("import numpy\nfrom numpy import linalg\nimport adaptcommand_other", set()),
        ("from adaptcommand.data.raw import x", set()),  # the module itself
    ],
)
def test_the_import_parser_sees_every_form(line, expected):
    modules = {ROOT, "data", "data.io", "data.raw", "settings", "prompts", "train", "train.loop"}
    assert imports_of(line + "\n", "data.raw", False, modules) == expected


def test_module_names():
    assert module_name(SRC / "data" / "io.py") == "data.io"
    assert module_name(SRC / "data" / "__init__.py") == "data"
    assert module_name(SRC / "__init__.py") == ROOT
    assert {"settings", "train.loop", "data", ROOT} <= set(GRAPH)
