"""The bad input sweep (issue #11): malformed suites, broken audio, label files with unknown classes, split lists
naming missing tracks. Each case ends in one clear error (what is wrong, where, how to fix it) or in a recorded
skip (the track is left out, and its reason is in the trial records and the report), never in a traceback, and
never losing what other tracks or trials computed.

Suite cases are generated from `mirbench.suite.schema.SCHEMA`: a key added to the schema is swept automatically.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mirbench.cli import main
from mirbench.suite import load_suite
from mirbench.suite.schema import SCHEMA, Field
from tests.conftest import SMOKE_SUITE

# ============================================================================= helpers

ROOT = os.geteuid() == 0  # root reads files whatever their permissions: permission cases are skipped


def toml_value(value) -> str:
    """A Python value as a TOML value (tables inline), enough for suite documents."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def toml_document(doc: dict) -> str:
    """A suite document as TOML text: one `key = value` line per top-level key."""
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in doc.items())


def cli_error(args: list[str], capsys) -> str:
    """Run the CLI expecting exit status 2 and exactly one `error:` line (no traceback), after at most the lines
    naming the stages the run reached ("mirbench: indexing dataset ..."); return that line."""
    code = main(args)
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("mirbench: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


# ============================================================================= 1. suites

#: A valid suite every generated case starts from (fast to validate: the synthetic dataset is not built).
VALID = {
    "version": "1",
    "seeds": [0],
    "metrics": ["accuracy"],
    "dataset": {"name": "synthetic", "per_class": 4},
    "protocol": {"name": "stratified-kfold", "folds": 2},
    "systems": [{"name": "mfcc", "label": "MFCC", "params": {"C": 1.0}}],
    "report": {"rows": ["system"], "columns": ["metric"]},
}
WILDCARD = "some_key"  # the name generated cases give a key the schema allows under any name ('*')


def schema_keys(spec: dict, path: str = ""):
    """(key path, spec) of every key the schema knows, depth first; array-of-tables elements are `[0]`."""
    for key, sub in spec.items():
        here = f"{path}.{WILDCARD if key == '*' else key}" if path else key
        yield here, sub
        if isinstance(sub, dict):
            yield from schema_keys(sub, here)
        elif isinstance(sub, list):
            yield from schema_keys(sub[0], f"{here}[0]")


def tokens(path: str) -> list:
    """'report.tables[0].where.x' -> ['report', 'tables', 0, 'where', 'x']."""
    out: list = []
    for part in path.split("."):
        name, *indices = re.split(r"\[(\d+)\]", part)
        out.append(name)
        out += [int(i) for i in indices if i]
    return out


def with_value(doc: dict, path: str, value) -> dict:
    """A copy of `doc` with `value` at `path`, creating the tables and arrays of tables on the way."""
    doc = copy.deepcopy(doc)
    steps = tokens(path)
    node = doc
    for step, following in zip(steps, steps[1:]):
        if isinstance(step, int):
            node += [{} for _ in range(step + 1 - len(node))]
            node = node[step]
        else:
            node = node.setdefault(step, [] if isinstance(following, int) else {})
    if isinstance(steps[-1], int):
        node += [{} for _ in range(steps[-1] + 1 - len(node))]
    node[steps[-1]] = value
    return doc


def without(doc: dict, path: str) -> dict:
    """A copy of `doc` with the key at `path` removed."""
    doc = copy.deepcopy(doc)
    *parents, last = tokens(path)
    node = doc
    for step in parents:
        node = node[step]
    del node[last]
    return doc


def accepts(spec: Field, value) -> bool:
    """Whether the schema's type check lets `value` through for `spec` (a boolean is no number)."""
    if isinstance(value, bool):
        return bool in spec.types
    return isinstance(value, spec.types) or (float in spec.types and isinstance(value, int))


WRONG_TYPES = ["text", 7, 1.5, {"a": 1}]  # the first one a field does not take is its wrong-type case
BAD_VALUES = [0, -1, "", [], [1], ["x", 1], 99]  # the first one of the right type its check refuses is its bad value
GOOD_VALUES = ["name", "roc_auc", 1, 1.0, True, ["name"], [1], {}]  # the first one a field takes, for its siblings


def good_value(spec: Field):
    """A value `spec` accepts (its type and its check), for the required siblings of a key under test."""
    return next(v for v in GOOD_VALUES if accepts(spec, v) and not (spec.check and spec.check(v)))


def minimal_table(spec: dict) -> dict:
    """A table with only its required keys, each with a value the schema accepts."""
    return {k: good_value(f) for k, f in spec.items() if isinstance(f, Field) and f.required}


def generated_cases():
    """(case id, document, what the error must say) for every key of the schema."""
    for path, spec in schema_keys(SCHEMA):
        if isinstance(spec, Field):
            wrong = next(v for v in WRONG_TYPES if not accepts(spec, v))
            yield f"{path} wrong type", with_value(VALID, path, wrong), f"'{path}' must be "
            if int in spec.types and bool not in spec.types:
                yield f"{path} boolean for a number", with_value(VALID, path, True), f"'{path}' must be "
            if spec.check:
                bad = next((v for v in BAD_VALUES if accepts(spec, v) and spec.check(v)), None)
                if bad is not None:
                    yield f"{path} bad value", with_value(VALID, path, bad), f"'{path}' {spec.check(bad)}"
        elif isinstance(spec, dict):
            yield f"{path} not a table", with_value(VALID, path, "text"), f"'{path}' must be a table"
            if "*" not in spec:
                unknown = f"{path}.colour"
                table = minimal_table(spec) | {"colour": 1}
                yield f"{path} unknown key", with_value(VALID, path, table), f"unknown key '{unknown}'"
        else:  # an array of tables
            yield f"{path} not an array", with_value(VALID, path, "text"), f"'{path}' must be an array of tables"
            yield f"{path}[0] not a table", with_value(VALID, path, ["text"]), f"'{path}[0]' must be a table"
            if "*" not in spec[0]:
                table = minimal_table(spec[0]) | {"colour": 1}
                yield f"{path}[0] unknown key", with_value(VALID, path, [table]), f"unknown key '{path}[0].colour'"
    for path, spec in schema_keys(SCHEMA):
        if isinstance(spec, Field) and spec.required:
            parent, _, key = path.rpartition(".")
            if parent:
                table = {k: v for k, v in minimal_table(schema_at(parent)).items() if k != key}
                doc = with_value(VALID, parent, table)
            else:
                doc = without(VALID, path)
            yield f"{path} missing", doc, f"missing required key '{path}'"


#: Generated cases that tests/test_suite.py already has (its MALFORMED cases, top-level unknown key included).
COVERED = {"seeds wrong type", "version missing", "quick.folds bad value", "report.published[0].value missing"}


def schema_at(path: str) -> dict:
    """The schema table at a key path ('report.tables[0]')."""
    node = SCHEMA
    for step in tokens(path):
        node = node[0] if isinstance(step, int) else node[step]
    return node


GENERATED = {case: (doc, expected) for case, doc, expected in generated_cases() if case not in COVERED}


def test_every_schema_key_is_swept():
    """The generator reaches every key of the schema, so a new key gets its cases without editing this file."""
    swept = {case.split(" ")[0] for case in GENERATED} | {case.split(" ")[0] for case in COVERED}
    assert {path for path, _ in schema_keys(SCHEMA)} <= swept


def test_the_base_document_is_valid(tmp_path):
    path = tmp_path / "valid.toml"
    path.write_text(toml_document(VALID))
    assert len(load_suite(path).variants) == 1




def suite_with(changes: dict) -> dict:
    """VALID with the values of `changes` (key path -> value) set."""
    doc = VALID
    for path, value in changes.items():
        doc = with_value(doc, path, value)
    return doc


LOGREG = [{"name": "fma.logreg", "params": {"C": 1.0}}]  # a system that vets its values (check_params)

#: Values the schema lets through but the components (dataset, protocol, systems) cannot take.
PARAMETER_CASES = {
    "dataset parameter typo": (
        suite_with({"dataset.per_clas": 4}), "'dataset.per_clas': dataset 'synthetic' has no parameter 'per_clas' — did you mean 'per_class'?"
    ),
    "dataset parameter of the wrong kind": (
        suite_with({"dataset.per_class": "four"}), "'dataset.per_class' must be integer (dataset 'synthetic' parameter 'per_class'), got string 'four'"
    ),
    "dataset parameter value": (
        suite_with({"dataset": {"name": "corpus", "task": "styles"}}), "'dataset.task': corpus: unknown task 'styles'"
    ),
    "gtzan tracks_per_genre out of range": (
        suite_with({"dataset": {"name": "gtzan", "tracks_per_genre": 0}, "protocol": {"name": "gtzan-random-4fold"}}),
        "'dataset.tracks_per_genre': gtzan: tracks_per_genre must be an integer from 1 to 100, got 0",
    ),
    "ismir2004 unknown subset": (
        suite_with({"dataset": {"name": "ismir2004", "subsets": ["training", "dev"]}}),
        "'dataset.subsets': ismir2004: subsets must be distinct names among training, development, evaluation",
    ),
    "fma subset typo": (suite_with({"dataset": {"name": "fma", "subset": "smal"}}), "'dataset.subset': dataset 'fma': subset must be one of"),
    "mtat parameters that contradict each other": (
        suite_with({"dataset": {"name": "mtat", "tags": "published", "n_tags": 10}, "metrics": ["roc_auc_macro"]}),
        "'dataset': mtat: tags='published' is the published list of 50 tags; n_tags=10 contradicts it",
    ),
    "protocol parameter value": (suite_with({"protocol.folds": 0}), "'protocol.folds': folds must be an integer >= 1, got 0"),
    "protocol parameter of the wrong kind": (
        suite_with({"protocol.seed": "zero"}), "'protocol.seed': seed must be a non-negative integer, got 'zero'"
    ),
    "protocol parameters that contradict each other": (
        suite_with({"protocol.proportions": "k-fold"}), "'protocol': folds must be >= 3 for a k-fold rotation"
    ),
    "protocol id list that does not exist": (
        suite_with({"protocol": {"name": "fixed-split", "train": "/nonexistent/train.txt"}}),
        "'protocol.train': fixed-split: cannot read the 'train' id list '/nonexistent/train.txt'",
    ),
    "system parameter typo": (
        suite_with({"systems[0].params": {"n_mfc": 13}}),
        "'systems[0].params.n_mfc': system 'mfcc' has no parameter 'n_mfc' — did you mean 'n_mfcc'?",
    ),
    "grid parameter typo": (
        suite_with({"systems[0].grid": {"n_mfc": [13]}}), "'systems[0].grid.n_mfc': system 'mfcc' has no parameter 'n_mfc'"
    ),
    "system parameter of the wrong kind": (
        suite_with({"systems[0].params": {"C": "high"}}), "'systems[0].params.C' must be number (system 'mfcc' parameter 'C'), got string 'high'"
    ),
    "grid value of the wrong kind": (
        suite_with({"systems[0].grid": {"n_mfcc": [13, "twenty"]}}), "'systems[0].grid.n_mfcc' must be integer (system 'mfcc'"
    ),
    "suite-wide parameter of the wrong kind": (suite_with({"params": {"C": "high"}}), "'params.C' must be number"),
    "system parameter value": (
        suite_with({"systems": [{"name": "fma.logreg", "params": {"C": -1.0}}]}), "'systems[0].params.C': C must be positive, got -1.0"
    ),
    "grid value": (
        suite_with({"systems": [{"name": "fma.logreg", "grid": {"max_iter": [100, 0]}}]}),
        "'systems[0].grid.max_iter': max_iter must be a positive integer, got 0",
    ),
    "suite-wide parameter value": (suite_with({"systems": LOGREG, "params": {"n_neighbors": 0}}), "'params.n_neighbors': n_neighbors must be"),
    "quick parameter of the wrong kind": (
        suite_with({"quick": {"params": {"n_estimators": "many"}}}), "'quick.params.n_estimators' must be integer"
    ),
    "quick parameter value": (
        suite_with({"systems": LOGREG, "quick": {"params": {"max_iter": 0}}}), "'quick.params.max_iter': max_iter must be a positive integer"
    ),
    "seed repeated": (suite_with({"seeds": [0, 1, 0]}), "'seeds[2]': 0 is listed twice"),
    "metric repeated": (suite_with({"metrics": ["accuracy", "accuracy"]}), "'metrics[1]': 'accuracy' is listed twice"),
    "suite name with a path separator": (suite_with({"name": "../elsewhere"}), "'name' must be a plain name"),
    "empty extends": (suite_with({"extends": ""}), "'extends' must not be empty"),
}


@pytest.mark.parametrize("case", sorted(GENERATED) + sorted(PARAMETER_CASES))
def test_a_bad_key_gives_one_error_naming_its_path(case, tmp_path, capsys):
    """The schema sweep (every key of the schema) and the components' parameters alike."""
    doc, expected = GENERATED[case] if case in GENERATED else PARAMETER_CASES[case]
    path = tmp_path / "suite.toml"
    path.write_text(toml_document(doc))
    line = cli_error(["validate", str(path)], capsys)
    assert line.startswith(f"error: {path}: ") and expected in line, line


def missing_file(tmp: Path):
    return tmp / "nowhere.toml", f"{tmp / 'nowhere.toml'}: no such suite file"


def a_directory(tmp: Path):
    (tmp / "dir.toml").mkdir()
    return tmp / "dir.toml", "is a directory; give the path of a suite file"


def not_utf8(tmp: Path):
    (tmp / "suite.toml").write_bytes(toml_document(VALID).encode() + b'description = "caf\xe9"\n')
    return tmp / "suite.toml", "not valid TOML: not UTF-8 text"


def empty_file(tmp: Path):
    (tmp / "suite.toml").write_text("")
    return tmp / "suite.toml", "missing required key 'version'"


def unclosed_array(tmp: Path):
    (tmp / "suite.toml").write_text(toml_document(VALID).replace('"seeds" = [0]', '"seeds" = [0'))
    return tmp / "suite.toml", "not valid TOML"


def extends_itself(tmp: Path):
    (tmp / "suite.toml").write_text('extends = "suite.toml"\n' + toml_document(VALID))
    return tmp / "suite.toml", "'extends' forms a cycle (suite.toml -> suite.toml)"


def extends_a_cycle(tmp: Path):
    for a, b in (("suite", "b"), ("b", "c"), ("c", "suite")):
        (tmp / f"{a}.toml").write_text(f'extends = "{b}.toml"\n' + toml_document(VALID))
    return tmp / "suite.toml", "'extends' forms a cycle (suite.toml -> b.toml -> c.toml -> suite.toml)"


def child_of(tmp: Path, parent: str | None, child: str = 'extends = "parent.toml"\nversion = "2"\n') -> Path:
    """A child suite extending parent.toml (text `parent`, or a directory when None)."""
    if parent is None:
        (tmp / "parent.toml").mkdir()
    else:
        (tmp / "parent.toml").write_text(parent)
    (tmp / "suite.toml").write_text(child)
    return tmp / "suite.toml"


def extends_a_directory(tmp: Path):
    return child_of(tmp, None), f"{tmp / 'parent.toml'}: is a directory"


def parent_with_unknown_key(tmp: Path):
    return child_of(tmp, toml_document(VALID) + "colour = 1\n"), f"{tmp / 'parent.toml'}: unknown key 'colour'"


def parent_not_toml(tmp: Path):
    return child_of(tmp, toml_document(VALID) + "[[systems]\n"), f"{tmp / 'parent.toml'}: not valid TOML"


def child_breaks_parent(tmp: Path):
    child = 'extends = "parent"\nversion = "2"\n[protocol]\nfolds = "two"\n'  # the suffix is optional
    return child_of(tmp, toml_document(VALID), child), "'protocol.folds': folds must be an integer >= 1, got 'two'"


#: Broken suite files (or chains of files): case -> builder(tmp_path) -> (path to validate, what the error says).
FILE_CASES = {
    "missing file": missing_file,
    "a directory": a_directory,
    "not UTF-8": not_utf8,
    "empty file": empty_file,
    "unclosed array": unclosed_array,
    "extends itself": extends_itself,
    "extends a three-file cycle": extends_a_cycle,
    "extends a directory": extends_a_directory,
    "parent with an unknown key": parent_with_unknown_key,
    "parent not valid TOML": parent_not_toml,
    "child breaks a parent's key": child_breaks_parent,
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_broken_suite_files_give_one_error(case, tmp_path, capsys):
    path, expected = FILE_CASES[case](tmp_path)
    line = cli_error(["validate", str(path)], capsys)
    assert expected in line, line


def test_unclosed_array_error_gives_the_line(tmp_path, capsys):
    path, _ = unclosed_array(tmp_path)
    assert re.search(r"line \d+", cli_error(["validate", str(path)], capsys))


@pytest.mark.skipif(ROOT, reason="root reads every file")
def test_unreadable_suite_file(tmp_path, capsys):
    path = tmp_path / "suite.toml"
    path.write_text(toml_document(VALID))
    path.chmod(0)
    assert "cannot read the suite file (Permission denied)" in cli_error(["validate", str(path)], capsys)


def test_a_bad_suite_stops_run_before_anything_runs(tmp_path, capsys):
    path = tmp_path / "suite.toml"
    path.write_text(toml_document(suite_with({"protocol.folds": 0})))
    line = cli_error(["run", str(path), "--results", str(tmp_path / "res"), "--no-progress"], capsys)
    assert "'protocol.folds'" in line and not (tmp_path / "res").exists()


# ============================================================================= 2. audio


def tone(seconds: float = 0.5, sample_rate: int = 22050) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sample_rate)) / sample_rate)).astype(np.float32)


