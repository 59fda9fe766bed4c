"""The leaderboard: many suite runs (submissions and local results) ranked side by side, as Markdown and HTML.

An entry is one suite run: {"source": "submission:<file>" | "local:<dir>", "suite": suite document,
"records": successful trial records, "verified": bool, "complete": bool, "planned": {variant id: planned trials}
| None, "n_trials"/"n_planned": the entry's counts, "new_suite": bool}. Rows pool folds and seeds like the
per-suite reports, and rank best first within each (dataset, protocol, metric): every current metric is
higher-is-better.

What is ranked, and where (docs/leaderboard.md says why):
- verified submissions, complete, of suites registered with the verifier: the ranked table of a section;
- local results directories: a table of their own under it, "unverified local runs", ranked among themselves
  (L1, L2, ...) and marked "local, unverified" in every row, so that no row of one reads as a verified result;
- incomplete runs and suites not registered here: listed below, unranked, each saying why;
- `--quick` runs (few tracks, few epochs): sections of their own after every full one, never ranked.

One run found in several inputs (a results directory and the submission made from it) is one row: rows are keyed
by `run_id` (suite hash, quick flag, trial ids and a digest of the trials' predictions and metrics), keeping the
verified source, and the row names the other sources it stood for ("also local:quickstart").

Train time is a trial's fit seconds, plus, when its network came from the model cache (trained once by a
sibling variant), that network's own training seconds: every variant built on a network is charged its full
training, and such rows, the variant that trained it included, are marked "(shared)".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tabulate import tabulate

from mirbench.errors import InputError
from mirbench.metrics import summarise
from mirbench.report.cells import by_variant
from mirbench.results import ResultStore, ran_quick
from mirbench.site import keep, names
from mirbench.submission import SCHEMA, Verification

COLUMNS = ("Rank", "System", "Mean ± std", "Folds", "Parameters", "Train time (s)",
           "Hardware", "Date", "mirbench", "Source")
APART = "Not ranked: incomplete runs and suites not registered here"
LOCAL = "Unverified local runs (results directories, not checked by 'mirbench verify'), ranked among themselves"
QUICK = "Quick runs ('mirbench run --quick': few tracks, few epochs), never ranked"


def entry_from_results(results_dir: str | Path) -> dict:
    """An entry from a local results directory (its suite.json and successful trials), unverified. When plan.json
    lists the run's planned trials, only those count and the entry is complete when every one has a successful
    record."""
    store = ResultStore(results_dir)
    suite = store.read_suite()
    records = [r for r in store.records() if r.get("status") == "ok"]
    entry = {"source": f"local:{Path(results_dir).name}", "suite": suite, "records": records, "verified": False,
             "results_dir": str(results_dir)}
    planned = store.planned()
    if isinstance(planned, dict) and planned:
        records = [r for r in records if r.get("trial_id") in planned]
        per_variant: dict[str, int] = {}
        for tid in planned:
            variant = str(tid).rsplit(".fold", 1)[0]  # trial ids are <variant id>.fold<i>.seed<s>
            per_variant[variant] = per_variant.get(variant, 0) + 1
        entry.update(records=records, planned=per_variant, n_trials=len(records), n_planned=len(planned),
                     complete=len({r["trial_id"] for r in records}) == len(planned))
    return entry


def entry_from_submission(submission: dict, name: str, verification: Verification | None = None) -> dict:
    """An entry from a loaded submission document; `name` is its file name, shown as the source. With the
    submission's passing `verification` it is verified, and carries its completeness and whether its suite is
    new here; without one it is an unverified submission."""
    schema = submission.get("schema", SCHEMA)
    if schema != SCHEMA or "suite" not in submission or "records" not in submission:
        raise ValueError(f"{name} is not a {SCHEMA} document (it needs 'suite' and 'records')")
    records = [r for r in submission["records"] if r.get("status", "ok") == "ok"]  # bundles hold ok trials only
    entry = {"source": f"submission:{name}", "suite": submission["suite"], "records": records,
             "verified": verification is not None and verification.ok}
    if verification is not None:
        entry.update(complete=verification.complete, planned=verification.planned_by_variant,
                     n_trials=verification.submitted, n_planned=verification.planned, new_suite=verification.new_suite)
    return entry


#: (seconds, reused) keys of a record's "training" naming its network: the schema's, then those sigtia2014
#: records held before (mlp_train_s came from the cache entry's info, cached was 0/1).
NETWORK_KEYS = (("network_train_s", "network_shared"), ("mlp_train_s", "cached"))


def network(record: dict) -> tuple[float | None, bool]:
    """(seconds its network took to train, whether it was reused from the model cache); (None, False) when the
    record names no network."""
    training = record.get("training") or {}
    for seconds_key, shared_key in NETWORK_KEYS:
        seconds, shared = training.get(seconds_key), training.get(shared_key)
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and shared in (True, False, 0, 1):
            return float(seconds), bool(shared)
    return None, False


def shared_networks(records: list[dict]) -> set[tuple]:
    """(fold, seed, network seconds) of every network some trial reused: the trial that trained one has the same."""
    out = set()
    for r in records:
        seconds, reused = network(r)
        if reused:
            out.add((r["fold"]["index"], r.get("seed"), seconds))
    return out


def train_seconds(record: dict, shared: set[tuple]) -> tuple[float | None, bool]:
    """A trial's training time and whether it rests on a shared network: fit_s, plus the network's training
    when the trial reused it from the cache (fit_s then left it out)."""
    fit = (record.get("timings") or {}).get("fit_s")
    seconds, reused = network(record)
    if fit is None or seconds is None:
        return fit, False
    on_shared = reused or (record["fold"]["index"], record.get("seed"), seconds) in shared
    return fit + (seconds if reused else 0.0), on_shared


def run_id(suite: dict, group: list[dict]) -> str:
    """The identity of one variant's trials: suite hash, quick flag, trial ids and a digest of each trial's
    predictions and metrics. Equal ids are the same run seen through two inputs; a rerun of the same suite (other
    machine, other code) has other predictions, so it stays a row of its own."""
    trials = sorted(([r.get("trial_id"), r.get("predictions"), r.get("metrics")] for r in group), key=lambda t: str(t[0]))
    doc = [suite.get("hash"), ran_quick(suite), trials]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rows(entries: list[dict]) -> list[dict]:
    """One row per (dataset, protocol, metric, system variant) of each entry, one per run (`dedupe`), unordered."""
    sources = [e["source"] for e in entries]
    twice = sorted({s for s in sources if sources.count(s) > 1})
    if twice:
        raise InputError(f"two inputs are both named {twice[0]!r} (a source is named by its folder or file name); "
                         "rename one of them, or give it only once")
    out = []
    for entry in entries:
        suite, records = entry["suite"], entry["records"]
        shared = shared_networks(records)
        groups = {system: (group, run_id(suite, group)) for system, group in by_variant(records).items()}
        for metric in suite.get("metrics") or sorted({m for r in records for m in r.get("metrics", {})}):
            for system, (group, run) in groups.items():
                stats = summarise(r.get("metrics", {}).get(metric) for r in group)
                if stats["n"]:
                    out.append(dict(row(entry, metric, system, group, stats, shared), run=run))
    return dedupe(out)


def dedupe(table_rows: list[dict]) -> list[dict]:
    """One row per (metric, run): the verified source before a local one, then the first source by name; the
    kept row lists in "also" the sources it stands for."""
    best: dict[tuple[str, str], dict] = {}
    for r in sorted(table_rows, key=lambda r: (not r["verified"], r["source"])):
        key = (r["metric"], r["run"])
        if key in best:
            best[key]["also"].append(r["source"])
        else:
            best[key] = dict(r, also=[])
    return list(best.values())


def component(table: dict) -> str:
    """A dataset or protocol with its parameters ("corpus (task=style)"): only runs of the same task and splits
    are ranked together. Part of a section's key, never shown as a heading (`names.heading` is)."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(table.items()) if k not in names.HIDDEN)
    return f"{table['name']} ({params})" if params else table["name"]


