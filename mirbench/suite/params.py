"""Parameters a suite gives its components (dataset, protocol, systems): known names, the right kinds, good values.

Every error names the key path the value was written at (`dataset.tracks_per_genre`,
`systems[0].grid.C`, `quick.params.n_estimators`), so the user knows which line of
the suite to fix. Kinds come from the constructor's annotations (a parameter
annotated `int` takes an integer, `float` any number, `tuple` an array); values
are vetted by the component itself: a dataset's `check_params`, a protocol's
constructor, a system's `check_params`.
"""

from __future__ import annotations

import inspect
import numbers
import os
import types
import typing
from pathlib import PurePath
from typing import Any, Callable, Mapping

from mirbench.suite.schema import SuiteError, nearest, type_name

#: annotation -> the TOML kinds it accepts (None: any value, nothing to check)
KIND_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}


def accepted_params(factory) -> tuple[set[str], bool]:
    """Parameter names a class's constructor takes, and whether it takes **kwargs."""
    sig = inspect.signature(factory)
    names = {n for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def check_names(factory, params: Mapping, where: str, path: str, what: str) -> None:
    """Every key of `params` (written under `path`) is a parameter of `factory`: a typo is an error, not ignored."""
    names, open_ended = accepted_params(factory)
    for key in params:
        if key not in names and not open_ended:
            raise SuiteError(
                f"{where}: '{path}.{key}': {what} has no parameter {key!r}{nearest(key, names)} "
                f"(parameters: {', '.join(sorted(names))})"
            )


def annotation_kinds(annotation) -> set[type] | None:
    """The TOML kinds (bool, int, float, str, list, dict) an annotation admits; None when it says nothing usable."""
    if annotation is type(None):
        return set()
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [annotation_kinds(a) for a in typing.get_args(annotation)]
        return None if any(p is None for p in parts) else set().union(*parts)
    if origin is typing.Literal:
        return {type(v) for v in typing.get_args(annotation)}
    base = origin or annotation
    if not isinstance(base, type):
        return None
    if base is bool:
        return {bool}
    if issubclass(base, numbers.Integral):
        return {int}
    if issubclass(base, numbers.Real):
        return {int, float}
    if issubclass(base, (str, PurePath, os.PathLike)):
        return {str}
    if issubclass(base, (list, tuple, typing.Sequence)) and not issubclass(base, str):
        return {list}
    if issubclass(base, (dict, typing.Mapping)):
        return {dict}
    return None


def expected_kinds(factory) -> dict[str, set[type]]:
    """Parameter name -> the kinds its annotation admits, for the parameters annotated with something checkable."""
    init = factory.__init__ if isinstance(factory, type) else factory
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # an annotation naming something not importable here: nothing to check against
        return {}
    kinds = {}
    for name, annotation in hints.items():
        found = annotation_kinds(annotation)
        if found:
            kinds[name] = found
    return kinds


def kind_ok(value: Any, kinds: set[type]) -> bool:
    """Whether a TOML value is of one of `kinds` (a boolean is not a number; an integer is a float)."""
    if isinstance(value, bool):
        return bool in kinds
    return any(isinstance(value, k) for k in kinds if k is not bool)


def check_kinds(factory, values: Mapping[str, tuple[str, Any]], where: str, what: str) -> None:
    """Each value is of the kind its parameter's annotation says; `values` maps name -> (key path, value)."""
    check_kind_lists(factory, {name: (path, [value]) for name, (path, value) in values.items()}, where, what)


def check_kind_lists(factory, values: Mapping[str, tuple[str, list]], where: str, what: str) -> None:
    """`check_kinds` for arrays of values (a grid: name -> (key path, values)): the annotations are read once and
    each value is checked once, however many grid points it appears in."""
    kinds = expected_kinds(factory)
    for name, (path, options) in values.items():
        wanted = kinds.get(name)
        for value in options if wanted else ():
            if not kind_ok(value, wanted):
                shown = " or ".join(KIND_NAMES[k] for k in KIND_NAMES if k in wanted and not (k is int and float in wanted))
                raise SuiteError(
                    f"{where}: '{path}' must be {shown} ({what} parameter {name!r}), got {type_name(value)} {value!r}"
                )


def culprit(fails: Callable[[dict], Exception | None], params: Mapping) -> str | None:
    """The first key whose value alone (the others at their defaults) fails the check: the key to name in an error."""
    for key, value in params.items():
        if fails({key: value}) is not None:
            return key
    return None


def vet(fails: Callable[[dict], Exception | None], params: Mapping, paths: Mapping[str, str], where: str, whole: str) -> None:
    """Raise SuiteError if `fails(params)` returns an error: at the path of the one key to blame, else at `whole`."""
    error = fails(dict(params))
    if error is None:
        return
    key = culprit(fails, params)
    raise SuiteError(f"{where}: '{paths[key] if key is not None else whole}': {error}")


def raised(call: Callable[..., object], *errors: type[Exception]) -> Callable[[dict], Exception | None]:
    """Adapt `call(**params)` into a check that returns the exception of one of `errors` it raises, else None."""

    def fails(params: dict) -> Exception | None:
        try:
            call(**params)
        except errors as exc:
            return exc
        return None

    return fails
