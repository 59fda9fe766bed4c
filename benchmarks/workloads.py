"""Workloads several benchmark modules share: the quickstart trial, folders of tone tracks, a MagnaTagATune
tree of tiny clips, and the process's peak resident memory.

Data is written by `setup_cache`, which asv runs in a temporary directory it
deletes afterwards; the helpers here write under the folder they are given
and return absolute paths, so `setup_cache` passes a relative one.
"""

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

QUICKSTART_SUITE = """
name = "bench-end-to-end"
version = "1"
seeds = [0]
metrics = ["accuracy", "roc_auc_macro"]

[dataset]
name = "synthetic"
per_class = 8
seconds = 30.0

[protocol]
name = "stratified-kfold"
folds = 4
proportions = "k-fold"

[[systems]]
name = "mfcc"
"""

MTAT_SUITE = Path(__file__).resolve().parent.parent / "suites" / "mtat-12-1-3.toml"
MTAT_DIRECTORIES = "0123456789abcdef"
MTAT_TAG_COLUMNS = 188  # as in the published annotations_final.csv
MB = 2**20


# -- memory -------------------------------------------------------------------------
def peak_rss() -> int:
    """The process's peak resident set size in bytes, as asv's `peakmem_` benchmarks report it."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def warm_up(frontend) -> None:
    """Run `frontend` once on half a second of silence, in memory: its lazy imports (librosa, for windows and
    filterbanks) and torch's one-time set-up happen here rather than in what is measured after."""
    import torch

    with torch.no_grad():
        frontend(torch.zeros(1, frontend.sample_rate // 2))


# -- the quickstart trial -----------------------------------------------------------
def quickstart_folder(folder) -> str:
    """Write the quickstart suite file under `folder`; its 24 synthetic 30 s tracks are written there on first use."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.toml").write_text(QUICKSTART_SUITE)
    return str(folder)


def use_quickstart_folder(folder: str) -> None:
    """Point the synthetic dataset (which lives in the mirbench cache) at `folder`."""
    os.environ["MIRBENCH_CACHE"] = folder


def quickstart_spec(folder: str, threads: int):
    """The TrialSpec of the quickstart's first trial (the MFCC system, fold 0), writing the tracks if needed."""
    from mirbench.datasets import open_dataset
    from mirbench.run.plan import RunOptions, plan
    from mirbench.suite import load_suite

    use_quickstart_folder(folder)
    suite = load_suite(Path(folder) / "suite.toml")
    dataset = open_dataset(suite.dataset, None)
    spec = plan(suite, dataset, RunOptions(device="cpu"), {})[0]
    return dataclasses.replace(spec, threads=threads)


def trial_tracks(spec) -> int:
    return len(spec.fold.train) + len(spec.fold.valid) + len(spec.fold.test)


def run_cold_trial(spec, folder: str) -> dict:
    """Run the trial with an empty feature cache (decoding and feature extraction count, as on a first run)."""
    from mirbench.run.trial import execute

    with tempfile.TemporaryDirectory(dir=folder) as cache:
        record = execute(dataclasses.replace(spec, cache_dir=cache))
    if record["status"] != "ok":
        raise RuntimeError(record["error"]["message"])
    return record


# -- tone tracks ----------------------------------------------------------------------
def write_tones(folder, n: int, seconds: float, sample_rate: int) -> str:
    """`n` WAV files of a tone in noise (`t0000.wav`, ...), each `seconds` long; returns the folder."""
    import soundfile as sf

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for i in range(n):
        y = 0.3 * np.sin(2 * np.pi * (110.0 + 7.0 * i) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(folder / f"t{i:04d}.wav", y.astype(np.float32), sample_rate, subtype="PCM_16")
    return str(folder)


def tone_dataset(folder: str, n: int, sample_rate: int):
    """The first `n` tracks of a `write_tones` folder as a dataset (two alternating classes)."""
    from mirbench.datasets.base import Dataset, Track

    tracks = [Track(f"t{i:04d}", Path(folder) / f"t{i:04d}.wav", ("ab"[i % 2],)) for i in range(n)]
    return Dataset(tracks, ["a", "b"], "single-label", sample_rate, name="tones")


# -- a MagnaTagATune tree -------------------------------------------------------------
def write_mtat_tree(data_root, n_clips: int, seconds: float = 0.1, sample_rate: int = 16_000) -> str:
    """`<data_root>/mtat/` in the published layout: annotations_final.csv (TAB-separated, quoted, 188 tag
    columns) and `n_clips` tiny mp3 clips over the 16 directories, five clips per song. Clips of one
    directory share the bytes of one encoded tone (the index reads headers only). Returns the data root.
    """
    import soundfile as sf

    root = Path(data_root).resolve() / "mtat"
    tags = [f"tag{j:03d}" for j in range(MTAT_TAG_COLUMNS)]
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    clip_bytes = {}
    for k, d in enumerate(MTAT_DIRECTORIES):
        (root / d).mkdir(parents=True, exist_ok=True)
        sf.write(root / d / "tone.mp3", (0.3 * np.sin(2 * np.pi * (220 + 20 * k) * t)).astype(np.float32), sample_rate)
        clip_bytes[d] = (root / d / "tone.mp3").read_bytes()
        (root / d / "tone.mp3").unlink()
    lines = ["\t".join(f'"{f}"' for f in ["clip_id", *tags, "mp3_path"])]
    weights = 0.3 / (1 + np.arange(MTAT_TAG_COLUMNS))  # distinct tag frequencies, as in the real file
    for i in range(n_clips):
        d = MTAT_DIRECTORIES[i % len(MTAT_DIRECTORIES)]
        song, part = divmod(i // len(MTAT_DIRECTORIES), 5)
        mp3_path = f"{d}/artist_{d}-album_{song:04d}-01-song_{song:04d}-{29 * part}-{29 * part + 29}.mp3"
        (root / mp3_path).write_bytes(clip_bytes[d])
        values = (rng.random(MTAT_TAG_COLUMNS) < weights).astype(int)
        lines.append(f'"{i}"\t' + "\t".join(f'"{v}"' for v in values) + f'\t"{mp3_path}"')
    (root / "annotations_final.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(root.parent)


def plan_mtat(data_root: str) -> list:
    """What `mirbench run suites/mtat-12-1-3.toml` does before its first trial: build and validate the
    index, then plan the folds. Raises if the index has unusable clips or the folds miss some."""
    from mirbench.datasets import open_dataset
    from mirbench.run.plan import RunOptions, plan
    from mirbench.suite import load_suite

    suite = load_suite(MTAT_SUITE)
    dataset = open_dataset(suite.dataset, data_root)
    validation = dataset.validate()
    if validation.problems:
        raise RuntimeError(validation.summary())
    specs = plan(suite, dataset, RunOptions(device="cpu", data_root=data_root), dict(validation.problems))
    if trial_tracks(specs[0]) != len(dataset):
        raise RuntimeError(f"the folds hold {trial_tracks(specs[0])} of the {len(dataset)} clips")
    return specs