def with_sample(value: float):
    """A writer of a float WAV whose 100th sample is `value` (NaN, infinity, an absurd or mis-scaled peak)."""

    def write(path: Path) -> None:
        y = tone()
        y[100] = value
        sf.write(path, y, 22050, subtype="FLOAT")

    return write


def truncated_wav(path: Path) -> None:
    sf.write(path, tone(), 22050, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def unreadable(path: Path) -> None:
    sf.write(path, tone(), 22050, subtype="PCM_16")
    path.chmod(0)


def replace_with_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


#: case -> (GTZAN track, how its file is broken, expected outcome): ("problem" | "warning", kind, reason text),
#: or ("usable", None, None) for audio that must simply work.
AUDIO_CASES = {
    "empty file": ("blues.00005", lambda p: p.write_bytes(b""), ("problem", "unreadable", "file is empty (0 bytes)")),
    "WAV with zero frames": (
        "classical.00005", lambda p: sf.write(p, np.zeros(0, np.float32), 22050), ("problem", "unreadable", "zero-length audio")
    ),
    "NaN samples": ("country.00005", with_sample(np.nan), ("problem", "non-finite", "1 NaN or infinite sample(s), the first at 0.005 s")),
    "infinite samples": ("disco.00005", with_sample(np.inf), ("problem", "non-finite", "NaN or infinite sample(s)")),
    "garbage bytes named .wav": (
        "hiphop.00005", lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), ("problem", "unreadable", "cannot read audio header")
    ),
    "a directory where the file should be": (
        "jazz.00005", replace_with_directory, ("problem", "unreadable", "a directory where an audio file should be")
    ),
    "silent audio": ("metal.00005", lambda p: sf.write(p, np.zeros(11025, np.float32), 22050), ("usable", None, None)),
    "one sample": ("pop.00005", lambda p: sf.write(p, np.full(1, 0.5, np.float32), 22050), ("usable", None, None)),
    "wrong sample rate": (
        "reggae.00005", lambda p: sf.write(p, tone(sample_rate=44100), 44100), ("warning", "sample-rate", "44100 Hz, expected 22050 Hz")
    ),
    "truncated WAV": (
        "rock.00005", truncated_wav, ("warning", "truncated", "truncated: the header says 0.50 s of audio, but the file holds 0.25 s")
    ),
    "no read permission": ("blues.00004", unreadable, ("problem", "unreadable", "no permission to read the file")),
    "absurd float sample (1e30)": (
        "classical.00004", with_sample(1e30), ("problem", "out-of-range", "absurdly far outside [-1, 1]")
    ),
    "mis-scaled float audio (peak 3)": (
        "country.00004", with_sample(3.0), ("warning", "out-of-range", "far outside [-1, 1]")
    ),
}
if ROOT:  # root reads it anyway: the case cannot be built (test_audio_case_* skip it)
    BROKEN = {case: spec for case, spec in AUDIO_CASES.items() if case != "no read permission"}
