"""Submission bundles on disk: what a maintainer judges one by, its file name, its bytes, and its unpacking.

A bundle (`mirbench.submission.bundle`) holds a run's suite, plan and trial records as the run wrote them, so
unpacking it (`unpack`) gives back a results directory from which `mirbench report` writes the run's report byte
for byte. Bundles committed under `submissions/` are gzip-compressed JSON with no time stamp in the gzip header,
so writing the same bundle twice gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path

from mirbench.errors import MirbenchError
from mirbench.jsonfile import to_jsonable, write_bytes_atomic, write_json_atomic

SUBMISSIONS = Path("submissions")
#: A bundle name: the suite's name, then the systems' packages, joined by "--" (see `default_name`).
PLAIN = re.compile(r"[^A-Za-z0-9_.-]+")


class BundleError(MirbenchError, ValueError):
    """A bundle cannot be written or unpacked where it was asked to go."""


def system_package(system: str) -> dict:
    """The distribution that registers `system` (the package a contributor publishes) and its version; for a
    system registered at run time, the top-level module of its class."""
    for ep in entry_points(group="mirbench.systems"):
        if ep.name == system:
            dist = getattr(ep, "dist", None)
            if dist is not None:
                return {"system": system, "package": dist.metadata["Name"], "version": dist.version}
            return {"system": system, "package": ep.value.split(".")[0].split(":")[0], "version": None}
    return {"system": system, "package": None, "version": None}


def about(suite: dict, records: list[dict]) -> dict:
    """What a maintainer needs to judge a run: code revision, suite hash, dataset fingerprint, environment,
    hardware, and each system's package and version. Read from the records (what the run saw), except the
    packages, which are looked up where the bundle is made."""

    def seen(part: str, key: str) -> list:
        return sorted({json.dumps(r.get(part, {}).get(key)) for r in records if r.get(part, {}).get(key) is not None})

    values = {key: [json.loads(v) for v in seen("provenance", key)] for key in (
        "git_revision", "mirbench", "python", "platform", "device", "device_name", "cpu_count", "cpu_kernels",
        "precision")}
    libraries = Counter(f"{n} {v}" for r in records for n, v in (r.get("provenance", {}).get("libraries") or {}).items())
    return {
        "code_revision": values["git_revision"],
        "suite_hash": suite.get("hash"),
        "dataset_fingerprint": [json.loads(v) for v in seen("dataset", "fingerprint")],
        "environment": {"mirbench": values["mirbench"], "python": values["python"], "platform": values["platform"],
                        "libraries": sorted(libraries)},
        "hardware": {"device": values["device"], "device_name": values["device_name"], "cpu_count": values["cpu_count"],
                     "cpu_kernels": values["cpu_kernels"], "precision": values["precision"]},
        "systems": [system_package(name) for name in sorted({r["variant"]["system"] for r in records})],
    }


def default_name(doc: dict) -> str:
    """`<suite>--<package>[+<package>...].json.gz`: the suite and the packages of its systems, so two contributors'
    runs of one suite get two files; the in-tree systems' package is mirbench."""
    packages = sorted({s["package"] or s["system"] for s in doc["about"]["systems"]})
    stem = PLAIN.sub("-", f"{doc['suite']['name']}--{'+'.join(packages)}").strip("-.")
    return f"{stem}.json.gz"


def trials(doc: dict) -> set[tuple]:
    """A bundle's successful trials, each as its id and its record's identity (what it ran, from what inputs)."""
    return {(r.get("trial_id"), json.dumps(r.get("identity"), sort_keys=True)) for r in doc.get("records") or []
            if isinstance(r, dict)}


def extends(new: dict, old: dict) -> bool:
    """Whether `new` is the run `old` was, perhaps resumed with more trials: the same suite hash, and every trial
    of `old` in `new` with the same identity. Only then may a bundle replace another."""
    return (isinstance(old.get("suite"), dict) and new["suite"].get("hash") == old["suite"].get("hash")
            and trials(old) <= trials(new))


def encode(doc: dict, compressed: bool) -> bytes:
    """The bundle's bytes: JSON with sorted keys (as result files are written), gzip-compressed with mtime 0."""
    text = json.dumps(to_jsonable(doc), sort_keys=True, allow_nan=False,
                      **({"separators": (",", ":")} if compressed else {"indent": 1})) + "\n"
    return gzip.compress(text.encode(), compresslevel=9, mtime=0) if compressed else text.encode()


def write_bundle(doc: dict, out: Path) -> Path:
    """Write `doc` to `out` atomically, readable like any file written here (a temporary file is 0600)."""
    write_bytes_atomic(out, encode(doc, out.name.endswith(".gz")), mode=0o644)
    return out


def unpack(doc: dict, parent: Path) -> Path:
    """Write the bundle's results directory, `<parent>/<results_name>/` (suite.json, plan.json, trials/), and return
    it. The name comes from the bundle, so it is checked as a plain name before anything is written."""
    from mirbench.results import ResultStore
    from mirbench.submission_schema import shape_problems

    problems = shape_problems(doc)  # every name that becomes a path is a plain name, checked before any write
    if problems:
        raise BundleError(f"the bundle cannot be unpacked: {problems[0]}; write it again with 'mirbench submit'")
    name = doc.get("results_name") or doc["suite"]["name"]
    store = ResultStore(parent / name)
    store.write_suite(doc["suite"])
    if doc.get("plan") is not None:
        store.write_plan(doc["plan"])
    for record in [*doc["records"], *(doc.get("failed") or [])]:
        write_json_atomic(store.trial_path(record["trial_id"]), record)
    return store.root
