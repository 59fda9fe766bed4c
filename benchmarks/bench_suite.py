"""Validating a suite whose grid expands to 1,000 and 10,000 variants (`mirbench.suite.load_suite`).

A grid of fma.mlp (a system with annotated parameters and a `check_params`)
over 3 or 4 keys of 10 values each, with a `[quick]` override: every variant's
kinds, values and quick override are checked, the grid expanded and the ids
compared for duplicates. 10,000 is the most variants a suite may have
(`mirbench.suite.MAX_VARIANTS`). Validation is pure Python on one thread, so
there is no `threads` parameter. `track_variants_per_second` is the rate over
the best of 3 loads.
"""

import tempfile
from pathlib import Path

from benchmarks.machine import best_seconds
from mirbench.suite import load_suite

SIZES = [1_000, 10_000]
AXES = {
    "depth": list(range(1, 11)),
    "width": list(range(10, 101, 10)),
    "dropout": [i / 10 for i in range(10)],
    "learning_rate": [i / 100 for i in range(1, 11)],
}
HEAD = """version = "1"
[dataset]
name = "synthetic"
[protocol]
name = "stratified-kfold"
folds = 2
[quick]
params = { max_epochs = 1 }
[[systems]]
name = "fma.mlp"
"""


def grid_suite(variants: int) -> str:
    """A suite whose one grid has `variants` points: 10 values on each of log10(variants) keys."""
    keys = list(AXES)[: len(str(variants)) - 1]
    grid = ", ".join(f"{key} = {AXES[key]}" for key in keys)
    return HEAD + f"grid = {{ {grid} }}\n"


class SuiteValidation:
    params = (SIZES,)
    param_names = ("variants",)
    version = 1
    timeout = 300

    def setup_cache(self):
        folder = Path(tempfile.mkdtemp(prefix="mirbench-bench-suite-"))
        for variants in SIZES:
            (folder / f"grid-{variants}.toml").write_text(grid_suite(variants))
        return str(folder)

    def setup(self, folder, variants):
        self.path = Path(folder) / f"grid-{variants}.toml"
        load_suite(Path(folder) / f"grid-{SIZES[0]}.toml")  # imports the registry's modules outside the timing

    def time_validate(self, folder, variants):
        load_suite(self.path)

    def track_variants_per_second(self, folder, variants):
        return variants / best_seconds(lambda: load_suite(self.path), repeats=3)

    track_variants_per_second.unit = "variants/s"