else:
    BROKEN = dict(AUDIO_CASES)
PER_GENRE = 6
PROBLEMS = {spec[0] for spec in BROKEN.values() if spec[2][0] == "problem"}

GTZAN_SUITE = f"""
version = "1"
metrics = ["accuracy"]
[dataset]
name = "gtzan"
tracks_per_genre = {PER_GENRE}
[protocol]
name = "stratified-kfold"
folds = 4
proportions = "k-fold"
groups = false
[[systems]]
name = "mfcc"
label = "MFCC"
"""


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    """Module-scoped runs keep their dataset builds and features out of the user's cache, like every test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIRBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "mirbench-cache"))
        mp.delenv("MIRBENCH_DATA", raising=False)
        yield


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """`mirbench ARGS` with its output captured (for module-scoped fixtures, where capsys is not available)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def run_suite_cli(suite: Path, data_root: Path, out: Path) -> dict:
    """Run a suite (all of it) over `data_root`; its exit code, output, records and report text."""
    from mirbench.results import ResultStore

    args = ["run", str(suite), "--data-root", str(data_root), "--results", str(out / "res"),
            "--reports", str(out / "rep"), "--no-progress", "--device", "cpu"]
    code, stdout, stderr = run_cli(args)
    records = list(ResultStore(out / "res").records())
    report = (out / "rep" / f"{suite.stem}.md").read_text() if (out / "rep" / f"{suite.stem}.md").exists() else ""
    return {"code": code, "out": stdout, "err": stderr, "records": records, "report": report}


