"""JSON / JSONL reading and atomic writing, shared by every stage that touches data files.

Readers report problems as `DataError` naming ``file:line``; writers go through a temporary file in the
destination directory and ``os.replace``, so a reader never sees a half-written file and a failure
leaves the previous file (or no file) in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DataError",
    "read_jsonl",
    "write_jsonl_atomic",
    "write_json_atomic",
    "write_text_atomic",
    "make_temp_beside",
    "load_dialogs",
    "load_splits",
]


class DataError(ValueError):
    """Invalid or inconsistent data; the message names the file, the line (where there is one) and the
    problem, e.g. ``sessions.jsonl:17: session 3: message 2 has empty text``."""


MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest JSONL line read (64 MiB; a full EdgeWisePersona sessions line is about 60 KB)."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r} in one object (JSON keeps only the last)")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def read_jsonl(path: str | os.PathLike, *, strict: bool = False) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, obj)`` for each line of a JSONL file; line numbers start at 1.

    Raises `DataError` naming ``file:line`` on malformed JSON, on invalid UTF-8 (the line of the bad
    byte, decoded line by line), on a line over `MAX_LINE_BYTES`, on numbers Python refuses (integers
    of over 4300 digits) and on a blank line followed by more data (trailing blank lines at the end of
    the file are tolerated). `strict` (data from outside the pipeline) also refuses duplicate keys in
    an object and NaN / Infinity, which Python's json accepts.
    """
    path = Path(path)
    hooks: dict[str, Any] = (
        {"object_pairs_hook": _reject_duplicate_keys, "parse_constant": _reject_constant} if strict else {}
    )
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:  # no read permission, a directory, ...
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with handle:
        blank_at: int | None = None
        for lineno, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise DataError(f"{path}:{lineno}: line longer than {MAX_LINE_BYTES} bytes")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{lineno}: not valid UTF-8 (byte {exc.start + 1} of the line: {exc.reason})"
                ) from None
            line = text.strip()
            if not line:
                if blank_at is None:
                    blank_at = lineno
                continue
            if blank_at is not None:
                raise DataError(
                    f"{path}:{blank_at}: blank line inside the file (JSONL needs one object a line)"
                )
            try:
                obj = json.loads(line, **hooks)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
                ) from None
            except ValueError as exc:  # a hook's refusal, or an integer over 4300 digits
                problem = "a number of over 4300 digits" if "4300 digits" in str(exc) else str(exc)
                raise DataError(f"{path}:{lineno}: {problem}") from None
            yield lineno, obj


def _default_mode() -> int:
    """Permissions of a newly created file under the current umask (mkstemp would give 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def make_temp_beside(path: Path) -> Path:
    """An empty temporary file in `path`'s directory, with ordinary (umask) permissions."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp_name, _default_mode())
    return Path(tmp_name)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix) for a library to write (a figure, a CSV); on
    success it replaces `path`, on failure it is removed (nothing half-written is ever at `path`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_beside(path)
    tmp = tmp.rename(tmp.with_name(tmp.name + path.suffix))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_atomic(path: str | os.PathLike, writer: Callable[[IO[str]], None]) -> Path:
    with atomic_file(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Write one compact JSON document a line (UTF-8, ``\\n`` endings) atomically.

    `rows` may be a generator; if it (or serialisation) raises, nothing is written to `path`.
    """

    def writer(handle: IO[str]) -> None:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")

    return _write_atomic(path, writer)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write one JSON document (indented, trailing newline) atomically."""

    def writer(handle: IO[str]) -> None:
        handle.write(json.dumps(obj, ensure_ascii=False, indent=indent))
        handle.write("\n")

    return _write_atomic(path, writer)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    return _write_atomic(path, lambda handle: handle.write(text))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield `path`.tmp to fill; on success it replaces `path`, on failure it is removed (nothing
    half-written is ever at `path`)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


_DIALOG_KEYS = ("persona_id", "session_id", "character", "routines", "meta", "messages", "applied_routines")


def load_dialogs(path: str | os.PathLike) -> list[dict]:
    """Load ``data/cleaned/dialogs_clean.jsonl`` (written by `adaptcommand.data.clean.clean`).

    Returns the records in file order (persona order, then session order). Only the record shape is
    checked here; the content was validated when the file was written.
    """
    dialogs = []
    for lineno, obj in read_jsonl(path):
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        missing = [key for key in _DIALOG_KEYS if key not in obj]
        if missing:
            raise DataError(f"{path}:{lineno}: cleaned dialogue lacks {missing}")
        dialogs.append(obj)
    if not dialogs:
        raise DataError(f"{path}: no dialogues")
    return dialogs


def load_splits(path: str | os.PathLike) -> dict:
    """Load ``data/splits/edgesplits.json`` (written from `adaptcommand.data.splits.make_splits`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("personas"), dict):
        raise DataError(f'{path}: not a splits file (needs a "personas" object)')
    for pid, parts in obj["personas"].items():
        if not isinstance(parts, dict) or not all(
            isinstance(parts.get(name), list) for name in ("train", "val", "test")
        ):
            raise DataError(f"{path}: persona {pid} needs train/val/test lists")
    return obj
