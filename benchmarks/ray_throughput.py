"""Batch prediction throughput: the local engine against the Ray engine with 1 and 2 workers.

    python benchmarks/ray_throughput.py [--model models/default] [--articles 300] [--sentences-per-article 20]
                                        [--workers 1 2]

Writes a folder of `--articles` text articles made of distinct news sentences (the corpus, then
PolNeAR when a copy is present), runs `newsstance predict` on it with the local engine and with
`--engine ray` on a local Ray instance at each worker count (each actor one torch thread and one
CPU), and prints articles/s, sentences/s and, against the local engine, Ray's added seconds per
article (start-up of the instance excluded: it is paid once per cluster, not per run).
Needs `pip install "newsstance[ray]"`; on a quiet machine (compare the rows of one run).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from predict_throughput import news_sentences  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def write_articles(folder: Path, articles: int, per_article: int) -> int:
    sentences = news_sentences(articles * per_article)
    folder.mkdir(parents=True)
    total = 0
    for i in range(articles):
        part = sentences[i * per_article:(i + 1) * per_article] or sentences[:per_article]
        (folder / f"article{i:05d}.txt").write_text(f"Article {i}\n\n" + " ".join(part) + "\n", encoding="utf-8")
        total += len(part)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--sentences-per-article", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    import ray

    from newsstance.distributed import RayOptions, run_ray_predict
    from newsstance.prediction.batch import PredictOptions, run_predict

    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        folder = Path(tmp) / "articles"
        write_articles(folder, args.articles, args.sentences_per_article)
        results = []
        started = time.perf_counter()
        stats = run_predict(PredictOptions(paths=[str(folder)], output=str(Path(tmp) / "local.jsonl"),
                                           model=args.model), progress=False)
        local_s = time.perf_counter() - started
        results.append(("local engine (torch's default threads)", stats.articles, stats.sentences, local_s))
        ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False)
        try:
            for workers in args.workers:
                started = time.perf_counter()
                counts = run_ray_predict(RayOptions(paths=[str(folder)], output=str(Path(tmp) / f"ray{workers}"),
                                                    model=args.model, workers=workers, threads=1),
                                         progress=lambda m: None)
                results.append((f"ray engine, {workers} worker(s) x 1 thread", counts["articles"], counts["sentences"],
                                time.perf_counter() - started))
        finally:
            ray.shutdown()

    print(f"\n{args.articles} articles, {results[0][2]:,} sentences, model {args.model}\n")
    print("| engine | articles/s | sentences/s | seconds | added s per article vs local |")
    print("| --- | --- | --- | --- | --- |")
    for name, articles, sentences, seconds in results:
        added = (seconds - local_s) / articles
        print(f"| {name} | {articles / seconds:.1f} | {sentences / seconds:.1f} | {seconds:.1f} | "
              f"{'' if name.startswith('local') else f'{added:+.4f}'} |")
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
