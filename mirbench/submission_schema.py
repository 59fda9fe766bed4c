"""The shape of a submission document: every field that verify and the leaderboard read, typed and bounded.

Checks never recurse (a document nested 100,000 deep is refused, not a RecursionError) and messages name a
field and the kind of value found there, never the value itself: a submission is untrusted input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

SCHEMA = "mirbench.submission/1"
SHOWN = 5  # ids or records named in a message before "and N more"
MAX_DEPTH = 32  # nesting of JSON arrays and objects anywhere in a submission
MAX_TEXT = 200  # characters of a name or label
MAX_PARAMETERS = 10**13
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def kind(value) -> str:
    """The JSON kind of a value, for messages that must not print it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number" if math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return f"text of {len(value)} characters" if len(value) > MAX_TEXT else "text"
    return "a list" if isinstance(value, list) else "a table" if isinstance(value, dict) else type(value).__name__


def text(limit: int = MAX_TEXT, optional: bool = False):
    def check(v):
        if (v is None and optional) or (isinstance(v, str) and len(v) <= limit):
            return None
        return f"must be text of at most {limit} characters{' or null' if optional else ''}, got {kind(v)}"
    return check


def plain(v):
    if isinstance(v, str) and len(v) <= MAX_TEXT and NAME.fullmatch(v):
        return None
    return f"must be a plain name (letters, digits, '.', '_', '-'; at most {MAX_TEXT}), got {kind(v)}"


def whole(lo: int, hi: int, optional: bool = False):
    def check(v):
        if v is None and optional:
            return None
        if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi:
            return None
        return f"must be a whole number from {lo} to {hi}{' or null' if optional else ''}, got {kind(v)}"
    return check


def finite(optional: bool = True, lo: float | None = None):
    def check(v):
        if v is None and optional:
            return None
        number = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if number and (lo is None or v >= lo):
            return None
        bound = f" >= {lo}" if lo is not None else ""
        return f"must be a finite number{bound}{' or null' if optional else ''}, got {kind(v)}"
    return check


def anything(v):
    return None


def one_of(*kinds: type, optional: bool = False):
    names = {dict: "a table", list: "a list", str: "text", bool: "true/false", int: "a whole number"}
    def check(v):
        if (v is None and optional) or (isinstance(v, kinds) and not (isinstance(v, bool) and bool not in kinds)):
            return None
        return f"must be {' or '.join(names[k] for k in kinds)}{' or null' if optional else ''}, got {kind(v)}"
    return check


@dataclass(frozen=True)
class Each:
    """A table of plain names to values of one spec."""

    spec: Any
    optional: bool = False


@dataclass(frozen=True)
class ListOf:
    spec: Any


@dataclass(frozen=True)
class Table:
    """A table with these keys (True: required); `closed` refuses any other key."""

    fields: dict
    closed: bool = False
    optional: bool = False


def first_problem(value, spec, here: str) -> str | None:
    """The first way `value` breaks `spec`, as "'key.path' must be ..." (never printing the value)."""
    if isinstance(spec, Table):
        if value is None and spec.optional:
            return None
        if not isinstance(value, dict):
            return f"'{here}' must be a table, got {kind(value)}"
        for key in value:
            if spec.closed and key not in spec.fields:
                return f"'{here}' has an unknown key " + (f"'{key}'" if plain(key) is None else "(not a plain name)")
        for key, (required, sub) in spec.fields.items():
            path = f"{here}.{key}" if here else key
            if key not in value:
                if required:
                    return f"'{path}' is missing"
                continue
            problem = first_problem(value[key], sub, path)
            if problem:
                return problem
        return None
    if isinstance(spec, Each):
        if value is None and spec.optional:
            return None
        if not isinstance(value, dict):
            return f"'{here}' must be a table, got {kind(value)}"
        for key, item in value.items():
            if plain(key) is not None:
                return f"'{here}' has a key that is not a plain name"
            problem = first_problem(item, spec.spec, f"{here}.{key}")
            if problem:
                return problem
        return None
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return f"'{here}' must be a list, got {kind(value)}"
        for i, item in enumerate(value):
            problem = first_problem(item, spec.spec, f"{here}[{i}]")
            if problem:
                return problem
        return None
    message = spec(value)
    return f"'{here}' {message}" if message else None


