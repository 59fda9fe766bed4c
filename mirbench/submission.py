"""Submissions: one file bundling a run's successful trials, and a verifier that trusts none of it.

`bundle` packs `suite.json` and every "ok" trial record of a results directory;
`verify` checks every field it reads (types, bounds, nesting), takes the suite from the verifier's own suites
directory when it is registered there (the submitted document must equal it, key for key) or checks it as a NEW
suite (no paths, bounded sizes), rebuilds the dataset and the folds, and recomputes every metric from the
submitted scores and the dataset's own labels. The submitted trials must be exactly the planned ones: a
submission that lacks some is verified as incomplete, never as complete.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mirbench.errors import MirbenchError
from mirbench.results import ran_quick
from mirbench.submission_schema import MAX_DEPTH, NAME, SCHEMA, SHOWN, shape_problems

if TYPE_CHECKING:
    from mirbench.datasets.base import Dataset
    from mirbench.suite import Suite
    from mirbench.run.trial import TrialSpec

RUN_KEYS = ("hash", "quick_run")  # what a run adds to the suite document in suite.json
TOLERANCE = 1e-9
GZIP_MAGIC = b"\x1f\x8b"

#: What recomputing metrics from predictions cannot establish, printed with every verification that passes.
NOT_CHECKED = ("not checked (no verifier can, from predictions): how they were made, that training never saw the "
               "test tracks' labels or audio, and the training times and hardware reported; a maintainer judges "
               "those from the code revision and system packages the bundle names (its 'about')")
#: A submission file larger than this is refused before it is read (override: $MIRBENCH_SUBMISSION_MAX_MB).
MAX_MB = 64.0
MAX_PLANNED = 2000  # trials a suite not registered here may plan
#: Dataset parameters that locate files or folders; a suite not registered here may not set them.
PATH_PARAMS = ("root", "cache_dir", "checksums")
#: Protocol parameters that may name a list file (fixed-split, gtzan-fault-filtered, mtat-cleaned).
LIST_PARAMS = ("train", "valid", "test")
#: Sizes of the datasets mirbench generates, bounded for suites not registered here.
SIZE_LIMITS = {
    "synthetic": {"per_class": 200, "seconds": 30.0},
    "corpus": {"clips_per_class": 200, "clip_seconds": 30.0},
}


class SubmissionError(MirbenchError, ValueError):
    """A file is not a submission this verifier can read (missing, too large, not JSON, another schema)."""


@dataclass
class Verification:
    """What `verify` found: ok when no problem; complete when the trials are exactly the planned set.

    `new_suite`: the suite is not registered in the verifier's suites directory, so it was checked as a new suite
    (the leaderboard lists it apart). `planned_by_variant`: planned trials per variant id, for the leaderboard.
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    complete: bool = False
    planned: int = 0
    submitted: int = 0
    missing: list[str] = field(default_factory=list)
    new_suite: bool = False
    suite: str | None = None
    planned_by_variant: dict[str, int] = field(default_factory=dict)


def bundle(results_dir: str | Path) -> dict:
    """The submission document of a results directory: its suite.json, its plan, and every planned trial record
    as the run wrote it (the successful ones under "records", which are verified; the failed ones under "failed",
    which only the report reads), so that `mirbench report` rebuilds the run's report from the bundle alone; and,
    under "about", what a maintainer judges it by (`mirbench.bundles.about`)."""
    import mirbench
    from mirbench.bundles import about
    from mirbench.results import ResultStore
    from mirbench.run.trial import now

    store = ResultStore(results_dir)
    if not (store.root / "suite.json").is_file():
        raise SubmissionError(f"{store.root} holds no suite.json: pass a results directory written by 'mirbench run'")
    records = list(store.records())
    ok = [r for r in records if r.get("status") == "ok"]
    if not ok:
        raise SubmissionError(f"{store.root} holds no successful trial: run the suite (mirbench run) before submitting")
    suite = store.read_suite()
    return {
        "schema": SCHEMA, "created_at": now(), "mirbench": mirbench.__version__,
        "suite": suite, "records": ok, "failed": [r for r in records if r.get("status") != "ok"],
        "plan": store.planned(), "results_name": store.root.name, "about": about(suite, ok),
    }


