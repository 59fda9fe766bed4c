"""Small systems for testing the runner (one that fails on purpose, one that is slow on purpose), and a quick-run helper."""

from __future__ import annotations

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
