"""Defaults shared by the CLI, the library and the config: each defined once, here.

The config's own defaults (training hyper-parameters) live in `newsstance.config`; the values
below are the ones several layers repeat (batch size, size limits, seed, formats, suffixes).
"""

from __future__ import annotations

BATCH_SIZE = 64  # sentences per inference batch (Classifier, predict, evaluate)
MAX_ARTICLE_BYTES = 20 * 1024 * 1024  # a single article file above this is recorded and skipped
SEED = 13  # training, splits, bootstrap resamples and baselines
OUTPUT_FORMATS = ("jsonl", "csv", "parquet")  # `newsstance predict -o` formats
ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".csv")  # readable article files
