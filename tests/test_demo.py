"""The offline demo's package (adaptcommand.demo): the library never imports it, and its vocabulary file
loads to the tables the generator draws from."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from helpers import REPO

from adaptcommand.demo import synthetic as syn
from adaptcommand.schema import ACTION_SCHEMA, CONTEXT_FIELDS, DEVICES, check_action_value

SRC = REPO / "src" / "adaptcommand"
DEMO = "adaptcommand.demo"
DEMO_RULE_SCRIPTS = {"workflow/scripts/fetch_raw.py", "workflow/scripts/build_demo_base.py"}


def _package(path: Path) -> tuple[str, ...] | None:
    """The package a library file is in (its relative imports start there); None outside src/."""
    if not path.is_relative_to(SRC):
        return None
    return path.relative_to(SRC.parent).parent.parts  # a package's __init__.py is in the package


def _imported_modules(path: Path, package: tuple[str, ...] | None = None) -> set[str]:
    """Every module an import statement of `path` names (function bodies included), relative imports
    resolved against `package` (by default the file's); `from a import b` counts as a and a.b."""
    package = package or _package(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert package is not None, f"{path}: relative import outside the library"
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _imports_demo(path: Path, package: tuple[str, ...] | None = None) -> bool:
    return any(m == DEMO or m.startswith(DEMO + ".") for m in _imported_modules(path, package))


def test_only_the_demo_rules_import_the_demo():
    """The demo depends on the library, never the other way round: no library module outside demo/
    imports adaptcommand.demo, and of the rule scripts only the demo's (raw_data for data.source
    synthetic, build_demo_base) do."""
    library = [p for p in SRC.rglob("*.py") if not p.is_relative_to(SRC / "demo")]
    scripts = sorted((REPO / "workflow" / "scripts").glob("*.py"))
    assert len(library) > 30 and len(scripts) > 5
    assert [str(p.relative_to(REPO)) for p in library if _imports_demo(p)] == []
    assert {str(p.relative_to(REPO)) for p in scripts if _imports_demo(p)} == DEMO_RULE_SCRIPTS


def test_import_parsing_sees_every_form(tmp_path):
    script = tmp_path / "s.py"
    for line in (
        "import adaptcommand.demo.synthetic",
        "from adaptcommand import demo",
        "from adaptcommand.demo.base import build_demo_base",
        "def f():\n    from adaptcommand.demo import synthetic",
        "from ..demo import synthetic",  # as in a module of adaptcommand.data
        "from .. import demo",
    ):
        script.write_text(line + "\n")
        assert _imports_demo(script, ("adaptcommand", "data")), line
    script.write_text("from adaptcommand.data import raw\nimport adaptcommand.democracy\nfrom . import io\n")
    assert not _imports_demo(script, ("adaptcommand", "data"))
    assert _package(SRC / "data" / "raw.py") == ("adaptcommand", "data")
    assert _package(SRC / "data" / "__init__.py") == ("adaptcommand", "data")


# ---------------------------------------------------------------------------------------------- vocabulary

# The str.format fields each template table may use; every other string of the vocabulary has none.
FIELDS = {
    "to_forms": {"v"},
    "with_forms": {"v"},
    "security_alarm": {"v"},
    "home_habits": {"He", "his", "first"},
    "implicit_device_vp": {"act"},
    "heat_vp": {"act"},
    "cool_vp": {"act"},
    "implicit_devices_vp": {"devices", "act"},
    "routine_vp": {"act", "phrase"},
    "confirm": {"activity"},
    "greeting": {"polite"},
    "context_remark": {"temp_word", "weather", "tod_adv", "tod_noun"},
    "request": {"vp", "Vp"},
    "value_answer": {"values", "Values"},
    "bye": {"farewell"},
    "assistant_greet": {"polite", "name"},
    "assistant_welcome": {"tod", "name"},
    "assistant_welcome_activity": {"activity", "name"},
    "assistant_bye": {"name", "tod"},
    "smalltalk_assistant": {"weather", "temp", "tod"},
    "check_assistant": {"name"},
    "summary": {"name", "activity", "devices"},
}


@pytest.fixture(scope="module")
def vocab():
    return syn.load_vocabulary()


def _leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, tuple):
        for item in node:
            yield from _leaves(item)
    else:
        yield node


def test_vocabulary_is_what_the_generator_draws_from(vocab):
    assert vocab["names"] is not syn.NAMES and vocab["names"] == syn.NAMES  # a fresh load, equal
    assert vocab["activities"] == syn.ACTIVITIES and vocab["to_forms"] == syn.TO_FORMS

    def no_lists(node):
        assert not isinstance(node, list)
        for child in node.values() if isinstance(node, dict) else node if isinstance(node, tuple) else ():
            no_lists(child)

    no_lists(vocab)  # every list a tuple, as the literals were


def test_personas(vocab):
    assert all(isinstance(n, tuple) and len(n) == 2 for n in syn.NAMES)
    assert {pron for _, pron in syn.NAMES} == set(syn.PRONOUNS) == {"he", "she"}
    assert len({first for first, _ in syn.NAMES}) == len(syn.NAMES) == 40
    assert all(isinstance(p, tuple) and len(p) == 2 for p in syn.PRONOUNS.values())
    assert all(isinstance(h, tuple) and len(h) == 2 and h[1] in syn.ACTIVITIES for h in syn.HOBBIES)
    assert syn.STYLES == ("formal", "casual", "terse", "chatty")
    for table in ("style_sketch", "greeting", "request", "value_answer", "thanks", "bye"):
        assert tuple(vocab[table]) == syn.STYLES, table
    for table in ("smalltalk_user", "check_user"):
        assert tuple(vocab[table]) == syn.STYLES, table


def test_per_parameter_tables_are_of_the_schema():
    settable = {(d, p) for d, params in ACTION_SCHEMA.items() for p, (kind, _) in params.items()}
    phrased = {key for key in settable if ACTION_SCHEMA[key[0]][key[1]][0] != "bool"}
    assert set(syn.TO_FORMS) == set(syn.WITH_FORMS) == phrased  # security.armed: armed_to / armed_with
    assert set(syn.ARMED_TO) == set(syn.ARMED_WITH) == {True, False}
    assert all(type(k) is bool for k in (*syn.ARMED_TO, *syn.ARMED_WITH))
    times = set(CONTEXT_FIELDS["time_of_day"])
    for name, spec in syn.ACTIVITIES.items():
        assert set(spec) == {"times", "core", "extra", "phrases", "bias"}, name
        assert set(spec["times"]) <= times and set(spec["core"]) | set(spec["extra"]) <= set(DEVICES), name
        for (device, param), values in spec["bias"].items():
            assert (device, param) in settable, (name, device, param)
            assert values and all(check_action_value(device, param, v) is None for v in values), name


def test_tables_cover_devices_and_contexts(vocab):
    for table in ("device_names", "short_names", "clarify", "implicit_device_vp", "spont_implicit_vp"):
        assert set(vocab[table]) == set(DEVICES), table
    for table in ("tod_noun", "tod_adv", "farewell"):
        assert set(vocab[table]) == set(CONTEXT_FIELDS["time_of_day"]), table
    assert set(syn.TEMP_WORD) == set(CONTEXT_FIELDS["outdoor_temp"])
    assert set(syn.WEATHER_SENTENCE) == set(CONTEXT_FIELDS["weather"])
    assert set(syn.DAY_REMARK) == set(CONTEXT_FIELDS["day_of_week"])
    # a confirmation that starts with an arming sentence is that sentence alone (_confirm_once)
    assert all(s.startswith("arming") for s in syn.SECURITY_ARMING)


def test_templates_use_only_their_fields(vocab):
    for table, node in vocab.items():
        for text in _leaves(node):
            if not isinstance(text, str):
                continue
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            assert fields <= FIELDS.get(table, set()), (table, text)


def test_vocabulary_from_another_file(tmp_path):
    """load_vocabulary(path) reads another file the same way ("device.parameter" keys as pairs)."""
    text = (SRC / "demo" / syn.VOCABULARY_FILE).read_text()
    (tmp_path / "v.yaml").write_text(text.replace("- [Ethan, he]", "- [Ethel, she]"))
    other = syn.load_vocabulary(tmp_path / "v.yaml")
    assert other["names"][0] == ("Ethel", "she") and other["names"][1:] == syn.NAMES[1:]
    assert ("lights", "brightness") in other["activities"]["movie night"]["bias"]