@pytest.fixture(scope="module")
def broken_gtzan(tmp_path_factory, cache_env):
    """A GTZAN tree of 6 tracks per genre with one broken file per audio case, validated and run once."""
    from mirbench.datasets.gtzan import GTZANDataset
    from tests.fixtures.gtzan_tree import write_gtzan_tree

    base = tmp_path_factory.mktemp("broken-gtzan")
    root = write_gtzan_tree(base / "data" / "gtzan", per_genre=PER_GENRE, seconds=0.5, corrupt=())
    for tid, write, _ in BROKEN.values():
        write(root / "genres" / tid.split(".")[0] / f"{tid}.wav")
    dataset = GTZANDataset(root, tracks_per_genre=PER_GENRE)
    suite = base / "broken.toml"
    suite.write_text(GTZAN_SUITE)
    run = run_suite_cli(suite, base / "data", base)
    yield {"dataset": dataset, "report": dataset.validate(), "run": run, "data_root": base / "data"}
    for tid, _, (outcome, *_rest) in BROKEN.values():  # let pytest clean up the unreadable file
        path = root / "genres" / tid.split(".")[0] / f"{tid}.wav"
        if path.is_file():
            path.chmod(0o644)


def audio_case(case: str):
    if case not in BROKEN:
        pytest.skip("running as root: every file is readable")
    return BROKEN[case]


@pytest.mark.parametrize("case", sorted(AUDIO_CASES))
def test_audio_case_is_found_by_validate(case, broken_gtzan):
    tid, _, (outcome, kind, text) = audio_case(case)
    report = broken_gtzan["report"]
    if outcome == "usable":
        assert tid not in report.kinds, report.kinds.get(tid)
        return
    entries = report.problems if outcome == "problem" else report.warnings
    assert report.kinds[tid] == kind and tid in entries
    assert entries[tid].startswith(str(broken_gtzan["dataset"][tid].path)) and text in entries[tid], entries[tid]


@pytest.mark.parametrize("case", sorted(AUDIO_CASES))
def test_audio_case_in_a_run_is_a_recorded_skip_or_used(case, broken_gtzan):
    tid, _, (outcome, _, text) = audio_case(case)
    records = broken_gtzan["run"]["records"]
    skipped = {s["id"]: s["reason"] for r in records for s in r["skipped"]}
    predicted = {i for r in records for i in r["predictions"]["track_ids"]}
    if outcome == "problem":
        assert text in skipped[tid] and tid not in predicted
        assert f"| {tid} " in broken_gtzan["run"]["report"]
    else:  # used like any other track: every track is tested once in a k-fold rotation
        assert tid not in skipped and tid in predicted


