"""Each stage of `bench_stages` once at each size, and its growth: the per-stage table of benchmarks/README.md.

Growth is the time at N over the time at the previous N (10x the clips, except 25,863 over 10,000: 2.59x); a
stage linear in the clips grows 10x. Results accumulate in a JSON file, so that the sizes can be measured in
separate short holds of the lock and printed together:

    python -m benchmarks.stage_growth --stages index,validate --clips 100,1000 --out /tmp/stages.json
    python -m benchmarks.stage_growth --table /tmp/stages.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks import bench_stages, trees
from benchmarks.machine import use_threads

FULL = bench_stages.CLIPS  # 100, 1,000, 10,000
#: (stage, variant, the clips it is measured at): GTZAN has 1,000 clips; the frontends cost ~30-300 ms a clip,
#: so they are measured to 1,000 clips here (asv's Frontend goes to 10,000).
CASES = [
    ("index", "gtzan", [100, 1000]),
    ("index", "mtat", bench_stages.INDEX_CLIPS),
    ("index", "folder", FULL),
    ("validate", "gtzan", [100, 1000]),
    ("validate", "mtat", bench_stages.INDEX_CLIPS),
    ("validate", "folder", FULL),
    ("decode", "", FULL),
    ("frontend", "mfcc", [100, 1000]),
    ("frontend", "logmel", [100, 1000]),
    ("fit", "", FULL),
    ("predict", "", FULL),
    ("report", "", FULL),
]
MIN_SECONDS = 1.0  # a fast stage is repeated (at most REPEATS times) until this much time is spent; the minimum is kept
REPEATS = 5


def measure(stage: str, variant: str, n_clips: int) -> float:
    """Seconds of one call of the stage's workload (built first, untimed): the minimum of up to REPEATS calls."""
    run = bench_stages.workload(stage, *((variant,) if variant else ()), n_clips)
    best, spent = float("inf"), 0.0
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
        if spent >= MIN_SECONDS:
            break
    return best


def key(stage: str, variant: str, n_clips: int) -> str:
    return f"{stage}/{variant}/{n_clips}"


def table(results: dict[str, float]) -> str:
    """The markdown table: stage, variant, clips, seconds, seconds per clip, growth over the previous size."""
    rows = ["| stage | variant | clips | seconds | ms per clip | growth |", "|---|---|---|---|---|---|"]
    for stage, variant, sizes in CASES:
        previous = None
        for n in sizes:
            seconds = results.get(key(stage, variant, n))
            if seconds is None:
                previous = None
                continue
            growth = "" if previous is None else f"{seconds / previous[1]:.2f} (x{n / previous[0]:.2f} clips)"
            rows.append(f"| {stage} | {variant} | {n:,} | {seconds:.3f} | {1000 * seconds / n:.3f} | {growth} |")
            previous = (n, seconds)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default=",".join(dict.fromkeys(s for s, _, _ in CASES)),
                        help="comma-separated stages, or stage/variant (e.g. frontend/mfcc)")
    parser.add_argument("--clips", default="", help="comma-separated sizes (default: each case's own)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="JSON file the results are added to (and the table printed from)")
    parser.add_argument("--table", type=Path, help="print the table of a results file and stop")
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    use_threads(args.threads)
    wanted = set(args.stages.split(","))
    sizes = {int(n) for n in args.clips.split(",") if n}
    results = json.loads(args.out.read_text()) if args.out and args.out.exists() else {}
    print(f"trees under {trees.TREES}; {args.threads} thread(s); load {os.getloadavg()}", flush=True)
    for stage, variant, ns in CASES:
        if stage not in wanted and f"{stage}/{variant}" not in wanted:
            continue
        for n in ns:
            if sizes and n not in sizes:
                continue
            seconds = measure(stage, variant, n)
            results[key(stage, variant, n)] = seconds
            print(f"{stage:9} {variant:7} {n:6d} clips {seconds:9.3f} s  load {os.getloadavg()[0]:.2f}", flush=True)
            if args.out:
                args.out.write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
