"""Submissions: one file bundling a run's successful trials, and a verifier that trusts none of it.

`bundle` packs `suite.json` and every "ok" trial record of a results directory;
`verify` rebuilds the suite, the dataset and the folds, and recomputes every
metric from the submitted scores and the dataset's own labels.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mirbench.results import ran_quick

if TYPE_CHECKING:
    from mirbench.dataset import Dataset
    from mirbench.suite import Suite
    from mirbench.trial import TrialSpec

SCHEMA = "mirbench.submission/1"
RECORD_KEYS = (
    "trial_id", "variant", "seed", "protocol", "fold", "dataset", "metrics",
    "predictions", "n_parameters", "training", "timings", "provenance", "skipped",
)
TOLERANCE = 1e-9
SHOWN = 5  # ids named in a message before "and N more"


@dataclass
class Verification:
    """What `verify` found: ok when no problem, and how many records it checked."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    checked: int = 0


def bundle(results_dir: str | Path) -> dict:
    """The submission document of a results directory: its suite.json and its successful trial records."""
    import mirbench
    from mirbench.results import ResultStore
    from mirbench.trial import now

    store = ResultStore(results_dir)
    if not (store.root / "suite.json").is_file():
        raise ValueError(f"{store.root} holds no suite.json: pass a results directory written by 'mirbench run'")
    records = [{k: r.get(k) for k in RECORD_KEYS} for r in store.records() if r.get("status") == "ok"]
    if not records:
        raise ValueError(f"{store.root} holds no successful trial: run the suite (mirbench run) before submitting")
    return {
        "schema": SCHEMA, "created_at": now(), "mirbench": mirbench.__version__,
        "suite": store.read_suite(), "records": records,
    }


def write_submission(results_dir: str | Path, out: str | Path) -> Path:
    """Bundle `results_dir` and write it atomically to `out`."""
    from mirbench.results import write_json_atomic

    out = Path(out)
    write_json_atomic(out, bundle(results_dir))
    return out


def read_submission(path: str | Path) -> dict:
    """Read a submission file, refusing anything that is not one."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such submission file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); write it again with write_submission") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema != SCHEMA:
        raise ValueError(f"{path} is not a mirbench submission (schema {schema!r}, expected {SCHEMA!r}); "
                         "write one with write_submission(results_dir, out)")
    return doc


def suite_data(doc: dict) -> tuple[dict, bool]:
    """The suite's merged document and the run's --quick flag, out of suite.json (which adds hash and flag)."""
    data = {k: v for k, v in doc.items() if k not in ("hash", "quick_run")}
    if isinstance(data.get("quick"), bool):  # suite.json written before "quick_run": the flag took the table's place
        del data["quick"]
    return data, ran_quick(doc)


def make_suite(data: dict, path_name: str) -> Suite:
    """A Suite from a merged document, as load_suite would build it (systems checked, grids expanded)."""
    from mirbench.suite import Suite, build_variants

    where = f"submitted suite {data.get('name')!r}"
    return Suite(name=data["name"], version=str(data["version"]), path=Path(path_name), data=data,
                 variants=build_variants(data, where))


def rebuild_suite(doc: dict, problems: list[str]) -> tuple[Suite, bool]:
    """Rebuild the submitted suite and check its hash."""
    data, quick = suite_data(doc)
    suite = make_suite(data, f"{data['name']}.toml")
    if suite.hash() != doc.get("hash"):
        problems.append(f"the suite document was edited: hash {suite.hash()} != {doc.get('hash')}")
    return suite, quick


def local_suite(name: str, suites_dir: str | Path | None, problems: list[str]) -> Suite | None:
    """The suite file `<name>.toml` of `suites_dir`, or None when there is none."""
    from mirbench.suite import SuiteError, load_suite

    path = Path(suites_dir) / f"{name}.toml" if suites_dir is not None else None
    if path is None or not path.is_file():
        return None
    try:
        return load_suite(path)
    except SuiteError as exc:
        problems.append(f"suite {name}: the local suite file does not load: {exc}")
        return None


def some(ids) -> str:
    ids = sorted(ids)
    return ", ".join(ids[:SHOWN]) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def tracks(n: int) -> str:
    return f"{n} test track" + ("s" if n != 1 else "")


def same(reported, computed) -> bool:
    """Equal within TOLERANCE; None and NaN both mean "undefined"."""
    undefined = [v is None or (isinstance(v, float) and math.isnan(v)) for v in (reported, computed)]
    if any(undefined):
        return all(undefined)
    return isinstance(reported, (int, float)) and abs(float(reported) - float(computed)) <= TOLERANCE


def check_ids(tid: str, submitted: list, expected: list) -> list[str]:
    """Missing and extra test track ids of one trial's predictions."""
    missing, extra = set(expected) - set(submitted), set(submitted) - set(expected)
    out = [f"trial {tid}: {tracks(len(missing))} missing from the predictions: {some(missing)}"] if missing else []
    if extra:
        out.append(f"trial {tid}: {tracks(len(extra))} predicted that are not in its test set: {some(extra)}")
    return out


