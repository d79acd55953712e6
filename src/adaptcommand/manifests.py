"""Manifests: where a method's adapters are, ``models/<method>/adapters.json`` (adaptcommand.layout).

A manifest lists a method's units (unit -> adapter directory, its recipe, seed, what was selected on
val and a digest of its weights) and which unit serves which persona. Evaluation, method cards, merges
and chat find adapters through it and nothing else. Reading one needs no model library (json only):
the rules that write them run in the Snakemake process.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "DamagedAdapterError",
    "check_stored",
    "check_unit",
    "weights_digest",
    "method_manifest",
    "new_user_manifest",
    "read_manifest",
    "routes_of",
    "swapped_routes",
    "write_manifest",
]


class DamagedAdapterError(ValueError):
    """Stored weights that are not the ones their manifest recorded (or are gone): one line naming
    the adapter and the command that re-makes it."""


def _weights(adapter_dir: Path) -> list[Path]:
    return sorted(Path(adapter_dir).glob("adapter_model.*"))


def weights_digest(adapter_dir: str | Path) -> str:
    """A content digest of an adapter's weights: the manifest changes whenever an adapter does."""
    import hashlib

    h = hashlib.sha256()
    for f in _weights(adapter_dir):
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _stats(adapter_dir: Path) -> dict[str, list[int]]:
    """{weights file: [bytes, mtime_ns]}: what a quick check compares before it reads any weights."""
    return {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in _weights(adapter_dir)}


def unit_problem(unit: dict, quick: bool = False, record: str = "manifest") -> str | None:
    """What is wrong with a unit's stored weights (None: they are the ones its `record`, the manifest
    or the training log, holds the digest of). `quick` trusts weights whose sizes and modification
    times are the recorded ones (planning reads no weights then); otherwise, and whenever those
    differ, the digest decides."""
    adapter_dir = Path(unit["dir"])
    if not adapter_dir.is_dir():
        return "is missing"
    if not _weights(adapter_dir):
        return "has no weights (adapter_model.*)"
    if quick and unit.get("files") and unit["files"] == _stats(adapter_dir):
        return None
    if weights_digest(adapter_dir) != unit["digest"]:
        return f"holds weights other than its {record}'s (damaged or replaced since it was made)"
    return None


def check_unit(unit: dict, method: str, workdir: str | Path = ".") -> str:
    """`unit`'s adapter directory once its weights are checked against the manifest's digest; else a
    `DamagedAdapterError` naming the adapter and the command that re-makes it."""
    from adaptcommand.rundir import remake_command

    problem = unit_problem({**unit, "dir": str(Path(workdir) / unit["dir"])})
    if problem:
        raise DamagedAdapterError(
            f"adapter {unit['dir']} of method {method} {problem}; the workflow re-makes it and what "
            f"read it: {remake_command(workdir)}"
        )
    return unit["dir"]


def manifest_unit(adapter_dir: str | Path) -> dict:
    """One unit of a manifest: its directory, recipe, seed, what was selected on val, a digest."""
    adapter_dir = Path(adapter_dir)
    log = json.loads((adapter_dir / "train_log.json").read_text())
    digest = weights_digest(adapter_dir)
    if log.get("weights_digest", digest) != digest:  # recorded by the job that made it (save_adapter)
        raise DamagedAdapterError(
            f"adapter {adapter_dir} holds weights other than its training log's (damaged or replaced "
            "since it was made)"
        )
    return {
        "dir": str(adapter_dir),
        "recipe": log.get("recipe"),
        "seed": log.get("seed"),
        "personas": log.get("personas") or log.get("val_personas"),
        "best_epoch": log.get("best_epoch"),
        **({"chosen_scale": log["chosen_scale"]} if "chosen_scale" in log else {}),
        "digest": digest,
        "files": _stats(adapter_dir),
    }


def write_manifest(
    path: str | Path,
    method: str,
    units: dict[str, str | Path],
    routes: dict[str, str] | None,
    merge: str = "",
) -> dict:
    """models/<method>/adapters.json: {unit: manifest_unit(dir)}, `routes` {persona: unit} (None: one
    unit serves everybody, new users included) and `merge`, the adapter merged into the base first
    (methods on the frozen unified model). Written atomically; returns the document."""
    from adaptcommand.data.io import write_json_atomic

    doc = {
        "method": method,
        "merge": str(merge),
        **({"merge_digest": weights_digest(Path(merge))} if merge else {}),
        "units": {u: manifest_unit(d) for u, d in sorted(units.items())},
        "routes": None if routes is None else dict(sorted(routes.items())),
    }
    if routes is None and len(units) != 1:
        raise ValueError(f"{method}: a manifest without routes needs exactly one unit, got {sorted(units)}")
    unrouted = sorted(set((routes or {}).values()) - set(units))
    if unrouted:
        raise ValueError(f"{method}: routes name unit(s) {unrouted[:5]} without an adapter")
    write_json_atomic(path, doc)
    return doc


