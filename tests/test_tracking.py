"""adaptcommand.tracking patches Snakemake's private _IOFile so that directory inputs are tracked by
content: these tests fail loudly on a Snakemake whose internals differ from the pinned one's."""

from __future__ import annotations

import asyncio
import inspect
import re

import snakemake
from helpers import REPO
from snakemake.io import IOFile, _IOFile

from adaptcommand.tracking import track_directories_by_content, tree_digest


def test_the_pinned_snakemake_is_the_one_installed():
    pin = re.search(r'"snakemake==([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert snakemake.__version__ == pin, (
        f"snakemake {snakemake.__version__} is installed, the directory tracking was written against "
        f"{pin}: check snakemake.io._IOFile.checksum / is_checksum_eligible, then update the pin"
    )


def test_the_methods_the_patch_wraps_have_the_signatures_it_expects():
    expected = {
        "is_checksum_eligible": ["self", "threshold"],
        "checksum": ["self", "threshold", "force", "algorithm"],
    }
    track_directories_by_content()
    for name, params in expected.items():
        method = getattr(_IOFile, name, None)
        assert method is not None, f"snakemake.io._IOFile.{name} is gone: adaptcommand.tracking needs it"
        assert inspect.iscoroutinefunction(method), f"_IOFile.{name} is no longer a coroutine"
        assert list(inspect.signature(method).parameters) == params, (name, inspect.signature(method))
    assert _IOFile._adaptcommand_directories is True


def test_a_directory_input_gets_a_content_checksum(tmp_path):
    """A directory checksums like a file: the digest of its files, the same after a copy (content, not
    mtime), None once it is over the size limit."""
    assert track_directories_by_content()
    d = tmp_path / "adapter"
    (d / "sub").mkdir(parents=True)
    (d / "adapter_model.safetensors").write_bytes(b"weights")
    (d / "sub" / "train_log.json").write_text("{}")
    f = IOFile(str(d))
    assert asyncio.run(f.is_checksum_eligible(1000)) is True
    assert asyncio.run(f.checksum(1000)) == f"sha256:{tree_digest(d)}"
    assert asyncio.run(f.is_checksum_eligible(5)) is False
    assert asyncio.run(f.checksum(5)) is None
    before = tree_digest(d)
    (d / "adapter_model.safetensors").write_bytes(b"weightz")
    assert tree_digest(d) != before