def notes(entry: dict, group: list[dict]) -> str:
    """Why a row is not ranked ("" when it is): fewer trials than planned, an incomplete run, a new suite."""
    out = []
    planned = entry.get("planned")
    if planned is not None:
        n = sum(planned.get(v, 0) for v in {r["variant"]["id"] for r in group})
        if len(group) < n:
            out.append(f"incomplete: {len(group)} of {n} trials")
    if not out and not entry.get("complete", True):
        out.append(f"incomplete run: {entry.get('n_trials', '?')} of {entry.get('n_planned', '?')} trials")
    if entry.get("new_suite"):
        out.append(f"new suite {entry['suite']['name']!r}, not registered here")
    return "; ".join(out)


def row(entry: dict, metric: str, system: str, group: list[dict], stats: dict, shared: set[tuple] = frozenset()) -> dict:
    """The leaderboard fields of one system variant's trials on one metric."""
    suite, first = entry["suite"], group[0].get("provenance") or {}
    params = [r["n_parameters"] for r in group if r.get("n_parameters") is not None]
    trained = [train_seconds(r, shared) for r in group]
    fit = summarise(seconds for seconds, _ in trained)
    finished = [(r.get("provenance") or {}).get("finished_at") or "" for r in group]
    note = notes(entry, group)
    return {
        "dataset": component(suite["dataset"]), "protocol": component(suite["protocol"]), "metric": metric,
        "heading": names.heading(suite["dataset"], suite["protocol"], metric),
        "params": names.params_line(suite["dataset"], suite["protocol"]),
        "dataset_name": names.dataset_name(suite["dataset"]), "protocol_name": names.protocol_name(suite["protocol"]),
        "system": system, "mean": stats["mean"], "std": stats["std"],
        "folds": len({r["fold"]["index"] for r in group}), "seeds": len({r.get("seed") for r in group}),
        "n_parameters": round(sum(params) / len(params)) if params else None,
        "train_s": fit["mean"], "train_shared": any(on_shared for _, on_shared in trained), "hardware": hardware(first),
        "date": max(finished)[:10] or None, "mirbench": first.get("mirbench"), "source": entry["source"],
        "verified": bool(entry.get("verified", entry["source"].startswith("submission:"))),
        "quick": ran_quick(suite), "note": note, "ranked": not note,
    }


