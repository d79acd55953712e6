"""Data layer: synthetic generator, raw fetching, strict cleaning, splits, JSON(L) I/O."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import time
from pathlib import Path

import pytest

from adaptcommand.data import raw
from adaptcommand.data.clean import clean
from adaptcommand.data.io import (
    DataError,
    load_dialogs,
    load_splits,
    read_jsonl,
    write_json_atomic,
    write_jsonl_atomic,
)
from adaptcommand.data.splits import make_splits, split_dialogs, split_sizes, validate_splits
from adaptcommand.demo import synthetic
from adaptcommand.schema import ACTION_SCHEMA, CONTEXT_FIELDS, check_action_value

N_PERSONAS, N_SESSIONS, SEED = 6, 50, 7
FILES = ("characters.jsonl", "routines.jsonl", "sessions.jsonl")


@pytest.fixture(scope="module")
def rows():
    return synthetic.generate(N_PERSONAS, N_SESSIONS, SEED)


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory, rows):
    out = tmp_path_factory.mktemp("raw")
    synthetic.write_rows(out, *rows)
    return out


@pytest.fixture(scope="module")
def dialogs(raw_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "dialogs_clean.jsonl"
    clean(raw_dir, out, N_PERSONAS, N_SESSIONS)
    return load_dialogs(out)


def _sessions(rows):
    return [s for line in rows[2] for s in line["sessions"]]


def _non_null(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


# ---------------------------------------------------------------------------------------------- generator


def test_generator_is_deterministic(tmp_path):
    a = synthetic.write_raw(tmp_path / "a", 3, 12, seed=1)
    b = synthetic.write_raw(tmp_path / "b", 3, 12, seed=1)
    c = synthetic.write_raw(tmp_path / "c", 3, 12, seed=2)
    for name in FILES:
        assert a[name].read_bytes() == b[name].read_bytes()
    assert a["sessions.jsonl"].read_bytes() != c["sessions.jsonl"].read_bytes()
    assert a["routines.jsonl"].read_bytes() != c["routines.jsonl"].read_bytes()


def test_persona_does_not_depend_on_persona_count():
    small, big = synthetic.generate(2, 5, 3), synthetic.generate(4, 5, 3)
    for part_small, part_big in zip(small, big, strict=True):
        assert part_small == part_big[:2]


def test_generated_data_passes_clean(raw_dir, tmp_path):
    out = tmp_path / "dialogs_clean.jsonl"
    stats = clean(raw_dir, out, expected_personas=N_PERSONAS, expected_sessions=N_SESSIONS)
    assert stats["personas"] == N_PERSONAS
    assert stats["dialogues"] == N_PERSONAS * N_SESSIONS
    assert 9.0 <= stats["mean_messages"] <= 11.0
    records = load_dialogs(out)
    assert len(records) == N_PERSONAS * N_SESSIONS
    first = records[0]
    assert set(first) == {
        "persona_id", "session_id", "character", "routines", "meta", "messages", "applied_routines",
    }  # fmt: skip
    assert (
        first["persona_id"] == "persona_000" and records[-1]["persona_id"] == f"persona_{N_PERSONAS - 1:03d}"
    )
    # routines are normalised: no nulls
    for routine in first["routines"]:
        assert None not in routine["triggers"].values()
        assert all(v is not None for params in routine["actions"].values() for v in params.values())


def test_generated_routines_in_schema_and_distinguishable(rows):
    characters, routines, _ = rows
    for line in characters:
        assert isinstance(line["character"], str) and len(line["character"].split()) > 10
    for line in routines:
        rs = line["routines"]
        assert 3 <= len(rs) <= 5
        trigger_sets = []
        for r in rs:
            assert set(r["triggers"]) == set(CONTEXT_FIELDS)  # pydantic-style dump: unset fields are null
            trig = _non_null(r["triggers"])
            assert 2 <= len(trig) <= 4
            for field, value in trig.items():
                assert value in CONTEXT_FIELDS[field]
            devices = _non_null(r["actions"])
            assert 2 <= len(devices) <= 3
            for device, params in devices.items():
                set_params = _non_null(params)
                assert set(params) == set(ACTION_SCHEMA[device])
                assert 1 <= len(set_params) <= 3
                for param, value in set_params.items():
                    assert check_action_value(device, param, value) is None
                    if param in ("volume", "brightness", "alarm_volume"):
                        assert value % 5 == 0
            trigger_sets.append(trig)
        # any two routines disagree on a shared trigger field: no context matches both
        for i, a in enumerate(trigger_sets):
            for b in trigger_sets[i + 1 :]:
                assert any(k in b and b[k] != v for k, v in a.items())


def test_sessions_shape_and_routine_share(rows):
    _, routines, sessions_rows = rows
    lengths, ends_user, routine_driven = [], 0, 0
    for rline, sline in zip(routines, sessions_rows, strict=True):
        sessions = sline["sessions"]
        assert [s["session_id"] for s in sessions] == list(range(N_SESSIONS))
        for s in sessions:
            assert set(s) == {"session_id", "meta", "messages", "applied_routines", "session_summarization"}
            assert set(s["meta"]) == set(CONTEXT_FIELDS)
            assert all(s["meta"][f] in CONTEXT_FIELDS[f] for f in CONTEXT_FIELDS)
            msgs = s["messages"]
            lengths.append(len(msgs))
            assert 6 <= len(msgs) <= 12
            assert [m["role"] for m in msgs] == ["user", "assistant"] * (len(msgs) // 2) + ["user"] * (
                len(msgs) % 2
            )
            ends_user += msgs[-1]["role"] == "user"
            for m in msgs:
                if m["role"] == "assistant":
                    assert 5 <= len(m["text"].split()) <= 25, m["text"]
            if s["applied_routines"]:
                routine_driven += 1
                (idx,) = s["applied_routines"]
                trig = _non_null(rline["routines"][idx]["triggers"])
                assert all(s["meta"][k] == v for k, v in trig.items())
            else:
                assert s["applied_routines"] in (None, [])
    total = len(lengths)
    assert 0.68 <= routine_driven / total <= 0.82
    assert 9.3 <= statistics.mean(lengths) <= 10.5
    assert 0.15 < ends_user / total < 0.85


_INT = re.compile(r"\b\d+\b")  # whole numbers ("HDMI1" holds none)


def test_implicit_value_turns_state_the_personas_routine_values(rows):
    """The personalisation signal: the user does not say the values, the assistant states the routine's."""
    _, routines, sessions_rows = rows
    implicit_turns = 0
    routine_sessions_with_implicit = 0
    n_routine_sessions = 0
    for rline, sline in zip(routines, sessions_rows, strict=True):
        for s in sline["sessions"]:
            if not s["applied_routines"]:
                continue
            n_routine_sessions += 1
            actions = rline["routines"][s["applied_routines"][0]]["actions"]
            ints = {
                str(v)
                for params in _non_null(actions).values()
                for v in params.values()
                if isinstance(v, int) and not isinstance(v, bool)
            }
            msgs = s["messages"]
            found = False
            for user, reply in zip(msgs[::2], msgs[1::2], strict=False):
                said = _INT.findall(reply["text"])
                if said and not _INT.search(user["text"]):
                    implicit_turns += 1
                    found = True
                    assert set(said) <= ints, (user["text"], reply["text"], actions)
            routine_sessions_with_implicit += found
    assert implicit_turns > 100
    assert routine_sessions_with_implicit / n_routine_sessions > 0.4


