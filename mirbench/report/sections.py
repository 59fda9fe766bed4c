"""The parts of a report around the main table: macro coverage, failures, skipped tracks, timings, provenance."""

from __future__ import annotations

import re
from collections import Counter

from tabulate import tabulate

from mirbench.metrics import CLASS_AVERAGED, summarise
from mirbench.results import ran_quick
from mirbench.report.cells import by_variant


def describe_params(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"


def setup(suite: dict, records: list[dict]) -> str:
    ok = [r for r in records if r.get("status") == "ok"]
    ds = ok[0]["dataset"] if ok else {}
    proto = {k: v for k, v in suite["protocol"].items() if k != "name"}
    folds = sorted({r["fold"]["index"] for r in ok})
    seeds = sorted({r["seed"] for r in ok})
    lines = [
        f"- **Dataset**: {suite['dataset']['name']} ({describe_params({k: v for k, v in suite['dataset'].items() if k != 'name'})}); "
        f"{ds.get('task', '?')}, {ds.get('n_tracks', '?')} tracks, {len(ds.get('classes', []))} classes, "
        f"fingerprint `{ds.get('fingerprint', '?')}`"
        + (f" (with the audio bytes: `{ds['content_fingerprint']}`)" if ds.get("content_fingerprint") else ""),
        f"- **Protocol**: {suite['protocol']['name']} ({describe_params(proto)}); folds run: {len(folds)}; seeds: {seeds}",
        f"- **Mode**: {'quick (subset of tracks, folds and epochs: not comparable with published numbers)' if ran_quick(suite) else 'full'}",
    ]
    chance = majority_baseline(ok)
    if chance is not None:
        lines.append(f"- **Chance**: accuracy {chance:.3f} by always answering the most frequent test class (mean over trials)")
    if ok:
        sizes = Counter((r["fold"].get("train"), r["fold"].get("valid"), r["fold"].get("test")) for r in ok)
        (tr, va, te), _ = sizes.most_common(1)[0]
        lines.append(f"- **Split sizes** (train/valid/test, typical fold): {tr}/{va}/{te}")
    return "\n".join(lines)


def majority_baseline(records: list[dict]) -> float | None:
    """Accuracy of always predicting each test set's most frequent class, for single-label trials."""
    shares = []
    for r in records:
        truth = r.get("predictions", {}).get("truth")
        if truth and not isinstance(truth[0], list):
            shares.append(max(Counter(truth).values()) / len(truth))
    return sum(shares) / len(shares) if shares else None


def excluded(record: dict, metric: str) -> list[int]:
    """The classes a trial's class-averaged `metric` left out of its mean: as recorded (`macro_excluded`), else from
    the record's `auc_undefined_classes` (macro AUCs) or its confusion rows without a test track (normalised
    accuracy), as records written before `macro_excluded` carry them."""
    recorded = (record.get("macro_excluded") or {}).get(metric)
    if recorded is not None:
        return list(recorded)
    needs = CLASS_AVERAGED.get(metric)
    if needs == "auc":
        return list(record.get("auc_undefined_classes") or [])
    if needs == "support":
        return [i for i, row in enumerate(record.get("confusion") or []) if not sum(row)]
    return []


def exclusion_reason(record: dict, metric: str, names: list[str]) -> str:
    """Why these classes were left out of one trial's mean, from its test split's class counts."""
    counts = (record.get("fold") or {}).get("class_counts", {}).get("test", {})
    n_test = (record.get("fold") or {}).get("test")
    if CLASS_AVERAGED.get(metric) == "support":
        return "no test track of " + ", ".join(repr(n) for n in names)
    absent = [n for n in names if counts.get(n) == 0]
    everywhere = [n for n in names if n_test and counts.get(n) == n_test]
    unknown = [n for n in names if n not in absent and n not in everywhere]
    multilabel = (record.get("dataset") or {}).get("task") == "multi-label"
    parts = []
    if absent:
        parts.append("no positive test track of " + ", ".join(repr(n) for n in absent))
    if everywhere:
        parts.append(("every test track has " if multilabel else "every test track is ") + ", ".join(repr(n) for n in everywhere))
    if unknown:
        parts.append("undefined for " + ", ".join(repr(n) for n in unknown))
    return "; ".join(parts)


def macro_coverage(records: list[dict], metrics) -> str:
    """Under a table: each class-averaged metric that some trial averaged over fewer classes than the task has, with
    the folds (and seeds) and the classes left out, e.g. "roc_auc_macro: macro over 5 of 6 classes in fold 2 (no
    positive test track of 'x')". Empty when every trial averaged over every class."""
    ok = [r for r in records if r.get("status") == "ok"]
    several_seeds = len({r.get("seed") for r in ok}) > 1
    lines = []
    for metric in metrics:
        if metric not in CLASS_AVERAGED:
            continue
        entries: dict[tuple, str] = {}
        for r in ok:
            left_out = excluded(r, metric)
            if not left_out or metric not in r.get("metrics", {}):
                continue
            classes = list((r.get("dataset") or {}).get("classes") or [])
            names = [classes[i] if 0 <= i < len(classes) else f"class {i}" for i in left_out]
            fold, seed = (r.get("fold") or {}).get("index"), r.get("seed")
            where = f"fold {fold}" + (f", seed {seed}" if several_seeds else "")
            text = f"{len(classes) - len(names)} of {len(classes)} classes in {where} ({exclusion_reason(r, metric, names)})"
            entries.setdefault((natural_key(fold), natural_key(seed), text), text)
        if entries:
            lines.append(f"- {metric}: macro over " + "; over ".join(entries[k] for k in sorted(entries)))
    if not lines:
        return ""
    head = "Averaged over fewer classes than the task has (a class without the test tracks the metric needs is left out of its mean):"
    return head + "\n\n" + "\n".join(lines) + "\n"


def natural_key(value) -> tuple:
    """Numbers before text, numbers by value: a sort key for fold indices and seeds of any kind."""
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))


