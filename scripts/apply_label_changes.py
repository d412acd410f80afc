"""Apply reviewed label corrections to the shipped data and log every change.

    python scripts/apply_label_changes.py CHANGES.jsonl [--dry-run]

Each line of CHANGES.jsonl is one correction decided by a person reviewing the label audit
(`newsstance audit`): {"source", "doc_id", "sentence_index", "old", "new", "reason"} where
`source` and `doc_id` are as in the audit's label_issues.csv. Authored sentences are changed in
data/corpus/source/ (then data/corpus/*.jsonl are rebuilt by scripts/build_corpus.py); PolNeAR
rows in data/external/polnear_*.jsonl. A row whose current label is not `old` is refused, so a
change is applied once. Every applied change is appended to data/label_changes.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from newsstance.files import iter_jsonl, write_jsonl_atomic
from newsstance.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
LOG = DATA / "label_changes.jsonl"


def _authored_sources() -> dict[str, tuple[Path, int]]:
    """article id -> (source file, line index)."""
    where = {}
    for path in sorted((DATA / "corpus" / "source").glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            where[json.loads(line)["id"]] = (path, i)
    return where


def apply(changes: list[dict], dry_run: bool) -> list[str]:
    problems, applied = [], []
    sources = _authored_sources()
    files: dict[Path, list] = {}
    for n, c in enumerate(changes, start=1):
        if c.get("new") not in LABELS or c.get("old") not in LABELS or c["new"] == c["old"]:
            problems.append(f"change {n}: old/new must be two different labels of {LABELS}, got {c.get('old')!r} -> {c.get('new')!r}")
            continue
        if not str(c.get("reason", "")).strip():
            problems.append(f"change {n}: give the reason (the guideline rule that decides it)")
            continue
        doc, index = str(c["doc_id"]), int(c["sentence_index"])
        if "polnear" in str(c["source"]):
            path = ROOT / str(c["source"]).split("[")[0]
            rows = files.setdefault(path, [r for _, r in iter_jsonl(path)])
            hits = [r for r in rows if r["file"] == doc and r["sentence_index"] == index]
            if len(hits) != 1 or hits[0]["label"] != c["old"]:
                problems.append(f"change {n}: {path.name} has {len(hits)} row(s) for {doc}#{index}"
                                + (f" labelled {hits[0]['label']!r}, not {c['old']!r}" if hits else ""))
                continue
            hits[0]["label"] = c["new"]
        else:
            if doc not in sources:
                problems.append(f"change {n}: no authored article {doc!r} in data/corpus/source/")
                continue
            path, line = sources[doc]
            articles = files.setdefault(path, [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()])
            article = articles[line]
            if index == 0:
                current, setter = article["headline_label"], lambda a=article: a.__setitem__("headline_label", c["new"])
            else:
                pairs = [pair for paragraph in article["paragraphs"] for pair in paragraph]
                if index > len(pairs):
                    problems.append(f"change {n}: {doc} has no sentence {index}")
                    continue
                current, setter = pairs[index - 1][1], lambda p=pairs[index - 1]: p.__setitem__(1, c["new"])
            if current != c["old"]:
                problems.append(f"change {n}: {doc}#{index} is labelled {current!r}, not {c['old']!r}")
                continue
            setter()
        applied.append({k: c[k] for k in ("source", "doc_id", "sentence_index", "old", "new", "reason")} | {
            k: c[k] for k in ("audit_rank", "audit_round") if k in c})
    if problems or dry_run:
        return problems
    for path, rows in files.items():
        write_jsonl_atomic(path, rows)
    if any("source" in p.parts for p in files):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_corpus.py")], check=True)
    write_jsonl_atomic(LOG, ([r for _, r in iter_jsonl(LOG)] if LOG.exists() else []) + applied)
    print(f"{len(applied)} change(s) applied and logged in {LOG.relative_to(ROOT)}")
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("changes", type=Path)
    parser.add_argument("--dry-run", action="store_true", help="check every change, write nothing")
    args = parser.parse_args()
    problems = apply([r for _, r in iter_jsonl(args.changes)], args.dry_run)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