def write_submission(results_dir: str | Path, out: str | Path) -> Path:
    """Bundle `results_dir` and write it atomically to `out`: gzip-compressed when `out` ends in ".gz"
    (byte-stable: no time stamp in the gzip header), else indented JSON."""
    from mirbench.bundles import write_bundle

    return write_bundle(bundle(results_dir), Path(out))


def size_limit() -> int:
    """The largest submission file read, in bytes: MAX_MB MiB, or $MIRBENCH_SUBMISSION_MAX_MB."""
    value = os.environ.get("MIRBENCH_SUBMISSION_MAX_MB")
    if value is None:
        return int(MAX_MB * 2**20)
    try:
        limit = float(value)
    except ValueError:
        limit = -1.0
    if not (math.isfinite(limit) and limit > 0):
        raise SubmissionError("MIRBENCH_SUBMISSION_MAX_MB must be a positive number of MiB (the default is 64)")
    return int(limit * 2**20)


def read_submission(path: str | Path) -> dict:
    """Read a submission file, refusing anything that is not one: a file over `size_limit()` is refused from its
    size, before it is read; nesting too deep for the JSON parser is refused in one line."""
    path = Path(path)
    limit = size_limit()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SubmissionError(f"{path}: no such submission file") from None
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read the submission file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SubmissionError(f"{path} is not a regular file; give a submission file written by 'mirbench submit'")
    too_big = (f"{path} is {info.st_size / 2**20:.1f} MiB, over the limit of {limit / 2**20:g} MiB for a submission; "
               "set MIRBENCH_SUBMISSION_MAX_MB to read a larger one")
    if info.st_size > limit:
        raise SubmissionError(too_big)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read the submission file ({exc.strerror or exc})") from None
    if len(raw) > limit:  # it grew since stat
        raise SubmissionError(too_big)
    if raw[:2] == GZIP_MAGIC:  # a compressed bundle: its decompressed size is bounded by the same limit
        raw = gunzip(path, raw, limit)
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise SubmissionError(f"{path}: its JSON is nested too deeply to be a submission "
                              f"(at most {MAX_DEPTH} levels); write it again with 'mirbench submit'") from None
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{path} is not UTF-8 JSON text ({exc.reason} at byte {exc.start}); "
                              "write it again with 'mirbench submit'") from None
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                              "write it again with 'mirbench submit'") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema != SCHEMA:
        shown = repr(schema) if isinstance(schema, str) and NAME.fullmatch(schema.replace("/", "_")) else "another"
        raise SubmissionError(f"{path} is not a mirbench submission (schema {shown}, expected {SCHEMA!r}); "
                              "write one with 'mirbench submit' (write_submission(results_dir, out))")
    return doc


def gunzip(path: Path, raw: bytes, limit: int) -> bytes:
    """The decompressed bytes of a gzip bundle, refused past `limit` bytes (a small file can inflate to any size)."""
    import gzip
    import io
    import zlib

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SubmissionError(f"{path} is not a readable gzip file ({exc}); write it again with 'mirbench submit'") from None
    if len(data) > limit:
        raise SubmissionError(f"{path} decompresses to more than {limit / 2**20:g} MiB, the limit for a submission; "
                              "set MIRBENCH_SUBMISSION_MAX_MB to read a larger one")
    return data


def suite_data(doc: dict) -> tuple[dict, bool]:
    """The suite's merged document and the run's --quick flag, out of suite.json (which adds RUN_KEYS)."""
    data = {k: v for k, v in doc.items() if k not in RUN_KEYS}
    if isinstance(data.get("quick"), bool):  # suite.json written before "quick_run": the flag took the table's place
        del data["quick"]
    return data, ran_quick(doc)