def failures(records: list[dict]) -> str:
    failed = [r for r in records if r.get("status") != "ok"]
    if not failed:
        return ""
    rows = [[r["trial_id"], r["error"]["type"], first_line(r["error"]["message"])] for r in failed]
    return "## Failed trials\n\n" + tabulate(rows, ["trial", "error", "reason"], tablefmt="github") + "\n"


def first_line(text: str, limit: int = 160) -> str:
    line = (text or "").strip().splitlines()[0] if text and text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


LEADING_PATH = re.compile(r"^(?:[^\s:]*/)+(?=[^/\s:]+: )")


def file_name_only(reason: str) -> str:
    """A skipped track's reason with its leading file path cut to the file's name: the report then reads the same
    wherever the data lives, and a deep data root cannot push the reason itself past `first_line`'s limit."""
    return LEADING_PATH.sub("", reason, count=1)


def skipped(records: list[dict]) -> str:
    reasons = {}
    for r in records:
        for s in r.get("skipped", []):
            reasons[s["id"]] = s["reason"]
    if not reasons:
        return "**Skipped tracks**: none (every track's audio was usable).\n"
    rows = [[tid, first_line(file_name_only(why))] for tid, why in sorted(reasons.items())]
    return (
        f"## Skipped tracks\n\n{len(reasons)} track(s) could not be used (missing, unreadable or invalid audio) and were left out of every fold:\n\n"
        + tabulate(rows, ["track", "reason"], tablefmt="github")
        + "\n"
    )


def class_counts(records: list[dict]) -> str:
    """Per fold, each class's tracks (or each tag's positives) in train/valid/test: what stratification gave."""
    by_fold: dict[int, dict] = {}
    for r in records:
        counts = r.get("fold", {}).get("class_counts")
        if r.get("status") == "ok" and counts:
            by_fold.setdefault(r["fold"]["index"], {**counts, "sizes": {p: r["fold"].get(p, 0) for p in counts}})
    if not by_fold:
        return ""
    folds = sorted(by_fold)
    parts = ("train", "valid", "test")
    classes = list(by_fold[folds[0]]["train"])
    rows = [[c] + ["/".join(str(by_fold[f][p].get(c, 0)) for p in parts) for f in folds] for c in classes]
    rows.append(["tracks"] + ["/".join(str(by_fold[f]["sizes"][p]) for p in parts) for f in folds])
    multilabel = any(r.get("dataset", {}).get("task") == "multi-label" for r in records)
    what = "positive tracks per tag" if multilabel else "tracks per class"
    header = ["tag" if multilabel else "class"] + [f"fold {f}" for f in folds]
    return (
        f"## Split sizes by class\n\nTrain/valid/test {what} per fold, after skipped tracks; the last row "
        "counts tracks.\n\n"
        + tabulate(rows, header, tablefmt="github", disable_numparse=True)
        + "\n"
    )


