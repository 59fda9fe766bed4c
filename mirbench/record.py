"""The trial record as code: its JSON Schema ("mirbench.trial/1"), the one builder that writes it, the one check
that reads it back.

A record is one JSON object per trial (`ResultStore` writes it to `trials/<trial id>.json`). `SCHEMA` below is
its definition, key by key; `mirbench schema` prints it. Records are open objects: a reader relies only on the
keys the schema declares, and an older record lacking an optional key (`macro_excluded`, `provenance.cpu_kernels`)
still loads. What the schema cannot say (the trial id of the file name, one row of scores per track id)
`problem` checks after it.

The builder: `new_record` (what the trial is; status "failed" until it succeeds), `started`, `with_machine`,
`with_data`, `with_fold`, `with_result` (status "ok") or `with_error`, `finished`: `trial.attempt` calls them in
that order.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

SCHEMA_ID = "mirbench.trial/1"

_STR = {"type": "string"}
_INT = {"type": "integer"}
_COUNT = {"type": "integer", "minimum": 0}
_NUMBER = {"type": ["number", "null"]}  # a number; null where it was NaN or infinite (files stay strict JSON)
_OBJECT = {"type": "object"}


def _obj(required: tuple[str, ...] = (), **properties) -> dict:
    out: dict[str, Any] = {"type": "object"}
    if required:
        out["required"] = list(required)
    out["properties"] = properties
    return out


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": SCHEMA_ID,
    "description": "One trial (system variant, fold, seed) of a mirbench suite run: what it was, what it scored, "
                   "where it came from. Written by mirbench.record, one file per trial.",
    "type": "object",
    # in this order: a problem report names the first key missing
    "required": ["trial_id", "status", "variant", "fold", "seed", "schema"],
    "properties": {
        "schema": {"const": SCHEMA_ID, "description": "the version of this schema"},
        "trial_id": {**_STR, "description": "<variant id>.fold<index>.seed<seed>, the file's name"},
        "status": {"enum": ["ok", "failed"]},
        "error": {"description": "why a failed trial failed; null for an ok one", "anyOf": [
            {"type": "null"},
            _obj(("message",), type=_STR, message=_STR, traceback=_STR),
        ]},
        "suite": _obj(("name",), name=_STR, version=_STR, hash=_STR, path=_STR),
        "variant": _obj(("system", "label", "params", "id"), system=_STR, label=_STR, params=_OBJECT, id=_STR),
        "seed": _INT,
        "protocol": {**_obj(name=_STR), "additionalProperties": True,
                     "description": "the suite's [protocol] table: its name and its parameters"},
        "fold": _obj(
            ("index",), index=_INT, split_hash=_STR, train=_COUNT, valid=_COUNT, test=_COUNT,
            class_counts={"type": "object", "description": "per split: tracks per class (positives per tag)",
                          "additionalProperties": {"type": "object", "additionalProperties": _COUNT}},
        ),
        "skipped": {"type": "array", "description": "tracks of the fold left out: unusable audio",
                    "items": _obj(("id", "reason"), id=_STR, reason=_STR)},
        "dataset": _obj(
            name=_STR, params=_OBJECT, task=_STR, classes={"type": "array", "items": _STR}, n_tracks=_COUNT,
            sample_rate={"type": ["integer", "null"]},
            fingerprint={**_STR, "description": "of the dataset's index"},
            content_fingerprint={"type": ["string", "null"], "description": "the index, the unusable tracks and "
                                 "every used track's sha256 (mirbench.run.identity.data_fingerprint)"},
        ),
        "metrics": {"type": "object", "additionalProperties": _NUMBER, "description": "metric name: value"},
        "per_class": {"type": "object", "description": "roc_auc, pr_auc: one value per class",
                      "additionalProperties": {"type": "array", "items": _NUMBER}},
        "auc_undefined_classes": {"type": "array", "items": _COUNT},
        "macro_excluded": {"type": "object", "description": "metric: the classes its macro average left out",
                           "additionalProperties": {"type": "array", "items": {"type": ["integer", "string"]}}},
        "confusion": {"type": ["array", "null"], "items": {"type": "array", "items": _COUNT}},
        "predictions": _obj(
            ("track_ids", "scores"),
            track_ids={"type": "array", "items": _STR},
            scores={"type": "array", "items": {"type": "array", "items": _NUMBER}},
            truth={"type": "array", "description": "class indices (single-label) or 0/1 rows (multi-label)",
                   "items": {"type": ["integer", "array"], "items": {"type": "number"}}},
        ),
        "n_parameters": {"type": ["integer", "null"]},
        "training": {**_OBJECT, "description": "what the system reports about its training: its own keys, and these",
                     "additionalProperties": True, "properties": {
            "network_train_s": {**_NUMBER, "description": "seconds its network took to train, by this trial or by "
                                "the one whose model-cache entry it reused (mirbench.kit.model_cache.network_timing)"},
            "network_shared": {"type": "boolean", "description": "true when the network came from the model cache"
                               ", trained once for several variants: fit_s then leaves its training out"}}},
        "diagnostics": {**_OBJECT, "description": "learned quantities worth a picture, e.g. filter_spectra"},
        "timings": {"type": "object", "additionalProperties": _NUMBER, "properties": {
            "features_s": _NUMBER, "fit_s": _NUMBER, "predict_s": _NUMBER, "total_s": _NUMBER,
            "feature_cache_hits": _COUNT, "feature_cache_misses": _COUNT}},
        "resources": {"type": "object", "additionalProperties": {"type": ["integer", "null"]}, "properties": {
            "peak_gpu_memory_bytes": _COUNT, "gpu_memory_total_bytes": _COUNT,
            "process_peak_rss_bytes": {**_COUNT, "description": "the worker's peak so far: an upper bound"}}},
        "provenance": _obj(
            mirbench=_STR, python=_STR, platform=_STR, cpu_count={"type": ["integer", "null"]},
            libraries={"type": "object", "additionalProperties": {"type": ["string", "null"]}},
            git_revision={"type": ["string", "null"]}, cpu_kernels=_STR, device=_STR, device_name=_STR,
            precision=_STR, precision_requested=_STR, quick={"type": "boolean"}, started_at=_STR, finished_at=_STR,
        ),
        "identity": {**_obj(
            suite={"type": "object", "additionalProperties": _STR}, quick={"type": "boolean"},
            data={"type": ["string", "null"]}, split=_STR, variant=_STR, seed=_INT, versions=_OBJECT,
        ), "description": "mirbench.run.identity: the inputs the numbers depend on"},
    },
    "allOf": [
        {"if": {"properties": {"status": {"const": "ok"}}},
         "then": {"required": ["metrics"], "properties": {"error": {"type": "null"}}}},
    ],
}


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a trial record: what `mirbench schema` prints."""
    import copy

    return copy.deepcopy(SCHEMA)


