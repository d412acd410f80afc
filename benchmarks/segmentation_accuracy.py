"""Sentence segmentation against the corpus's gold sentence boundaries.

    python benchmarks/segmentation_accuracy.py

Every authored and challenge article is segmented by newsstance's segmenter; a predicted
sentence counts as correct when its (start, end) offsets equal a gold sentence's exactly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from newsstance.prediction.segmentation import segment

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    articles = [json.loads(l) for l in (ROOT / "data" / "corpus" / "articles.jsonl").read_text().splitlines()]
    gold: dict[str, set] = {}
    for line in (ROOT / "data" / "corpus" / "sentences.jsonl").read_text().splitlines():
        r = json.loads(line)
        gold.setdefault(r["doc_id"], set()).add((r["start"], r["end"]))
    tp = fp = fn = 0
    start = time.perf_counter()
    for a in articles:
        predicted = {(s.start, s.end) for s in segment(a["text"])}
        tp += len(predicted & gold[a["id"]])
        fp += len(predicted - gold[a["id"]])
        fn += len(gold[a["id"]] - predicted)
    seconds = time.perf_counter() - start
    print(f"{len(articles)} articles, {tp + fn} gold sentences: exact-boundary precision {tp / (tp + fp):.4f}, "
          f"recall {tp / (tp + fn):.4f} ({fp} extra, {fn} missed); {(tp + fp) / seconds:.0f} sentences/s")


if __name__ == "__main__":
    main()