def hardware(provenance: dict) -> str:
    """The device a trial ran on: its name, else the platform and CPU count."""
    if provenance.get("device_name"):
        return str(provenance["device_name"])
    cpus = provenance.get("cpu_count")
    return f"{provenance.get('platform') or '?'}" + (f" ({cpus} CPUs)" if cpus else "")


def sections(table_rows: list[dict]) -> dict[tuple[str, str, str, bool], list[dict]]:
    """Rows grouped by (dataset, protocol, metric, quick): full runs' sections first, then quick ones, each sorted
    by name; rows best first."""
    out: dict[tuple[str, str, str, bool], list[dict]] = {}
    for r in table_rows:
        out.setdefault((r["dataset"], r["protocol"], r["metric"], r["quick"]), []).append(r)
    order = lambda r: (-r["mean"], r["system"], r["source"])  # noqa: E731
    return {k: sorted(v, key=order) for k, v in sorted(out.items(), key=lambda kv: (kv[0][3], kv[0][:3]))}


def section_key(key: tuple[str, str, str, bool]) -> str:
    """A section's key as text, as the board records it (`keep`): 'dataset · protocol · metric[ · quick]'."""
    return " · ".join(key[:3]) + (" · quick" if key[3] else "")


def heading(key: tuple, section: list[dict]) -> str:
    """A section's heading: the human sentence, '(quick runs)' after it for a quick section."""
    return section[0]["heading"] + (" (quick runs)" if key[3] else "")


def tables(key: tuple, section: list[dict]) -> list[tuple[str | None, list[dict], list[str | None]]]:
    """A section's tables as (caption, rows, ranks): verified ranked, local ranked apart (L1, ...), the unranked;
    a quick section is one unranked table."""
    if key[3]:
        return [(QUICK, section, [None] * len(section))]
    verified = [r for r in section if r["ranked"] and r["verified"]]
    local = [r for r in section if r["ranked"] and not r["verified"]]
    apart = [r for r in section if not r["ranked"]]
    out = [(None, verified, [str(i) for i in range(1, len(verified) + 1)]),
           (LOCAL, local, [f"L{i}" for i in range(1, len(local) + 1)]),
           (APART, apart, [None] * len(apart))]
    return [t for t in out if t[1]]