def test_a_run_over_broken_audio_loses_nothing_else(broken_gtzan):
    run, dataset = broken_gtzan["run"], broken_gtzan["dataset"]
    assert run["code"] == 0, run["out"] + run["err"]
    assert "Traceback" not in run["out"] + run["err"]
    assert "4 trials: 0 already done, 4 ran ok, 0 failed" in run["out"]
    assert f"{len(PROBLEMS)} track(s) skipped as unusable" in run["out"]
    assert f"{len(PROBLEMS)} track(s) could not be used (missing, unreadable or invalid audio) and were left out of every fold" in run["report"]
    predicted = [i for r in run["records"] for i in r["predictions"]["track_ids"]]
    assert sorted(predicted) == sorted(t.id for t in dataset.tracks if t.id not in PROBLEMS)  # each usable one once
    assert all(math.isfinite(r["metrics"]["accuracy"]) for r in run["records"])


def test_data_check_groups_the_broken_files_by_kind(broken_gtzan, capsys):
    code = main(["data", "check", "gtzan", "--data-root", str(broken_gtzan["data_root"]), "--param", f"tracks_per_genre={PER_GENRE}"])
    out = capsys.readouterr().out
    assert code == 1 and "Traceback" not in out
    assert f"{10 * PER_GENRE - len(PROBLEMS)} of {10 * PER_GENRE} tracks usable" in out
    for kind in ("unreadable", "non-finite", "out-of-range"):
        assert f"unusable (skipped by runs): {kind}:" in out
    for kind in ("sample-rate", "truncated", "out-of-range"):
        assert f"warnings (still used): {kind}: 1" in out


FRONTENDS = ["stft", "logmel", "mfcc", "waveform", "fma"]


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("case", ["silent audio", "one sample"])
def test_short_and_silent_audio_give_finite_features(case, frontend, broken_gtzan):
    """Every frontend turns silence and a 1-sample clip into finite features (zero padding), not an error."""
    from mirbench.features import FeatureStore
    from mirbench.registry import frontends

    dataset = broken_gtzan["dataset"]
    track = dataset[AUDIO_CASES[case][0]]
    fe = frontends.get(frontend)(sample_rate=22050)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (feats,) = FeatureStore(None).get(dataset, [track], fe)
    n = len(dataset.load_audio(track, 22050))
    assert feats.shape == (fe.n_frames(n), fe.n_dims) and feats.shape[0] >= 1
    assert np.isfinite(feats).all()


ISMIR_SUITE = """
version = "1"
metrics = ["accuracy"]
[dataset]
name = "ismir2004"
[protocol]
name = "ismir2004-train-dev"
[[systems]]
name = "mfcc"
"""


@pytest.fixture(scope="module")
def broken_mp3(tmp_path_factory, cache_env):
    """A tiny ISMIR2004 tree (mp3) with a truncated development track and garbage bytes for a training track, run once."""
    from mirbench.datasets.ismir2004 import ISMIR2004Dataset
    from tests.fixtures.ismir2004_tree import write_ismir2004_tree

    base = tmp_path_factory.mktemp("broken-mp3")
    root = base / "data" / "ismir2004"
    write_ismir2004_tree(root, per_class=3, seconds=1.0)
    tracks = ISMIR2004Dataset(root).tracks
    cut = next(t for t in tracks if t.meta["subset"] == "development")
    garbage = next(t for t in tracks if t.meta["subset"] == "training")
    cut.path.write_bytes(cut.path.read_bytes()[: int(0.4 * cut.path.stat().st_size)])
    garbage.path.write_bytes(np.random.default_rng(1).bytes(4096))
    suite = base / "mp3.toml"
    suite.write_text(ISMIR_SUITE)
    run = run_suite_cli(suite, base / "data", base)
    return {"cut": cut, "garbage": garbage, "report": ISMIR2004Dataset(root).validate(), "run": run}


def test_truncated_mp3_is_a_warning_and_still_used(broken_mp3):
    cut, report, run = broken_mp3["cut"], broken_mp3["report"], broken_mp3["run"]
    assert report.kinds[cut.id] == "truncated"
    assert "truncated: the header says 1.00 s of audio, but decoding stops before the end" in report.warnings[cut.id]
    assert cut.id in run["records"][0]["predictions"]["track_ids"]


def test_garbage_mp3_is_a_recorded_skip(broken_mp3):
    garbage, report, run = broken_mp3["garbage"], broken_mp3["report"], broken_mp3["run"]
    assert report.kinds[garbage.id] == "unreadable" and "cannot read audio header" in report.problems[garbage.id]
    assert run["code"] == 0 and "Traceback" not in run["out"] + run["err"]
    (record,) = run["records"]
    assert record["status"] == "ok" and record["skipped"] == [{"id": garbage.id, "reason": report.problems[garbage.id]}]
    assert record["fold"]["train"] + record["fold"]["valid"] + record["fold"]["test"] == 2 * 6 * 3 - 1
    assert "1 track(s) skipped as unusable" in run["out"] and f"| {garbage.id} " in run["report"]


def test_load_audio_of_a_truncated_mp3_returns_what_decodes(broken_mp3):
    from mirbench.audio import load_audio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = load_audio(broken_mp3["cut"].path, 22050)
    assert 0 < len(y) < 22050 and np.isfinite(y).all()


# ============================================================================= 3. label files naming unknown classes

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "mtat" / "tags.npy").is_file(), reason="../shared/data is not available")


def data_check_error(name: str, data_root: Path, capsys, *params: str) -> str:
    """`mirbench data check NAME` expecting one clear error line."""
    args = ["data", "check", name, "--data-root", str(data_root)]
    for p in params:
        args += ["--param", p]
    return cli_error(args, capsys)


def test_ismir2004_tracklist_with_an_unknown_class(tmp_path, capsys):
    from tests.fixtures.ismir2004_tree import rows_for, write_ismir2004_tree, write_tracklist

    root = tmp_path / "ismir2004"
    write_ismir2004_tree(root, per_class=1, audio=False)
    rows = rows_for("development", {"classical": 1, "world": 2})
    rows[2][0] = "polka"
    listing = root / "metadata" / "development" / "tracklist.csv"
    write_tracklist(listing, rows)
    line = data_check_error("ismir2004", tmp_path, capsys)
    assert f"{listing} row 3: unknown class 'polka'; expected one of classical" in line


