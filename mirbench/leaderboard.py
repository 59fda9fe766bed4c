"""The leaderboard: many suite runs (local results or submissions) ranked side by side, as Markdown and HTML.

An entry is one suite run: {"source": "submission:<file>" | "local:<dir>", "suite": suite document,
"records": successful trial records, "complete": bool, "planned": {variant id: planned trials} | None,
"n_trials"/"n_planned": the entry's counts, "new_suite": bool}. Rows pool folds and seeds like the per-suite
reports, and rank best first within each (dataset, protocol, metric): every current metric is higher-is-better.

Only complete runs of suites registered with the verifier are ranked. A row with fewer trials than planned, a row
of an incomplete submission, and a row of a suite not registered here (verified as a new suite) are listed below
the ranked table of their section, unranked, each saying why ("incomplete: 3 of 4 trials").

Train time is a trial's fit seconds, plus, when its network came from the model cache (trained once by a
sibling variant), that network's own training seconds: every variant built on a network is charged its full
training, and such rows, the variant that trained it included, are marked "(shared)".
"""

from __future__ import annotations

import html as html_lib
from pathlib import Path

from tabulate import tabulate

from mirbench.metrics import summarise
from mirbench.report.cells import by_variant
from mirbench.results import ResultStore, ran_quick
from mirbench.submission import SCHEMA, Verification

COLUMNS = ("Rank", "System", "Mean ± std", "Folds", "Parameters", "Train time (s)",
           "Hardware", "Date", "mirbench", "Source")
