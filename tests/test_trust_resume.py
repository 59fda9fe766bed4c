"""Resume trusts nothing it reads back (issue #17, items 1, 4 and 5, and the weaker spots of the runner).

A stored trial is reused only when its record is valid and its identity (suite parts, quick flag, data
fingerprint, split, variant, seed, mirbench's versions) is the planned one; anything else is rerun, and the run
says why. Each test failed on the code before trial identities.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import soundfile as sf

from mirbench.cli import main
from mirbench.registry import systems
from mirbench.results import ResultsError, ResultStore
from mirbench.run import RunOptions, run_suite
from mirbench.suite import load_suite
from tests.helpers import synthetic_suite

REPO = Path(__file__).resolve().parent.parent
PRIOR = '[[systems]]\nname = "test.prior"\nlabel = "Prior"\n'
QUICK = "[quick]\ntracks_per_class = 2\nfolds = 1\n"


@pytest.fixture(autouse=True)
def prior_system():
    systems.register("test.prior", "tests.helpers:PriorSystem")


def write(tmp_path: Path, text: str, name: str = "trust.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run(path: Path, results: Path, **kw):
    options = RunOptions(results=results, progress=False, device="cpu", **kw)
    return run_suite(load_suite(path), options)


def cli_run(path: Path, results: Path, capsys, *extra) -> tuple[int, str]:
    code = main(["run", str(path), "--results", str(results), "--reports", str(results.parent / "reports"),
                 "--no-progress", "--device", "cpu", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# ----------------------------------------------------------------------------- item 1: stale records


@pytest.mark.parametrize("edit, reason", [
    (lambda t: t.replace("per_class = 4", "per_class = 4\nseconds = 1.5"), "the dataset parameters changed"),
    (lambda t: t.replace("folds = 2", "folds = 2\nseed = 7"), "the protocol changed"),
    (lambda t: t.replace('version = "1"', 'version = "2"'), "the suite's version changed"),
    (lambda t: t.replace('metrics = ["accuracy"]', 'metrics = ["accuracy", "normalised_accuracy"]'),
     "the metrics changed"),
])
def test_an_edited_suite_reruns_every_trial_and_says_why(tmp_path, capsys, edit, reason):
    text = synthetic_suite(PRIOR)
    path = write(tmp_path, text)
    code, _ = cli_run(path, tmp_path / "results", capsys)
    assert code == 0
    write(tmp_path, edit(text))
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert code == 0
    assert "2 trials: 0 already done, 2 ran ok" in out
    assert f"2 trials rerun: {reason}" in out


def test_an_unchanged_suite_reuses_every_trial(tmp_path, capsys):
    path = write(tmp_path, synthetic_suite(PRIOR))
    cli_run(path, tmp_path / "results", capsys)
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert code == 0 and "2 trials: 2 already done, 0 ran ok" in out and "rerun" not in out
    assert "nothing to run: every trial already has a result from the same inputs" in out


def test_editing_only_the_report_layout_reuses_the_trials(tmp_path, capsys):
    text = synthetic_suite(PRIOR)
    path = write(tmp_path, text)
    cli_run(path, tmp_path / "results", capsys)
    write(tmp_path, 'description = "now with a description"\n' + text + '\n[report]\nrows = ["system"]\n')
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert code == 0 and "2 already done" in out


def test_a_quick_run_then_a_full_run_into_one_directory_never_mixes(tmp_path, capsys):
    path = write(tmp_path, synthetic_suite(PRIOR, tail=QUICK))
    results = tmp_path / "results"
    cli_run(path, results, capsys, "--quick")
    code, out = cli_run(path, results, capsys)
    assert code == 0
    assert "1 trial rerun: the stored trial is of the other kind of run (--quick or full)" in out
    store = ResultStore(results)
    records = list(store.records())
    assert len(records) == 2 and not any(r["provenance"]["quick"] for r in records)
    assert store.read_suite()["quick_run"] is False
    cli_run(path, tmp_path / "fresh", capsys)
    fresh = list(ResultStore(tmp_path / "fresh").records())
    assert [r["fold"] for r in records] == [r["fold"] for r in fresh]  # no quick subset in the full run


def test_records_of_another_plan_are_not_reported(tmp_path, capsys):
    """A variant removed from the suite leaves its records on disk, but they are not this run's results."""
    two = PRIOR + '\n[[systems]]\nname = "test.prior"\nlabel = "Slow"\nparams = { sleep = 0.001 }\n'
    path = write(tmp_path, synthetic_suite(two))
    cli_run(path, tmp_path / "results", capsys)
    write(tmp_path, synthetic_suite(PRIOR))
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert code == 0 and "2 already done" in out
    assert {r["variant"]["label"] for r in ResultStore(tmp_path / "results").records()} == {"Prior"}
    assert "Slow" not in (tmp_path / "reports" / "trust.md").read_text()