def key_name(key) -> str:
    return str(key) if isinstance(key, str) and NAME.fullmatch(key) else "(a key that is not a plain name)"


def differences(local, submitted, here: str = "") -> list[str]:
    """Key paths where two suite documents differ (values never shown): extra, missing or changed keys."""
    if isinstance(local, dict) and isinstance(submitted, dict):
        out = []
        for key in sorted(set(local) | set(submitted), key=str):
            path = f"{here}.{key_name(key)}" if here else key_name(key)
            if key not in local or key not in submitted:
                out.append(path)
            else:
                out += differences(local[key], submitted[key], path)
        return out
    if isinstance(local, list) and isinstance(submitted, list) and len(local) == len(submitted):
        return [p for i, (a, b) in enumerate(zip(local, submitted)) for p in differences(a, b, f"{here}[{i}]")]
    same_value = type(local) is type(submitted) and local == submitted
    return [] if same_value else [here or "(the whole document)"]


def registered_suite(data: dict, path: Path) -> tuple[Suite | None, list[str]]:
    """The verifier's own suite file, when the submitted document equals it key for key (run-only keys aside)."""
    from mirbench.suite import SuiteError, load_suite

    name = data["name"]
    try:
        local = load_suite(path)
    except SuiteError as exc:
        return None, [f"suite {name}: the local suite file does not load: {exc}"]
    problems = []
    if local.version != str(data.get("version")):
        problems.append(f"suite {name} is version {local.version} here, the submission ran version {data.get('version')}")
    mine = json.loads(json.dumps(local.data, default=str))
    changed = [p for p in differences(mine, data) if p != "version"]
    if changed:
        problems.append(f"suite {name} differs from the registered suite {path} at: {some(changed, sort=False)}; "
                        "submit a run of that suite file unchanged, or give your suite another name to submit it "
                        "as a new suite")
    return (None if problems else local), problems


def unsafe_parameters(data: dict) -> list[str]:
    """Why a suite not registered here may not be verified as it stands: parameters that name paths (the verifier
    reads and writes only its own data root and cache), or generated datasets above the verifier's bounds."""
    for section, keys in (("dataset", PATH_PARAMS), ("protocol", LIST_PARAMS)):
        for key, value in data[section].items():
            path_like = isinstance(value, str) and (
                key in keys or "/" in value or "\\" in value or value.startswith(("~", ".")))
            if key in PATH_PARAMS or path_like:
                return [f"the submitted suite names a path in '{section}.{key_name(key)}': a suite that is not "
                        "registered here may not point the verifier at files or folders (it uses its own data "
                        "root and cache); give split lists inline, or ask a maintainer to register the suite"]
    limits = SIZE_LIMITS.get(data["dataset"]["name"], {})
    for key, top in limits.items():
        value = data["dataset"].get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not value <= top:
            return [f"the submitted suite asks for 'dataset.{key}' above this verifier's bound (at most {top} for a "
                    "suite not registered here); ask a maintainer to register a larger suite"]
    return []


def new_suite(data: dict) -> tuple[Suite | None, list[str]]:
    """A suite not registered here, checked as `load_suite` checks a suite file, with no paths and bounded sizes."""
    from mirbench.suite import (Suite, SuiteError, build_variants, check_components, check_quick, check_report,
                                check_unique)
    from mirbench.suite.schema import SCHEMA as SUITE_SCHEMA
    from mirbench.suite.schema import check

    unsafe = unsafe_parameters(data)
    if unsafe:
        return None, unsafe
    name = data["name"]
    where = f"submitted suite {name}"
    try:
        check(data, SUITE_SCHEMA, "", where)
        check_components(data, where)
        variants = build_variants(data, where)
        check_quick(data, variants, where)
        check_report(data, variants, where)
        if any(seed < 0 for seed in data.get("seeds", [])):
            raise SuiteError(f"{where}: 'seeds' must be >= 0")
        check_unique(data, "seeds", where)
    except SuiteError as exc:
        return None, [f"the submitted suite does not load here: {exc}"]
    if len(variants) * len(data.get("seeds", [0])) > MAX_PLANNED:
        return None, [f"the submitted suite plans more than {MAX_PLANNED} trials, this verifier's bound for a suite "
                      "not registered here; ask a maintainer to register it"]
    return Suite(name=name, version=str(data["version"]), path=Path(f"{name}.toml"), data=data, variants=variants), []


