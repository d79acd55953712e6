"""Obtain the three raw EdgeWisePersona files: from the Hugging Face Hub or a local copy.

Both sources produce ``out_dir/{characters,routines,sessions}.jsonl``. Files are first fully
obtained, then each is put in place with an atomic rename, so a failed fetch never leaves a partial
file behind. The offline demo's synthetic files (``data.source: synthetic``) are the demo's own
(`adaptcommand.demo.synthetic.write_raw`, called by the raw_data rule), not a source of the library.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from adaptcommand.data.io import DataError, make_temp_beside
from adaptcommand.hub import hub_reachable
from adaptcommand.schema import RAW_FILES

__all__ = ["DEFAULT_HF_DATASET", "SourceUnavailableError", "fetch_raw", "hub_reachable"]

DEFAULT_HF_DATASET = "TCLResearchEurope/EdgeWisePersona"
SOURCES = ("huggingface", "local")

_HOW_TO_LOCAL = (
    "To run without the Hub, download characters.jsonl, routines.jsonl and sessions.jsonl of "
    f"{DEFAULT_HF_DATASET} on a machine that can reach it, copy them to a directory here, and set "
    "`data.source: local` and `data.local_dir: <that directory>` in the config "
    "(or use `data.source: synthetic` for the offline demo)."
)


class SourceUnavailableError(RuntimeError):
    """The configured raw-data source cannot be reached from this machine."""


def _install(staged: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    """Move staged files (already in out_dir) to their final names."""
    final = {}
    for name, tmp in staged.items():
        dest = out_dir / name
        os.replace(tmp, dest)
        final[name] = dest
    return final


def _stage_copy(src: Path, out_dir: Path, name: str) -> Path:
    tmp = make_temp_beside(out_dir / name)
    try:
        shutil.copyfile(src, tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _copy_all(sources: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    staged: dict[str, Path] = {}
    try:
        for name, src in sources.items():
            staged[name] = _stage_copy(src, out_dir, name)
        return _install(staged, out_dir)
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise


def _fetch_local(local_dir: str | os.PathLike | None, out_dir: Path) -> dict[str, Path]:
    if not local_dir:
        raise DataError("data.source is 'local' but data.local_dir is not set")
    local = Path(local_dir)
    if not local.is_dir():
        raise FileNotFoundError(
            f"data.local_dir {local} is not a directory (it must hold {', '.join(RAW_FILES)})"
        )
    sources = {}
    for name in RAW_FILES:
        src = local / name
        if not src.is_file():
            raise FileNotFoundError(
                f"local data source: {src} is missing; data.local_dir must contain {', '.join(RAW_FILES)}"
            )
        sources[name] = src
    if local.resolve() == out_dir.resolve():
        return sources  # already in place
    return _copy_all(sources, out_dir)


def _hf_spec(hf_dataset: str | dict | None) -> tuple[str, str | None, dict[str, str]]:
    if hf_dataset is None or isinstance(hf_dataset, str):
        return hf_dataset or DEFAULT_HF_DATASET, None, {name: name for name in RAW_FILES}
    repo_id = hf_dataset.get("repo_id") or DEFAULT_HF_DATASET
    revision = hf_dataset.get("revision")
    files = {name: name for name in RAW_FILES}
    files.update(hf_dataset.get("files") or {})
    unknown = sorted(set(files) - set(RAW_FILES))
    if unknown:
        raise ValueError(f"hf_dataset.files: unknown keys {unknown}; expected {list(RAW_FILES)}")
    return repo_id, revision, files


def _fetch_huggingface(hf_dataset: str | dict | None, out_dir: Path) -> dict[str, Path]:
    repo_id, revision, files = _hf_spec(hf_dataset)
    ok, reason = hub_reachable()
    if not ok:
        raise SourceUnavailableError(
            f"The Hugging Face Hub is unreachable ({reason}); cannot download dataset {repo_id}. "
            + _HOW_TO_LOCAL
        )
    from huggingface_hub import hf_hub_download

    downloaded = {}
    for name, remote in files.items():
        try:
            downloaded[name] = Path(hf_hub_download(repo_id, remote, repo_type="dataset", revision=revision))
        except Exception as exc:  # network errors, missing repo/file, gated access ...
            raise SourceUnavailableError(
                f"Downloading {remote} from dataset {repo_id} failed ({type(exc).__name__}: {exc}). "
                + _HOW_TO_LOCAL
            ) from exc
    return _copy_all(downloaded, out_dir)


def fetch_raw(
    source: str,
    out_dir: str | os.PathLike,
    *,
    local_dir: str | os.PathLike | None = None,
    hf_dataset: str | dict | None = None,
) -> dict[str, Path]:
    """Produce ``out_dir/{characters,routines,sessions}.jsonl`` and return name -> path.

    source:
      - ``"huggingface"``: `hf_dataset` is a repo id (default ``TCLResearchEurope/EdgeWisePersona``) or
        ``{"repo_id": ..., "revision": ..., "files": {"sessions.jsonl": "path/in/repo.jsonl", ...}}``.
        Fails fast (a few seconds) with `SourceUnavailableError` when offline or HF_HUB_OFFLINE is set.
      - ``"local"``: copy the three files from `local_dir` (FileNotFoundError naming a missing one).

    ``"synthetic"`` is refused here: the demo generates its files (`adaptcommand.demo.synthetic`).
    """
    if source == "synthetic":
        raise ValueError(
            "data source 'synthetic' is the offline demo's generator: adaptcommand.demo.synthetic.write_raw"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if source == "huggingface":
        return _fetch_huggingface(hf_dataset, out)
    if source == "local":
        return _fetch_local(local_dir, out)
    raise ValueError(f"unknown data source {source!r}; expected one of {list(SOURCES)}")