def test_a_results_directory_of_another_suite_is_an_error(tmp_path, capsys):
    results = tmp_path / "results"
    cli_run(write(tmp_path, synthetic_suite(PRIOR), "one.toml"), results, capsys)
    code, out = cli_run(write(tmp_path, synthetic_suite(PRIOR), "two.toml"), results, capsys)
    assert code == 2
    assert "error: " in out and "holds results of suite 'one', not 'two'" in out and "Traceback" not in out


def test_a_changed_result_affecting_version_reruns(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, synthetic_suite(PRIOR))
    cli_run(path, tmp_path / "results", capsys)
    monkeypatch.setattr("mirbench.run.identity.RESULTS_VERSION", 99)
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert "2 trials rerun: mirbench's result-affecting code changed" in out


def test_a_bumped_system_version_reruns_its_trials(tmp_path, capsys, monkeypatch):
    """A system whose code changed for the same parameters (issue #19: Choi's layer widths) declares a new
    `version`; its stored trials are then rerun rather than reported as current."""
    from tests.helpers import PriorSystem

    path = write(tmp_path, synthetic_suite(PRIOR))
    cli_run(path, tmp_path / "results", capsys)
    monkeypatch.setattr(PriorSystem, "version", getattr(PriorSystem, "version", 0) + 1, raising=False)
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert "2 trials rerun: the system's version changed" in out


def test_another_packages_frontend_reruns_nothing_but_a_changed_builtin_frontend_does(tmp_path, capsys, monkeypatch):
    """Every trial's identity held the version of every registered frontend: installing any plug-in with a frontend
    reran every stored trial of every suite. Only mirbench's frontends and the system's own package's count."""
    from mirbench.frontends import MFCC
    from mirbench.registry import frontends

    path = write(tmp_path, synthetic_suite(PRIOR))
    cli_run(path, tmp_path / "results", capsys)
    frontends.register("other.chroma", "mirbench.frontends:STFTMagnitude", origin="other-plugin")
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert code == 0 and "2 already done" in out and "rerun" not in out
    monkeypatch.setattr(MFCC, "version", getattr(MFCC, "version", 0) + 100)
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert "2 trials rerun: mirbench's result-affecting code changed" in out


# ----------------------------------------------------------------------------- item 4: invalid records


@pytest.mark.parametrize("content", [
    '{"status": "ok", "trial_id": "%s"}',
    "[]",
    "null",
    '"a string"',
    "{not json",
    '{"status": "ok", "trial_id": "%s", "fold": "three"}',
])
def test_an_invalid_record_is_set_aside_and_rerun(tmp_path, capsys, content):
    path = write(tmp_path, synthetic_suite(PRIOR))
    results = tmp_path / "results"
    cli_run(path, results, capsys)
    store = ResultStore(results)
    victim = sorted(store.trials_dir.glob("*.json"))[0]
    tid = victim.stem
    victim.write_text(content.replace("%s", tid))
    code, out = cli_run(path, results, capsys)
    assert code == 0, out
    assert "Traceback" not in out
    assert "1 ran ok" in out and "set aside an invalid record" in out
    assert (store.trials_dir / f"{tid}.json.invalid").exists()
    assert store.load(tid)[0]["status"] == "ok"
    assert len(list(store.records())) == 2
    code = main(["report", str(results), "--reports", str(tmp_path / "again")])
    assert code == 0