def verifier_dataset(spec: dict) -> dict:
    """A [dataset] table with the parameters that locate data removed: the verifier's data root and cache only."""
    return {k: v for k, v in spec.items() if k not in ("root", "cache_dir")}


def some(ids, sort: bool = True) -> str:
    ids = sorted(ids) if sort else list(ids)
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
    import mirbench
    from mirbench.metrics import evaluate
    from mirbench.run.trial import scalar_metrics

    tid = record["trial_id"]
    problems = []
    if record["fold"]["split_hash"] != spec.fold.split_hash():
        problems.append(f"trial {tid} ran another split: {record['fold']['split_hash']} != {spec.fold.split_hash()}")
    if record["variant"] != spec.variant.describe() or record["seed"] != spec.seed:
        problems.append(f"trial {tid}: its variant or seed is not the one its id names")
    if record["protocol"] != suite.protocol:
        problems.append(f"trial {tid} ran another protocol than the suite's [protocol] table")
    ran_with = (record.get("provenance") or {}).get("mirbench")
    if ran_with is not None and ran_with != mirbench.__version__:
        problems.append(f"trial {tid} ran with another mirbench version than this verifier's {mirbench.__version__}")
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
    return check_metrics(tid, record.get("metrics") or {}, scalar_metrics(values)) + check_derived(
        tid, record, values, truth)


def check_derived(tid: str, record: dict, values: dict, truth: np.ndarray) -> list[str]:
    """What the run derived from the predictions and the report prints (per-class AUCs, confusion, ...), and the
    test labels it stored beside them, against what the predictions and the dataset's own labels give."""
    from mirbench.jsonfile import to_jsonable
    from mirbench.record import derived

    out = [f"trial {tid}: {key} does not match what its predictions give; write the bundle again with 'mirbench "
           "submit' from the run's own results" for key, want in derived(values).items()
           if key in record and not alike(record[key], to_jsonable(want))]
    stored = record["predictions"].get("truth")
    if stored is not None and not alike(stored, to_jsonable(truth)):
        out.append(f"trial {tid}: predictions.truth is not the dataset's labels of its test tracks")
    return out


def alike(reported, computed) -> bool:
    """Equal as JSON values, numbers within TOLERANCE (`same`): without recursion, as a submission is untrusted."""
    stack = [(reported, computed)]
    while stack:
        a, b = stack.pop()
        if isinstance(b, dict):
            if not isinstance(a, dict) or set(a) != set(b):
                return False
            stack.extend((a[k], b[k]) for k in b)
        elif isinstance(b, list):
            if not isinstance(a, list) or len(a) != len(b):
                return False
            stack.extend(zip(a, b))
        elif isinstance(b, (int, float)) and not isinstance(b, bool) or b is None:
            if isinstance(a, bool) or not same(a, b):
                return False
        elif a != b:
            return False
    return True


def record_problems(submission: dict) -> list[str]:
    """Each record, successful or failed, checked as a reader of a results directory checks it (the trial
    record's JSON Schema), so that a report made from the bundle reads it as it read the run's own files."""
    from mirbench.results import record_problem

    found = [(r.get("trial_id"), record_problem(r, r.get("trial_id")))
             for r in [*submission["records"], *(submission.get("failed") or [])]]
    problems = [f"trial {tid}: not a trial record as 'mirbench run' writes it ({why})" for tid, why in found if why]
    return problems[:SHOWN] + ([f"and {len(problems) - SHOWN} more invalid records"] if len(problems) > SHOWN else [])


