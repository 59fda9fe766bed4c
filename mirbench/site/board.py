"""The leaderboard as one self-contained HTML page: contents, filters, sortable tables; plain JS, no external asset.

Every string that comes from a suite or a submission goes through `esc` (text and attribute values alike), so a
label such as `<img src=x onerror=...>` shows as text. Numbers and dates never wrap (`white-space: nowrap`, a
no-break space around ±); a sorted column shows its direction (▲/▼ and aria-sort).
"""

from __future__ import annotations

import html as html_lib

from mirbench import leaderboard as lb

NBSP = "\u00a0"
NUMERIC = (0, 2, 3, 4, 5)  # COLUMNS sorted as numbers: rank, mean, folds, parameters, train time
DATE = 7
SCRIPT = """
"use strict";
const byId = id => document.getElementById(id);
function key(td) { return td.dataset.value !== undefined ? parseFloat(td.dataset.value) : td.textContent.trim(); }
function order(x, y, dir) {
  if (typeof x === "number") {
    if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y);  /* unknown numbers last, either way */
    return (x - y) * dir;
  }
  return x.localeCompare(y) * dir;
}
function sortBy(table, th) {
  const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
  table.querySelectorAll("thead th").forEach(h => {
    h.setAttribute("aria-sort", "none");
    h.querySelector(".dir").textContent = "";
  });
  th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  th.querySelector(".dir").textContent = dir === 1 ? "\\u25b2" : "\\u25bc";
  const body = table.tBodies[0], i = th.cellIndex;
  [...body.rows].sort((a, b) => order(key(a.cells[i]), key(b.cells[i]), dir)).forEach(r => body.appendChild(r));
}
document.querySelectorAll("table.board").forEach(table =>
  table.querySelectorAll("thead th").forEach(th => th.addEventListener("click", () => sortBy(table, th))));
function applyFilters() {
  const d = byId("f-dataset").value, p = byId("f-protocol").value, s = byId("f-system").value.trim().toLowerCase();
  let total = 0;
  document.querySelectorAll("section.board-section").forEach(sec => {
    let shown = 0;
    sec.querySelectorAll("tbody tr").forEach(tr => {
      const ok = (!d || tr.dataset.dataset === d) && (!p || tr.dataset.protocol === p)
        && (!s || tr.dataset.system.toLowerCase().includes(s));
      tr.hidden = !ok;
      shown += ok;
    });
    sec.querySelectorAll(".table-block").forEach(b => { b.hidden = !b.querySelector("tbody tr:not([hidden])"); });
    sec.hidden = shown === 0;
    const li = document.querySelector('#contents li[data-section="' + sec.id + '"]');
    if (li) li.hidden = shown === 0;
    total += shown;
  });
  byId("f-count").textContent = total + " row(s) shown";
}
["f-dataset", "f-protocol"].forEach(id => byId(id).addEventListener("change", applyFilters));
byId("f-system").addEventListener("input", applyFilters);
applyFilters();
"""
STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 2em auto;
       max-width: 1400px; padding: 0 1.5em; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { margin: 1.6em 0 0.1em; font-size: 1.25em; }
