"""Segmentation time of single-line articles as they grow: it should be linear in their size.

    python benchmarks/long_article.py [--sizes 0.5 2 5 20] [--unwindowed-sizes 0.05 0.1 0.2]

Each article is one line of real news prose: the project corpus's articles (data/corpus/
articles.jsonl, their line breaks turned into spaces), repeated in a shuffled order until the
line reaches the size in MB (UTF-8). Prints CPU seconds (this process's, so other work on a
shared machine does not blur the ratios), wall seconds, and CPU seconds per MB for `segment()` on
each, and checks that every span is exact (`text[start:end]` is a stripped, non-empty sentence).
`--unwindowed-sizes` also times pySBD on the whole line (no windows), the behaviour before
windowing, for a few small sizes: its seconds per MB grow with the size.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from newsstance.prediction import segmentation

ROOT = Path(__file__).resolve().parents[1]
FALLBACK = ROOT / "tests" / "fixtures" / "segmentation_cases.json"
MB = 1024 * 1024


def paragraphs() -> list[str]:
    """The corpus's articles as single lines, else the segmentation test cases."""
    corpus = ROOT / "data" / "corpus" / "articles.jsonl"
    if corpus.exists():
        rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts = [row["text"] for row in rows]
    else:
        print(f"({corpus} not found; using the segmentation test cases)")
        texts = [case["text"] for case in json.loads(FALLBACK.read_text(encoding="utf-8"))]
    return [" ".join(text.split()) for text in texts]


def single_line_article(size_mb: float, pool: list[str], seed: int = 0) -> str:
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size_mb * MB:
        part = rng.choice(pool)
        parts.append(part)
        total += len(part.encode("utf-8")) + 1
    return " ".join(parts)


def timed(text: str, window: int) -> tuple[float, float, int]:
    segmentation.WINDOW = window
    wall, cpu = time.perf_counter(), time.process_time()
    spans = segmentation.segment(text)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for span in spans:
        sentence = text[span.start:span.end]
        if not sentence or sentence != sentence.strip():
            raise SystemExit(f"inexact span {span}: {sentence[:60]!r}")
    return cpu, wall, len(spans)


def table(title: str, sizes: list[float], window: int, pool: list[str]) -> None:
    print(f"\n{title}")
    print(f"{'MB':>6} {'characters':>12} {'sentences':>10} {'CPU s':>8} {'wall s':>8} {'CPU s/MB':>9} {'vs first':>9}")
    first = None
    for size in sizes:
        text = single_line_article(size, pool)
        cpu, wall, n = timed(text, window)
        mb = len(text.encode("utf-8")) / MB
        per_mb = cpu / mb
        first = first or per_mb
        print(f"{mb:6.2f} {len(text):12,} {n:10,} {cpu:8.2f} {wall:8.2f} {per_mb:9.2f} {per_mb / first:9.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.5, 2, 5, 20], help="article sizes in MB")
    parser.add_argument("--unwindowed-sizes", type=float, nargs="*", default=[],
                        help="also time pySBD on the whole line at these (small) sizes in MB")
    args = parser.parse_args()
    pool = paragraphs()
    window = segmentation.WINDOW
    segmentation.segment("Warm up. The segmenter loads once.")
    table(f"segment() with windows of {window:,} characters", args.sizes, window, pool)
    if args.unwindowed_sizes:
        table("pySBD on the whole line (no windows)", args.unwindowed_sizes, 10**12, pool)


if __name__ == "__main__":
    main()