@needs_shared
def test_mtat_published_tag_missing_from_the_annotations(tmp_path, capsys, monkeypatch):
    from tests.fixtures.mtat_tree import TAG_NAMES, write_annotations

    monkeypatch.setenv("MIRBENCH_SPLITS", str(SHARED))
    names = tuple("guitarr" if t == "guitar" else t for t in TAG_NAMES)
    csv_path = tmp_path / "mtat" / "annotations_final.csv"
    write_annotations(csv_path, [("2", "0/a-b-01-c-0-29.mp3", [0] * len(names))], tag_names=names)
    line = data_check_error("mtat", tmp_path, capsys, "tags=published")
    assert f"the published tag list {SHARED / 'mtat' / 'tags.npy'} names 1 tag(s) that are not columns of {csv_path}" in line
    assert "'guitar' (a column is named 'guitar" in line


def test_fma_tracks_csv_with_an_unknown_split(tmp_path, capsys):
    from tests.fixtures import fma_tree as ft

    rows = ft.tiny_rows()
    rows[3] = ft.Row(rows[3].track_id, "train", rows[3].subset, rows[3].genre_top, rows[3].artist_id)
    tracks_csv = tmp_path / "fma" / "fma_metadata" / "tracks.csv"
    ft.write_tracks_csv(tracks_csv, rows)
    line = data_check_error("fma", tmp_path, capsys)
    assert f"{tracks_csv}: column ('set', 'split') must be one of training, validation, test" in line
    assert f"track {rows[3].track_id:06d} has 'train'" in line


def test_fma_genre_top_that_genres_csv_does_not_know_is_a_warning(tmp_path):
    """genres.csv is not needed to index FMA (its classes come from tracks.csv): a genre it lacks is flagged, not fatal."""
    import pandas as pd

    from mirbench.datasets.fma import FMADataset
    from tests.fixtures import fma_tree as ft

    fma = tmp_path / "fma"
    ft.write_tracks_csv(fma / "fma_metadata" / "tracks.csv", ft.tiny_rows())
    genres = pd.DataFrame({"genre_id": [12], "#tracks": [1], "parent": [0], "title": ["Rock"], "top_level": [12]})
    genres.to_csv(fma / "fma_metadata" / "genres.csv", index=False)
    report = FMADataset(fma).validate()
    assert report.kinds["fma_metadata/genres.csv"] == "metadata"
    assert str(fma / "fma_metadata" / "genres.csv") in report.warnings["fma_metadata/genres.csv"]
    assert "['Electronic', 'Folk', 'Hip-Hop']" in report.warnings["fma_metadata/genres.csv"]


def fake_fault_filtered(tmp_path: Path, monkeypatch, lists: dict[str, list[str]]) -> dict[str, Path]:
    """Serve `lists` as the published fault-filtered lists (through MIRBENCH_SPLITS, with their own md5s)."""
    import hashlib

    from mirbench.datasets import gtzan
    from mirbench.fetch import Resource

    folder = tmp_path / "splits"
    (folder / "gtzan").mkdir(parents=True, exist_ok=True)
    paths = {}
    for part, entries in lists.items():
        data = "".join(e + "\n" for e in entries).encode()
        paths[part] = folder / "gtzan" / f"{part}_filtered.txt"
        paths[part].write_bytes(data)
        old = gtzan.FAULT_FILTERED_LISTS[part]
        fake = Resource(old.name, old.repository, old.commit, old.path, hashlib.md5(data).hexdigest())
        monkeypatch.setitem(gtzan.FAULT_FILTERED_LISTS, part, fake)
    monkeypatch.setenv("MIRBENCH_SPLITS", str(folder))
    return paths


def splits_error(protocol: str, data_root: Path, capsys, params=(), protocol_params=(), dataset=None) -> str:
    """`mirbench data splits PROTOCOL` expecting one clear error line."""
    args = ["data", "splits", protocol, "--data-root", str(data_root)] + (["--dataset", dataset] if dataset else [])
    for p in params:
        args += ["--param", p]
    for p in protocol_params:
        args += ["--protocol-param", p]
    return cli_error(args, capsys)


def test_gtzan_list_naming_an_unknown_genre(tmp_path, capsys, monkeypatch):
    from mirbench.datasets.base import DatasetError
    from mirbench.datasets.gtzan import GTZANDataset, GTZANFaultFiltered
    from tests.fixtures.gtzan_tree import write_gtzan_names

    write_gtzan_names(tmp_path / "gtzan", per_genre=2)
    paths = fake_fault_filtered(tmp_path, monkeypatch, {
        "train": ["blues/blues.00000.wav", "polka/polka.00001.wav"], "valid": ["rock/rock.00000.wav"], "test": ["pop/pop.00001.wav"],
    })
    line = splits_error("gtzan-fault-filtered", tmp_path, capsys, params=["tracks_per_genre=2"])
    assert f"{paths['train']}:2: 'polka/polka.00001.wav' names the genre 'polka', which is not one of GTZAN's (blues, " in line
    with pytest.raises(DatasetError):  # the same error for library users: a DatasetError (and a ValueError)
        GTZANFaultFiltered().folds(GTZANDataset(tmp_path / "gtzan", tracks_per_genre=2))


def test_a_dataset_built_with_labels_outside_its_classes(tmp_path):
    from mirbench.datasets.base import Dataset, DatasetError, Track

    tracks = [Track(f"t{i}", tmp_path / f"t{i}.wav", (label,)) for i, label in enumerate(["rock", "polka", "rock", "ska"])]
    with pytest.raises(DatasetError) as info:
        Dataset(tracks, ["rock", "pop"], "single-label", 22050, name="mine")
    message = str(info.value)
    assert "labels ['polka', 'ska'] are not among its classes (rock, pop): track 't1' has 'polka'; track 't3' has 'ska'" in message


# ============================================================================= 4. split lists naming missing tracks


