"""The trial record as code (issue #18): every record a run writes validates against `mirbench schema`
(`mirbench.record.json_schema()`), checked with jsonschema, the reference validator; a record that does not is one
line naming the key path, never the value."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mirbench.record import SCHEMA_ID, finished, json_schema, new_record, problem, with_error
from mirbench.registry import systems
from mirbench.results import SCHEMA, ResultStore, record_problem
from mirbench.run import RunOptions, run_suite
from mirbench.suite import load_suite
from tests.helpers import synthetic_suite

SYSTEMS = '[[systems]]\nname = "test.prior"\nlabel = "Prior"\ngrid = { fail = [false, true] }\n'


def run_tiny(folder: Path, text: str) -> list[dict]:
    """Run `text` (a suite) into `folder`/results; the records as written, read raw from their files."""
    systems.register("test.prior", "tests.helpers:PriorSystem")
    path = folder / "tiny.toml"
    path.write_text(textwrap.dedent(text))
    run_suite(load_suite(path), RunOptions(results=folder / "results", progress=False, device="cpu"))
    return [json.loads(p.read_text()) for p in sorted((folder / "results" / "trials").glob("*.json"))]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> list[dict]:
    """The records of a single-label and a multi-label run, ok and failed trials in each."""
    single = run_tiny(tmp_path_factory.mktemp("single"), synthetic_suite(SYSTEMS))
    multi = synthetic_suite(SYSTEMS).replace('metrics = ["accuracy"]', 'metrics = ["roc_auc_macro"]')
    multi = run_tiny(tmp_path_factory.mktemp("multi"), multi.replace("per_class = 4", 'per_class = 4\ntask = "multi-label"'))
    return single + multi


def test_every_record_a_run_writes_validates_against_the_schema(written):
    validator = Draft202012Validator(json_schema())
    assert {(r["dataset"]["task"], r["status"]) for r in written} == {
        ("single-label", "ok"), ("single-label", "failed"), ("multi-label", "ok"), ("multi-label", "failed")}
    for record in written:
        validator.validate(record)
        assert record["schema"] == SCHEMA_ID
        assert record_problem(record, record["trial_id"]) is None


def test_a_lost_trial_record_validates_too():
    """The record the runner writes for a trial whose worker died: only the trial's identity and the reason."""
    class Spec:
        trial_id, seed, protocol, identity, quick = "p.fold0.seed0", 0, {"name": "stratified-kfold"}, {}, False
        suite = {"name": "tiny", "version": "1", "hash": "h", "path": "tiny.toml"}
        variant = type("V", (), {"describe": lambda self: {"system": "p", "label": "P", "params": {}, "id": "p"}})()
        fold = type("F", (), {"index": 0, "split_hash": lambda self: "h"})()

    record = finished(with_error(new_record(Spec()), {"type": "WorkerDied", "message": "died"}, ""))
    Draft202012Validator(json_schema()).validate(record)


def declared_paths(schema: dict, record, path: str = "") -> list[str]:
    """Keys of `record` that `schema` does not declare, where it lists an object's properties and no others."""
    undeclared = []
    if isinstance(record, dict) and schema.get("type") == "object" and "properties" in schema:
        for key, value in record.items():
            if key in schema["properties"]:
                undeclared += declared_paths(schema["properties"][key], value, f"{path}{key}.")
            elif "additionalProperties" not in schema:
                undeclared.append(path + key)
    for option in schema.get("anyOf", []):
        undeclared += declared_paths(option, record, path)
    return undeclared


def test_the_schema_declares_every_key_a_run_writes(written):
    for record in written:
        assert declared_paths(json_schema(), record) == []


@pytest.mark.parametrize("edit, said", [
    (lambda r: r["fold"].pop("index"), "'fold.index' is missing or is not an integer"),
    (lambda r: r.pop("metrics"), "'metrics' is missing or is not an object"),
    (lambda r: r.pop("schema"), "'schema' is missing"),
    (lambda r: r["variant"].pop("params"), "'variant.params' is missing or is not an object"),
    (lambda r: r.update(seed="SECRET"), "'seed' is not an integer"),
    (lambda r: r.update(status="SECRET"), "'status' is not 'ok' or 'failed'"),
    (lambda r: r.update(schema="SECRET"), "'schema' is not 'mirbench.trial/1'"),
    (lambda r: r["predictions"]["scores"][1].__setitem__(0, "SECRET"),
     "'predictions.scores[1][0]' is not a number or null"),
    (lambda r: r["metrics"].update({"k\n" * 30: "SECRET"}), f"'metrics.{'k?' * 18}k...' is not a number or null"),
    (lambda r: r["skipped"].append({"id": "SECRET"}), "'skipped[0].reason' is missing or is not text"),
    (lambda r: r.update(error={"message": "SECRET"}), "'error' is not null"),  # an ok trial has no error
    (lambda r: r["predictions"]["scores"].pop(), "'predictions' has not one row of scores per track id"),
    (lambda r: r.update(trial_id="other"), "'trial_id' is not the one its file name gives"),
])
def test_an_invalid_record_is_one_line_naming_the_path_never_the_value(written, edit, said):
    record = copy.deepcopy(next(r for r in written if r["status"] == "ok" and not r["skipped"]))
    edit(record)
    found = record_problem(record, written[0]["trial_id"] if "trial_id" in said else record["trial_id"])
    assert found is not None and found.startswith(said)
    assert "\n" not in found and "SECRET" not in found


def test_a_failed_record_needs_an_error_with_its_message(written):
    record = copy.deepcopy(next(r for r in written if r["status"] == "failed"))
    assert problem(record) is None and record["error"]["message"] == "this variant fails on purpose"
    record["error"] = {"type": "RuntimeError"}
    assert problem(record) == "'error' is neither null nor an object with a text message"
    record["error"] = None  # a hand-made failed record need not say why
    assert problem(record) is None


@pytest.mark.parametrize("content, said", [
    ([], "it holds a JSON array, not a trial record (an object)"),
    (None, "it holds a JSON null, not a trial record (an object)"),
    ({"status": "ok", "trial_id": "t"}, "'variant' is missing or is not an object"),
])
def test_what_is_not_a_record_at_all(content, said):
    assert record_problem(content, "t") == said


def test_mirbench_schema_is_a_draft_2020_12_schema_of_this_version():
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"]["const"] == SCHEMA_ID == SCHEMA == "mirbench.trial/1"
    assert json.loads(json.dumps(schema, indent=1, sort_keys=True)) == schema  # what `mirbench schema` prints
    schema["properties"].clear()
    assert json_schema()["properties"], "json_schema() gives a copy: a caller cannot change the schema"


def test_a_store_sets_aside_what_the_schema_rejects(tmp_path, written):
    store = ResultStore(tmp_path)
    record = copy.deepcopy(written[0])
    record["fold"]["index"] = "zero"
    store.write(record)
    assert store.load(record["trial_id"]) == (None, "'fold.index' is not an integer")
