"""Test helpers: small systems for the runner (failing, slow, or killing their worker on purpose), a quick run, a
table reader."""

from __future__ import annotations

import os
import signal
import time
import warnings
from pathlib import Path

import numpy as np

from mirbench.system import System


class PriorSystem(System):
    """Predicts the training label frequencies for every track; `fail=True` raises in fit."""

    def __init__(self, fail: bool = False, sleep: float = 0.0, random_state: int = 0):
        self.fail = fail
        self.sleep = sleep
        self.random_state = random_state

    def fit(self, train, valid=None):
        if self.fail:
            raise RuntimeError("this variant fails on purpose")
        time.sleep(self.sleep)
        y = train.targets
        if train.multilabel:
            self.prior_ = y.mean(axis=0)
        else:
            self.prior_ = np.bincount(y, minlength=len(train.classes)) / len(y)
        return self

    def training_info(self):
        return {"epochs": 3, "train_s": self.sleep}

    def predict(self, tracks):
        return np.tile(self.prior_, (len(tracks), 1))


class FaultySystem(PriorSystem):
    """A PriorSystem whose fit goes wrong the way hardware does: `fault` is "gpu-oom" or "host-oom" (raised),
    "kill" (SIGKILL to its own process: a worker killed mid-trial), or "kill-once" (the same, only the first time
    `marker` does not exist yet: the retry succeeds). "none" behaves like PriorSystem."""

    def __init__(self, fault: str = "none", marker: str = "", random_state: int = 0):
        super().__init__(random_state=random_state)
        self.fault = fault
        self.marker = marker

    def fit(self, train, valid=None):
        import torch

        if self.fault == "gpu-oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if self.fault == "host-oom":
            raise MemoryError("Unable to allocate 20.0 GiB for an array")
        if self.fault == "kill" or (self.fault == "kill-once" and not os.path.exists(self.marker)):
            if self.marker:
                open(self.marker, "a").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(train, valid)


def synthetic_suite(systems: str, per_class: int = 4, folds: int = 2, tail: str = "") -> str:
    """A suite's text: `systems` (TOML [[systems]] tables) on the synthetic tones, stratified folds, seed 0."""
    head = f"""
version = "1"
seeds = [0]
metrics = ["accuracy"]
[dataset]
name = "synthetic"
per_class = {per_class}
[protocol]
name = "stratified-kfold"
folds = {folds}
"""
    return head + systems.strip() + "\n" + tail


def run_quick(suite: Path, data_root: Path, out: Path, capsys) -> tuple[str, Path]:
    """`mirbench run SUITE --quick` on CPU into `out`/res and `out`/rep; (stdout, reports dir), asserting success."""
    from mirbench.cli import main

    args = ["run", str(suite), "--quick", "--data-root", str(data_root), "--results", str(out / "res")]
    args += ["--reports", str(out / "rep"), "--no-progress", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-vs-rest metrics on tags absent from a tiny split
        code = main(args)
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    return stdout, out / "rep"


def grid_under(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after `heading` (header row included, rule left out)."""
    lines = text.split(heading + "\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not set(line) <= set("|-: "):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def register_prior() -> None:
    """Register PriorSystem as "test.prior" (for runs started in a subprocess)."""
    from mirbench.registry import systems

    systems.register("test.prior", "tests.helpers:PriorSystem")


class PretrainedPrior(PriorSystem):
    """A PriorSystem that declares another dataset it reads (as a pre-trained system does), for trial identities."""

    def __init__(self, pretrain: dict | None = None, random_state: int = 0):
        super().__init__(random_state=random_state)
        self.pretrain = pretrain

    @classmethod
    def data_dependencies(cls, params: dict) -> list[dict]:
        return [params["pretrain"]] if params.get("pretrain") else []
