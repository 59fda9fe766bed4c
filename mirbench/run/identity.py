"""What makes a stored trial the same trial: every input its numbers depend on, hashed part by part.

A trial's identity has these parts, each a short hash (or a plain value):
  suite     the suite's version, [dataset] and [protocol] tables, metrics, and (for a --quick run) its [quick] table:
            the parts of the suite file that change results (not its report layout, title or published numbers);
  quick     whether it was a --quick run;
  data      the dataset's index fingerprint, which of the run's tracks are unusable and why, and the sha256 of every
            usable track's file: repaired or replaced audio is a different input; with the same of every other
            dataset the variant reads (its system's `data_dependencies(params)`, e.g. a pre-training set);
  split     the fold's split hash;
  variant   the system, its label and every parameter;
  seed      the trial seed;
  versions  mirbench's result-affecting versions: of the trial record, the audio loader, every frontend, the
            system's own `version` class attribute (when it declares one), and the code outside mirbench the
            variant runs, as the system declares it (`code_dependencies`: a pretrained module's version and weights).
A stored record is reused only when its identity equals the planned one part for part; otherwise the trial is
rerun and the run says which part changed.
"""

from __future__ import annotations

import hashlib
import json

#: Bump when a trial's numbers change for the same inputs because of the harness itself (metrics, the trial loop).
RESULTS_VERSION = 1

#: Dataset parameters that locate data without changing it: the content hashes already stand for the audio.
LOCATION_PARAMS = ("root", "cache_dir", "progress")

#: Why a trial is rerun, by the first identity part that differs.
REASONS = {
    "suite.version": "the suite's version changed",
    "suite.dataset": "the dataset parameters changed",
    "suite.protocol": "the protocol changed",
    "suite.metrics": "the metrics changed",
    "suite.quick": "the suite's [quick] table changed",
    "quick": "the stored trial is of the other kind of run (--quick or full)",
    "data": "the dataset's audio or its usable tracks changed",
    "split": "the split changed",
    "variant": "the system's parameters changed",
    "seed": "the seed changed",
    "versions": "mirbench's result-affecting code changed",
    "versions.system": "the system's version changed",
    "versions.dependencies": "the code or weights the system loads changed (a pretrained module's version or its "
                             "weights file)",
}


def digest(value) -> str:
    """A short stable hash of a JSON-able value."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def suite_parts(data: dict, quick: bool) -> dict[str, str]:
    """The result-affecting parts of a merged suite document, hashed one by one."""
    dataset = {k: v for k, v in data["dataset"].items() if k not in LOCATION_PARAMS}
    return {
        "version": digest(str(data.get("version"))),
        "dataset": digest(dataset),
        "protocol": digest(data["protocol"]),
        "metrics": digest(list(data.get("metrics", []))),
        "quick": digest(data.get("quick", {})) if quick else "",
    }


def data_fingerprint(dataset, used_ids, unusable: dict[str, str], kinds: dict[str, str] | None = None) -> str:
    """The index fingerprint, the unusable tracks among `used_ids` (with their kind of problem), and the content
    hash of every usable one."""
    from mirbench.content import content_hashes

    used = sorted(set(used_ids))
    bad = [(i, (kinds or {}).get(i, "unusable")) for i in used if i in unusable]
    good = [i for i in used if i not in unusable]
    hashes = content_hashes([dataset[i].path for i in good])
    return digest([dataset.fingerprint(), bad, list(zip(good, hashes))])


def other_data(system_factory, params: dict, data_root, memo: dict) -> str | None:
    """The fingerprint of the datasets a variant reads besides the suite's (a pre-training set, say), or None.

    A system declares them with a classmethod `data_dependencies(params) -> [dataset table]`; each is opened
    like a suite's dataset and fingerprinted like it (usable tracks and their audio bytes), memoised in `memo`
    per table, so a changed pre-training file reruns the trials trained on it.
    """
    declare = getattr(system_factory, "data_dependencies", None)
    tables = list(declare(params)) if callable(declare) else []
    if not tables:
        return None
    from mirbench.datasets import open_dataset

    parts = []
    for table in tables:
        key = digest(table)
        if key not in memo:
            dataset = open_dataset(table, data_root)
            report = dataset.validate()
            memo[key] = data_fingerprint(dataset, [t.id for t in dataset.tracks], report.problems, report.kinds)
        parts.append(memo[key])
    return digest(parts)


def code_dependencies(system_factory, params: dict) -> dict | None:
    """The versions of the code outside mirbench that a variant runs, or None: a system declares them with a
    classmethod `code_dependencies(params) -> dict` (a HEAR module's distribution version and its weights' hash),
    so upgrading a pretrained model reruns the trials that used it, and only those."""
    declare = getattr(system_factory, "code_dependencies", None)
    return declare(params) if callable(declare) else None


def code_versions(system_factory, origin: str = "mirbench") -> dict:
    """The versions that a trial's numbers depend on: mirbench's, and those of the frontends the system may use:
    mirbench's own and those of its distribution (`origin`). Another package's frontends are left out, so that
    installing a plug-in does not rerun every stored trial of every suite."""
    from mirbench.audio import LOADER_VERSION
    from mirbench.registry import frontends

    mine = [e.name for e in frontends.entries().values() if e.origin in ("mirbench", origin)]
    return {
        "results": RESULTS_VERSION,
        "loader": LOADER_VERSION,
        "frontends": {name: getattr(frontends.get(name), "version", None) for name in mine},
        "system": getattr(system_factory, "version", None),
    }


def identity(suite: dict[str, str], quick: bool, data: str, split: str, variant: dict, seed: int, versions: dict) -> dict:
    """One trial's identity, its parts as `why_rerun` compares them."""
    return {"suite": suite, "quick": bool(quick), "data": data, "split": split, "variant": digest(variant),
            "seed": int(seed), "versions": versions}


def why_rerun(stored: dict | None, planned: dict) -> str | None:
    """None when `stored` is the planned identity, else the reason (of `REASONS`) of the first part that differs."""
    if not isinstance(stored, dict):
        return "the stored record has no trial identity (written by an older mirbench)"
    for part in ("quick", "suite", "data", "split", "variant", "seed", "versions"):
        if part == "suite" and isinstance(stored.get("suite"), dict):
            for key, value in planned["suite"].items():
                if stored["suite"].get(key) != value:
                    return REASONS[f"suite.{key}"]
        if stored.get(part) != planned[part]:
            if part == "versions" and isinstance(stored.get(part), dict):
                for own in ("system", "dependencies"):  # a change in one of these alone is named as such
                    others = {k: v for k, v in stored[part].items() if k != own}
                    if others == {k: v for k, v in planned[part].items() if k != own}:
                        return REASONS[f"versions.{own}"]
            return REASONS["suite.version" if part == "suite" else part]
    return None
