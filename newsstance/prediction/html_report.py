"""A self-contained HTML report: an index of articles with their voice shares, and one page per
article with every sentence highlighted by label and its scores on hover. No server, no
scripts, no external files.

A report folder holds a marker, `.newsstance-report.jsonl`: its first line says the folder is a
newsstance report, and each later line lists pages written (recorded before they are written).
Only a folder with the marker is ever replaced, and only the pages it records are deleted: a
user's own `index.html` or `a-*.html` is never touched.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

from newsstance.errors import NewsstanceError, OutputExistsError
from newsstance.files import write_atomic
from newsstance.labels import LABELS

MARKER = ".newsstance-report.jsonl"
PAGE = re.compile(r"a-[0-9a-f]{16}\.html")

COLOURS = {"official_position": "#cfe3ff", "third_party_skepticism": "#ffd6cc", "neutral_reporting": "#ececec"}
STYLE = """
body{font-family:Georgia,serif;max-width:52rem;margin:2rem auto;line-height:1.6;color:#222;padding:0 1rem}
h1{font-size:1.4rem} .legend span{padding:.1rem .4rem;margin-right:.6rem;border-radius:3px;font-family:sans-serif;font-size:.85rem}
.s{border-radius:3px;padding:.05rem .1rem} .uncertain{outline:1px dashed #888}
""" + "".join(f".{l}{{background:{c}}}" for l, c in COLOURS.items()) + """
table{border-collapse:collapse;font-family:sans-serif;font-size:.85rem;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left} .bar{display:flex;height:.8rem;width:10rem}
"""


def page_name(path: str, position: int) -> str:
    """One page per article, named from its place (file and position), unique even when ids repeat."""
    return "a-" + hashlib.sha1(f"{path}#{position}".encode()).hexdigest()[:16] + ".html"


def recorded_pages(folder: Path) -> list[str]:
    """The page names a report's marker records (only names newsstance gives its pages)."""
    pages = []
    for line in (folder / MARKER).read_text(encoding="utf-8").splitlines()[1:]:
        try:
            names = json.loads(line).get("pages", [])
        except (ValueError, AttributeError):
            break  # a torn last line
        pages += [n for n in names if isinstance(n, str) and PAGE.fullmatch(n)]
    return pages


def _holds_report(folder: Path) -> bool:
    """True when the folder's marker says it is a newsstance report with pages or an index."""
    return bool(recorded_pages(folder)) or (folder / "index.html").exists()


def check_folder(folder: Path, overwrite: bool, resume: bool) -> None:
    """Refuse a report folder that is a file, holds someone else's files, or holds a report that
    neither --overwrite nor --resume allows replacing. Touches nothing."""
    if not folder.exists():
        if resume:
            raise NewsstanceError(f"--html {folder}: the interrupted run's report folder is gone, so the report "
                                  "would link to missing pages; start again with --overwrite")
        return
    if not folder.is_dir():
        raise NewsstanceError(f"--html {folder}: is a file, not a folder; give --html a folder for the report "
                              f"(it holds index.html and one page per article)")
    if (folder / MARKER).is_file():
        if _holds_report(folder) and not (overwrite or resume):
            raise OutputExistsError(f"--html {folder}: already holds a newsstance report; pass --overwrite to replace it")
        return
    if resume or any(folder.iterdir()):
        raise OutputExistsError(f"--html {folder}: the folder is not empty and holds no newsstance report (no {MARKER}); "
                                "newsstance replaces only its own reports, even with --overwrite: give --html a new or empty folder")


def _legend() -> str:
    return '<p class="legend">' + "".join(f'<span class="{l}">{l}</span>' for l in LABELS) + "</p>"


def _document(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")


class HtmlReport:
    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def start(cls, folder: Path, version: str, resume: bool) -> "HtmlReport":
        """Open the report folder (after `check_folder`): on a resume keep it; otherwise delete only
        the pages and index a previous report recorded, and start a new marker."""
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / MARKER
        if marker.exists() and not resume:
            for name in recorded_pages(folder):
                (folder / name).unlink(missing_ok=True)
            (folder / "index.html").unlink(missing_ok=True)
            marker.unlink()
        if not marker.exists():
            write_atomic(marker, json.dumps({"newsstance": version, "report": "newsstance HTML report"}) + "\n")
        return cls(folder)

    def articles(self, items: list) -> None:
        """Pages for (article, result) pairs; their names are recorded in the marker first, so
        a run killed mid-way leaves no page that --overwrite would not remove."""
        if not items:
            return
        with (self.folder / MARKER).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"pages": [page_name(a.path, a.position) for a, _ in items]}) + "\n")
        for article, result in items:
            self.article(article, result)

    def article(self, article, result) -> None:
        """One page: the article text with each sentence wrapped in its label's colour."""
        text, parts, cursor = article.text, [], 0
        for s in result.sentences:
            parts.append(html.escape(text[cursor:s.start]))
            tip = f"{s.label} {s.score:.2f} | " + ", ".join(f"{l} {p:.2f}" for l, p in s.scores.items())
            css = f"s {s.label}" + (" uncertain" if s.uncertain else "")
            parts.append(f'<span class="{css}" title="{html.escape(tip)}">{html.escape(s.text)}</span>')
            cursor = s.end
        parts.append(html.escape(text[cursor:]))
        body = "".join(parts).replace("\n\n", "</p><p>").replace("\n", "<br>")
        heading = html.escape(article.title or article.id)
        page = (f'<p><a href="index.html">&larr; all articles</a></p><h1>{heading}</h1>{_legend()}'
                f"<p><small>{html.escape(article.path)}</small></p><p>{body}</p>")
        write_atomic(self.folder / page_name(article.path, article.position), _document(article.title or article.id, page))

    def index(self, summaries: Path) -> None:
        """index.html from the run's summary rows (JSONL)."""
        rows = [json.loads(l) for l in summaries.read_text(encoding="utf-8").splitlines() if l.strip()] if summaries.exists() else []
        lines = ["<h1>newsstance: voices per article</h1>", _legend(),
                 "<table><tr><th>article</th><th>sentences</th>" + "".join(f"<th>{l}</th>" for l in LABELS) + "<th>mix</th></tr>"]
        for r in rows:
            shares = [r.get(f"share_{l}", 0) for l in LABELS]
            bar = "".join(f'<span class="{l}" style="width:{100 * s:.1f}%"></span>' for l, s in zip(LABELS, shares))
            name = html.escape(r.get("title") or r["article_id"])
            lines.append(f'<tr><td><a href="{page_name(r["path"], r["position"])}">{name}</a></td><td>{r["sentences"]}</td>'
                         + "".join(f"<td>{s:.0%}</td>" for s in shares) + f'<td><div class="bar">{bar}</div></td></tr>')
        lines.append("</table>")
        write_atomic(self.folder / "index.html", _document("newsstance report", "".join(lines)))
