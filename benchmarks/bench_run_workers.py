"""The full-size GTZAN baseline suite, `mirbench run` with one worker against two, from a cold feature cache.

`suites/gtzan-random-4fold.toml` (MFCC and PMSC, 5 s windows, random forests of 500 trees, 4 folds: 8 trials) on a
generated GTZAN tree in the published layout: 1,000 distinct clips of 30 s, 22050 Hz mono 16-bit WAV, under
`genres/<genre>/<genre>.000NN.wav`. Every clip is its own audio (a per-clip seed: genre tones, partials, tremolo
and noise), because the feature cache and the content hashes key on the bytes: hard links to a few clips would
make most of the run cache hits. The tree (1.3 GB) is written once, by `setup_cache`, in asv's temporary directory.

Each call is one whole `mirbench run` in a fresh process, as a user starts it: indexing, validation, planning with
content hashes, the feature stage, the trials and the report, into a new cache and results directory. There is
no `threads` parameter: the run gives each of its workers cores / workers torch threads itself.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "suites" / "gtzan-random-4fold.toml"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
PER_GENRE, SECONDS, RATE = 100, 30.0, 22050


def clip(genre: int, number: int, seconds: float = SECONDS, sample_rate: int = RATE) -> np.ndarray:
    """Clip `number` of genre `genre`: its genre's tone, detuned, with a random partial, tremolo and noise; int16."""
    rng = np.random.default_rng([genre, number])
    t = np.arange(int(seconds * sample_rate), dtype=np.float32) / sample_rate
    f0 = 110.0 * 2 ** (genre / 3) * (1 + 0.03 * rng.standard_normal())
    y = 0.3 * np.sin(np.float32(2 * np.pi * f0) * t)
    y += 0.15 * np.sin(np.float32(2 * np.pi * f0 * rng.integers(2, 6)) * t + np.float32(rng.uniform(0, 2 * np.pi)))
    y *= 1 + 0.3 * np.sin(np.float32(2 * np.pi * rng.uniform(0.5, 8.0)) * t)
    y += 0.05 * rng.standard_normal(t.size, dtype=np.float32)
    return (np.clip(y, -1, 1) * 32767).astype(np.int16)


def write_gtzan(root: Path) -> Path:
    """Write the 1,000 clips under `root/gtzan/genres/`; returns the data root (`root`)."""
    import soundfile as sf

    for g, genre in enumerate(GENRES):
        folder = root / "gtzan" / "genres" / genre
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(PER_GENRE):
            sf.write(folder / f"{genre}.{n:05d}.wav", clip(g, n), RATE, subtype="PCM_16")
    return root


def run_command(data_root: Path, work: Path, workers: int, progress: bool = False) -> list[str]:
    """The `mirbench run` command line of one cold run with `workers` worker processes, writing under `work`."""
    args = [sys.executable, "-c", "import sys; from mirbench.cli import main; sys.exit(main(sys.argv[1:]))",
            "run", str(SUITE), "--data-root", str(data_root), "--cache-dir", str(work / "cache"),
            "--results", str(work / "results"), "--reports", str(work / "reports"), "--workers", str(workers),
            "--device", "cpu"]
    return args + ([] if progress else ["--no-progress"])


class RunWorkers:
    params = ([1, 2],)
    param_names = ("workers",)
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0
    timeout = 3600
    version = 1

    def setup_cache(self):
        return str(write_gtzan(Path("gtzan-full").resolve()))

    def setup(self, data_root, workers):
        self.work = Path(tempfile.mkdtemp(prefix="mirbench-bench-run-"))

    def teardown(self, data_root, workers):
        shutil.rmtree(self.work, ignore_errors=True)

    def time_run_suite(self, data_root, workers):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(run_command(Path(data_root), self.work, workers), env=env, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode:
            raise RuntimeError(f"mirbench run exited {done.returncode}: {done.stderr[-2000:]}")


if __name__ == "__main__":  # a tree, and one run showing progress: python -m benchmarks.bench_run_workers DIR N
    target, n = Path(sys.argv[1]).resolve(), int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if not (target / "gtzan" / "genres" / "rock" / "rock.00099.wav").exists():
        write_gtzan(target)
    with tempfile.TemporaryDirectory(prefix="mirbench-run-") as work:
        sys.exit(subprocess.call(run_command(target, Path(work), n, progress=True)))