SORT_SCRIPT = """
function cmp(x, y, dir) {
  if (typeof x === "number") { if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y); return (x - y) * dir; }
  return x.localeCompare(y) * dir;
}
document.querySelectorAll("table.board th").forEach(th => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], i = th.cellIndex, dir = th.dataset.dir === "1" ? -1 : 1;
  th.dataset.dir = String(dir);
  const key = td => td.dataset.value !== undefined ? parseFloat(td.dataset.value) : td.textContent;
  [...body.rows].sort((a, b) => cmp(key(a.cells[i]), key(b.cells[i]), dir)).forEach(r => body.appendChild(r));
}));
"""
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table.board { border-collapse: collapse; margin-bottom: 2em; }
table.board th, table.board td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
table.board th { background: #f0f0f0; cursor: pointer; user-select: none; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.quick { color: #a60; }
"""


def entry_from_results(results_dir: str | Path) -> dict:
    """An entry from a local results directory (its suite.json and successful trials). When plan.json lists the
    run's planned trials, only those count and the entry is complete when every one has a successful record."""
    store = ResultStore(results_dir)
    suite = store.read_suite()
    records = [r for r in store.records() if r.get("status") == "ok"]
    entry = {"source": f"local:{Path(results_dir).name}", "suite": suite, "records": records}
    planned = store.planned()
    if isinstance(planned, dict) and planned:
        records = [r for r in records if r.get("trial_id") in planned]
        by_variant: dict[str, int] = {}
        for tid in planned:
            variant = str(tid).rsplit(".fold", 1)[0]  # trial ids are <variant id>.fold<i>.seed<s>
            by_variant[variant] = by_variant.get(variant, 0) + 1
        entry.update(records=records, planned=by_variant, n_trials=len(records), n_planned=len(planned),
                     complete=len({r["trial_id"] for r in records}) == len(planned))
    return entry


def entry_from_submission(submission: dict, name: str, verification: Verification | None = None) -> dict:
    """An entry from a loaded submission document; `name` is its file name, shown as the source. With the
    submission's `verification`, the entry carries its completeness and whether its suite is new here."""
    schema = submission.get("schema", SCHEMA)
    if schema != SCHEMA or "suite" not in submission or "records" not in submission:
        raise ValueError(f"{name} is not a {SCHEMA} document (it needs 'suite' and 'records')")
    records = [r for r in submission["records"] if r.get("status", "ok") == "ok"]  # bundles hold ok trials only
    entry = {"source": f"submission:{name}", "suite": submission["suite"], "records": records}
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


def rows(entries: list[dict]) -> list[dict]:
    """One row per (dataset, protocol, metric, system variant) of each entry, in no particular order."""
    out = []
    for entry in entries:
        suite, records = entry["suite"], entry["records"]
        groups = by_variant(records)
        shared = shared_networks(records)
        for metric in suite.get("metrics") or sorted({m for r in records for m in r.get("metrics", {})}):
            for system, group in groups.items():
                stats = summarise(r.get("metrics", {}).get(metric) for r in group)
                if stats["n"]:
                    out.append(row(entry, metric, system, group, stats, shared))
    return out


def component(table: dict) -> str:
    """A dataset or protocol with its parameters ("corpus (task=style)"): only runs of the same task and splits
    are ranked together."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(table.items()) if k not in ("name", "root", "cache_dir", "progress"))
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
        "system": system, "mean": stats["mean"], "std": stats["std"],
        "folds": len({r["fold"]["index"] for r in group}), "seeds": len({r.get("seed") for r in group}),
        "n_parameters": round(sum(params) / len(params)) if params else None,
        "train_s": fit["mean"], "train_shared": any(on_shared for _, on_shared in trained), "hardware": hardware(first), "date": max(finished)[:10] or None,
        "mirbench": first.get("mirbench"), "source": entry["source"], "quick": ran_quick(suite),
        "note": note, "ranked": not note,
    }


def hardware(provenance: dict) -> str:
    """The device a trial ran on: its name, else the platform and CPU count."""
    if provenance.get("device_name"):
        return str(provenance["device_name"])
    cpus = provenance.get("cpu_count")
    return f"{provenance.get('platform') or '?'}" + (f" ({cpus} CPUs)" if cpus else "")


def sections(table_rows: list[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """Rows grouped by (dataset, protocol, metric), sections sorted by name, rows best first."""
    out: dict[tuple[str, str, str], list[dict]] = {}
    for r in table_rows:
        out.setdefault((r["dataset"], r["protocol"], r["metric"]), []).append(r)
    order = lambda r: (not r.get("ranked", True), -r["mean"], r["system"], r["source"])  # noqa: E731
    return {k: sorted(v, key=order) for k, v in sorted(out.items())}


def ranked_apart(section: list[dict]) -> tuple[list[dict], list[dict]]:
    """A section's ranked rows and its rows listed apart (incomplete, or of a suite not registered here)."""
    return [r for r in section if r.get("ranked", True)], [r for r in section if not r.get("ranked", True)]


APART = "Not ranked: incomplete runs and suites not registered here"


def cells(r: dict, rank: int | None) -> list[str]:
    """The text of one table row, in COLUMNS order; rank None for a row listed apart."""
    note = f" ({r['note']})" if r.get("note") else ""
    return [
        "—" if rank is None else str(rank), r["system"] + (" (quick)" if r["quick"] else "") + note,
        f"{r['mean']:.3f} ± {r['std']:.3f}", str(r["folds"]),
        "—" if r["n_parameters"] is None else f"{r['n_parameters']:,}",
        "—" if r["train_s"] is None else f"{r['train_s']:.1f}" + (" (shared)" if r.get("train_shared") else ""),
        r["hardware"], r["date"] or "—", r["mirbench"] or "—", r["source"],
    ]


def sort_values(r: dict, rank: int | None) -> list[float | None]:
    """The numbers the HTML sorts numeric columns by (None: a text column); unknown numbers sort as NaN."""
    nan = float("nan")
    rank = nan if rank is None else rank
    params = nan if r["n_parameters"] is None else r["n_parameters"]
    train = nan if r["train_s"] is None else r["train_s"]
    return [rank, None, r["mean"], r["folds"], params, train, None, None, None, None]


def title(key: tuple[str, str, str]) -> str:
    return " · ".join(key)


def built_from(table_rows: list[dict]) -> str:
    """The line under the title: which runs the board is built from, and how values are computed."""
    sources = sorted({r["source"] for r in table_rows})
    listed = ", ".join(sources) if sources else "no runs"
    return (f"Built from {len(sources)} suite run(s): {listed}. Mean ± sample standard deviation over folds "
            "and seeds, best first (higher is better); (quick) marks reduced smoke-test runs. Train time is the "
            "mean seconds of fitting per trial; a network trained once and reused by other variants (the model "
            "cache) is charged in full to every variant built on it, marked (shared), so shared times do not add "
            "up. Rows with fewer trials than planned, or of suites not registered here, are listed below each "
            "table, unranked.")


def markdown(table_rows: list[dict]) -> str:
    """The leaderboard as Markdown: one ranked table per dataset · protocol · metric."""
    parts = ["# Leaderboard", built_from(table_rows)]
    for key, section in sections(table_rows).items():
        ranked, apart = ranked_apart(section)
        parts.append(f"## {title(key)}")
        for rows_, ranks, head in ((ranked, range(1, len(ranked) + 1), None), (apart, [None] * len(apart), APART)):
            if rows_:
                body = [[c.replace("|", "\\|") for c in cells(r, i)] for r, i in zip(rows_, ranks)]
                parts += ([f"{head}:"] if head else []) + [tabulate(body, COLUMNS, tablefmt="github", disable_numparse=True)]
    return "\n\n".join(parts) + "\n"


def html_row(r: dict, rank: int | None) -> str:
    """One <tr>: numeric cells carry data-value so the script sorts them as numbers."""
    tds = []
    for text, value in zip(cells(r, rank), sort_values(r, rank)):
        if value is None:
            tds.append(f"<td>{html_lib.escape(text)}</td>")
        else:
            tds.append(f'<td class="num" data-value="{value!r}">{html_lib.escape(text)}</td>')
    opening = '<tr class="quick">' if r["quick"] else "<tr>"
    return opening + "".join(tds) + "</tr>"


def html(table_rows: list[dict]) -> str:
    """The leaderboard as one self-contained HTML page of sortable tables (click a header to sort)."""
    head = "<tr>" + "".join(f"<th>{html_lib.escape(c)}</th>" for c in COLUMNS) + "</tr>"
    parts = []
    for key, section in sections(table_rows).items():
        ranked, apart = ranked_apart(section)
        parts.append(f"<h2>{html_lib.escape(title(key))}</h2>")
        for rows_, ranks, label in ((ranked, range(1, len(ranked) + 1), None), (apart, [None] * len(apart), APART)):
            if rows_:
                body = "\n".join(html_row(r, i) for r, i in zip(rows_, ranks))
                parts.append((f"<p>{html_lib.escape(label)}:</p>\n" if label else "")
                             + f"<table class=\"board\">\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Leaderboard</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>Leaderboard</h1>\n"
            f"<p>{html_lib.escape(built_from(table_rows))}</p>\n" + "\n".join(parts)
            + f"\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n")


def build(entries: list[dict], out_dir: str | Path) -> tuple[Path, Path]:
    """Write leaderboard.md and leaderboard.html into out_dir; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table_rows = rows(entries)
    md, page = out / "leaderboard.md", out / "leaderboard.html"
    md.write_text(markdown(table_rows))
    page.write_text(html(table_rows))
    return md, page
