"""Prediction throughput: the stock transformers pipeline vs newsstance's torch, ONNX and int8 paths.

    python benchmarks/predict_throughput.py [--model models/default] [--n 5000]

One process, one model, the same news sentences for every path. Prints sentences/s, the ratio
to the pipeline at its best batch size, the share of this CPU's measured fp32 matmul peak each
path reaches (FLOPs per sentence from the model's shape and the real token counts), the peak
memory each path adds, and label agreement with the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]


def news_sentences(n: int) -> list[str]:
    """Corpus sentences, then PolNeAR dev sentences when a copy is present: real, varied news."""
    rows = [json.loads(l) for l in (ROOT / "data" / "corpus" / "sentences.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows]
    try:
        from newsstance.data.polnear import read_polnear_labels

        for name in ("polnear_dev", "polnear_train"):
            texts += list(read_polnear_labels(ROOT / "data" / "external" / f"{name}.jsonl")["text"])
    except Exception as exc:  # no PolNeAR copy: the corpus alone
        print(f"(PolNeAR not available: {exc}; using corpus sentences only)")
    unique = list(dict.fromkeys(texts))
    if len(unique) < n:
        print(f"(only {len(unique)} distinct sentences available; using those)")
    return unique[:n]


class PeakMemory:
    """Peak resident memory above the level when entered, sampled every 5 ms."""

    def __enter__(self):
        self.process = psutil.Process()
        self.base = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.added_mb = (self.peak - self.base) / 2**20


def matmul_peak_flops(size: int = 2048, repeats: int = 10) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def flops_per_sentence(config, tokens: np.ndarray) -> float:
    """Forward FLOPs of a BERT encoder, averaged over the real token counts."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_token = 2 * (4 * h * h + 2 * h * i)  # Q, K, V, output projections and the feed-forward block
    attention = 2 * 2 * tokens.astype(float) ** 2 * h  # scores and weighted values
    return float(np.mean(layers * (per_token * tokens + attention)))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--pipeline-batch-sizes", default="1,8,32,64")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from transformers import pipeline

    from newsstance.prediction.onnx_backend import load_backend

    texts = news_sentences(args.n)
    base = load_backend(args.model)
    tokens = np.array([len(ids) for ids in base.tokenizer(texts, truncation=True, max_length=base.settings.max_length)["input_ids"]])
    flops = flops_per_sentence(base.model.config, tokens)
    peak = matmul_peak_flops()
    print(f"{len(texts)} sentences, mean {tokens.mean():.1f} tokens; torch threads {torch.get_num_threads()}; "
          f"fp32 matmul peak {peak / 1e9:.1f} GFLOP/s; {flops / 1e9:.3f} GFLOP per sentence "
          f"-> limit {peak / flops:.0f} sentences/s")

    results = {}
    pipe = pipeline("text-classification", model=args.model, tokenizer=args.model, device=-1)
    best = None
    for bs in [int(b) for b in args.pipeline_batch_sizes.split(",")]:
        sample = texts[:500]
        _, seconds = timed(lambda: pipe(sample, batch_size=bs, truncation=True, max_length=base.settings.max_length))
        rate = len(sample) / seconds
        print(f"  pipeline batch_size={bs}: {rate:.1f} sentences/s (500-sentence probe)")
        if best is None or rate > best[1]:
            best = (bs, rate)
    with PeakMemory() as memory:
        out, seconds = timed(lambda: pipe(texts, batch_size=best[0], truncation=True, max_length=base.settings.max_length))
    label_to_id = {v: k for k, v in base.model.config.id2label.items()}
    reference = np.array([label_to_id[o["label"]] for o in out])
    results[f"pipeline (batch {best[0]})"] = (len(texts) / seconds, memory.added_mb, 1.0)

    paths = [("newsstance torch fp32", dict(backend="torch")), ("newsstance onnx fp32", dict(backend="onnx")),
             ("newsstance onnx int8", dict(backend="onnx", quantize="int8"))]
    latency = {}
    for name, kwargs in paths:
        classifier = load_backend(args.model, **kwargs)
        classifier.probabilities(texts[:64])  # warm-up (and ONNX export on first use)
        with PeakMemory() as memory:
            probs, seconds = timed(lambda: classifier.probabilities(texts, batch_size=64))
        agreement = float((probs.argmax(axis=1) == reference).mean())
        results[name] = (len(texts) / seconds, memory.added_mb, agreement)
        if getattr(classifier, "fallback", None) is not None:
            print(f"  {name}: {classifier.fallback_rows} of {len(texts) + 64} rows (with the warm-up) re-run in fp32 as near-ties")
        singles = []
        for text in texts[:200]:  # one sentence per call, as classify("...") does
            singles.append(timed(lambda: classifier.probabilities([text]))[1])
        latency[name] = 1000 * float(np.median(singles))


    pipeline_rate = next(iter(results.values()))[0]
    print("\n| path | sentences/s | x pipeline | share of fp32 matmul peak | peak memory added (MB) | label agreement with pipeline |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (rate, mb, agreement) in results.items():
        print(f"| {name} | {rate:.1f} | {rate / pipeline_rate:.2f} | {rate * flops / peak:.0%} | {mb:.0f} | {agreement:.2%} |")
    print("\nOne sentence per call (median of 200 calls): " + ", ".join(f"{n} {ms:.1f} ms" for n, ms in latency.items()))


if __name__ == "__main__":
    main()