.intro { color: #444; max-width: 60em; }
.muted, .params { color: #6b6b6b; font-size: 0.85em; }
.params { margin: 0 0 0.6em; }
nav#contents ol { columns: 2; column-gap: 3em; padding-left: 1.4em; }
nav#contents li { margin: 0.15em 0; break-inside: avoid; }
.filters { display: flex; flex-wrap: wrap; gap: 1em; align-items: end; padding: 0.7em 1em; background: #f6f6f8;
           border: 1px solid #e0e0e4; border-radius: 6px; position: sticky; top: 0; z-index: 1; }
.filters label { display: flex; flex-direction: column; font-size: 0.85em; color: #444; }
.filters select, .filters input { font: inherit; font-size: 1rem; padding: 0.2em 0.4em; min-width: 14em; }
table.board, table.report { border-collapse: collapse; margin: 0.3em 0 1.2em; font-size: 0.92em; }
table.board th, table.board td, table.report th, table.report td { border: 1px solid #d6d6da; padding: 0.3em 0.6em;
  vertical-align: top; }
table.board th, table.report th { background: #f0f0f3; text-align: left; white-space: nowrap; }
table.board th { cursor: pointer; user-select: none; }
table.board th button { all: unset; cursor: pointer; }
table.board th button:focus-visible { outline: 2px solid #3b6fd8; }
th .dir { display: inline-block; min-width: 1em; margin-left: 0.25em; color: #3b6fd8; }
td.num, td.date { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.local td:first-child, tr.quick td:first-child { color: #8a5a00; }
.badge { display: inline-block; white-space: nowrap; font-size: 0.8em; padding: 0 0.4em; border-radius: 3px; }
.badge.verified { background: #e3f4e6; color: #1e6b2d; }
.badge.local, .badge.unverified { background: #fff1d6; color: #8a5a00; }
.caption { margin: 0.6em 0 0.2em; font-weight: 600; color: #8a5a00; font-size: 0.92em; }
a { color: #2554b0; }
img { max-width: 100%; height: auto; }
"""


def esc(text) -> str:
    """Any value as inert HTML text, quotes included (safe in attribute values too)."""
    return html_lib.escape(str(text), quote=True)


def sort_value(index: int, r: dict, rank: str | None) -> float:
    """The number a numeric column sorts by; unknown as NaN (sorted last)."""
    nan = float("nan")
    if index == 0:
        return nan if rank is None else float(rank.lstrip("L"))
    value = {2: r["mean"], 3: r["folds"], 4: r["n_parameters"], 5: r["train_s"]}[index]
    return nan if value is None else float(value)


def source_cell(r: dict) -> str:
    """The source with a badge saying its standing: verified, local (unverified) or an unverified submission."""
    kind, _, name = r["source"].partition(":")
    badge = ("verified", "verified") if r["verified"] else (
        ("local", "local, unverified") if kind == "local" else ("unverified", "unverified submission"))
    also = f' <span class="muted">(also {esc(", ".join(r["also"]))})</span>' if r.get("also") else ""
    return f'<span class="badge {badge[0]}">{esc(badge[1])}</span> {esc(name)}{also}'


def html_row(r: dict, rank: str | None, links: dict[str, str] | None) -> str:
    """One <tr>: numeric cells carry data-value for the sort; the row carries its dataset, protocol and system for
    the filters; the system links to the page of the run the row came from."""
    texts = lb.cells(r, rank, NBSP)
    tds = []
    for i, text in enumerate(texts):
        if i in NUMERIC:
            tds.append(f'<td class="num" data-value="{sort_value(i, r, rank)!r}">{esc(text)}</td>')
        elif i == 1 and links and r["source"] in links:
            tds.append(f'<td><a href="{esc(links[r["source"]])}">{esc(text)}</a></td>')
        elif i == DATE:
            tds.append(f'<td class="date">{esc(text)}</td>')
        elif i == len(texts) - 1:
            tds.append(f"<td>{source_cell(r)}</td>")
        else:
            tds.append(f"<td>{esc(text)}</td>")
    kind = "quick" if r["quick"] else ("verified" if r["verified"] else "local")
    return (f'<tr class="{kind}" data-dataset="{esc(r["dataset_name"])}" data-protocol="{esc(r["protocol_name"])}" '
            f'data-system="{esc(r["system"])}">' + "".join(tds) + "</tr>")


def header(sorted_on: int) -> str:
    """The header row; column `sorted_on` shows the rows' order (rank ascending, or mean descending)."""
    out = []
    for i, name in enumerate(lb.COLUMNS):
        state, arrow = ("ascending", "\u25b2") if i == sorted_on == 0 else (
            ("descending", "\u25bc") if i == sorted_on else ("none", ""))
        out.append(f'<th scope="col" aria-sort="{state}"><button type="button">{esc(name)}'
                   f'<span class="dir" aria-hidden="true">{arrow}</span></button></th>')
    return "<tr>" + "".join(out) + "</tr>"


def table(caption: str | None, rows_: list[dict], ranks: list, links) -> str:
    ranked = any(rank is not None for rank in ranks)
    body = "\n".join(html_row(r, rank, links) for r, rank in zip(rows_, ranks))
    cap = f'<p class="caption">{esc(caption)}</p>\n' if caption else ""
    return (f'<div class="table-block">{cap}<table class="board">\n<thead>{header(0 if ranked else 2)}</thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table></div>")


def options(values: set[str], everything: str) -> str:
    return f'<option value="">{esc(everything)}</option>' + "".join(
        f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted(values))


def filters(table_rows: list[dict]) -> str:
    datasets = {r["dataset_name"] for r in table_rows}
    protocols = {r["protocol_name"] for r in table_rows}
    return ('<form class="filters" role="search" onsubmit="return false">'
            f'<label>Dataset <select id="f-dataset">{options(datasets, "all datasets")}</select></label>'
            f'<label>Protocol <select id="f-protocol">{options(protocols, "all protocols")}</select></label>'
            '<label>System <input id="f-system" type="search" placeholder="name contains…"></label>'
            '<span id="f-count" class="muted" aria-live="polite"></span></form>')


def page(table_rows: list[dict], links: dict[str, str] | None = None) -> str:
    """The whole page: title, how it is built, contents, filters, then one section per dataset, protocol and
    metric. `links`: {source: relative URL of its report page}; None for a page with no report pages."""
    toc, parts = [], []
    for n, (key, section) in enumerate(lb.sections(table_rows).items(), 1):
        title, params = lb.heading(key, section), section[0]["params"]
        muted = f' <span class="muted">{esc(params)}</span>' if params else ""
        toc.append(f'<li data-section="s{n}"><a href="#s{n}">{esc(title)}</a>{muted}</li>')
        tables = "\n".join(table(caption, rows_, ranks, links) for caption, rows_, ranks in lb.tables(key, section))
        parts.append(f'<section class="board-section" id="s{n}">\n<h2>{esc(title)}</h2>\n'
                     + (f'<p class="params">{esc(params)}</p>\n' if params else "") + tables + "\n</section>")
    contents = (f'<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>'
                if toc else "<p>No runs to rank.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>mirbench leaderboard</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>Leaderboard</h1>\n"
            f"<p class=\"intro\">{esc(lb.built_from(table_rows))}</p>\n{contents}\n{filters(table_rows)}\n"
            + "\n".join(parts) + f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n")
