"""Inputs tracked by content: what decides whether a finished job runs again.

Snakemake re-runs a job whose input looks newer (mtime) than its outputs unless the input's content
is the one recorded when the job ran, a check it makes for files up to `--max-checksum-file-size` but
never for a directory (`models/base`, `models/unified`, every adapter pack): a finished run copied
with plain `cp -r`, which gives every file the time of the copy in whatever order it walks the tree,
re-ran every job downstream of a directory copied after its consumers. (Snakemake 9.27 always makes
this mtime check: `--rerun-triggers` without `mtime` changes nothing.)

`track_directories_by_content()`, called by rules/common.smk, extends Snakemake's checksums to
directories: a digest of the files under the directory (relative path, size and content; Snakemake's
own `.snakemake_timestamp` left out), recorded for each job's directory inputs when the job finishes
and compared when one looks newer, under the same size limit as files (the profiles raise it to
64 MiB). A directory whose content changed still re-runs its consumers; a copy does not.

The user's own dataset (data.source local) is tracked by `files_digest`, a param of clean_data
(`local_data_params`).

Why a patch of Snakemake's private `snakemake.io._IOFile`, and not a supported mechanism: Snakemake
9.27 has none for directories. `ancient()` ignores every change (a re-trained base would not re-run
its consumers); `--rerun-triggers` cannot switch the mtime check off; a storage plugin would move
every file behind a URL. The other way, consumers depending on a file with the directory's digest
(a manifest) instead of the directory, would change the inputs of every model job and so re-run every
finished run once, and still needs the directory itself as an input for the job to find it (the
adapters' manifests are such files; `models/base` has none). The patch replaces two coroutine
methods and only for local directories (files keep Snakemake's own code). It is pinned to
snakemake==9.27.1 (pyproject.toml), and tests/test_tracking.py fails, naming what differs, on a
Snakemake whose methods, signatures or version are not the ones it was written against; at run time
another Snakemake gets a warning and Snakemake as it is (a copied run then re-runs, nothing worse).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable

__all__ = ["files_digest", "local_data_params", "tree_digest", "track_directories_by_content"]

TIMESTAMP = ".snakemake_timestamp"

# (directory, its files' (path, size, mtime_ns, inode)) -> digest: a job's outputs each ask again.
_digests: dict[tuple, str] = {}


def files_digest(paths: Iterable[str | os.PathLike]) -> str:
    """sha256 over the files' names and contents, in order: the same whatever their mtimes."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def local_data_params(data: dict) -> dict:
    """clean_data's params for the data config `data`: with source local {"data": the digest of the
    user's three files, computed when the job is planned} (they are its inputs by name only, `ancient`
    in rules/common.smk); nothing otherwise."""
    from adaptcommand.schema import RAW_FILES

    if data["source"] != "local":
        return {}
    files = [os.path.join(data["local_dir"], name) for name in RAW_FILES]
    return {"data": lambda wildcards: files_digest(files)}


def _tree(path: str) -> list[tuple[str, str, os.stat_result]]:
    found = []
    for root, dirs, names in os.walk(path, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, path)
            if rel != TIMESTAMP:
                found.append((rel, full, os.stat(full)))
    return found


def tree_digest(path: str | os.PathLike, limit: int | None = None) -> str | None:
    """sha256 over the files under directory `path` (relative path, size, content; symlinks followed;
    Snakemake's `.snakemake_timestamp` left out), or None when they hold more than `limit` bytes."""
    files = _tree(os.fspath(path))
    if limit is not None and sum(st.st_size for _, _, st in files) > limit:
        return None
    key = (os.path.abspath(path), tuple((rel, st.st_size, st.st_mtime_ns, st.st_ino) for rel, _, st in files))
    if key not in _digests:
        digest = hashlib.sha256()
        for rel, full, st in files:
            digest.update(f"{rel}\0{st.st_size}\0".encode())
            with open(full, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        _digests[key] = digest.hexdigest()
    return _digests[key]


def track_directories_by_content() -> bool:
    """Make Snakemake checksum directories as it does files (see the module doc); True once done.
    Changes Snakemake's file class in this process (idempotent); on a Snakemake without the methods
    it relies on, warns and leaves Snakemake as it is (a copied run then re-runs, nothing worse)."""
    try:
        from snakemake.io import _IOFile

        eligible, checksum = _IOFile.is_checksum_eligible, _IOFile.checksum
    except (ImportError, AttributeError) as exc:
        print(f"adaptcommand: directories are not tracked by content ({exc})", file=sys.stderr)
        return False
    if getattr(_IOFile, "_adaptcommand_directories", False):
        return True

    def local_directory(file) -> bool:
        return not file.is_storage and os.path.isdir(file.file)

    async def is_checksum_eligible(self, threshold):
        if local_directory(self):
            return sum(st.st_size for _, _, st in _tree(self.file)) <= threshold
        return await eligible(self, threshold)

    async def checksum_(self, threshold=None, force=False, algorithm=None):
        if local_directory(self) and algorithm in (None, "sha256"):
            digest = tree_digest(self.file, None if force else threshold)
            return None if digest is None else f"sha256:{digest}"
        return await checksum(self, threshold, force=force, algorithm=algorithm)

    _IOFile.is_checksum_eligible = is_checksum_eligible
    _IOFile.checksum = checksum_
    _IOFile._adaptcommand_directories = True
    return True
