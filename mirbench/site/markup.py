"""The Markdown a per-suite report is written in, as HTML: headings, paragraphs, lists, GitHub tables, images.

Only the constructs `mirbench.report` writes are understood. Every piece of text is escaped first and tags are
made only by this module, so a suite's description or a variant label shows as text whatever it holds; an image
is kept only when it names one of the files copied beside the page, a link only when it is http(s).
"""

from __future__ import annotations

import html as html_lib
import re

IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)$")
HEADING = re.compile(r"^(#{1,6}) (.*)$")
CELL = re.compile(r"(?<!\\)\|")
CODE = re.compile(r"`([^`]+)`")
STRONG = re.compile(r"\*\*(.+?)\*\*")
LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
NUMBER = re.compile(r"^[-+−]?(\d[\d,]*(\.\d+)?|\.\d+)(e[-+]?\d+)?( ?%)?( ± [\d.,]+( ?%)?)?( [*†]+)?$")


def esc(text: str) -> str:
    return html_lib.escape(text, quote=True)


def inline(text: str) -> str:
    """One line of text as HTML: `code`, **strong** and http(s) links; everything else escaped."""
    out = []
    for i, part in enumerate(CODE.split(text)):  # odd parts are the insides of `code`
        if i % 2:
            out.append(f"<code>{esc(part)}</code>")
            continue
        piece = STRONG.sub(lambda m: f"<strong>{m.group(1)}</strong>", esc(part))
        out.append(LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', piece))
    return "".join(out)


def cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in CELL.split(line.strip())[1:-1]]


def table(lines: list[str]) -> str:
    """A GitHub table (header, separator, rows); numbers and mean ± std never wrap."""
    head, body = cells(lines[0]), [cells(line) for line in lines[2:]]
    th = "".join(f'<th scope="col">{inline(c)}</th>' for c in head)
    trs = []
    for row in body:
        tds = []
        for c in row:
            numeric = bool(NUMBER.match(c))
            text = inline(c).replace(" ± ", "\u00a0±\u00a0")
            tds.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        trs.append("<tr>" + "".join(tds) + "</tr>")
    return f'<table class="report"><thead><tr>{th}</tr></thead><tbody>' + "\n".join(trs) + "</tbody></table>"


def image(alt: str, src: str, files: set[str]) -> str:
    if src not in files:  # a path this page does not hold: its alt text only
        return f"<p>{esc(alt)} ({esc(src)}: not included)</p>"
    return f'<figure><img src="{esc(src)}" alt="{esc(alt)}"><figcaption>{esc(alt)}</figcaption></figure>'


def to_html(markdown: str, files: set[str]) -> str:
    """The report's Markdown as an HTML fragment; `files` are the file names copied beside the page."""
    out, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif m := HEADING.match(line):
            level = len(m.group(1))
            out.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
            i += 1
        elif m := IMAGE.match(line.strip()):
            out.append(image(m.group(1), m.group(2), files))
            i += 1
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(table(block) if len(block) >= 2 else f"<p>{inline(block[0])}</p>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("|", "- ", "#")) \
                    and not IMAGE.match(lines[i].strip()):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{inline(' '.join(para))}</p>")
    return "\n".join(out)
