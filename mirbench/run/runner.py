"""Run a suite: plan its trials, skip the finished ones, compute the features they need once (the feature stage),
hand the trials to an executor, write each record.

Each stage says when it starts, one line on stderr ("mirbench: validating 1000 tracks..."), with a progress bar
where it takes a while (`announce`; without progress bars the lines go to the log).

The parent process writes every result file (atomically) as trials complete, so
a run killed at any moment loses at most the trials in flight, and the next
run of the same suite does only what is missing.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from tqdm import tqdm

from mirbench.results import ResultStore
from mirbench.run.executors import executor_for
from mirbench.run.feature_stage import StageReport, run_stage
from mirbench.run.plan import RunOptions, plan
from mirbench.run.trial import TrialSpec
from mirbench.suite import Suite

log = logging.getLogger("mirbench")


@dataclass
class RunSummary:
    results: Path
    planned: int
    skipped_done: int
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    unusable_tracks: dict = field(default_factory=dict)
    rerun: dict[str, int] = field(default_factory=dict)  # why stored trials were run again -> how many
    set_aside: list[str] = field(default_factory=list)  # invalid records renamed out of the way, with the problem
    features: StageReport | None = None  # what the feature stage computed, or why it did not run


def results_dir(suite: Suite, options: RunOptions) -> Path:
    if options.results:
        return Path(options.results)
    return Path("results") / (suite.name + ("-quick" if options.quick else ""))


def run_suite(suite: Suite, options: RunOptions) -> RunSummary:
    """Run every trial of `suite` that has no valid stored record of the same identity; returns what was done.

    One run at a time writes to a results directory (a second one stops with ResultsError), and a directory that
    holds another suite's results is an error, not a merge.
    """
    store = ResultStore(results_dir(suite, options))
    with store.lock():
        return _run_locked(suite, options, store)


def _run_locked(suite: Suite, options: RunOptions, store: ResultStore) -> RunSummary:
    from mirbench.datasets import open_dataset
    from mirbench.run.identity import digest

    check_owner(store, suite)
    swept = store.sweep_temporary()
    if swept:
        log.info("removed %d temporary file(s) left by a killed run in %s", swept, store.root)
    say = partial(announce, progress=options.progress)
    say(f"indexing dataset {suite.dataset['name']}...")
    dataset = open_dataset(suite.dataset, options.data_root)
    validation = validate(dataset, options.progress, say)
    if validation.problems:
        log.warning(validation.summary())
    say(f"planning the trials of {suite.name}...")
    specs = plan(suite, dataset, options, dict(validation.problems), validation.kinds)
    triage = Triage.of(store, specs, options.retry_failed)
    store.write_plan({s.trial_id: digest(s.identity) for s in specs})
    store.write_suite({**suite.data, "name": suite.name, "hash": suite.hash(), "quick_run": options.quick})
    todo = [s for s in specs if s.trial_id not in triage.done]
    summary = RunSummary(store.root, len(specs), len(triage.done), unusable_tracks=dict(validation.problems),
                         rerun=dict(triage.reasons), set_aside=triage.set_aside)
    summary.features = feature_stage(todo, dataset, options, say)
    say(f"trials: {len(todo)} to run, {len(triage.done)} already done")
    bar = tqdm(total=len(todo), desc=f"{suite.name} trials", unit="trial", disable=not options.progress)

    def finish(record: dict) -> None:
        store.write(record)
        if record["status"] == "ok":
            summary.ok += 1
        else:
            summary.failed.append(f"{record['trial_id']}: {record['error']['type']}: {record['error']['message']}")
            bar.write(f"trial {record['trial_id']} failed: {record['error']['message']}")
        bar.update(1)

    try:
        executor_for(options.workers, options.cluster).run(todo, finish)
    finally:
        bar.close()
    return summary


def announce(message: str, progress: bool = True, warning: bool = False) -> None:
    """A line saying which stage a run is in (or, `warning`, what went wrong in it): on stderr, above any progress
    bar, when bars are shown; else in the log (a stage at INFO, which --verbose shows; a warning always)."""
    if progress:
        tqdm.write(f"mirbench: {message}", file=sys.stderr)
    else:
        log.log(logging.WARNING if warning else logging.INFO, message)


def validate(dataset, progress: bool, say):
    """`dataset.validate()`, announced, with a bar counting the tracks checked when it takes over a second."""
    from mirbench.datasets.base import validation_progress

    say(f"validating {len(dataset.tracks)} tracks...")
    with tqdm(total=len(dataset.tracks), desc="validating", unit="track", disable=not progress, delay=1.0) as bar:
        with validation_progress(bar.update):
            return dataset.validate()


def feature_stage(todo: list[TrialSpec], dataset, options: RunOptions, say) -> StageReport:
    """The feature stage (mirbench.run.feature_stage) on the run's workers. It never fails the run: whatever goes
    wrong in it is said, what it computed stays in the cache, and the trials compute what is missing."""
    try:
        return run_stage(todo, dataset, options.workers, options.progress, say)
    except Exception as exc:  # a bug or an environment problem in the stage must not cost the trials
        log.debug("the feature stage failed", exc_info=True)
        say(f"features: the stage stopped ({type(exc).__name__}: {exc}); the trials compute what is missing",
            warning=True)
        return StageReport(skipped=f"{type(exc).__name__}: {exc}")


def check_owner(store: ResultStore, suite: Suite) -> None:
    """Refuse a results directory that holds another suite's results (its suite.json, or any of its records)."""
    from mirbench.results import ResultsError

    names = set()
    if (store.root / "suite.json").exists():
        names.add(store.read_suite()["name"])
    for path in sorted(store.trials_dir.glob("*.json")):
        record, _ = store._load(path)
        if record is not None:
            names.add(record["suite"]["name"])
    others = sorted(names - {suite.name})
    if others:
        raise ResultsError(
            f"{store.root} holds results of suite {others[0]!r}, not {suite.name!r}: give this run another "
            "--results directory (or delete that one to start over)"
        )


@dataclass
class Triage:
    """Which planned trials have a valid stored record of the same identity, and why the others rerun."""

    done: set[str]
    reasons: dict[str, int]  # reason -> trials rerun for it (stored trials only; trials never run are not counted)
    set_aside: list[str]  # "file: problem" of invalid records renamed out of the way

    @classmethod
    def of(cls, store: ResultStore, specs: list[TrialSpec], retry_failed: bool) -> "Triage":
        from mirbench.run.identity import why_rerun

        done, reasons, aside = set(), {}, []
        for spec in specs:
            record, problem = store.load(spec.trial_id)
            if problem:
                moved = store.set_aside(spec.trial_id)
                aside.append(f"{moved}: {problem}")
                reasons["its stored record was invalid"] = reasons.get("its stored record was invalid", 0) + 1
                continue
            if record is None:
                continue
            why = why_rerun(record.get("identity"), spec.identity)
            if why is None and (record["status"] == "ok" or not retry_failed):
                done.add(spec.trial_id)
            elif why is not None:
                reasons[why] = reasons.get(why, 0) + 1
        return cls(done, reasons, aside)