def read_manifest(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def routes_of(doc: dict, personas, workdir: str | Path = ".") -> dict[str, str]:
    """{persona: adapter directory} of `personas` by a manifest document, every adapter served (and
    the one merged into the base) checked against its digest first (`check_unit`); a persona it does
    not serve is an error naming the manifest's method."""
    if doc.get("merge_digest"):
        check_unit({"dir": doc["merge"], "digest": doc["merge_digest"]}, doc["method"], workdir)
    if doc["routes"] is None:
        (unit,) = doc["units"].values()
        return dict.fromkeys(personas, check_unit(unit, doc["method"], workdir))
    missing = [p for p in personas if p not in doc["routes"]]
    if missing:
        raise KeyError(f"method {doc['method']} has no adapter for {missing[:5]}")
    served = {
        u: check_unit(doc["units"][u], doc["method"], workdir) for u in {doc["routes"][p] for p in personas}
    }
    return {p: served[doc["routes"][p]] for p in personas}


def check_stored(adapter_dir: str, workdir: str | Path = ".") -> str:
    """`adapter_dir` (relative to the run at `workdir`, as a method card names it) once checked against
    the manifest beside it that lists it (`check_unit`); a `DamagedAdapterError` if none does."""
    from adaptcommand.rundir import remake_command

    parent = Path(workdir) / Path(adapter_dir).parent
    for path in (parent / "adapters.json", parent / "new_users.json"):
        if not path.exists():
            continue
        try:
            doc = read_manifest(path)
        except ValueError as exc:
            raise DamagedAdapterError(
                f"manifest {path} is not valid JSON ({exc}); the workflow re-makes it: "
                f"{remake_command(workdir)}"
            ) from None
        for unit in doc["units"].values():
            if unit["dir"] == str(adapter_dir):
                return check_unit(unit, doc["method"], workdir)
    raise DamagedAdapterError(
        f"adapter {adapter_dir}: no manifest in {parent} lists it (deleted?); the workflow re-makes it: "
        f"{remake_command(workdir)}"
    )


def swapped_routes(personas: list[str]) -> dict[str, str]:
    """The negative control's routes: each persona gets the NEXT persona's unit (a fixed derangement
    of the persona list; with one persona, its own)."""
    return {p: personas[(i + 1) % len(personas)] for i, p in enumerate(personas)}


def method_manifest(
    path: str | Path,
    method: str,
    entry: dict,
    personas: list[str],
    units: list[str] = (),
    assignments: str | Path | None = None,
    borrowed: str | Path | None = None,
    merge: str = "",
) -> dict:
    """Write the manifest of `method` (table `entry`) for the known `personas`: `units`, its adapter
    directories models/<method>/<unit>, serve by the method's scope (all: everybody; persona: each
    its own; cluster: each its cluster's, by `assignments`), or a kind that borrows another method's
    adapters takes that method's manifest (`borrowed`) and gives each persona the next persona's."""
    from adaptcommand.methods import kind_of

    dirs = {Path(d).name: str(d) for d in units}
    if kind_of(entry).borrows:
        source = read_manifest(borrowed)
        dirs = {u: v["dir"] for u, v in source["units"].items()}
        routes = {p: source["routes"][q] for p, q in swapped_routes(personas).items()}
        merge = source["merge"]
    elif entry["scope"] == "all":
        routes = None
    elif entry["scope"] == "persona":
        routes = {p: p for p in personas}
    else:
        assignment = json.loads(Path(assignments).read_text())["assignment"]
        routes = {p: assignment[p] for p in personas}
    return write_manifest(path, method, dirs, routes, merge)


def new_user_manifest(
    path: str | Path,
    method: str,
    entry: dict,
    new_users: list[str],
    units: list[str] = (),
    known: str | Path | None = None,
    assignments: str | Path | None = None,
) -> dict:
    """models/<method>/new_users.json of a method that serves new users with adapters chosen for them
    (table cold_start): nearest_cluster, the known personas' cluster adapters (`known`: the method's
    manifest) by the new users' `assignments`; nearest_personas and adapt, their own adapters (`units`:
    their merges, or those trained further on their first sessions)."""
    if entry["cold_start"] == "nearest_cluster":
        source = read_manifest(known)
        assignment = json.loads(Path(assignments).read_text())["assignment"]
        routes = {p: assignment[p] for p in new_users}
        dirs = {c: source["units"][c]["dir"] for c in sorted(set(routes.values()))}
        return write_manifest(path, method, dirs, routes, source["merge"])
    if entry["cold_start"] in ("nearest_personas", "adapt"):
        dirs = {Path(d).name: str(d) for d in units}
        return write_manifest(path, method, dirs, {p: p for p in new_users})
    raise ValueError(
        f"{method}: cold_start {entry['cold_start']!r} serves new users with no adapters of their own"
    )


def write_population(path: str | Path, population: str, spec: dict, inputs: dict, log: str | Path) -> dict:
    """rule adapter_manifest: the manifest of one population ("adapters": the known personas,
    "new_users") from the rule's `inputs` (the adapter directories, manifests, assignments) and
    `spec` (method, entry, personas, and for known personas `merge`); its log counts the adapters."""
    if population == "new_users":
        doc = new_user_manifest(path, spec["method"], spec["entry"], spec["personas"], **inputs)
    else:
        doc = method_manifest(
            path, spec["method"], spec["entry"], spec["personas"], merge=spec["merge"], **inputs
        )
    Path(log).write_text(f"{len(doc['units'])} adapters\n")
    return doc