def the_suite(data: dict, suites_dir: str | Path | None) -> tuple[Suite | None, bool, list[str]]:
    """The suite to verify against, whether it is new here (not in `suites_dir`), and the problems that stop it."""
    path = Path(suites_dir) / f"{data['name']}.toml" if suites_dir is not None else None
    if path is not None and path.is_file():
        suite, problems = registered_suite(data, path)
        return suite, False, problems
    suite, problems = new_suite(data)
    return suite, True, problems


def verify(submission: dict, data_root: str | Path | None = None, suites_dir: str | Path | None = None) -> Verification:
    """Check the submission's fields, its mirbench version and its suite; re-plan the suite on the dataset and
    recheck every record from its predictions. The verifier's data root and cache are used, never the submission's.

    Raises only for the verifier's own setup (a dataset not found here: DatasetError, FetchError); every problem
    of the submission is in the returned Verification.
    """
    import mirbench
    from mirbench.datasets.base import DatasetError
    from mirbench.datasets import open_dataset
    from mirbench.run.plan import RunOptions, plan

    problems = shape_problems(submission) or record_problems(submission)
    if problems:
        return Verification(ok=False, problems=problems)
    records, doc = submission["records"], submission["suite"]
    made_with = submission["mirbench"]
    if made_with != mirbench.__version__:
        shown = made_with if NAME.fullmatch(made_with) else "another version"
        return Verification(ok=False, suite=doc["name"], problems=[
            f"the submission was made with mirbench {shown}; this verifier is mirbench {mirbench.__version__}, whose "
            f"suites, plan and metrics it is checked against: verify it with mirbench {shown}, or run the suite "
            f"again with mirbench {mirbench.__version__} and submit that"])
    if not records:
        return Verification(ok=False, suite=doc["name"],
                            problems=["the submission holds no trial record; bundle a run with 'mirbench submit'"])
    data, quick = suite_data(doc)
    suite, is_new, problems = the_suite(data, suites_dir)
    result = Verification(ok=False, problems=problems, new_suite=is_new, suite=doc["name"], submitted=len(records))
    if suite is None:
        return result
    if suite.hash() != doc["hash"]:
        problems.append(f"the suite document was edited: hash {suite.hash()} != {doc['hash']}")
        return result
    root = str(data_root) if data_root is not None else None
    dataset = open_dataset(verifier_dataset(suite.dataset), root)
    skipped = dict(dataset.validate().problems)
    try:
        specs = {s.trial_id: s for s in plan(suite, dataset, RunOptions(quick=quick, data_root=root), skipped)}
    except (DatasetError, ValueError) as exc:  # a protocol's split lists that do not fit the dataset, as in cmd_run
        whose = "submitted" if is_new else "registered"
        problems.append(f"the {whose} suite's protocol does not fit dataset {dataset.name!r}: {exc}")
        return result
    if is_new and len(specs) > MAX_PLANNED:
        problems.append(f"the submitted suite plans {len(specs)} trials, more than this verifier's bound of "
                        f"{MAX_PLANNED} for a suite not registered here; ask a maintainer to register it")
        return result
    counts = Counter(r["trial_id"] for r in records)
    for tid in sorted(t for t, n in counts.items() if n > 1):
        problems.append(f"trial {tid} appears more than once")
    for record in records:
        tid = record["trial_id"]
        if counts[tid] > 1:
            continue
        if tid not in specs:
            problems.append(f"trial {tid} is not a trial of suite {suite.name}")
        else:
            problems += check_record(record, specs[tid], suite, dataset)
    result.missing = sorted(set(specs) - set(counts))
    result.planned, result.checked = len(specs), len(records)
    result.complete = not result.missing and len(records) == len(specs)
    result.planned_by_variant = dict(Counter(s.variant.id for s in specs.values()))
    result.ok = not problems
    return result
