"""The leaderboard that lives in the repository: every committed bundle verifies, every committed report and the
leaderboard regenerate from submissions/ byte for byte, so a stale report or a gamed bundle cannot land."""

from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path

import pytest

from mirbench.bundles import unpack
from mirbench.report import SUFFIXES, write_report
from mirbench.submission import read_submission, suite_data, verifier_dataset, verify

REPO = Path(__file__).resolve().parent.parent
SUBMISSIONS = REPO / "submissions"
REPORTS = REPO / "reports"
BUNDLES = sorted(SUBMISSIONS.glob("*.json.gz"))
IN_TREE = [p for p in BUNDLES if p.name.endswith("--mirbench.json.gz")]  # the runs whose reports are committed
BOARD = ("leaderboard.md", "leaderboard.html")


def report_stems() -> set[str]:
    return {p.stem for p in REPORTS.glob("*.md") if p.name not in BOARD}


def report_files(stem: str) -> list[Path]:
    return sorted(p for p in REPORTS.iterdir() if any(p.name == stem + suffix for suffix in SUFFIXES))


def test_every_committed_report_has_its_bundle():
    suites = sorted(read_submission(p)["suite"]["name"] for p in IN_TREE)
    assert suites == sorted(report_stems()), "each report in reports/ needs submissions/<suite>--mirbench.json.gz"


def test_bundles_stay_small():
    sizes = {p.name: p.stat().st_size for p in BUNDLES}
    assert max(sizes.values(), default=0) < 8 * 2**20, sizes


@functools.cache
def corpus_builds() -> list[tuple[int, float, int]]:
    """(clips_per_class, clip_seconds, seed) of every corpus build a committed bundle ran on."""
    from mirbench.datasets.corpus import CorpusDataset

    defaults = {k: p.default for k, p in inspect.signature(CorpusDataset).parameters.items()}
    wanted = set()
    for path in BUNDLES:
        spec = {**defaults, **verifier_dataset(suite_data(read_submission(path)["suite"])[0]["dataset"])}
        if spec["name"] == "corpus":
            wanted.add((int(spec["clips_per_class"]), float(spec["clip_seconds"]), int(spec["seed"])))
    return sorted(wanted)


@pytest.fixture
def corpus_built():
    """The corpus builds the bundles need, made in one pass that parses each source once for all of them rather
    than one by one as each bundle's verification meets them; at once when already built."""
    from mirbench.datasets.corpus import build_many

    build_many(corpus_builds(), progress=False)


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_a_committed_bundle_verifies_complete(path, corpus_built):
    result = verify(read_submission(path), None, REPO / "suites")
    assert result.ok, result.problems[:3]
    assert result.complete and not result.new_suite, (result.missing[:3], result.new_suite)


def regenerate(path: Path, out: Path) -> tuple[str, list[str]]:
    """Write the report of bundle `path` into `out` (a worker process's job); return its suite and file names."""
    doc = read_submission(path)
    written = write_report(unpack(doc, out / "results"), out / "reports")
    return doc["suite"]["name"], sorted(p.name for p in written)


def test_every_committed_report_regenerates_byte_for_byte(tmp_path):
    # One report's significance tables take minutes on two cores (bootstrap and permutation AUCs), so the eight
    # are written side by side, one process per core.
    from concurrent.futures import ProcessPoolExecutor

    outs = {path: tmp_path / path.name.split("--")[0] for path in IN_TREE}
    with ProcessPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        done = dict(zip(IN_TREE, pool.map(regenerate, IN_TREE, outs.values())))
    stale = []
    for path, (stem, names) in done.items():
        assert names == [p.name for p in report_files(stem)], f"a report file of {stem} is missing or extra"
        stale += [f"reports/{name}" for name in names
                  if (outs[path] / "reports" / name).read_bytes() != (REPORTS / name).read_bytes()]
    assert not stale, (f"{', '.join(stale)}: not what submissions/ gives; regenerate with "
                       "'mirbench report submissions/<suite>--mirbench.json.gz'")


def test_the_committed_leaderboard_regenerates_byte_for_byte(tmp_path, monkeypatch):
    from mirbench.cli import main

    monkeypatch.chdir(REPO)
    args = ["leaderboard", *[str(p.relative_to(REPO)) for p in BUNDLES], "--reports", str(tmp_path)]
    assert main(args) == 0
    for name in BOARD:
        assert (tmp_path / name).read_bytes() == (REPORTS / name).read_bytes(), (
            f"reports/{name} is not what submissions/ gives: regenerate it with 'mirbench leaderboard'")
