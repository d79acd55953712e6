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
    "method_manifest",
    "new_user_manifest",
    "read_manifest",
    "routes_of",
    "swapped_routes",
    "write_manifest",
]


def _digest(adapter_dir: Path) -> str:
    """A content digest of an adapter's weights: the manifest changes whenever an adapter does."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(adapter_dir.glob("adapter_model.*")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def manifest_unit(adapter_dir: str | Path) -> dict:
    """One unit of a manifest: its directory, recipe, seed, what was selected on val, a digest."""
    adapter_dir = Path(adapter_dir)
    log = json.loads((adapter_dir / "train_log.json").read_text())
    return {
        "dir": str(adapter_dir),
        "recipe": log.get("recipe"),
        "seed": log.get("seed"),
        "personas": log.get("personas") or log.get("val_personas"),
        "best_epoch": log.get("best_epoch"),
        **({"chosen_scale": log["chosen_scale"]} if "chosen_scale" in log else {}),
        "digest": _digest(adapter_dir),
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


def routes_of(doc: dict, personas) -> dict[str, str]:
    """{persona: adapter directory} of `personas` by a manifest document; a persona it does not serve
    is an error naming the manifest's method."""
    if doc["routes"] is None:
        (unit,) = doc["units"].values()
        return {p: unit["dir"] for p in personas}
    missing = [p for p in personas if p not in doc["routes"]]
    if missing:
        raise KeyError(f"method {doc['method']} has no adapter for {missing[:5]}")
    return {p: doc["units"][doc["routes"][p]]["dir"] for p in personas}


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
    manifest) by the new users' `assignments`; nearest_personas, their own merges (`units`)."""
    if entry["cold_start"] == "nearest_cluster":
        source = read_manifest(known)
        assignment = json.loads(Path(assignments).read_text())["assignment"]
        routes = {p: assignment[p] for p in new_users}
        dirs = {c: source["units"][c]["dir"] for c in sorted(set(routes.values()))}
        return write_manifest(path, method, dirs, routes, source["merge"])
    if entry["cold_start"] == "nearest_personas":
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
