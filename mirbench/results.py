"""The result store: one JSON file per trial, written atomically, plus the suite it ran.

A results directory holds `suite.json` (the merged suite document with its
`hash` and the run's `quick_run` flag) and `trials/<trial id>.json`. Reports and the leaderboard read nothing else.

Trial record schema ("mirbench.trial/1"):
  trial_id, status ("ok" | "failed"), error {type, message, traceback} | null,
  suite {name, version, hash, path}, variant {system, label, params, id},
  dataset {name, params, task, classes, n_tracks, sample_rate, fingerprint},
  protocol {name, params}, fold {index, split_hash, train, valid, test (counts)}, seed,
  skipped [{id, reason}], metrics {name: float}, per_class {roc_auc, pr_auc}, confusion,
  predictions {track_ids, scores, truth}, timings {features_s, fit_s, predict_s, total_s},
  n_parameters, training {what the system reports}, diagnostics {e.g. filter_spectra},
  resources {peak_gpu_memory_bytes, gpu_memory_total_bytes (CUDA only), process_peak_rss_bytes (the worker process's
  peak so far: an upper bound for the trial)}, provenance {mirbench, python, platform, libraries, device, device_name, precision,
  git_revision, started_at, finished_at, quick}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator

SCHEMA = "mirbench.trial/1"


def ran_quick(suite_doc: dict) -> bool:
    """Whether the run stored in `suite.json` used --quick ("quick_run"; files before it kept a bool in "quick",
    where the suite's own [quick] table belongs)."""
    if "quick_run" in suite_doc:
        return bool(suite_doc["quick_run"])
    return suite_doc.get("quick") is True


def to_jsonable(value):
    """NaN/inf become null so files stay strict JSON; numpy scalars and arrays become lists and numbers."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(to_jsonable(data), fh, indent=1, sort_keys=True, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultWriteError(RuntimeError):
    """A result could not be written (a full disk, a read-only directory); every file written before is intact."""


class ResultStore:
    """Reads and writes the trial records of one suite run."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def trials_dir(self) -> Path:
        return self.root / "trials"

    def trial_path(self, trial_id: str) -> Path:
        return self.trials_dir / f"{trial_id}.json"

    def write_suite(self, suite_doc: dict) -> None:
        self._write(self.root / "suite.json", suite_doc)

    def read_suite(self) -> dict:
        path = self.root / "suite.json"
        if not path.exists():
            raise FileNotFoundError(f"{self.root} holds no suite.json: is it a results directory written by 'mirbench run'?")
        return json.loads(path.read_text())

    def write(self, record: dict) -> Path:
        path = self.trial_path(record["trial_id"])
        self._write(path, {"schema": SCHEMA, **record})
        return path

    def _write(self, path: Path, data: dict) -> None:
        """`write_json_atomic`, with an OSError turned into a ResultWriteError that says what to do."""
        try:
            write_json_atomic(path, data)
        except OSError as exc:
            raise ResultWriteError(
                f"cannot write {path}: {exc.strerror or exc}. The results written before it are intact; "
                "free disk space (or make the directory writable) and run the same command again to resume"
            ) from exc

    def status(self, trial_id: str) -> str | None:
        """"ok", "failed", or None when the trial has no readable record."""
        path = self.trial_path(trial_id)
        try:
            return json.loads(path.read_text()).get("status")
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def records(self) -> Iterator[dict]:
        """All trial records, in file-name order (stable across runs)."""
        for path in sorted(self.trials_dir.glob("*.json")):
            try:
                yield json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} is not valid JSON ({exc}); delete it and re-run to redo that trial") from None