def test_gtzan_lists_naming_tracks_the_index_lacks(tmp_path, capsys, monkeypatch):
    """Listed tracks beyond the index: one error naming the list files, the first ids and the count."""
    from tests.fixtures.gtzan_tree import write_gtzan_names

    write_gtzan_names(tmp_path / "gtzan", per_genre=2)
    train = [f"blues/blues.{n:05d}.wav" for n in range(8)]  # 6 of them beyond tracks_per_genre = 2
    paths = fake_fault_filtered(tmp_path, monkeypatch, {"train": train, "valid": ["rock/rock.00000.wav"], "test": ["pop/pop.00099.wav"]})
    line = splits_error("gtzan-fault-filtered", tmp_path, capsys, params=["tracks_per_genre=2"])
    assert "7 listed track(s) are not in the 'gtzan' index: blues.00002, blues.00003, blues.00004, blues.00005, blues.00006 and 2 more" in line
    assert f"listed in {paths['train']} (6), {paths['test']} (1)" in line
    assert "tracks_per_genre is below 100: index all 100 tracks of each genre" in line


def test_gtzan_listed_track_missing_on_disk_is_a_recorded_skip(tmp_path, capsys, monkeypatch):
    """A listed track the index has but the disk lacks: the run skips it, records why, and uses the rest."""
    from mirbench.datasets.gtzan import GENRES
    from mirbench.results import ResultStore
    from tests.fixtures.gtzan_tree import write_gtzan_tree

    write_gtzan_tree(tmp_path / "data" / "gtzan", per_genre=4, seconds=0.5, corrupt=(), missing=("blues.00001",))
    parts = {"train": (0, 1), "valid": (2,), "test": (3,)}
    fake_fault_filtered(tmp_path, monkeypatch, {
        part: [f"{g}/{g}.{n:05d}.wav" for g in GENRES for n in numbers] for part, numbers in parts.items()
    })
    suite = tmp_path / "ff.toml"
    suite.write_text(
        'version = "1"\nmetrics = ["accuracy"]\n[dataset]\nname = "gtzan"\ntracks_per_genre = 4\n'
        '[protocol]\nname = "gtzan-fault-filtered"\n[[systems]]\nname = "mfcc"\n'
    )
    args = ["run", str(suite), "--data-root", str(tmp_path / "data"), "--results", str(tmp_path / "res"),
            "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "1 track(s) skipped as unusable" in out.out
    (record,) = ResultStore(tmp_path / "res").records()
    assert record["status"] == "ok" and [s["id"] for s in record["skipped"]] == ["blues.00001"]
    assert record["skipped"][0]["reason"].endswith("blues.00001.wav: file not found")
    assert (record["fold"]["train"], record["fold"]["valid"], record["fold"]["test"]) == (19, 10, 10)


def test_fixed_split_id_file_naming_unknown_tracks(tmp_path, capsys):
    ids = tmp_path / "train.txt"
    ids.write_text("low.000\nlow.001\n# a comment\nlow.999\nmid.998\n")
    line = splits_error("fixed-split", tmp_path, capsys, dataset="synthetic",
                        protocol_params=[f"train={ids}", "test=['high.000']"])
    assert f"fixed-split: 2 ids in 'train' are not tracks of dataset 'synthetic': lines 4, 5 of {ids}" in line
    assert "low.999" not in line  # the file's line numbers, never its contents (422b789)


@needs_shared
def test_mtat_cleaned_list_naming_rows_the_annotations_lack(tmp_path, capsys, monkeypatch):
    from tests.fixtures.mtat_tree import TAG_NAMES, write_annotations

    monkeypatch.setenv("MIRBENCH_SPLITS", str(SHARED))
    rows = [(str(100 + i), f"{d}/a-b-01-c{i}-0-29.mp3", [1] + [0] * (len(TAG_NAMES) - 1)) for i, d in enumerate("0cd")]
    write_annotations(tmp_path / "mtat" / "annotations_final.csv", rows)
    listed = tmp_path / "valid.txt"
    listed.write_text("1\tc/a-b-01-c1-0-29.mp3\n7\tc/gone-0-29.mp3\n9\tc/gone-2-31.mp3\n")
    test = tmp_path / "test.txt"
    test.write_text("2\td/a-b-01-c2-0-29.mp3\n")
    line = splits_error("mtat-cleaned", tmp_path, capsys, params=["tags=published"],
                        protocol_params=[f"valid={listed}", f"test={test}", "verify=false"])
    assert f"mtat-cleaned: the valid list {listed}: 2 of its 3 entries do not match this copy of annotations_final.csv" in line
    assert "row 7 (c/gone-0-29.mp3) is not in annotations_final.csv; row 9 (c/gone-2-31.mp3)" in line


def test_split_list_that_is_a_directory(tmp_path, capsys, monkeypatch):
    from tests.fixtures.gtzan_tree import write_gtzan_names

    write_gtzan_names(tmp_path / "gtzan", per_genre=2)
    (tmp_path / "splits" / "gtzan" / "train_filtered.txt").mkdir(parents=True)
    monkeypatch.setenv("MIRBENCH_SPLITS", str(tmp_path / "splits"))
    line = splits_error("gtzan-fault-filtered", tmp_path, capsys, params=["tracks_per_genre=2"])
    assert f"{tmp_path / 'splits' / 'gtzan' / 'train_filtered.txt'}: cannot read it (Is a directory)" in line
    assert "put the published gtzan/train_filtered.txt (coreyker/dnn-mgr @ bdad579ea6cb" in line


# -- audio that passes validation and fails only when a trial decodes it ---------------------------------------


def test_a_track_that_fails_mid_trial_is_skipped_and_the_trial_goes_on(write_suite, tmp_path, monkeypatch, capsys):
    """A file validate() cannot fault (a codec only the full decode trips over, a file changed since) is skipped
    like the tracks validation found: the trial starts again without it, and its record says why."""
    from mirbench.audio import AudioError
    from mirbench.results import ResultStore
    from mirbench.testing import SyntheticDataset

    real = SyntheticDataset.load_audio
    broken = SyntheticDataset(per_class=4).tracks[5].id

    def load_audio(self, track, sample_rate):
        if track.id == broken:
            raise AudioError(f"{track.path}: cannot decode audio (corrupt frame at 1.2 s)")
        return real(self, track, sample_rate)

    monkeypatch.setattr(SyntheticDataset, "load_audio", load_audio)
    suite = write_suite(SMOKE_SUITE.replace("per_class = 8", "per_class = 4"))
    out = tmp_path / "results"
    args = ["run", str(suite), "--results", str(out), "--reports", str(tmp_path / "rep"), "--no-progress"]
    assert main(args + ["--device", "cpu"]) == 0
    records = list(ResultStore(out).records())
    assert records and all(r["status"] == "ok" for r in records)
    for r in records:
        (skip,) = r["skipped"]
        assert skip["id"] == broken and "corrupt frame at 1.2 s" in skip["reason"] and "found during the trial" in skip["reason"]
        assert broken not in r["predictions"]["track_ids"]
        assert r["fold"]["train"] + r["fold"]["valid"] + r["fold"]["test"] == 11
    assert broken in (tmp_path / "rep" / "smoke.md").read_text()
    assert "Traceback" not in capsys.readouterr().err


# ============================================================================= issue 17: tracebacks that became one line

DEEP = 100_000


@pytest.mark.parametrize("nesting", ["arrays", "inline tables", "just deeper than the limit"])
def test_deeply_nested_toml_is_one_line(nesting, tmp_path, capsys):
    """tomllib recurses once per level: 100,000 levels raised RecursionError. A few levels past the bound (which
    tomllib parses) are refused too: nothing downstream is asked to walk a value that deep."""
    from mirbench.suite import MAX_DEPTH

    value = {
        "arrays": "[" * DEEP + "]" * DEEP,
        "inline tables": "{ a = " * DEEP + "1" + " }" * DEEP,
        "just deeper than the limit": "[" * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1),
    }[nesting]
    path = tmp_path / "deep.toml"
    path.write_text(f'version = "1"\n[dataset]\nname = "synthetic"\nextra = {value}\n')
    line = cli_error(["validate", str(path)], capsys)
    assert str(path) in line and "nested" in line and str(MAX_DEPTH) in line
    assert len(line) < 400  # the file's contents are not echoed