def test_the_report_refuses_an_invalid_record_with_one_line_naming_it_instead_of_crashing(tmp_path, capsys):
    path = write(tmp_path, synthetic_suite(PRIOR))
    results = tmp_path / "results"
    cli_run(path, results, capsys)
    victim = sorted(ResultStore(results).trials_dir.glob("*.json"))[0]
    victim.write_text(json.dumps({"status": "ok", "trial_id": victim.stem}))
    code = main(["report", str(results), "--reports", str(tmp_path / "again")])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err and len(captured.err.splitlines()) == 1
    assert captured.err.startswith(
        f"error: {victim} is not a valid trial record ('variant' is missing or is not an object)")


# ----------------------------------------------------------------------------- item 5: repaired audio


def test_repaired_audio_is_noticed(tmp_path, capsys, isolated_cache):
    path = write(tmp_path, synthetic_suite(PRIOR, per_class=3))
    results = tmp_path / "results"
    from mirbench.datasets import open_dataset

    dataset = open_dataset(load_suite(path).dataset)
    victim = dataset.tracks[0].path
    good = Path(victim).read_bytes()
    Path(victim).write_bytes(b"not audio at all" * 10)
    code, out = cli_run(path, results, capsys)
    assert "1 track(s) skipped" in out
    Path(victim).write_bytes(good)  # the user repairs the file
    code, out = cli_run(path, results, capsys)
    assert code == 0
    assert "2 trials rerun: the dataset's audio or its usable tracks changed" in out
    assert "skipped" not in out.split("results in")[1].split("wrote")[0]
    records = list(ResultStore(results).records())
    assert all(r["skipped"] == [] for r in records)


def test_replaced_audio_of_the_same_name_and_size_is_noticed(tmp_path, capsys):
    path = write(tmp_path, synthetic_suite(PRIOR, per_class=3))
    results = tmp_path / "results"
    cli_run(path, results, capsys)
    from mirbench.datasets import open_dataset

    victim = open_dataset(load_suite(path).dataset).tracks[0].path
    y, sr = sf.read(victim, dtype="float32")
    sf.write(victim, y[::-1].copy(), sr, subtype=sf.info(victim).subtype)  # other samples, same length
    code, out = cli_run(path, results, capsys)
    assert "2 trials rerun: the dataset's audio or its usable tracks changed" in out


# ----------------------------------------------------------------------------- the record says what happened


def test_the_precision_recorded_is_what_the_trial_computed_in(tmp_path, capsys):
    """`--precision bf16` with a scikit-learn system computes in float32, and the record says so."""
    path = write(tmp_path, synthetic_suite(PRIOR))
    cli_run(path, tmp_path / "results", capsys, "--precision", "bf16")
    records = list(ResultStore(tmp_path / "results").records())
    assert {r["provenance"]["precision"] for r in records} == {"fp32"}
    assert {r["provenance"]["precision_requested"] for r in records} == {"bf16"}


def test_a_network_under_bf16_records_bf16():
    import torch

    from mirbench.device import autocast, precision_used

    precision_used(reset=True)
    with autocast(torch.device("cpu"), "fp32"):
        pass
    assert precision_used() == "fp32"
    with autocast(torch.device("cpu"), "bf16"):
        pass
    assert precision_used(reset=True) == "bf16" and precision_used() == "fp32"


# ----------------------------------------------------------------------------- weaker spots


def test_a_second_run_into_the_same_directory_is_refused(tmp_path):
    path = write(tmp_path, synthetic_suite(PRIOR))
    store = ResultStore(tmp_path / "results")
    with store.lock():
        with pytest.raises(ResultsError, match="another mirbench run is writing to"):
            run(path, tmp_path / "results")
    summary = run(path, tmp_path / "results")  # released: the next run goes ahead
    assert summary.ok == 2


