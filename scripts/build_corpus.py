"""Build data/corpus/{articles,sentences}.jsonl from the authored sources in data/corpus/source/.

Each source line is one article written for this project: headline and paragraphs of
[sentence, label] pairs. The article text is the headline, a blank line, then the paragraphs
(sentences joined by one space, paragraphs by a blank line), so every sentence's character
offsets are exact. Splits are assigned by article, per topic, with a fixed seed.

    python scripts/build_corpus.py
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "data" / "corpus"
SEED = 2026


def assemble(article: dict) -> tuple[str, list[dict]]:
    text, rows = "", []

    def add(sentence: str, label: str, sep: str) -> None:
        nonlocal text
        text += sep if text else ""
        start = len(text)
        text += sentence
        rows.append({"sentence_index": len(rows), "start": start, "end": len(text), "text": sentence, "label": label})

    add(article["headline"].strip(), article["headline_label"], "")
    for paragraph in article["paragraphs"]:
        for k, (sentence, label) in enumerate(paragraph):
            add(sentence.strip(), label, " " if k else "\n\n")
    return text, rows


# 14 train, 3 validation, 3 test in every run of 20 articles, spread out
PATTERN = ("train", "train", "validation", "train", "train", "test", "train", "train", "train", "validation",
           "train", "train", "test", "train", "train", "train", "validation", "train", "test", "train")


def assign_splits(articles: list[dict], fixed: dict[str, str]) -> None:
    """70/15/15 by article: articles ordered by topic (shuffled within it) take the pattern in
    turn, so every topic is spread over the splits and the fractions hold overall. Articles
    already in articles.jsonl keep their split (`fixed`): adding articles never moves old ones."""
    for a in articles:
        if a["id"] in fixed:
            a["split"] = fixed[a["id"]]
    articles = [a for a in articles if a["id"] not in fixed]
    rng = random.Random(SEED)
    by_topic = defaultdict(list)
    for a in articles:
        by_topic[a["topic"]].append(a)
    ordered = []
    for topic in sorted(by_topic):
        group = sorted(by_topic[topic], key=lambda a: a["id"])
        rng.shuffle(group)
        ordered += group
    for i, a in enumerate(ordered):
        a["split"] = PATTERN[i % len(PATTERN)]


def load_adjudications() -> dict[tuple[str, int], str]:
    """Final labels decided after the second, independent pass (data/corpus/adjudication.jsonl)."""
    path = ROOT / "adjudication.jsonl"
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(r["doc_id"], r["sentence_index"]): r["final"] for r in rows}


def main() -> None:
    adjudicated = load_adjudications()
    authored, challenge = [], []
    for path in sorted((ROOT / "source").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                (challenge if path.stem == "challenge" else authored).append(json.loads(line))
    existing = ROOT / "articles.jsonl"
    fixed = {}
    if existing.exists():
        fixed = {a["id"]: a["split"] for a in map(json.loads, existing.read_text(encoding="utf-8").splitlines())}
    assign_splits(authored, fixed)
    for a in challenge:
        a["split"] = "challenge"
    with (ROOT / "articles.jsonl").open("w", encoding="utf-8") as arts, (ROOT / "sentences.jsonl").open("w", encoding="utf-8") as sents:
        for a in authored + challenge:
            text, rows = assemble(a)
            meta = {k: a[k] for k in ("id", "headline", "topic", "genre", "country", "date", "split")}
            arts.write(json.dumps({**meta, "text": text}, ensure_ascii=False) + "\n")
            for r in rows:
                assert text[r["start"]:r["end"]] == r["text"]
                r["label"] = adjudicated.get((a["id"], r["sentence_index"]), r["label"])
                sents.write(json.dumps({"doc_id": a["id"], **r, "split": a["split"], "topic": a["topic"], "genre": a["genre"]}, ensure_ascii=False) + "\n")
    print(f"{len(authored)} authored + {len(challenge)} challenge articles written to {ROOT}")


if __name__ == "__main__":
    main()