def check_scores(tid: str, scores, shape: tuple[int, int]) -> tuple[np.ndarray | None, list[str]]:
    """The scores as a finite array of the expected shape, or the problems that stop that."""
    try:
        array = np.array(scores, dtype=np.float64)
    except (TypeError, ValueError):
        return None, [f"trial {tid}: scores are not a numeric matrix, expected shape {shape}"]
    if array.shape != shape:
        return None, [f"trial {tid}: predictions have shape {array.shape}, expected {shape}"]
    if not np.isfinite(array).all():
        return None, [f"trial {tid}: {int((~np.isfinite(array)).sum())} scores are not finite numbers"]
    return array, []


def check_metrics(tid: str, reported: dict, computed: dict) -> list[str]:
    """Each reported metric against the value the predictions give."""
    out = [f"trial {tid}: metric {name} is missing" for name in computed if name not in reported]
    out += [f"trial {tid}: {name} is reported but the suite does not ask for it"
            for name in reported if name not in computed]
    out += [
        f"trial {tid}: {name} is reported as {reported[name]} but the predictions give {computed[name]}"
        for name in computed if name in reported and not same(reported[name], computed[name])
    ]
    return out


def check_record(record: dict, spec: TrialSpec, suite: Suite, dataset: Dataset) -> list[str]:
    """Every problem of one record against its planned trial."""
    from mirbench.metrics import evaluate
    from mirbench.trial import scalar_metrics

    tid = record["trial_id"]
    problems = []
    if record["fold"]["split_hash"] != spec.fold.split_hash():
        problems.append(f"trial {tid} ran another split: {record['fold']['split_hash']} != {spec.fold.split_hash()}")
    if record["variant"] != spec.variant.describe() or record["seed"] != spec.seed:
        problems.append(f"trial {tid}: its variant or seed is not the one its id names")
    if record["protocol"] != suite.protocol:
        problems.append(f"trial {tid} ran another protocol: {record['protocol']} != {suite.protocol}")
    fingerprint = (record.get("dataset") or {}).get("fingerprint")
    if fingerprint != dataset.fingerprint():
        problems.append(f"trial {tid} ran on another track index: fingerprint {fingerprint} != {dataset.fingerprint()}")
    expected = spec.usable(spec.fold.test)
    submitted = list(record["predictions"]["track_ids"])
    problems += check_ids(tid, submitted, expected)
    scores, bad = check_scores(tid, record["predictions"]["scores"], (len(expected), len(dataset.classes)))
    problems += bad
    if problems or scores is None:
        return problems
    truth = dataset.targets(dataset.subset(submitted))  # the dataset's labels, never the submitted truth
    values = evaluate(truth, scores, dataset.task, list(suite.metrics) or None)
    return check_metrics(tid, record.get("metrics") or {}, scalar_metrics(values))


def verify(submission: dict, data_root: str | Path | None = None, suites_dir: str | Path | None = None) -> Verification:
    """Re-plan the submitted suite on the dataset and recheck every record from its predictions."""
    from mirbench.datasets import open_dataset
    from mirbench.runner import RunOptions, plan

    problems: list[str] = []
    doc, records = submission["suite"], list(submission.get("records") or [])
    local = local_suite(doc["name"], suites_dir, problems)
    if local is not None and local.version != str(doc.get("version")):
        problems.append(
            f"suite {doc['name']} is version {local.version} here, the submission ran version {doc.get('version')}")
    suite, quick = rebuild_suite(doc, problems)
    root = str(data_root) if data_root is not None else None
    dataset = open_dataset(suite.dataset, root)
    skipped = dict(dataset.validate().problems)
    specs = {s.trial_id: s for s in plan(suite, dataset, RunOptions(quick=quick, data_root=root), skipped)}
    seen: set[str] = set()
    for record in records:
        tid = record.get("trial_id")
        if tid in seen:
            problems.append(f"trial {tid} appears more than once")
        elif tid not in specs:
            problems.append(f"trial {tid} is not a trial of suite {suite.name}")
        else:
            try:
                problems += check_record(record, specs[tid], suite, dataset)
            except (KeyError, TypeError) as exc:
                problems.append(f"trial {tid}: the record is malformed ({type(exc).__name__}: {exc})")
        seen.add(tid)
    return Verification(ok=not problems, problems=problems, checked=len(records))