VERSION = text(64)
SUITE_FIELDS = Table({
    "name": (True, plain), "version": (True, one_of(str, int)), "hash": (True, text(64)),
    "quick_run": (False, one_of(bool)),
    "dataset": (True, Table({"name": (True, plain)})), "protocol": (True, Table({"name": (True, plain)})),
})
PROVENANCE = Table({
    "device_name": (False, text(optional=True)), "platform": (False, text(optional=True)),
    "mirbench": (False, text(64, optional=True)), "finished_at": (False, text(64, optional=True)),
    "cpu_count": (False, whole(1, 10**6, optional=True)),
}, optional=True)
RECORD = Table({
    "trial_id": (True, plain),
    "status": (False, lambda v: None if v == "ok" else "must be \"ok\": a submission holds successful trials only"),
    "variant": (True, Table({"system": (True, text()), "label": (True, text()), "id": (True, plain),
                             "params": (True, one_of(dict))})),
    "seed": (True, whole(0, 2**32)),
    "protocol": (True, one_of(dict)),
    "fold": (True, Table({"index": (True, whole(0, 10**6)), "split_hash": (True, text(128))})),
    "dataset": (True, Table({"fingerprint": (True, text(128))})),
    "metrics": (True, Each(finite())),
    "predictions": (True, Table({"track_ids": (True, ListOf(text())), "scores": (True, ListOf(ListOf(finite(False)))),
                                 "truth": (False, anything)})),
    "n_parameters": (False, whole(0, MAX_PARAMETERS, optional=True)),
    "training": (False, one_of(dict, optional=True)),
    "timings": (False, Each(finite(lo=0.0), optional=True)),
    "provenance": (False, PROVENANCE),
    "skipped": (False, one_of(list, optional=True)),
    "identity": (False, anything),  # the run's trial identity (mirbench.run.identity): tolerated, not trusted
    # What the run derived from the predictions, which the report prints: verify recomputes each one.
    "per_class": (False, one_of(dict, optional=True)),
    "auc_undefined_classes": (False, one_of(list, optional=True)),
    "macro_excluded": (False, one_of(dict, optional=True)),
    "confusion": (False, one_of(list, optional=True)),
    # What the run recorded about itself, which the report prints as the run's own account.
    "schema": (False, lambda v: None if v == "mirbench.trial/1" else "must be \"mirbench.trial/1\""),
    "suite": (False, one_of(dict, optional=True)),
    "error": (False, one_of(dict, optional=True)),
    "diagnostics": (False, one_of(dict, optional=True)),
    "resources": (False, one_of(dict, optional=True)),
}, closed=True)
#: A failed trial's record, kept for the report's account of the run (never ranked or verified as a result).
FAILED = Table({
    "trial_id": (True, plain),
    "status": (True, lambda v: None if v == "failed" else "must be \"failed\""),
    "variant": (True, Table({"system": (True, text()), "label": (True, text()), "id": (True, plain)})),
})
ABOUT = Table({"systems": (True, ListOf(Table({"system": (True, text()), "package": (True, text(optional=True)),
                                               "version": (True, text(64, optional=True))})))}, optional=True)


def too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than `limit` levels anywhere (without recursing)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def shape_problems(submission) -> list[str]:
    """Every field verify and the leaderboard read, typed and bounded: one line per malformed part, naming it."""
    if not isinstance(submission, dict):
        return [f"the submission must be a table, got {kind(submission)}"]
    if too_deep(submission):
        return [f"the submission is nested more than {MAX_DEPTH} levels deep; write it again with 'mirbench submit'"]
    top = Table({"schema": (True, lambda v: None if v == SCHEMA else f"must be {SCHEMA!r}"),
                 "created_at": (False, text(64, optional=True)), "mirbench": (True, VERSION),
                 "suite": (True, SUITE_FIELDS), "records": (True, ListOf(anything)),
                 "failed": (False, ListOf(FAILED)), "plan": (False, Each(text(128), optional=True)),
                 "results_name": (False, plain), "about": (False, ABOUT)})
    problem = first_problem(submission, top, "")
    if problem:
        return [problem]
    problems = []
    for i, record in enumerate(submission["records"]):
        if not isinstance(record, dict):
            problems.append(f"record {i + 1} must be a table, got {kind(record)}")
            continue
        tid = record.get("trial_id")
        who = f"trial {tid}" if plain(tid) is None else f"record {i + 1}"
        problem = first_problem(record, RECORD, "")
        if problem:
            problems.append(f"{who}: {problem}")
    if len(problems) > SHOWN:
        problems = problems[:SHOWN] + [f"and {len(problems) - SHOWN} more malformed records"]
    return problems
