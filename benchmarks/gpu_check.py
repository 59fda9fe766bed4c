"""One quick trial of every learned family on CUDA in float32 and bfloat16: do they agree, how much faster, what memory.

Each family trains its smoke-sized network (`SMOKE_PARAMS`, a few more epochs)
on the same synthetic tones (`mirbench.testing.synthetic_dataset`, 3 classes x
34 tracks of 2 s; train/valid/test 3:1:2, so 34 test tracks), once on the CPU
in float32 and once per precision on the GPU. It prints, per family, the
test accuracy and macro ROC-AUC of each trial, the speed-up of the GPU trials
over the CPU one (wall time of fit + predict) and their peak GPU memory
(`torch.cuda.max_memory_allocated`, reset before each trial).

Agreement: bf16 against fp32 on the GPU, |delta accuracy| <= 0.10 (about three
of the 34 test tracks) and |delta ROC-AUC| <= 0.05. The two trials share seed
and data but bfloat16 rounds every update, so after a few epochs they are two
draws of one training procedure, not the same numbers; on these separable
tones both should score near the top, while a precision defect (an overflowing
loss, a wrong cast, a loss left in bfloat16) falls to chance (accuracy ~0.33,
ROC-AUC ~0.5), far outside the bound. Exit status 1 when some family disagrees
(or fails). Without CUDA it prints one line and exits 0; `--cpu-dry-run` runs
the same flow on the CPU in float32 only (each "GPU" trial is a second CPU
trial), for testing the script itself.

Usage: `python -m benchmarks.gpu_check [--out FILE] [--families a,b] [--cpu-dry-run]` (or benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mirbench.device import resolve_precision
from mirbench.features import FeatureStore
from mirbench.metrics import accuracy, roc_auc
from mirbench.registry import systems
from mirbench.system import TrackSet
from mirbench.testing import synthetic_dataset

MAX_DELTA_ACCURACY = 0.10
MAX_DELTA_ROC_AUC = 0.05
EPOCHS = 6  # a few more than the smoke settings' 2-3, so that the networks learn the tones

# label -> (registered system, parameters beside its SMOKE_PARAMS)
FAMILIES = {
    "choi2017 k1c2": ("choi2017.cnn", {"arch": "k1c2"}),
    "choi2017 k2c1": ("choi2017.cnn", {"arch": "k2c1"}),
    "choi2017 k2c2": ("choi2017.cnn", {"arch": "k2c2"}),
    "choi2017 crnn": ("choi2017.cnn", {"arch": "crnn"}),
    "dieleman2014 mel": ("dieleman2014.cnn", {"input": "mel"}),
    "dieleman2014 raw": ("dieleman2014.cnn", {"input": "raw"}),
    **{f"fagan {f}": (f"fagan.{f}", {}) for f in ("cnn1d", "cnn2d", "alexnet", "vgg16", "samplecnn", "lstm", "rcnn")},
    "sigtia2014 mlp sgd": ("sigtia2014.mlp", {"regime": "relu-sgd-dropout"}),
    "sigtia2014 mlp hf": ("sigtia2014.mlp", {"regime": "sigmoid-hf"}),
    "fma mlp": ("fma.mlp", {}),
}


def trial_params(name: str, extra: dict) -> dict:
    """The smoke settings, trained a little longer, with the family's own choices."""
    cls = systems.get(name)
    params = {**getattr(cls, "SMOKE_PARAMS", {}), **extra}
    for key in ("max_epochs", "hf_steps"):
        if key in params:
            params[key] = max(int(params[key]), EPOCHS)
    if "patience" in params:
        params["patience"] = None if name != "fma.mlp" else EPOCHS
    return params


def splits(dataset, store, device: torch.device, precision: str) -> tuple[TrackSet, TrackSet, TrackSet]:
    """Train/valid/test 3:1:2, every class in each (the tracks are listed class by class)."""
    parts: dict[str, list] = {"train": [], "valid": [], "test": []}
    for i, t in enumerate(dataset.tracks):
        parts[("train", "train", "train", "valid", "test", "test")[i % 6]].append(t)
    return tuple(TrackSet(dataset, parts[p], store, device, precision=precision) for p in ("train", "valid", "test"))


def trial(name: str, params: dict, dataset, store, device: torch.device, precision: str) -> dict:
    """Fit and score one system: accuracy, macro ROC-AUC, wall seconds, peak GPU memory (bytes; None on the CPU)."""
    train, valid, test = splits(dataset, store, device, precision)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    scores = systems.get(name)(**params).fit(train, valid).predict(test)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peak = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None
    if device.type == "cuda":
        torch.cuda.empty_cache()
    truth = np.asarray(test.targets)
    return {"accuracy": accuracy(truth, scores), "roc_auc": roc_auc(truth, scores, average="macro"),
            "seconds": seconds, "peak": peak}  # fmt: skip