@pytest.mark.parametrize("name", ["a\\u0000b", "a\\nb", "tab\\there", "a\\u007fb", "..", "a/b", "a\\\\b", ""])
def test_a_suite_name_unusable_as_a_file_name_is_one_line(name, write_suite, capsys):
    """The name becomes directory and file names under results/ and reports/: a NUL byte used to end the run
    in 'error: embedded null byte', a newline or other control character made a file name nobody can type."""
    suite = write_suite(f'name = "{name}"\n' + SMOKE_SUITE)
    line = cli_error(["validate", str(suite)], capsys)
    assert "'name'" in line and "control characters" in line and "results" in line


def test_a_suite_name_with_a_nul_byte_stops_the_run_before_any_trial(write_suite, tmp_path, capsys):
    suite = write_suite('name = "a\\u0000b"\n' + SMOKE_SUITE)
    out = tmp_path / "res"
    line = cli_error(["run", str(suite), "--results", str(out), "--no-progress", "--device", "cpu"], capsys)
    assert "'name'" in line and "embedded null byte" not in line and not out.exists()


def test_a_long_suite_name_is_one_line(write_suite, capsys):
    suite = write_suite(f'name = "{"x" * 300}"\n' + SMOKE_SUITE)
    line = cli_error(["validate", str(suite)], capsys)
    assert "'name'" in line and "at most" in line


def test_an_unreachable_scheduler_is_one_line_and_loses_no_trial(write_suite, tmp_path, capsys):
    """tcp://127.0.0.1:1 refuses connections: the client used to retry for 30 s and end in a traceback."""
    import time

    pytest.importorskip("dask.distributed")
    from mirbench.registry import systems
    from tests.helpers import synthetic_suite

    systems.register("test.prior", "tests.helpers:PriorSystem")
    suite = write_suite(synthetic_suite('[[systems]]\nname = "test.prior"'))
    out = tmp_path / "res"
    args = ["run", str(suite), "--results", str(out), "--reports", str(tmp_path / "rep"), "--no-progress"]
    assert main(args + ["--device", "cpu"]) == 0
    capsys.readouterr()
    kept = sorted((out / "trials").glob("*.json"))
    before = {p.name: p.read_bytes() for p in kept}
    kept[0].unlink()  # one trial left to do

    start = time.monotonic()
    line = cli_error(args + ["--device", "cpu", "--scheduler", "tcp://127.0.0.1:1"], capsys)
    assert time.monotonic() - start < 20
    assert "could not reach the Dask scheduler at tcp://127.0.0.1:1" in line and "local:N" in line
    assert {p.name: p.read_bytes() for p in (out / "trials").glob("*.json")} == {kept[1].name: before[kept[1].name]}


def test_a_grid_over_the_variant_limit_is_one_line(write_suite, capsys):
    from mirbench.suite import MAX_VARIANTS

    per_key = int(MAX_VARIANTS ** 0.5) + 1
    grid = f"{{ C = {list(range(1, per_key + 1))}, n_mfcc = {list(range(1, per_key + 1))} }}"
    suite = write_suite(SMOKE_SUITE.replace('grid = { C = [1.0, 10.0] }', f"grid = {grid}"))
    line = cli_error(["validate", str(suite)], capsys)
    assert "'systems[0].grid'" in line and f"{per_key * per_key:,} variants" in line and f"{MAX_VARIANTS:,}" in line


# -- a closed stdout (`mirbench ... | head -1`) ends the command quietly, as Unix tools do ----------------------


def mirbench_process(*args: str, cwd: Path):
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "mirbench.cli", *args]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_pipe_closed_after_the_first_line_ends_the_command_quietly(tmp_path):
    """More output than the pipe holds: the command blocks writing, the reader takes one line and goes away."""
    suites = tmp_path / "suites"
    suites.mkdir()
    for i in range(3000):  # ~150 kB of output, more than a pipe and stdout's buffer hold together
        (suites / f"suite-{i:05d}-with-a-long-name-so-that-the-listing-is-big.toml").touch()
    process = mirbench_process("list", "suites", "--suites-dir", str(suites), cwd=tmp_path)
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert first.decode().strip().endswith("suite-00000-with-a-long-name-so-that-the-listing-is-big.toml")
    assert err == "" and code == 141  # 128 + SIGPIPE, what a shell reports for a tool the closed pipe stopped


def test_a_pipe_closed_before_any_output_ends_data_check_quietly(tmp_path):
    """`mirbench data check ... | head -0`: even the first write fails, and so would the flush at exit."""
    process = mirbench_process("data", "check", "synthetic", "--param", "per_class=2", cwd=tmp_path)
    process.stdout.close()  # long before the interpreter has started
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141 and err == ""
