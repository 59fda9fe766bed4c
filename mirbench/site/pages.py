"""One page per suite run of the site: its per-suite report (tables and plots), as HTML beside its PNGs.

The report is `mirbench.report.write_report`'s, written into the page's folder: for a local run from its results
directory, for a submission from a temporary results directory holding its suite and records. Its Markdown is
rendered by `markup.to_html`; its PNG, CSV, TeX and Markdown files stay beside the page, linked relatively.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from mirbench.results import ResultStore
from mirbench.site.board import STYLE, esc
from mirbench.site.markup import to_html

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(source: str, taken: set[str]) -> str:
    """A folder name for a source ('local:quick start' -> 'local-quick-start'), unique among `taken`."""
    base = UNSAFE.sub("-", source.replace(":", "-")).strip(".-")[:80] or "run"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def report_from_submission(entry: dict, out: Path) -> list[Path]:
    """The report of a submission's run: its suite and records written to a temporary results directory, reported
    from there (records gain the "ok" status a bundle leaves out; keys a bundle holds as null are dropped)."""
    from mirbench.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(tmp) / entry["source"].partition(":")[2].replace("/", "_"))
        store.write_suite(entry["suite"])
        for record in entry["records"]:
            store.write({**{k: v for k, v in record.items() if v is not None}, "status": "ok"})
        return write_report(store.root, out)


def write_page(entry: dict, out: Path, back: str = "../../index.html") -> Path:
    """Write the run's report files into `out` and `out/index.html` rendering them; return the page's path."""
    from mirbench.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    if entry.get("results_dir"):
        written = write_report(entry["results_dir"], out)
    else:
        written = report_from_submission(entry, out)
    files = {p.name for p in written}
    markdown = next(p for p in written if p.suffix == ".md" and not p.name.endswith("-per-class.md"))
    kind, _, name = entry["source"].partition(":")
    standing = ("verified submission" if entry.get("verified") else "unverified submission") if kind == "submission" \
        else "local run, unverified"
    downloads = " · ".join(f'<a href="{esc(f)}">{esc(f)}</a>' for f in sorted(files) if not f.endswith(".png"))
    body = to_html(markdown.read_text(), files)
    page = out / "index.html"
    page.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(entry['suite'].get('name', 'report'))}: mirbench report</title>\n<style>{STYLE}</style>\n"
        f"</head>\n<body>\n<p><a href=\"{esc(back)}\">← Leaderboard</a></p>\n"
        f"<p class=\"muted\">Source: {esc(standing)} {esc(name)}. Files: {downloads}</p>\n"
        f"<main>\n{body}\n</main>\n</body>\n</html>\n")
    return page
