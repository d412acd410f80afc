"""Sentences/s of `newsstance predict` (local engine, torch fp32) for several model folders.

    python benchmarks/model_speed.py models/default models/teacher [--articles 100] [--sentences-per-article 20]

The same folder of text articles (distinct news sentences, as in ray_throughput.py) for every
model, run in turn in this process after one warm-up article; on a quiet machine, compare the
rows of one run (this VM's speed drifts 10-15% from minute to minute).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ray_throughput import write_articles  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders")
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--sentences-per-article", type=int, default=20)
    args = parser.parse_args()

    from newsstance.prediction.batch import PredictOptions, run_predict

    rows = []
    with tempfile.TemporaryDirectory(prefix="speed-") as tmp:
        folder = Path(tmp) / "articles"
        write_articles(folder, args.articles, args.sentences_per_article)
        warm = next(folder.iterdir())
        for i, model in enumerate(args.models):
            run_predict(PredictOptions(paths=[str(warm)], output=str(Path(tmp) / f"warm{i}.jsonl"), model=model),
                        progress=False)
            started = time.perf_counter()
            stats = run_predict(PredictOptions(paths=[str(folder)], output=str(Path(tmp) / f"out{i}.jsonl"), model=model),
                                progress=False)
            seconds = time.perf_counter() - started
            rows.append((model, stats.sentences, seconds))
    print(f"\n{args.articles} articles, {rows[0][1]:,} sentences through `newsstance predict`\n")
    print("| model | sentences/s | seconds | x first |")
    print("| --- | --- | --- | --- |")
    for model, sentences, seconds in rows:
        print(f"| {model} | {sentences / seconds:.1f} | {seconds:.1f} | {(sentences / seconds) / (rows[0][1] / rows[0][2]):.2f} |")


if __name__ == "__main__":
    main()
