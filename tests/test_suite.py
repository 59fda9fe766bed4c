"""Suite files: valid ones load and expand; each malformed one gives one clear error, no traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mirbench.cli import main
from mirbench.datasets.base import Dataset
from mirbench.registry import datasets
from mirbench.suite import SuiteError, load_suite

REPO = Path(__file__).resolve().parent.parent

BASE = """
version = "1"
seeds = [0, 1]
metrics = ["accuracy"]

[dataset]
name = "synthetic"

[protocol]
name = "stratified-kfold"
folds = 2

[[systems]]
name = "mfcc"
grid = { C = [1.0, 10.0], n_mfcc = [13, 20] }

[[systems]]
name = "pmsc"
label = "PMSC"
params = { n_components = 16 }

[report]
rows = ["system", "C"]
columns = ["metric"]

[[report.published]]
system = "PMSC"
metric = "accuracy"
value = 0.68
source = "a paper"
"""


def write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


class NeedsRoot(Dataset):
    """A stand-in for a real on-disk dataset."""

    name = "ondisk"
    needs_root = True

    def __init__(self, root=None):  # pragma: no cover - never constructed by validate
        raise AssertionError


@pytest.fixture(autouse=True)
def ondisk_dataset():
    datasets.register("ondisk", "tests.test_suite:NeedsRoot")
    yield


def test_valid_suite_expands_grid(tmp_path):
    suite = load_suite(write(tmp_path, BASE))
    assert suite.name == "suite" and suite.version == "1"
    mfcc = [v for v in suite.variants if v.system == "mfcc"]
    assert [(v.params["C"], v.params["n_mfcc"]) for v in mfcc] == [(1.0, 13), (1.0, 20), (10.0, 13), (10.0, 20)]
    assert len({v.id for v in suite.variants}) == 5
    assert suite.seeds == [0, 1]


def test_extends_changes_a_few_keys(tmp_path):
    write(tmp_path, BASE, "parent.toml")
    child = write(tmp_path, 'extends = "parent.toml"\nversion = "2"\nseeds = [7]\n[protocol]\nfolds = 3\n', "child.toml")
    suite = load_suite(child)
    assert suite.name == "child" and suite.version == "2"
    assert suite.seeds == [7]
    assert suite.protocol == {"name": "stratified-kfold", "folds": 3}
    assert len(suite.variants) == 5


def test_extends_with_another_dataset_drops_the_parents_dataset_parameters(tmp_path):
    write(tmp_path, BASE.replace('name = "synthetic"', 'name = "synthetic"\nper_class = 4'), "parent.toml")
    child = write(tmp_path, 'extends = "parent.toml"\nversion = "2"\n[dataset]\nname = "corpus"\n', "child.toml")
    assert load_suite(child).dataset == {"name": "corpus"}


def test_suite_params_reach_every_system_that_takes_them(tmp_path):
    text = (
        'version = "1"\nparams = { sample_rate = 16000, n_mfcc = 13, n_components = 8 }\n'
        '[dataset]\nname = "synthetic"\n[protocol]\nname = "stratified-kfold"\n'
        '[[systems]]\nname = "mfcc"\ngrid = { n_mfcc = [20, 40] }\n'
        '[[systems]]\nname = "pmsc"\nparams = { sample_rate = 22050 }\n'
    )
    suite = load_suite(write(tmp_path, text))
    assert [v.params for v in suite.variants] == [
        {"sample_rate": 16000, "n_mfcc": 20},  # the grid wins
        {"sample_rate": 16000, "n_mfcc": 40},
        {"sample_rate": 22050, "n_components": 8},  # the system's own params win; n_mfcc is not pmsc's
    ]


def test_hash_tracks_content(tmp_path):
    a = load_suite(write(tmp_path, BASE, "a.toml"))
    b = load_suite(write(tmp_path, BASE.replace("seeds = [0, 1]", "seeds = [0]"), "b.toml"))
    assert a.hash() != b.hash()
    assert a.hash() == load_suite(tmp_path / "a.toml").hash()


def test_shipped_suites_validate():
    for path in sorted((REPO / "suites").glob("*.toml")):
        load_suite(path)


MALFORMED = {
    "unknown top-level key": (BASE.replace("seeds =", "seed ="), "unknown key 'seed' — did you mean 'seeds'?"),
    "wrong type": (BASE.replace("seeds = [0, 1]", 'seeds = "0"'), "'seeds' must be array, got string"),
    "unknown system": (BASE.replace('name = "mfcc"', 'name = "mfc"'), "unknown system 'mfc' — did you mean 'mfcc'?"),
    "grid value not a list": (BASE.replace("C = [1.0, 10.0]", "C = 1.0"), "grid.C must be a non-empty array"),
    "empty grid": (BASE.replace("C = [1.0, 10.0]", "C = []"), "grid.C must be a non-empty array"),
    "unknown system parameter": (
        BASE.replace("n_components = 16", "n_component = 16"),
        "has no parameter 'n_component' — did you mean 'n_components'?",
    ),
    "missing dataset": (BASE.replace('[dataset]\nname = "synthetic"\n', ""), "missing required table [dataset]"),
    "missing version": (BASE.replace('version = "1"\n', ""), "missing required key 'version'"),
    "duplicate key": (BASE.replace('seeds = [0, 1]', 'seeds = [0, 1]\nseeds = [2]'), "not valid TOML"),
    "bad TOML": (BASE + "\n[[systems]\n", "not valid TOML"),
    "unknown metric": (BASE.replace('metrics = ["accuracy"]', 'metrics = ["acuracy"]'), "did you mean 'accuracy'?"),
    "unknown protocol": (BASE.replace('"stratified-kfold"', '"stratified-kfld"'), "unknown protocol 'stratified-kfld'"),
    "unknown protocol parameter": (BASE.replace("folds = 2", "fold = 2"), "has no parameter 'fold' — did you mean 'folds'?"),
    "unknown dataset": (BASE.replace('name = "synthetic"', 'name = "gtzn"'), "unknown dataset 'gtzn'"),
    "parameter in params and grid": (
        BASE.replace('name = "pmsc"', 'name = "pmsc"\ngrid = { n_components = [8] }'),
        "appear in both params and grid",
    ),
    "report dimension unknown": (BASE.replace('rows = ["system", "C"]', 'rows = ["sytem"]'), "did you mean 'system'?"),
    "published names unknown dimension": (BASE.replace('system = "PMSC"', 'sys = "PMSC"'), "report.published[0].sys"),
    "published without value": (BASE.replace("value = 0.68", ""), "missing required key 'report.published[0].value'"),
    "no systems": (BASE.split("[[systems]]")[0], "no [[systems]] to run"),
    "extends a missing file": ('extends = "nowhere.toml"\n' + BASE, "'extends' names 'nowhere.toml'"),
    "negative seed": (BASE.replace("seeds = [0, 1]", "seeds = [-1]"), "'seeds[0]' must be >= 0"),
    "protocol proportions not summing to 1": (
        BASE.replace("folds = 2", "folds = 2\nproportions = [0.5, 0.5, 0.5]"), "proportions"
    ),
    "metric not for the task": (
        BASE.replace('name = "synthetic"', 'name = "synthetic"\ntask = "multi-label"'),
        "'accuracy' does not apply to the dataset's multi-label task",
    ),
    "report metric not computed": (
        BASE.replace('columns = ["metric"]', 'columns = ["metric"]\nmetrics = ["pr_auc_macro"]'),
        "'report.metrics[0]': 'pr_auc_macro' is not among",
    ),
    "protocol defined for another dataset": (
        BASE.replace('"stratified-kfold"\nfolds = 2', '"gtzan-random-4fold"'),
        "'gtzan-random-4fold' is defined for the 'gtzan' dataset, not 'synthetic'",
    ),
    "quick folds zero": (BASE + "\n[quick]\nfolds = 0\n", "'quick.folds' must be a positive integer"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_suite_gives_one_clear_error(case, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MIRBENCH_DATA", raising=False)
    text, expected = MALFORMED[case]
    path = write(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert str(path) in lines[0]
    assert expected in lines[0], lines[0]


def test_extends_cycle(tmp_path):
    write(tmp_path, 'extends = "b.toml"\n' + BASE, "a.toml")
    write(tmp_path, 'extends = "a.toml"\n' + BASE, "b.toml")
    with pytest.raises(SuiteError, match="cycle"):
        load_suite(tmp_path / "a.toml")


def test_missing_data_root_directory(tmp_path, capsys):
    path = write(tmp_path, BASE)
    assert main(["validate", str(path), "--data-root", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_real_data_suite_validates_without_its_data_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MIRBENCH_DATA", raising=False)
    path = write(tmp_path, BASE.replace('name = "synthetic"', 'name = "ondisk"'))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok — " in out and "its data was not checked (no data root: pass --data-root DIR" in out
    (tmp_path / "data").mkdir()
    assert main(["validate", str(path), "--data-root", str(tmp_path / "data")]) == 2  # given: the data is checked
    assert "expected at" in capsys.readouterr().err


def test_a_data_root_that_is_the_dataset_folder_itself_says_which_folder_to_pass(tmp_path, capsys):
    path = write(tmp_path, BASE.replace('name = "synthetic"', 'name = "ondisk"'))
    (tmp_path / "data" / "ondisk").mkdir(parents=True)
    assert main(["validate", str(path), "--data-root", str(tmp_path / "data" / "ondisk")]) == 2
    err = capsys.readouterr().err
    assert "is the 'ondisk' dataset's own folder; pass the folder above it" in err and str(tmp_path / "data") in err


def test_validate_ok_message(tmp_path, capsys):
    assert main(["validate", str(write(tmp_path, BASE))]) == 0
    assert "ok — 5 variant(s)" in capsys.readouterr().out


# -- large grids (issue 17): checked once per key where that is the same check, and bounded ---------------------

GRID_10K = """
version = "1"
[dataset]
name = "synthetic"
[protocol]
name = "stratified-kfold"
folds = 2
[quick]
params = {{ max_epochs = 1 }}
[[systems]]
name = "fma.mlp"
grid = {{ depth = {depth}, width = {width}, dropout = {dropout}, learning_rate = {lr} }}
"""
AXES = {"depth": list(range(1, 11)), "width": list(range(10, 101, 10)),
        "dropout": [i / 10 for i in range(10)], "lr": [i / 100 for i in range(1, 11)]}


def test_a_ten_thousand_variant_grid_validates_to_the_right_variants(tmp_path):
    """Used to take 50-90 s (kinds checked and the registry searched once per point); benchmarks/bench_suite.py
    times it."""
    import itertools

    from mirbench.suite import MAX_VARIANTS

    suite = load_suite(write(tmp_path, GRID_10K.format(**AXES)))
    assert len(suite.variants) == MAX_VARIANTS == 10_000
    expected = [dict(zip(("depth", "width", "dropout", "learning_rate"), p)) for p in itertools.product(*AXES.values())]
    assert [v.params for v in suite.variants] == expected  # the order the grid is written in
    assert len({v.id for v in suite.variants}) == 10_000 and {v.system for v in suite.variants} == {"fma.mlp"}


@pytest.mark.parametrize("axis, value, says", [
    ("dropout", 1.5, "'systems[0].grid.dropout': dropout must be in [0, 1), got 1.5"),  # the system's check_params
    ("width", 2.5, "'systems[0].grid.width' must be integer (system 'fma.mlp' parameter 'width'), got float 2.5"),
])
def test_a_bad_value_at_the_end_of_a_large_grid_is_named(axis, value, says, tmp_path):
    axes = {**AXES, axis: AXES[axis][:-1] + [value]}
    with pytest.raises(SuiteError) as exc:
        load_suite(write(tmp_path, GRID_10K.format(**axes)))
    assert says in str(exc.value)


def test_the_variant_limit_counts_every_systems_entry(tmp_path):
    text = GRID_10K.format(**AXES) + '[[systems]]\nname = "mfcc"\ngrid = { C = [1.0, 10.0] }\n'
    with pytest.raises(SuiteError) as exc:
        load_suite(write(tmp_path, text))
    message = str(exc.value)
    assert "'systems[1].grid' expands to 2 variants (2), and the suite to 10,002" in message
    assert "over the limit of 10,000 variants per suite" in message


def test_a_mistyped_suite_path_suggests_the_nearest_suite(tmp_path, capsys):
    write(tmp_path, BASE, "quickstart.toml")
    assert main(["validate", str(tmp_path / "quikstart.toml")]) == 2
    err = capsys.readouterr().err
    assert f"no such suite file — did you mean '{tmp_path / 'quickstart.toml'}'?" in err


def test_every_committed_suite_validates_without_a_data_root(capsys, monkeypatch):
    monkeypatch.delenv("MIRBENCH_DATA", raising=False)
    suites = sorted((Path(__file__).resolve().parent.parent / "suites").glob("*.toml"))
    assert main(["validate", *map(str, suites)]) == 0
    assert capsys.readouterr().out.count(": ok — ") == len(suites)
