"""Label counts per split and per topic, as tabled in data/DATASHEET.md.

    python scripts/corpus_stats.py
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

LABELS = ("official_position", "third_party_skepticism", "neutral_reporting")
DATA = Path(__file__).resolve().parents[1] / "data"


def table(title: str, groups: dict[str, Counter], articles: dict[str, set]) -> None:
    print(f"\n### {title}\n")
    print("| | articles | sentences | " + " | ".join(LABELS) + " |")
    print("| --- | --- | --- |" + " --- |" * len(LABELS))
    for name in groups:
        c = groups[name]
        total = sum(c.values())
        cells = " | ".join(f"{c[l]} ({c[l] / total:.0%})" for l in LABELS)
        print(f"| {name} | {len(articles[name])} | {total} | {cells} |")


def main() -> None:
    rows = [json.loads(l) for l in (DATA / "corpus" / "sentences.jsonl").read_text().splitlines()]
    by_split, by_topic = defaultdict(Counter), defaultdict(Counter)
    split_docs, topic_docs = defaultdict(set), defaultdict(set)
    for r in rows:
        by_split[r["split"]][r["label"]] += 1
        split_docs[r["split"]].add(r["doc_id"])
        if r["split"] != "challenge":
            by_topic[r["topic"]][r["label"]] += 1
            topic_docs[r["topic"]].add(r["doc_id"])
    for name in ("polnear_train", "polnear_dev"):
        for line in (DATA / "external" / f"{name}.jsonl").read_text().splitlines():
            r = json.loads(line)
            for group in (name, f"{name} [{r['split']}]") if "split" in r else (name,):
                by_split[group][r["label"]] += 1
                split_docs[group].add(r["file"])
    table("Per split", dict(by_split), split_docs)
    table("Per topic (authored train/validation/test)", dict(sorted(by_topic.items())), topic_docs)


if __name__ == "__main__":
    main()
