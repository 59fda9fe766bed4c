"""The result store: one JSON file per trial, written atomically, plus the suite it ran.

A results directory holds `suite.json` (the merged suite document with its
`hash` and the run's `quick_run` flag) and `trials/<trial id>.json`. Reports and the leaderboard read nothing else.

The trial record is defined in `mirbench.record`: its JSON Schema ("mirbench.trial/1", printed by `mirbench schema`)
and the builder that fills it in; every record written carries `"schema": "mirbench.trial/1"`.

`plan.json` lists the run's planned trials as {trial id: digest of its identity}: `records()` yields only the
records of that plan, so a report never mixes in a stale or foreign record.
A record is validated when it is read (`record_problem`): the runner sets an invalid one aside and reruns it, and
every other reader (reports, the leaderboard, submissions, compare) reads through `records()`, which refuses an
invalid record with a `ResultsError` naming its file. Records of older mirbench versions load as they are: every
record ever written carries "schema", and the keys added since (`identity`, `dataset.content_fingerprint`,
`macro_excluded`, `fold.class_counts`, `resources`, ...) are optional; one without `identity` is rerun by
`mirbench run`, never reused.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mirbench.errors import MirbenchError
from mirbench.jsonfile import write_json_atomic

SCHEMA = "mirbench.trial/1"


def ran_quick(suite_doc: dict) -> bool:
    """Whether the run stored in `suite.json` used --quick ("quick_run"; files before it kept a bool in "quick",
    where the suite's own [quick] table belongs)."""
    if "quick_run" in suite_doc:
        return bool(suite_doc["quick_run"])
    return suite_doc.get("quick") is True


class ResultWriteError(MirbenchError, RuntimeError):
    """A result could not be written (a full disk, a read-only directory); every file written before is intact."""


class ResultsError(MirbenchError):
    """A results directory cannot be used as asked (another suite's results, another run writing to it, an
    unreadable suite.json); the message says what to do."""


def record_problem(record, trial_id: str | None = None) -> str | None:
    """Why `record` is not a valid trial record (None when it is), as one line naming the key path: its schema
    (`mirbench.record`), and a trial id that is the one its file name gives."""
    from mirbench.record import problem

    return problem(record, trial_id)


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
        try:
            doc = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
            raise ResultsError(f"{path} is not a suite document written by 'mirbench run'; delete it and run the suite again")
        return doc

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

    # -- reading back, trusting nothing ------------------------------------------------------------
    def load(self, trial_id: str) -> tuple[dict | None, str | None]:
        """(record, None) for a valid stored record, (None, None) when there is none, (None, problem) when the
        file is not a valid record."""
        return self._load(self.trial_path(trial_id))

    def _load(self, path: Path) -> tuple[dict | None, str | None]:
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return None, "it is not readable JSON"
        problem = record_problem(record, path.name.removesuffix(".json"))
        return (None, problem) if problem else (record, None)

    def status(self, trial_id: str) -> str | None:
        """"ok", "failed", or None when the trial has no valid record."""
        record, _ = self.load(trial_id)
        return record["status"] if record else None

    def set_aside(self, trial_id: str) -> Path:
        """Rename an invalid record out of the way (`<id>.json.invalid`, numbered if taken); returns the new name."""
        path = self.trial_path(trial_id)
        target, n = path.with_name(path.name + ".invalid"), 1
        while target.exists():
            n += 1
            target = path.with_name(f"{path.name}.invalid{n}")
        os.replace(path, target)
        return target

    def write_plan(self, plan: dict[str, str]) -> None:
        """Record the run's planned trials, {trial id: identity digest}: the records `records()` yields."""
        self._write(self.root / "plan.json", {"trials": plan})

    def planned(self) -> dict[str, str] | None:
        """{trial id: identity digest} of the last run, or None (a directory from before plans, or a bad file)."""
        try:
            plan = json.loads((self.root / "plan.json").read_text()).get("trials")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, AttributeError):
            return None
        return plan if isinstance(plan, dict) else None

    def records(self) -> Iterator[dict]:
        """The records of the planned trials (every record when there is no plan), in file-name order. A file of
        the plan (any file, without one) that is not a valid record raises a ResultsError naming it: a reader never
        reports around it. Files of trials outside the plan are not read."""
        from mirbench.run.identity import digest

        plan = self.planned()
        for path in sorted(self.trials_dir.glob("*.json")):
            if plan is not None and path.stem not in plan:
                continue  # a trial of another run's plan: never this run's, whatever the file holds
            record, problem = self._load(path)
            if problem:
                raise ResultsError(
                    f"{path} is not a valid trial record ({problem}): run its suite again with 'mirbench run SUITE "
                    f"--results {self.root}', which sets the file aside and reruns that trial, or delete the file"
                )
            if record is None:
                continue
            if plan is not None and plan[path.stem] != digest(record.get("identity")):
                continue  # a stale record, made from other inputs than the plan's: never reported as this run's
            yield record

    # -- one writer at a time ------------------------------------------------------------------------
    @contextmanager
    def lock(self):
        """Hold the directory for one run: a second run into it stops with a clear error instead of redoing the work."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            yield
            return
        with open(self.root / ".lock", "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ResultsError(
                    f"another mirbench run is writing to {self.root}; wait for it to finish, or give this run "
                    "another --results directory"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def sweep_temporary(self) -> int:
        """Delete the temporary files that killed runs left behind (call with the lock held); how many went."""
        count = 0
        for folder in (self.root, self.trials_dir):
            for path in folder.glob(".*.tmp"):
                path.unlink(missing_ok=True)
                count += 1
        return count