def warm_feature_cache(name: str, params: dict, dataset, store) -> None:
    """Extract the system's features before any timed trial, so that no trial's time holds feature extraction:
    through its frontends where it names them, else by one untimed CPU trial."""
    system = systems.get(name)(**params)
    lister = getattr(system, "feature_frontends", None)
    frontends = lister() if lister else ([system.frontend()] if hasattr(system, "frontend") else [])
    parts = splits(dataset, store, torch.device("cpu"), "fp32")
    if not frontends:
        trial(name, params, dataset, store, torch.device("cpu"), "fp32")
    for frontend in frontends:
        for part in parts:
            part.features(frontend)


def disagreement(a: dict, b: dict) -> str | None:
    """Why trials `a` and `b` disagree beyond the stated tolerance, or None."""
    d_acc, d_auc = abs(a["accuracy"] - b["accuracy"]), abs(a["roc_auc"] - b["roc_auc"])
    if d_acc > MAX_DELTA_ACCURACY or d_auc > MAX_DELTA_ROC_AUC:
        return f"|delta accuracy| {d_acc:.3f} (max {MAX_DELTA_ACCURACY}), |delta ROC-AUC| {d_auc:.3f} (max {MAX_DELTA_ROC_AUC})"
    return None


def mib(peak: int | None) -> str:
    return "-" if peak is None else f"{peak / 2**20:.1f}"


def table(rows: list[dict], header: str) -> str:
    """The results as a Markdown table."""
    cols = ["family", "CPU s", "fp32 s", "bf16 s", "speed-up fp32", "speed-up bf16", "peak MiB fp32", "peak MiB bf16",
            "acc fp32/bf16", "ROC-AUC fp32/bf16", "agree"]  # fmt: skip
    lines = [header, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['family']} | failed: {r['error']} |" + " |" * (len(cols) - 2))
            continue
        cpu, f32, b16 = r["cpu"], r["fp32"], r.get("bf16")

        def show(key: str, form: str = "{:.3f}", b16=b16) -> str:
            return "-" if b16 is None else form.format(b16[key])

        bf16_speedup = "-" if b16 is None else f"{cpu['seconds'] / b16['seconds']:.2f}x"
        lines.append(
            f"| {r['family']} | {cpu['seconds']:.2f} | {f32['seconds']:.2f} | {show('seconds', '{:.2f}')} "
            f"| {cpu['seconds'] / f32['seconds']:.2f}x | {bf16_speedup} "
            f"| {mib(f32['peak'])} | {mib(b16['peak']) if b16 else '-'} | {f32['accuracy']:.3f}/{show('accuracy')} "
            f"| {f32['roc_auc']:.3f}/{show('roc_auc')} | {'yes' if r['why'] is None else 'NO: ' + r['why']} |"
        )
    return "\n".join(lines) + "\n"


def run_checks(families: list[str], gpu: torch.device, precisions: list[str], workdir: Path) -> list[dict]:
    """Every family's CPU trial and GPU trials, in order; a failing family is a row with its error."""
    dataset = synthetic_dataset(workdir / "audio", per_class=34)
    store = FeatureStore(workdir / "cache")
    cpu = torch.device("cpu")
    rows = []
    for label in families:
        name, extra = FAMILIES[label]
        params = trial_params(name, extra)
        row: dict = {"family": label}
        try:
            warm_feature_cache(name, params, dataset, store)
            row["cpu"] = trial(name, params, dataset, store, cpu, "fp32")
            for precision in precisions:
                row[precision] = trial(name, params, dataset, store, gpu, precision)
            row["why"] = disagreement(row["fp32"], row["bf16"]) if "bf16" in row else None
        except Exception as exc:  # noqa: BLE001 - one family's failure is reported in its row; the others go on
            row = {"family": label, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        print(f"  {label}: {'failed' if 'error' in row else 'done'}", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--families", help=f"comma-separated labels (default: all): {', '.join(FAMILIES)}")
    parser.add_argument("--cpu-dry-run", action="store_true", help="the same flow on the CPU, float32 only")
    parser.add_argument("--device", default="cuda", help="the GPU to check (default cuda)")
    args = parser.parse_args(argv)
    families = list(FAMILIES) if not args.families else [f.strip() for f in args.families.split(",")]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; choose from: {', '.join(FAMILIES)}")
    if args.cpu_dry_run:
        gpu, precisions, header = torch.device("cpu"), ["fp32"], "GPU check, CPU dry run (the 'fp32' trial is a second CPU trial)"
    elif not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device; nothing to check (use --cpu-dry-run to test the script)")
        return 0
    else:
        gpu = torch.device(args.device)
        precisions = ["fp32"] + (["bf16"] if resolve_precision("auto", gpu) == "bf16" else [])
        header = f"GPU check on {torch.cuda.get_device_name(gpu)}, torch {torch.__version__}"
        if "bf16" not in precisions:
            header += " (no bfloat16 on this GPU: fp32 only)"
    with tempfile.TemporaryDirectory(prefix="mirbench-gpu-check-") as work:
        rows = run_checks(families, gpu, precisions, Path(work))
    text = table(rows, header)
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    failed = [r["family"] for r in rows if "error" in r or r.get("why")]
    if failed:
        print(f"gpu_check: {len(failed)} famil{'y' if len(failed) == 1 else 'ies'} failed or disagreed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