def timings(records: list[dict]) -> str:
    ok = [r for r in records if r.get("status") == "ok"]
    if not ok:
        return ""
    groups = by_variant(ok)
    on_gpu = any(gpu_peak(r) is not None for r in ok)
    rows = []
    for name in sorted(groups):
        rs = groups[name]
        t = {k: summarise([r["timings"][k] for r in rs]) for k in ("features_s", "fit_s", "predict_s")}
        n_params = rs[0].get("n_parameters")
        peaks = [p for p in map(gpu_peak, rs) if p is not None]
        rows.append(
            [name, len(rs)]
            + [f"{t[k]['mean']:.2f}" for k in ("features_s", "fit_s", "predict_s")]
            + [f"{n_params:,}" if n_params else "—", training_summary(rs)]
            + ([f"{max(peaks) / 2**20:,.0f}" if peaks else "—"] if on_gpu else [])
        )
    headers = ["system", "trials", "features (s)", "fit (s)", "predict (s)", "parameters", "training (mean)"]
    headers += ["peak GPU memory (MiB)"] if on_gpu else []
    note = "Mean seconds per trial; feature time counts cache misses only (cached features cost ~0 s)."
    note += " Peak GPU memory is the largest any trial of the system allocated." if on_gpu else ""
    return "## Training time\n\n" + tabulate(rows, headers, tablefmt="github", disable_numparse=True) + f"\n\n{note}\n"


def gpu_peak(record: dict) -> int | None:
    """The bytes of GPU memory a trial allocated at its peak; None for a trial on the CPU (or recorded before)."""
    return (record.get("resources") or {}).get("peak_gpu_memory_bytes")


def training_summary(records: list[dict]) -> str:
    """Mean of each number a system reported about its training (epochs, optimiser steps, seconds)."""
    keys = sorted({k for r in records for k, v in (r.get("training") or {}).items() if isinstance(v, (int, float))})
    parts = []
    for k in keys:
        values = [(r.get("training") or {}).get(k) for r in records]
        s = summarise([int(v) if isinstance(v, bool) else v for v in values])  # a flag: the share of trials
        if s["mean"] is not None:
            parts.append(f"{k} {s['mean']:.4g}")
    return ", ".join(parts) or "—"


def sources(published: list[dict]) -> str:
    """The line under the results naming where the "(published)" columns' numbers come from and the dataset
    they were measured on (an entry's `dataset`: GTZAN's numbers beside a corpus's cells say so), then their
    notes (caveats)."""
    names = sorted({p["source"] + (f", on {p['dataset']}" if p.get("dataset") else "") for p in published
                    if p.get("source")})
    notes = sorted({p["note"] for p in published if p.get("note")})
    if not names and not notes:
        return ""
    return "\n".join([f"Published numbers: {'; '.join(names)}."] + notes) + "\n"


def provenance(suite: dict, records: list[dict], results_name: str) -> str:
    def values(key):
        return sorted({str(r.get("provenance", {}).get(key)) for r in records if r.get("provenance", {}).get(key)})

    libs = Counter()
    for r in records:
        for name, ver in r.get("provenance", {}).get("libraries", {}).items():
            libs[f"{name} {ver}"] += 1
    started, finished = values("started_at"), values("finished_at")
    ok = sum(r.get("status") == "ok" for r in records)
    lines = [
        "## Provenance",
        "",
        f"- suite: `{suite['name']}` version {suite['version']}, hash `{suite.get('hash', '?')}`",
        f"- trials: {ok} ok, {len(records) - ok} failed, from {len(records)} result files in `{results_name}`",
        f"- mirbench: {', '.join(values('mirbench')) or '?'}; git revision: {', '.join(values('git_revision')) or 'unknown'}",
        f"- devices: {', '.join(values('device'))} ({', '.join(values('device_name'))})"
        + (f"; precision: {', '.join(values('precision'))}" if values("precision") else "")
        # float results differ in their last bits between CPU kernel sets (AVX-512 vs AVX2 MKL and OpenBLAS), enough
        # to flip a track near a decision boundary: a report says which kernels its numbers came from
        + (f"; cpu kernels: {', '.join(values('cpu_kernels'))}" if values("cpu_kernels") else ""),
        f"- python: {', '.join(values('python'))}; platform: {', '.join(values('platform'))}",
        f"- libraries: {', '.join(sorted(libs))}",
        f"- run: {started[0] if started else '?'} to {finished[-1] if finished else '?'}",
        "",
        "This report is generated from the result files alone (`mirbench report RESULTS_DIR`); do not edit it by hand.",
    ]
    return "\n".join(lines) + "\n"
