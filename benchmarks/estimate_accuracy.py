"""How close `mirbench plan`'s estimate is to the measured wall time of `mirbench run`, per runnable suite.

For each suite: a fresh results directory and a fresh cache directory, `mirbench plan --json` in it, then
`mirbench run --workers 1 --no-estimate` timed from outside. The embedded corpus is rendered once into the user's
cache and linked into each fresh cache (`<cache>/corpus`), so the measurement excludes rendering it; features,
content hashes and models start empty. Prints suite, estimated s, measured s and their ratio; run it with nothing
else on the machine (`flock -x /tmp/mb.lock .venv/bin/python benchmarks/estimate_accuracy.py`).

Not an asv benchmark (asv finds no time_/track_ names here): each suite takes up to minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The suites this machine can run (the embedded corpus), as (suite, quick).
SUITES = [("quickstart", False)] + [
    (name, True) for name in ("quickstart", "quickstart-tags", "fma-features-corpus", "sigtia2014-corpus",
                              "sigtia2014-corpus-transfer", "dieleman2014-corpus", "fagan-corpus", "choi2017-corpus")
]


def user_corpus() -> Path:
    """The corpus builds of the user's cache (built there by any earlier run)."""
    from mirbench.cache import cache_root

    return cache_root() / "corpus"


def measure(suite: str, quick: bool, work: Path) -> tuple[float, float]:
    """(estimated, measured) seconds of one suite in fresh results and cache directories under `work`."""
    cache = work / "cache"
    cache.mkdir(parents=True)
    (cache / "corpus").symlink_to(user_corpus(), target_is_directory=True)
    mirbench = [sys.executable, "-m", "mirbench.cli"]
    common = [str(REPO / "suites" / f"{suite}.toml"), "--workers", "1", "--results", str(work / "results"),
              "--cache-dir", str(cache)] + (["--quick"] if quick else [])
    plan = subprocess.run(mirbench + ["plan", *common, "--json"], capture_output=True, text=True, cwd=REPO, check=True)
    estimated = json.loads(plan.stdout)["estimated_seconds"]
    start = time.perf_counter()
    subprocess.run(mirbench + ["run", *common, "--no-estimate", "--no-progress", "--reports", str(work / "reports")],
                   capture_output=True, text=True, cwd=REPO, check=True)
    return estimated, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", help="suite names (default: every runnable one); NAME:quick for --quick")
    args = parser.parse_args()
    chosen = [(s.partition(":")[0], s.endswith(":quick")) for s in args.suites] or SUITES
    print(f"{'suite':<36} {'estimated s':>12} {'measured s':>11} {'ratio':>6}", flush=True)
    worst = 1.0
    for suite, quick in chosen:
        work = Path(tempfile.mkdtemp(prefix="mirbench-estimate-"))
        try:
            estimated, measured = measure(suite, quick, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        ratio = estimated / measured
        worst = max(worst, ratio, 1 / ratio)
        name = suite + (" --quick" if quick else "")
        print(f"{name:<36} {estimated:>12.1f} {measured:>11.1f} {ratio:>6.2f}", flush=True)
    print(f"worst factor {worst:.2f} (load average {os.getloadavg()[0]:.2f})")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
