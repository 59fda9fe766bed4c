"""Record values as report metrics: `n_parameters`, `training.<key>` and `timings.<key>` of each trial record.

A table or plot may name these beside the suite's metrics; they are averaged over
folds and seeds like a metric, and printed as counts or in scientific notation
where decimals would hide them. A value named after a metric (`training.train_accuracy`,
`training.valid_roc_auc_macro`) is printed like that metric.
"""

from __future__ import annotations

import numbers

from mirbench.metrics import METRICS
from mirbench.suite.schema import nearest

SECTIONS = {"training": "a number the system's training_info() reports", "timings": "a number in the trial's timings"}
MISSING = object()  # a record has no value under this name (a suite metric stored as null is a value: None)


def split_name(name: str) -> tuple[str, str]:
    """("training", "s_per_window") for "training.s_per_window"; ("", name) for a name without a dot."""
    section, dot, key = name.partition(".")
    return (section, key) if dot else ("", name)


def is_record_value(name: str) -> bool:
    """Whether a name is `n_parameters`, `training.<key>` or `timings.<key>` (a non-empty key)."""
    section, key = split_name(name)
    return name == "n_parameters" or (section in SECTIONS and bool(key))


def record_value(record: dict, name: str) -> float | int | None:
    """A record value as a number, or None when the record lacks it (or holds no number there)."""
    section, key = split_name(name)
    value = record.get("n_parameters") if name == "n_parameters" else (record.get(section) or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return value


def lookup(record: dict, name: str):
    """A record's value of a suite metric or record value; MISSING when it has none."""
    if is_record_value(name):
        value = record_value(record, name)
        return MISSING if value is None else value
    return record.get("metrics", {}).get(name, MISSING)


def value_title(name: str) -> str:
    """How a table heads a metric: "parameters" for n_parameters, the key for training./timings. values."""
    if name == "n_parameters":
        return "parameters"
    return split_name(name)[1] if is_record_value(name) else name


def name_problem(name: str, computed: list[str] | None) -> str | None:
    """Why a name is neither one of the suite's metrics nor a record value (None when it is fine)."""
    section, key = split_name(name)
    if section in SECTIONS and not key:
        return f"{name!r} names no key: write {section}.<key>, {SECTIONS[section]}"
    if is_record_value(name) or (not section and (not computed or name in computed)):
        return None
    options = list(computed or []) + ["n_parameters"] + [f"{s}.{key}" for s in SECTIONS]
    among = f"among the suite's metrics {computed} nor " if computed else ""
    kinds = "n_parameters, training.<key>, timings.<key>"
    return f"{name!r} is not {among}a record value ({kinds}){nearest(name, options)}"


def named_after_metric(name: str) -> bool:
    """Whether a record value's key is a metric's name, or ends with "_<metric>" (train_accuracy)."""
    key = split_name(name)[1]
    return any(key == m or key.endswith("_" + m) for m in METRICS)


def value_kind(name: str, values: list) -> str:
    """"metric" for a suite metric or a record value named after one; for other record values "count" when every
    value is an integer (n_parameters, epochs: a measured 2.0 s stays a float), else "value"."""
    if not is_record_value(name) or named_after_metric(name):
        return "metric"
    integral = values and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values)
    return "count" if integral else "value"


def fmt_record(mean: float, std: float | None, n: int, kind: str, decimals: int) -> str:
    """A record value's mean ± std: counts as integers with thousands separators (no "± 0"); values of a
    table where some cell is small (0 < |mean| < 0.1: kind "small", or a lone small value) to 3 significant
    digits in scientific notation; others to `decimals` places."""
    if kind == "count":
        text = f"{mean:,.0f}"
        return text if n < 2 or not std else f"{text} ± {std:,.0f}"
    spec = ".2e" if kind == "small" or 0 < abs(mean) < 0.1 else f".{decimals}f"
    return f"{mean:{spec}}" if n < 2 or std is None else f"{mean:{spec}} ± {std:{spec}}"
