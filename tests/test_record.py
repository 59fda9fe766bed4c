"""The trial record as code (issue #18): every record a run writes validates against `mirbench schema`
(`mirbench.record.json_schema()`), checked with jsonschema, the reference validator; a record that does not is one
line naming the key path, never the value; every reader refuses it with one line naming the file; and records of
the first mirbench still load."""

from __future__ import annotations

import copy
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mirbench.cli import main
from mirbench import record as record_mod
from mirbench.record import SCHEMA_ID, finished, json_schema, new_record, problem, with_error
from mirbench.registry import systems
from mirbench.results import SCHEMA, ResultStore, record_problem
from mirbench.run import RunOptions, run_suite
from mirbench.suite import load_suite
from tests.helpers import synthetic_suite

SYSTEMS = '[[systems]]\nname = "test.prior"\nlabel = "Prior"\ngrid = { fail = [false, true] }\n'


@pytest.fixture(autouse=True)
def prior_system():
    systems.register("test.prior", "tests.helpers:PriorSystem")


def run_tiny(folder: Path, text: str) -> Path:
    """Run `text` (a suite, `folder`/tiny.toml) into `folder`/results, which it returns."""
    systems.register("test.prior", "tests.helpers:PriorSystem")
    path = folder / "tiny.toml"
    path.write_text(textwrap.dedent(text))
    run_suite(load_suite(path), RunOptions(results=folder / "results", progress=False, device="cpu"))
    return folder / "results"


