"""A small declarative checker for suite files: every key known, every value the right type.

Errors name the file and the key path and suggest the nearest valid key, so a
typo in a suite never silently changes what runs.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable

from mirbench.errors import MirbenchError


class SuiteError(MirbenchError, ValueError):
    """A suite file is malformed; the message names the file and the key path."""


def nearest(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def type_name(value: Any) -> str:
    return {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def brief(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it: its repr (control characters escaped), cut short when long."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[:limit]}..."


@dataclass(frozen=True)
class Field:
    """One key of a table: its expected type(s), whether it is required, an extra check."""

    types: tuple[type, ...]
    required: bool = False
    check: Callable[[Any], str | None] | None = None  # returns a complaint or None
    doc: str = ""


def positive_int(v):
    return None if isinstance(v, int) and not isinstance(v, bool) and v > 0 else "must be a positive integer"


def nonempty_list(v):
    return None if v else "must not be empty"


def int_list(v):
    if not v or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return "must be a non-empty array of integers"
    return None


def str_list(v):
    if not all(isinstance(x, str) for x in v):
        return "must be an array of strings"
    return None


def number(v):
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) else "must be a number"


PUBLISHED_RESERVED = {"value", "std", "source", "note", "dataset"}  # the rest name a cell


def name_list(v):
    return nonempty_list(v) or str_list(v)


#: the longest suite name, in bytes of UTF-8: it is a file name (at most 255 bytes) once suffixes are added
NAME_BYTES = 200


def file_name(v):
    """A suite name names its results folder and report files (results/NAME/, reports/NAME.md): not empty, '.' or
    '..', no path separator, no control character or line break (NUL included: no file name holds one), and at
    most NAME_BYTES bytes."""
    plain = v.strip() and v.strip() not in (".", "..") and not any(c in v for c in "/\\")
    printable = not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in v)
    if not (plain and printable and len(v.encode("utf-8", "surrogatepass")) <= NAME_BYTES):
        return (
            f"must be a plain name usable as a file name: not empty, '.' or '..', at most {NAME_BYTES} bytes, and without "
            "'/', '\\' or control characters (NUL, tab, newline); it names the results folder and the report files"
        )
    return None


def nonempty_str(v):
    return None if v.strip() else "must not be empty"


def auc_kind(v):
    return None if v in ("roc_auc", "pr_auc") else "must be 'roc_auc' or 'pr_auc'"


PUBLISHED = [
    {
        "value": Field((int, float), required=True, check=number),
        "std": Field((int, float), check=number),
        "source": Field((str,)),
        "note": Field((str,)),
        "dataset": Field((str,), doc="the dataset (and split) the number was measured on, named under the table"),
        "*": Field((str, int, float, bool)),
    }
]

WHERE = {"*": Field((str, int, float, bool), doc="dimension -> value: only matching trials enter")}

SCHEMA: dict[str, Any] = {
    "name": Field((str,), check=file_name, doc="suite name (default: file stem)"),
    "version": Field((str, int), required=True, doc="bumped when results stop being comparable"),
    "description": Field((str,)),
    "extends": Field((str,), check=nonempty_str, doc="parent suite: a path relative to this file"),
    "seeds": Field((list,), check=int_list),
    "metrics": Field((list,), check=name_list),
    "params": Field((dict,), doc="parameters for every system that takes them; a system's own params and grid win"),
    "dataset": {
        "name": Field((str,), required=True),
        "*": Field((str, int, float, bool, list), doc="dataset parameters"),
    },
    "protocol": {
        "name": Field((str,), required=True),
        "*": Field((str, int, float, bool, list), doc="protocol parameters"),
    },
    "systems": [
        {
            "name": Field((str,), required=True),
            "label": Field((str,)),
            "params": Field((dict,)),
            "grid": Field((dict,)),
        }
    ],
    "quick": {
        "tracks_per_class": Field((int,), check=positive_int),
        "folds": Field((int,), check=positive_int),
        "seeds": Field((int,), check=positive_int),
        "params": Field((dict,), doc="overrides for systems that take these parameters"),
    },
    "report": {
        "title": Field((str,)),
        "rows": Field((list,), check=name_list),
        "columns": Field((list,), check=name_list),
        "metrics": Field((list,), check=name_list),
        "decimals": Field((int,), check=lambda v: None if 0 <= v <= 6 else "must be between 0 and 6"),
        "percent": Field((bool,)),
        "published": PUBLISHED,
        "tables": [
            {
                "title": Field((str,), required=True, doc="the table's '###' heading"),
                "rows": Field((list,), required=True, check=name_list),
                "columns": Field((list,), required=True, check=name_list),
                "metrics": Field((list,), check=name_list, doc="default: the report's metrics"),
                "where": WHERE,
                "published": PUBLISHED,
            }
        ],
        "plot": {
            "x": Field((str,), required=True, doc="a metric or record value: n_parameters, training.<key>, timings.<key>"),
            "y": Field((str,), required=True, doc="a metric (or record value)"),
            "lines": Field((str,), required=True, doc="a layout dimension (system, variant, a parameter): one line each"),
            "log_x": Field((bool,), doc="default false"),
            "where": WHERE,
            "title": Field((str,), doc="default '<y> against <x>'"),
        },
        "per_class": {
            "metric": Field((str,), required=True, check=auc_kind),
            "columns": Field((list,), check=name_list, doc="default: ['variant']"),
            "where": WHERE,
        },
    },
}


def check(data: dict, schema: dict, path: str, where: str, partial: bool = False) -> None:
    """Raise SuiteError on the first unknown key, missing key or wrong type under `path`.

    `partial` skips the required-key check: a suite that `extends` another may
    leave required keys to its parent (the merged document is checked in full).
    """
    known = [k for k in schema if k != "*"]
    for key, value in data.items():
        here = f"{path}.{key}" if path else key
        spec = schema.get(key, schema.get("*"))
        if spec is None:
            raise SuiteError(f"{where}: unknown key '{here}'{nearest(key, known)} (valid keys: {', '.join(known)})")
        check_value(value, spec, here, where, partial)
    for key, spec in schema.items():
        if not partial and key != "*" and isinstance(spec, Field) and spec.required and key not in data:
            raise SuiteError(f"{where}: missing required key '{path + '.' if path else ''}{key}'")


def check_value(value: Any, spec: Any, here: str, where: str, partial: bool = False) -> None:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise SuiteError(f"{where}: '{here}' must be a table, got {type_name(value)}")
        check(value, spec, here, where, partial)
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise SuiteError(f"{where}: '{here}' must be an array of tables ([[{here}]]), got {type_name(value)}")
        for i, item in enumerate(value):
            check_value(item, spec[0], f"{here}[{i}]", where, partial)
    else:
        if isinstance(value, bool) and bool not in spec.types:
            ok = False
        else:
            ok = isinstance(value, spec.types) or (float in spec.types and isinstance(value, int))
        if not ok:
            wanted = " or ".join(type_name(t()) for t in spec.types)
            raise SuiteError(f"{where}: '{here}' must be {wanted}, got {type_name(value)} {brief(value)}")
        complaint = spec.check(value) if spec.check else None
        if complaint:
            raise SuiteError(f"{where}: '{here}' {complaint}, got {brief(value)}")
