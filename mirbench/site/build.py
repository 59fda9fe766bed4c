"""`mirbench leaderboard --site DIR`: a static site, ready for any static host (relative links only).

DIR/index.html is the leaderboard (`board.page`) whose rows link to DIR/runs/<run>/index.html, one page per suite
run (`pages.write_page`) with its report's tables and plots beside it. Nothing is fetched from elsewhere: no CDN,
no web font, no external script.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mirbench.errors import InputError

MARKER = ".mirbench-site"  # marks a folder this module wrote, which it may clear and write again


def prepare(out: Path) -> None:
    """Make `out` ready: created when absent; a site written before is cleared of its pages; any other non-empty
    folder is refused, so no file of the user's is ever deleted."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--site {out}: it is a file; give a new or empty directory for the site")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise InputError(f"--site {out}: the directory is not empty and holds no site written by mirbench; "
                             "give a new or empty directory")
        shutil.rmtree(out / "runs", ignore_errors=True)
        (out / "index.html").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by 'mirbench leaderboard --site'; the folder is rewritten on each build\n")


def write_site(entries: list[dict], out_dir: str | Path) -> list[Path]:
    """Write the site into `out_dir`: a page for every run that has a row on the board, then index.html linking
    each row to its run's page. Returns the paths written (index.html first)."""
    from mirbench import leaderboard as lb
    from mirbench.site.board import page
    from mirbench.site.pages import slug, write_page

    out = Path(out_dir)
    table_rows = lb.rows(entries)
    prepare(out)
    shown = {r["source"] for r in table_rows}
    links, pages, taken = {}, [], set()
    for entry in sorted((e for e in entries if e["source"] in shown), key=lambda e: e["source"]):
        folder = slug(entry["source"], taken)
        pages.append(write_page(entry, out / "runs" / folder))
        links[entry["source"]] = f"runs/{folder}/index.html"
    index = out / "index.html"
    index.write_text(page(table_rows, links))
    return [index, *pages]


def write_board(entries: list[dict], out_dir: str | Path, replace: bool = False) -> tuple[Path, Path]:
    """Write leaderboard.md and leaderboard.html into out_dir; return their paths. Unless `replace`, refuse (a
    keep.BoardError) when the board already there holds rows the new one would lose."""
    from mirbench import leaderboard as lb
    from mirbench.site import keep
    from mirbench.site.board import page

    out = Path(out_dir)
    table_rows = lb.rows(entries)
    md, html = out / "leaderboard.md", out / "leaderboard.html"
    text = lb.markdown(table_rows)
    if not replace and md.is_file():
        keep.check(md, text)
    out.mkdir(parents=True, exist_ok=True)
    md.write_text(text)
    html.write_text(page(table_rows))
    return md, html