def test_phrasing_is_varied(rows):
    texts = [m["text"] for s in _sessions(rows) for m in s["messages"]]
    assistant = [m["text"] for s in _sessions(rows) for m in s["messages"][1::2]]
    for needle in (
        "degrees",
        "% brightness",
        "brightness at",
        "fan speed",
        "volume",
        "heat mode",
        "equalizer",
    ):
        assert any(needle in t for t in assistant), needle
    assert len({t.split()[0] for t in assistant}) >= 15  # many different openings
    assert len(set(texts)) > 0.3 * len(texts)
    stating = [t for t in assistant if _INT.search(t)]  # confirmations with values: rarely verbatim repeats
    assert len(set(stating)) > 0.8 * len(stating)


def test_pretraining_personas_are_other_users_with_every_name(rows, tmp_path):
    """The demo base is pretrained on other users (another random stream: other characters, routines and
    dialogues) whose names cycle through the one name pool, so every name an evaluated persona can have
    was seen in pretraining; which name belongs to which evaluated user was not."""
    pool = {n for n, _ in synthetic.NAMES}
    pre = synthetic.pretraining_corpus(len(pool), 4, SEED)
    first_names = lambda part: {c["character"].split()[0] for c in part[0]}  # noqa: E731
    assert first_names(pre) == pool
    assert first_names(rows) <= pool
    assert not {c["character"] for c in pre[0]} & {c["character"] for c in rows[0]}
    synthetic.write_rows(tmp_path / "raw", *pre)
    stats = clean(tmp_path / "raw", tmp_path / "pre.jsonl", len(pool), 4)
    assert stats["dialogues"] == 4 * len(pool)