# -- reading back -----------------------------------------------------------------------------------------------

_KINDS = {"object": "an object", "array": "a list", "string": "text", "integer": "an integer",
          "number": "a number", "boolean": "true or false", "null": "null"}


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(SCHEMA)


def _path(parts) -> str:
    """A JSON path in dotted form (`fold.index`, `skipped[0].id`); a key is cut short and stripped of odd
    characters, as it comes from the file."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = re.sub(r"[^\w.-]", "?", str(part))
            out += ("." if out else "") + (key if len(key) <= 40 else key[:37] + "...")
    return out or "the record"


def _kind(schema: dict) -> str:
    kinds = schema.get("type")
    if kinds is None:
        return ""
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return " or ".join(_KINDS[k] for k in kinds)


def _say(error) -> str:
    """One line for one jsonschema error: where, and what is wrong, never the value found."""
    where = list(error.absolute_path)
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        declared = error.schema.get("properties", {})
        if missing not in declared and not where:  # required by the `then` of an ok record
            declared = SCHEMA["properties"]
        kind = _kind(declared.get(missing, {}))
        return f"'{_path([*where, missing])}' is missing" + (f" or is not {kind}" if kind else "")
    if error.validator == "type":
        if not where:
            return f"it holds a JSON {_json_type(error.instance)}, not a trial record (an object)"
        return f"'{_path(where)}' is not {_kind(error.schema)}"
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        return f"'{_path(where)}' is not " + " or ".join(repr(v) for v in allowed)
    if error.validator == "minimum":
        return f"'{_path(where)}' is below {error.validator_value}"
    if error.validator == "anyOf":  # the error part: null, or an object with its message
        return f"'{_path(where)}' is neither null nor an object with a text message"
    return f"'{_path(where)}' does not match the schema ({error.validator})"


def _json_type(value) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null"


def _numbers(values, allow_null: bool = True) -> bool:
    """Whether `values` is a list of JSON numbers (and nulls), by plain type tests: what `_NUMBER` items accept."""
    return isinstance(values, list) and all(
        type(v) is float or type(v) is int or (allow_null and v is None) for v in values)


def _truth_items(values) -> bool:
    return isinstance(values, list) and all(
        type(v) is int or (type(v) is list and _numbers(v, allow_null=False)) for v in values)


_LONG_LISTS = {  # predictions' key: the plain test that every item of it is what the schema asks
    "track_ids": lambda values: isinstance(values, list) and all(type(v) is str for v in values),
    "scores": lambda rows: isinstance(rows, list) and all(_numbers(row) for row in rows),
    "truth": _truth_items,
}


def _without_long_lists(record):
    """`record` with its long per-track and per-class lists emptied, when each of their items plainly is what the
    schema asks: jsonschema then finds in it exactly the errors it finds in `record`, without walking every score
    one by one (most of a record's validation time). None when any item is in doubt: `record` goes whole."""
    if not isinstance(record, dict):
        return None
    light = dict(record)
    predictions = record.get("predictions")
    if isinstance(predictions, dict):
        light["predictions"] = dict(predictions)
        for key, plainly_valid in _LONG_LISTS.items():
            if key in predictions:
                if not plainly_valid(predictions[key]):
                    return None
                light["predictions"][key] = []
    per_class = record.get("per_class")
    if isinstance(per_class, dict):
        if not all(_numbers(values) for values in per_class.values()):
            return None
        light["per_class"] = dict.fromkeys(per_class, [])
    return light


def problem(record, trial_id: str | None = None) -> str | None:
    """Why `record` is not a valid trial record, as one line naming the key path (None when it is valid): the
    first schema error in schema order, then the checks the schema cannot state."""
    light = _without_long_lists(record)
    error = next(iter(_validator().iter_errors(record if light is None else light)), None)
    if error is not None:
        return _say(error)
    if trial_id is not None and record["trial_id"] != trial_id:
        return "'trial_id' is not the one its file name gives"
    predictions = record.get("predictions")
    if predictions is not None and len(predictions["track_ids"]) != len(predictions["scores"]):
        return "'predictions' has not one row of scores per track id"
    return None


# -- the one builder ----------------------------------------------------------------------------------------------


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def new_record(spec, error: dict | None = None) -> dict:
    """What every record of `spec` (a `trial.TrialSpec`) starts as: what the trial is, status "failed" until it
    succeeds."""
    return {
        "schema": SCHEMA_ID,
        "trial_id": spec.trial_id,
        "suite": spec.suite,
        "variant": spec.variant.describe(),
        "seed": spec.seed,
        "protocol": spec.protocol,
        "fold": {"index": spec.fold.index, "split_hash": spec.fold.split_hash()},
        "status": "failed",
        "error": error,
        "provenance": {"quick": spec.quick},
        "identity": spec.identity,
    }


def started(record: dict, spec) -> dict:
    """The trial starts now: the fold's tracks that are left out (unusable audio), the start time."""
    fold = spec.fold
    record["skipped"] = [
        {"id": i, "reason": spec.skipped[i]} for i in sorted(set(fold.train + fold.valid + fold.test) & set(spec.skipped))
    ]
    record["provenance"]["started_at"] = now()
    return record


def with_machine(record: dict, machine: dict, precision: str) -> dict:
    """Where it runs (`provenance.provenance(device)`) and the precision asked for."""
    record["provenance"].update(machine, precision=precision, precision_requested=precision)
    return record


def with_data(record: dict, dataset: dict, content_fingerprint: str | None) -> dict:
    """The dataset (`Dataset.describe()`), with the fingerprint of its audio's content."""
    record["dataset"] = {**dataset, "content_fingerprint": content_fingerprint}
    return record


def with_fold(record: dict, sizes: dict[str, int], class_counts: dict[str, dict[str, int]]) -> dict:
    """The fold's usable tracks: how many per split, and per class (positives per tag) of each split."""
    record["fold"].update(sizes)
    record["fold"]["class_counts"] = class_counts
    return record


def scalar_metrics(values: dict) -> dict[str, float]:
    """The metrics a record stores under "metrics": `evaluate`'s scalar values (not per-class lists, confusions)."""
    return {k: v for k, v in values.items() if isinstance(v, float)}


def timings(features_s: float, fit_features_s: float, watch: dict[str, float], hits: int, misses: int) -> dict:
    """The trial's seconds: computing features (`features_s`, `fit_features_s` of them while fitting), fitting
    and predicting without them (`watch`: the stopwatch's "fit" and "predict", features included), and the
    feature cache's hits and misses."""
    return {
        "features_s": features_s,
        "fit_s": watch["fit"] - fit_features_s,
        "predict_s": watch["predict"] - (features_s - fit_features_s),
        "total_s": watch["fit"] + watch["predict"],
        "feature_cache_hits": hits,
        "feature_cache_misses": misses,
    }


def derived(values: dict) -> dict:
    """What a record keeps of `metrics.evaluate`'s values besides the scalar metrics: per-class AUCs, the classes
    whose AUC is undefined, the classes each macro average left out, and the confusion matrix (a verifier
    recomputes these from the predictions as it does the metrics)."""
    return {
        "per_class": {k.removesuffix("_per_class"): v for k, v in values.items() if k.endswith("_per_class")},
        "auc_undefined_classes": values.get("auc_undefined_classes", []),
        "macro_excluded": values.get("macro_excluded", {}),  # metric -> classes its average left out
        "confusion": values.get("confusion"),
    }


def with_result(record: dict, values: dict, predictions: dict, system, timings: dict) -> dict:
    """A trial that succeeded: `metrics.evaluate`'s `values`, the test predictions {track_ids, scores, truth},
    what the fitted `system` reports, and the timings; status "ok"."""
    from mirbench.jsonfile import to_jsonable

    record["metrics"] = scalar_metrics(values)
    record.update(derived(values))
    record["predictions"] = predictions
    record["n_parameters"] = system.n_parameters()
    record["training"] = system.training_info()
    record["diagnostics"] = to_jsonable(system.diagnostics())  # numpy arrays and scalars become lists and floats
    record["timings"] = timings
    record["status"] = "ok"
    return record


def with_error(record: dict, reason: dict, traceback: str) -> dict:
    """A trial that failed: {type, message} of the reason, and the traceback."""
    record["error"] = {**reason, "traceback": traceback}
    return record


def finished(record: dict) -> dict:
    record["provenance"]["finished_at"] = now()
    return record
