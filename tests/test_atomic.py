"""Every directory the library writes goes through data.io.atomic_directory: a failure halfway leaves
neither a `.tmp` leftover nor a damaged previous result."""

from __future__ import annotations

import pytest

from adaptcommand.adapters import save_adapter
from adaptcommand.data.io import atomic_directory


class _FailingModel:
    """A PEFT model whose save writes one file and then fails (a full disk)."""

    def save_pretrained(self, path, **_):
        (path / "adapter_model.safetensors").write_bytes(b"half")
        raise OSError(28, "No space left on device")


def test_a_failed_directory_write_leaves_the_old_result_and_no_leftover(tmp_path):
    out = tmp_path / "persona_002"
    out.mkdir()
    (out / "train_log.json").write_text("old")
    with pytest.raises(OSError, match="No space"):
        save_adapter(_FailingModel(), out, {"best_epoch": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["persona_002"]
    assert (out / "train_log.json").read_text() == "old"


def test_a_finished_directory_write_replaces_the_old_one(tmp_path):
    out = tmp_path / "base"
    out.mkdir()
    (out / "stale.bin").write_text("old")
    with atomic_directory(out) as tmp:
        (tmp / "config.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base"]
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]