def _routine_share(rows) -> float:
    sessions = [s for line in rows[2] for s in line["sessions"]]
    return sum(bool(s["applied_routines"]) for s in sessions) / len(sessions)


def test_pretraining_routine_share():
    assert 0.68 < _routine_share(synthetic.pretraining_corpus(20, 50, SEED)) < 0.82
    assert 0.18 < _routine_share(synthetic.pretraining_corpus(20, 50, SEED, routine_share=0.25)) < 0.32


# ---------------------------------------------------------------------------------------------- clean errors


def _copy_raw(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in FILES:
        shutil.copyfile(src / name, dst / name)
    return dst


def _edit_line(path: Path, lineno: int, edit) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[lineno - 1] = edit(lines[lineno - 1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _edit_obj(path: Path, lineno: int, mutate) -> None:
    def edit(line: str) -> str:
        obj = json.loads(line)
        mutate(obj)
        return json.dumps(obj)

    _edit_line(path, lineno, edit)


def _set_ac_temp(obj):
    routine = obj["routines"][0]
    routine["actions"]["ac"] = {"temperature": 45, "mode": "heat", "fan_speed": None}


def _empty_message(obj):
    obj["sessions"][4]["messages"][1]["text"] = "   "


def _bad_role(obj):
    obj["sessions"][0]["messages"][0]["role"] = "system"


def _not_alternating(obj):
    obj["sessions"][3]["messages"][1]["role"] = "user"


def _dup_session(obj):
    obj["sessions"][5]["session_id"] = obj["sessions"][2]["session_id"]


def _bad_meta(obj):
    obj["sessions"][1]["meta"]["weather"] = "foggy"


def _missing_meta(obj):
    del obj["sessions"][1]["meta"]


def _drop_session(obj):
    obj["sessions"].pop()


def _bad_trigger(obj):
    obj["routines"][1]["triggers"]["time_of_day"] = "noon"


CORRUPTIONS = {
    "bad_json": ("sessions.jsonl", 3, lambda p: _edit_line(p, 3, lambda line: line[:-5]), "malformed JSON"),
    "out_of_schema_action": (
        "routines.jsonl",
        2,
        lambda p: _edit_obj(p, 2, _set_ac_temp),
        "ac.temperature=45",
    ),
    "out_of_schema_trigger": ("routines.jsonl", 4, lambda p: _edit_obj(p, 4, _bad_trigger), "noon"),
    "empty_message": ("sessions.jsonl", 5, lambda p: _edit_obj(p, 5, _empty_message), "empty text"),
    "bad_role": ("sessions.jsonl", 1, lambda p: _edit_obj(p, 1, _bad_role), "role 'system'"),
    "not_alternating": ("sessions.jsonl", 2, lambda p: _edit_obj(p, 2, _not_alternating), "alternate"),
    "duplicate_session": (
        "sessions.jsonl",
        6,
        lambda p: _edit_obj(p, 6, _dup_session),
        "duplicate session_id",
    ),
    "bad_meta": ("sessions.jsonl", 2, lambda p: _edit_obj(p, 2, _bad_meta), "foggy"),
    "missing_key": ("sessions.jsonl", 3, lambda p: _edit_obj(p, 3, _missing_meta), "missing key 'meta'"),
    "session_count": ("sessions.jsonl", 4, lambda p: _edit_obj(p, 4, _drop_session), "expected 50 sessions"),
    "bad_character": (
        "characters.jsonl",
        2,
        lambda p: _edit_line(p, 2, lambda _: '{"persona": "x"}'),
        "character",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_clean_rejects_corrupt_data(case, raw_dir, tmp_path):
    filename, lineno, corrupt, needle = CORRUPTIONS[case]
    broken = _copy_raw(raw_dir, tmp_path / "raw")
    corrupt(broken / filename)
    out = tmp_path / "cleaned" / "dialogs_clean.jsonl"
    out.parent.mkdir()
    out.write_text("stale output of an earlier run\n")
    with pytest.raises(DataError) as info:
        clean(broken, out, expected_personas=N_PERSONAS, expected_sessions=N_SESSIONS)
    message = str(info.value)
    assert f"{filename}:{lineno}:" in message, message
    assert needle in message, message
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary file left either


def test_clean_rejects_misaligned_files(raw_dir, tmp_path):
    broken = _copy_raw(raw_dir, tmp_path / "raw")
    chars = broken / "characters.jsonl"
    chars.write_text("".join(chars.read_text().splitlines(keepends=True)[:-1]))
    out = tmp_path / "dialogs_clean.jsonl"
    with pytest.raises(DataError) as info:
        clean(broken, out)
    message = str(info.value)
    assert f"routines.jsonl:{N_PERSONAS}:" in message and "misaligned" in message, message
    assert not out.exists()


def test_clean_checks_expected_persona_count(raw_dir, tmp_path):
    out = tmp_path / "dialogs_clean.jsonl"
    with pytest.raises(DataError, match=r"characters\.jsonl: expected 200 personas"):
        clean(raw_dir, out, expected_personas=200)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- splits


def test_splits_30_10_10_temporal(dialogs):
    splits = make_splits(dialogs)
    assert splits["fractions"] == {"train": 0.6, "val": 0.2, "test": 0.2}
    assert len(splits["personas"]) == N_PERSONAS
    for parts in splits["personas"].values():
        assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (30, 10, 10)
        assert max(parts["train"]) < min(parts["val"]) and max(parts["val"]) < min(parts["test"])
        assert not set(parts["train"]) & set(parts["val"]) | set(parts["train"]) & set(parts["test"])
    report = validate_splits(splits, dialogs)
    assert report["ok"] and report["counts"] == {"train": 180, "val": 60, "test": 60}
    assert all(report["checks"].values())


def test_split_dialogs_selects_in_persona_then_session_order(dialogs):
    splits = make_splits(dialogs)
    test = split_dialogs(dialogs, splits, "test", personas=["persona_003", "persona_001"])
    assert [d["persona_id"] for d in test] == ["persona_001"] * 10 + ["persona_003"] * 10
    assert [d["session_id"] for d in test[:10]] == list(range(40, 50))
    assert len(split_dialogs(dialogs, splits, "train")) == 30 * N_PERSONAS
    with pytest.raises(ValueError):
        split_dialogs(dialogs, splits, "dev")
    with pytest.raises(DataError):
        split_dialogs(dialogs, splits, "val", personas=["persona_999"])


@pytest.mark.parametrize(
    ("n", "expected"), [(50, (30, 10, 10)), (3, (1, 1, 1)), (4, (2, 1, 1)), (5, (3, 1, 1)), (10, (6, 2, 2))]
)
def test_split_sizes(n, expected):
    assert split_sizes(n) == expected


def test_split_needs_three_sessions():
    dialogs = [{"persona_id": "persona_000", "session_id": i} for i in range(2)]
    with pytest.raises(DataError, match="at least 3"):
        make_splits(dialogs)


def _corrupt_move_test_to_train(parts):
    parts["train"].append(parts["test"].pop())


def _corrupt_overlap(parts):
    parts["val"].append(parts["train"][0])


def _corrupt_empty(parts):
    parts["train"].extend(parts["val"])
    parts["val"].clear()


def _corrupt_drop(parts):
    parts["test"].pop()


def _corrupt_unknown(parts):
    parts["test"].append(999)


@pytest.mark.parametrize(
    ("corrupt", "needle"),
    [
        (_corrupt_move_test_to_train, "temporal order"),
        (_corrupt_overlap, "more than once"),
        (_corrupt_empty, "val split is empty"),
        (_corrupt_drop, "not assigned"),
        (_corrupt_unknown, "no dialogue"),
    ],
)
def test_validate_splits_catches_corruption(dialogs, corrupt, needle):
    splits = make_splits(dialogs)
    corrupt(splits["personas"]["persona_002"])
    with pytest.raises(DataError, match=needle) as info:
        validate_splits(splits, dialogs)
    assert "persona_002" in str(info.value)


def test_validate_splits_catches_missing_persona(dialogs):
    splits = make_splits(dialogs)
    del splits["personas"]["persona_001"]
    with pytest.raises(DataError, match="persona_001: has dialogues but no splits"):
        validate_splits(splits, dialogs)


def test_splits_roundtrip_through_json(dialogs, tmp_path):
    splits = make_splits(dialogs)
    path = write_json_atomic(tmp_path / "splits" / "edgesplits.json", splits)
    assert load_splits(path) == splits


# ---------------------------------------------------------------------------------------------- raw sources


def test_fetch_local_copies(raw_dir, tmp_path):
    paths = raw.fetch_raw("local", tmp_path / "out", local_dir=raw_dir)
    for name in FILES:
        assert paths[name].read_bytes() == (raw_dir / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES)


def test_fetch_local_missing_file(raw_dir, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copyfile(raw_dir / "characters.jsonl", partial / "characters.jsonl")
    with pytest.raises(FileNotFoundError, match=r"routines\.jsonl is missing"):
        raw.fetch_raw("local", tmp_path / "out", local_dir=partial)
    assert not list((tmp_path / "out").glob("*.jsonl"))


def test_fetch_synthetic_is_the_demos(tmp_path):
    """The library fetches real data only; the demo's generator writes the synthetic files."""
    paths = synthetic.write_raw(tmp_path / "out", n_personas=2, sessions_per_persona=5, seed=3)
    assert [len(list(read_jsonl(paths[name]))) for name in FILES] == [2, 2, 2]
    with pytest.raises(ValueError, match="adaptcommand.demo.synthetic"):
        raw.fetch_raw("synthetic", tmp_path / "refused")
    with pytest.raises(ValueError, match="unknown data source"):
        raw.fetch_raw("ftp", tmp_path)
    assert not (tmp_path / "refused").exists()


def test_huggingface_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(raw.SourceUnavailableError) as info:
        raw.fetch_raw("huggingface", tmp_path / "out")
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "unreachable" in message and "data.source: local" in message and "data.local_dir" in message
    assert not list((tmp_path / "out").glob("*.jsonl"))


def test_huggingface_unreachable_endpoint_fails_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    start = time.monotonic()
    with pytest.raises(raw.SourceUnavailableError, match="local"):
        raw.fetch_raw("huggingface", tmp_path / "out")
    assert time.monotonic() - start < 10


# ---------------------------------------------------------------------------------------------- io


def test_read_jsonl_reports_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n')
    with pytest.raises(DataError, match=r"x\.jsonl:3: malformed JSON"):
        list(read_jsonl(path))
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: blank line"):
        list(read_jsonl(path))
    path.write_text('{"a": 1}\n{"a": 2}\n\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (2, {"a": 2})]


def test_write_jsonl_atomic_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "out.jsonl"

    def rows():
        yield {"a": 1}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl_atomic(path, rows())
    assert list(tmp_path.iterdir()) == []
    write_jsonl_atomic(path, [{"a": 1}, {"b": "é"}])
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"b": "é"}\n'
    assert path.stat().st_mode & 0o044  # ordinary permissions, not mkstemp's 0600
    with pytest.raises(TypeError):
        write_jsonl_atomic(path, [{"a": object()}])
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"b": "é"}\n'  # old content intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