def source_text(r: dict) -> str:
    """Where a row comes from, with its standing: 'verified: team.json', 'local, unverified: quickstart'."""
    kind, _, name = r["source"].partition(":")
    standing = ("verified" if r["verified"] else "unverified submission") if kind == "submission" else "local, unverified"
    return f"{standing}: {name}" + (f" (also {', '.join(r['also'])})" if r.get("also") else "")


def mean_text(r: dict, space: str = " ") -> str:
    return f"{r['mean']:.3f}{space}±{space}{r['std']:.3f}"


def cells(r: dict, rank: str | None, space: str = " ") -> list[str]:
    """The text of one table row, in COLUMNS order; rank None for an unranked row. `space` joins mean ± std (the
    HTML page gives a no-break space)."""
    note = f" ({r['note']})" if r.get("note") else ""
    return [
        "—" if rank is None else rank, r["system"] + (" (quick)" if r["quick"] else "") + note,
        mean_text(r, space), str(r["folds"]),
        "—" if r["n_parameters"] is None else f"{r['n_parameters']:,}",
        "—" if r["train_s"] is None else f"{r['train_s']:.1f}" + (" (shared)" if r.get("train_shared") else ""),
        r["hardware"], r["date"] or "—", r["mirbench"] or "—", source_text(r),
    ]


def built_from(table_rows: list[dict]) -> str:
    """The line under the title: which runs the board is built from, and how values are computed."""
    sources = sorted({r["source"] for r in table_rows} | {s for r in table_rows for s in r.get("also", [])})
    listed = ", ".join(sources) if sources else "no runs"
    return (f"Built from {len(sources)} suite run(s): {listed}. Mean ± sample standard deviation over folds "
            "and seeds, best first (higher is better). Verified submissions (every metric recomputed from their "
            "predictions by 'mirbench verify') are ranked first; local results directories are unverified, ranked "
            "apart among themselves (L1, L2, ...) and marked 'local, unverified'; a run found in several inputs is "
            "one row, from its verified source, naming the others ('also ...'). Quick runs (--quick) have sections "
            "of their own, never ranked. Train time is the mean seconds of fitting per trial; a network trained "
            "once and reused by other variants (the model cache) is charged in full to every variant built on it, "
            "marked (shared), so shared times do not add up. Rows with fewer trials than planned, or of suites not "
            "registered here, are listed below each table, unranked.")


def md_text(text: str) -> str:
    """A string from a suite or submission made inert in Markdown: '|' escaped, '<' and '>' as entities."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def github_anchor(text: str, seen: dict[str, int]) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as '-', '-1' on a repeat."""
    slug = "".join(c for c in text.lower() if c.isalnum() or c in " -_").replace(" ", "-")
    n = seen.get(slug, 0)
    seen[slug] = n + 1
    return f"{slug}-{n}" if n else slug


def markdown(table_rows: list[dict]) -> str:
    """The leaderboard as Markdown: a contents list, then one section per dataset, protocol and metric (quick
    runs last), and the board's rows recorded in a closing comment for the next regeneration (`keep`)."""
    parts, contents, seen = ["# Leaderboard", md_text(built_from(table_rows))], [], {"contents": 1}
    for key, section in sections(table_rows).items():
        title = md_text(heading(key, section))
        contents.append(f"- [{title}](#{github_anchor(heading(key, section), seen)})")
        parts.append(f"## {title}")
        if section[0]["params"]:
            parts.append(f"<sub>{md_text(section[0]['params'])}</sub>")
        for caption, rows_, ranks in tables(key, section):
            body = [[md_text(c) for c in cells(r, rank)] for r, rank in zip(rows_, ranks)]
            parts += ([f"{caption}:"] if caption else []) + [tabulate(body, COLUMNS, tablefmt="github", disable_numparse=True)]
    if contents:
        parts[2:2] = ["## Contents", "\n".join(contents)]
    recorded = [(section_key(k), r["system"], source, r["run"])
                for k, s in sections(table_rows).items() for r in s for source in [r["source"], *r.get("also", [])]]
    return "\n\n".join(parts) + "\n\n" + keep.comment(recorded)
