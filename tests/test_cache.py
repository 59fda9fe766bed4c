"""The cache root is resolved in one place (mirbench.cache): --cache-dir, else $MIRBENCH_CACHE, else the user cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

from mirbench import cache
from mirbench.cli import main


def test_the_environment_then_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MIRBENCH_CACHE", str(tmp_path / "here"))
    assert cache.cache_root() == tmp_path / "here"
    monkeypatch.delenv("MIRBENCH_CACHE")
    assert cache.cache_root() == Path(platformdirs.user_cache_dir("mirbench"))


def test_using_wins_inside_its_block_only(monkeypatch, tmp_path):
    monkeypatch.setenv("MIRBENCH_CACHE", str(tmp_path / "env"))
    with cache.using(tmp_path / "chosen") as root:
        assert root == cache.cache_root() == (tmp_path / "chosen").resolve()
        with cache.using(None):
            assert cache.cache_root() == root  # None leaves it as it is
    assert cache.cache_root() == tmp_path / "env"


def test_cache_dir_reaches_the_worker_processes_and_leaves_the_environment_alone(write_suite, tmp_path, monkeypatch):
    """--cache-dir was passed through os.environ; it is now carried by each trial to its worker (a spawned process
    of --workers 2): the features land under it, and the environment of this process is as it was."""
    monkeypatch.setenv("MIRBENCH_CACHE", str(tmp_path / "env"))
    chosen = tmp_path / "chosen"
    args = ["run", str(write_suite()), "--results", str(tmp_path / "res"), "--reports", str(tmp_path / "rep"),
            "--cache-dir", str(chosen), "--workers", "2", "--no-progress", "--device", "cpu"]
    assert main(args) == 0
    assert os.environ["MIRBENCH_CACHE"] == str(tmp_path / "env")
    assert any((chosen / "features").rglob("*.npy"))
    assert not (tmp_path / "env" / "features").exists()
    trial = next((tmp_path / "res" / "trials").glob("*.json"))
    assert json.loads(trial.read_text())["status"] == "ok"