def files(results: Path) -> list[Path]:
    return sorted((results / "trials").glob("*.json"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """The results of a single-label and a multi-label run, ok and failed trials in each (two folds of two
    variants: four trials each)."""
    single = run_tiny(tmp_path_factory.mktemp("single"), synthetic_suite(SYSTEMS))
    multi = synthetic_suite(SYSTEMS).replace('metrics = ["accuracy"]', 'metrics = ["roc_auc_macro"]')
    multi = run_tiny(tmp_path_factory.mktemp("multi"), multi.replace("per_class = 4", 'per_class = 4\ntask = "multi-label"'))
    return [single, multi]


@pytest.fixture(scope="module")
def written(runs) -> list[dict]:
    """The records of `runs` as written, read raw from every trial file."""
    return [json.loads(p.read_text()) for results in runs for p in files(results)]


@pytest.fixture
def copied(runs, tmp_path) -> Path:
    """A copy of the single-label run (results/ and its suite file), for a test to change."""
    shutil.copytree(runs[0].parent, tmp_path / "run")
    return tmp_path / "run" / "results"


def printed_schema(capsys) -> dict:
    """What `mirbench schema` prints, parsed."""
    capsys.readouterr()
    assert main(["schema"]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_trial_file_a_run_writes_validates_against_what_mirbench_schema_prints(runs, capsys):
    schema = printed_schema(capsys)
    Draft202012Validator.check_schema(schema)
    assert schema == json_schema()
    validator = Draft202012Validator(schema)
    for results in runs:
        planned = json.loads((results / "plan.json").read_text())["trials"]
        assert [p.stem for p in files(results)] == sorted(planned)  # every trial of the plan, none else
        for path in files(results):
            record = json.loads(path.read_text())
            errors = [e.message for e in validator.iter_errors(record)]
            assert errors == [], f"{path.name}: {errors}"
            assert record["schema"] == SCHEMA_ID


def test_mirbench_schema_prints_indented_json_in_a_stable_key_order(capsys):
    printed_schema(capsys)
    main(["schema"])
    out = capsys.readouterr().out
    assert out == json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"
    assert out.startswith('{\n "$schema": "https://json-schema.org/draft/2020-12/schema",\n')


def test_every_record_a_run_writes_validates_against_the_schema(written):
    validator = Draft202012Validator(json_schema())
    assert len(written) == 8
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
    (lambda r: r["predictions"]["scores"].__setitem__(0, "SECRET"), "'predictions.scores[0]' is not a list"),
    (lambda r: r["predictions"]["truth"].__setitem__(2, "SECRET"),
     "'predictions.truth[2]' is not an integer or a list"),
    (lambda r: r["predictions"]["track_ids"].__setitem__(0, 7), "'predictions.track_ids[0]' is not text"),
    (lambda r: r["per_class"]["roc_auc"].__setitem__(1, True), "'per_class.roc_auc[1]' is not a number or null"),
    (lambda r: r["predictions"].update(scores="SECRET"), "'predictions.scores' is not a list"),
    (lambda r: r.update(trial_id="other"), "'trial_id' is not the one its file name gives"),
])
def test_an_invalid_record_is_one_line_naming_the_path_never_the_value(written, edit, said):
    record = copy.deepcopy(next(r for r in written if r["status"] == "ok" and not r["skipped"]))
    edit(record)
    found = record_problem(record, written[0]["trial_id"] if "trial_id" in said else record["trial_id"])
    assert found is not None and found.startswith(said)
    assert "\n" not in found and "SECRET" not in found


@pytest.mark.parametrize("edit", [
    lambda r: None,
    lambda r: r.update(seed="x"),  # an error before the long lists, in schema order
    lambda r: r["predictions"]["scores"][0].__setitem__(1, "x"),
    lambda r: (r.update(seed="x"), r["predictions"]["scores"][0].__setitem__(1, "x")),
    lambda r: (r["predictions"]["truth"].__setitem__(0, 1.0), r["timings"].update(fit_s="x")),  # 1.0: an integer
    lambda r: r["predictions"]["scores"][0].__setitem__(1, None),
    lambda r: r["predictions"].pop("scores"),
    lambda r: r["per_class"].update(pr_auc="x"),
    lambda r: r.update(predictions=[]),
])
def test_the_check_finds_the_first_error_jsonschema_finds_in_the_whole_record(written, edit):
    """problem() leaves the long lists out of jsonschema's walk only where each item plainly passes; the first
    error it names is always the one of the whole record."""
    for record in (copy.deepcopy(r) for r in written if "predictions" in r):
        edit(record)
        first = next(iter(Draft202012Validator(json_schema()).iter_errors(record)), None)
        assert problem(record) == (None if first is None else record_mod._say(first))


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


# ----------------------------------------------------------------------------- every reader refuses an invalid record


def break_one(results: Path) -> Path:
    """Make the first successful trial's file invalid (a fold index that is text); the file."""
    victim = next(p for p in files(results) if json.loads(p.read_text())["status"] == "ok")
    record = json.loads(victim.read_text())
    record["fold"]["index"] = "zero"
    victim.write_text(json.dumps(record))
    return victim


def refusal(victim: Path) -> str:
    return f"{victim} is not a valid trial record ('fold.index' is not an integer): run its suite again with "


def test_an_invalid_record_makes_the_report_one_error_line_naming_the_file(copied, tmp_path, capsys):
    victim = break_one(copied)
    capsys.readouterr()
    code = main(["report", str(copied), "--reports", str(tmp_path / "reports")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert captured.err.startswith("error: " + refusal(victim)), captured.err
    assert f"--results {copied}'" in captured.err and "Traceback" not in captured.err
    assert not (tmp_path / "reports").exists()  # nothing written around the hole


@pytest.mark.parametrize("argv", [
    ["submit", "{results}", "--out", "{tmp}/s.json"],
    ["compare", "{results}", "Prior", "Prior"],
])
def test_an_invalid_record_is_one_error_line_for_every_reader(copied, tmp_path, capsys, argv):
    victim = break_one(copied)
    capsys.readouterr()
    code = main([a.format(results=copied, tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines() == [err.strip()] and err.startswith("error: " + refusal(victim)), err


def test_the_leaderboard_skips_a_results_directory_with_an_invalid_record_naming_the_file(copied, tmp_path, capsys):
    victim = break_one(copied)
    capsys.readouterr()
    code = main(["leaderboard", str(copied), "--reports", str(tmp_path / "lb")])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[0].startswith(f"skipped {copied}: " + refusal(victim)), err
    assert err[1:] == ["error: nothing to rank: give results directories or verified submission files"]


def test_a_stray_file_outside_the_plan_is_not_read(copied, tmp_path):
    """A trial dropped from the suite leaves its file behind: whatever it holds, it is no record of this run."""
    (copied / "trials" / "gone.fold0.seed0.json").write_text("{not json")
    assert len(list(ResultStore(copied).records())) == 4
    assert main(["report", str(copied), "--reports", str(tmp_path / "reports")]) == 0


# ----------------------------------------------------------------------------- old records

#: What mirbench has added to a record since its first version (baba691; records of it and of c35776b, f6dbbd8 and
#: ee07d0d, made by a run of each, validate as they are): every record ever written carries "schema".
ADDED_SINCE_THE_FIRST = ("identity", "macro_excluded", "resources", "training", "diagnostics", "dataset.content_fingerprint",
                         "fold.class_counts", "provenance.cpu_kernels", "provenance.precision",
                         "provenance.precision_requested")


def first_shape(record: dict) -> dict:
    """`record` as the first mirbench wrote it."""
    old = copy.deepcopy(record)
    for key in ADDED_SINCE_THE_FIRST:
        *parent, last = key.split(".")
        (old[parent[0]] if parent else old).pop(last, None)
    return old


def test_a_record_of_the_first_mirbench_loads_as_it_is(copied, tmp_path):
    (copied / "plan.json").unlink()  # plans came with identities
    suite = json.loads((copied / "suite.json").read_text())
    suite["quick"] = suite.pop("quick_run")  # where the first suite.json kept the flag
    (copied / "suite.json").write_text(json.dumps(suite))
    for path in files(copied):
        path.write_text(json.dumps(first_shape(json.loads(path.read_text()))))
    records = list(ResultStore(copied).records())
    assert len(records) == 4 and all("identity" not in r and "macro_excluded" not in r for r in records)
    assert main(["report", str(copied), "--reports", str(tmp_path / "reports")]) == 0
    assert "| Prior" in next((tmp_path / "reports").glob("*.md")).read_text()


def test_a_record_without_an_identity_is_rerun_never_reused(copied, capsys):
    for path in files(copied):
        path.write_text(json.dumps(first_shape(json.loads(path.read_text()))))
    suite = copied.parent / "tiny.toml"
    code = main(["run", str(suite), "--results", str(copied), "--reports", str(copied.parent / "reports"),
                 "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 1  # the variant that fails on purpose
    assert "4 trials: 0 already done, 2 ran ok, 2 failed" in out
    assert "4 trials rerun: the stored record has no trial identity (written by an older mirbench)" in out
    assert all("identity" in json.loads(p.read_text()) for p in files(copied))