def test_temporary_files_of_a_killed_run_are_swept(tmp_path):
    path = write(tmp_path, synthetic_suite(PRIOR))
    run(path, tmp_path / "results")
    store = ResultStore(tmp_path / "results")
    left = [store.trials_dir / ".x.json.abc.tmp", store.root / ".suite.json.def.tmp"]
    for p in left:
        p.write_text("{")
    run(path, tmp_path / "results")
    assert not any(p.exists() for p in left)


def test_workers_end_when_their_parent_is_killed(tmp_path):
    """SIGKILL the parent of a --workers run: its worker processes exit by themselves."""
    suite = write(tmp_path, synthetic_suite(PRIOR.replace('label = "Prior"', 'label = "Prior"\nparams = { sleep = 60.0 }')))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tests.helpers import register_prior; register_prior(); "
         "from mirbench.cli import main; sys.exit(main(sys.argv[1:]))",
         "run", str(suite), "--results", str(tmp_path / "results"), "--workers", "2", "--no-progress", "--device", "cpu"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = []
    deadline = time.time() + 60
    while time.time() < deadline and len(children) < 2:
        time.sleep(0.5)
        children = _children(parent.pid)
    assert children, "the run started no worker processes"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(c) for c in children):
        time.sleep(0.25)
    alive = [c for c in children if _alive(c)]
    for c in alive:
        os.kill(c, signal.SIGKILL)
    assert not alive, f"worker processes {alive} outlived their parent"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_content_hashes_persist_in_the_cache_and_notice_a_changed_file(tmp_path, monkeypatch):
    """A later process rehashes only the files that changed (the memo lives in the cache)."""
    import mirbench.content as content

    files = [tmp_path / f"{i}.bin" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * 1000)
    first = content.content_hashes(files)
    content.forget()  # as a new process would start
    opened = []
    monkeypatch.setattr(content, "open", lambda p, *a: opened.append(Path(p).name) or open(p, *a), raising=False)
    assert content.content_hashes(files) == first and opened == []
    files[1].write_bytes(b"\x07" * 1000)
    content.forget()
    again = content.content_hashes(files)
    assert opened == ["1.bin"] and again[0] == first[0] and again[1] != first[1]


def test_a_dataset_table_setting_root_is_one_error_line(tmp_path, capsys):
    path = write(tmp_path, synthetic_suite(PRIOR).replace("per_class = 4", 'per_class = 4\nroot = "/elsewhere"'))
    code, out = cli_run(path, tmp_path / "results", capsys)
    assert code == 2 and "Traceback" not in out
    assert "error: dataset 'synthetic': a suite's [dataset] table cannot set 'root'" in out


def test_a_changed_file_of_a_pretraining_dataset_reruns_the_trials_that_read_it(tmp_path, capsys):
    systems.register("test.pretrained", "tests.helpers:PretrainedPrior")
    try:
        table = '[[systems]]\nname = "test.pretrained"\nlabel = "P"\nparams = { pretrain = { name = "synthetic", per_class = 2, seed = 5 } }\n'
        path = write(tmp_path, synthetic_suite(PRIOR + "\n" + table))
        code, out = cli_run(path, tmp_path / "results", capsys)
        assert code == 0 and "4 trials: 0 already done, 4 ran ok" in out, out
        from mirbench.datasets import open_dataset

        victim = open_dataset({"name": "synthetic", "per_class": 2, "seed": 5}).tracks[0].path
        y, sr = sf.read(victim, dtype="float32")
        sf.write(victim, y[::-1].copy(), sr, subtype=sf.info(victim).subtype)
        code, out = cli_run(path, tmp_path / "results", capsys)
        assert code == 0
        assert "4 trials: 2 already done, 2 ran ok" in out  # only the variant that reads it
        assert "2 trials rerun: the dataset's audio or its usable tracks changed" in out
    finally:
        systems.unregister("test.pretrained")
