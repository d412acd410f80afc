"""The work of one actor of the Ray engine: read a batch of files (local, or bytes through pyarrow
for URIs), segment and label them with the local engine's functions, and return their rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from newsstance.distributed.support import is_uri, load_classifier


class ArticleLabeller:
    """A Ray actor: loads the classifier once, then labels batches of files."""

    def __init__(self, model: str | None, device: str, dtype: str, batch_size: int, min_confidence: float | None,
                 fields, max_bytes: int | None, threads: int):
        self.classifier = load_classifier(model, device, dtype, threads)
        settings = self.classifier.settings
        self.threshold = min_confidence if min_confidence is not None else settings.min_confidence
        self.batch_size, self.fields, self.max_bytes = batch_size, fields, max_bytes

    def _items(self, path: str):
        from newsstance.defaults import MAX_ARTICLE_BYTES
        from newsstance.prediction.readers import Fields, ReadError, check_size, read_file

        fields, max_bytes = self.fields or Fields(), self.max_bytes or MAX_ARTICLE_BYTES
        if not is_uri(path):
            yield from read_file(Path(path), fields, max_bytes)
            return
        import pyarrow.fs as pafs

        try:
            fs, inner = pafs.FileSystem.from_uri(path)
            check_size(fs.get_file_info(inner).size, max_bytes)  # before the download
            with fs.open_input_file(inner) as handle:
                data = handle.read()
        except (OSError, ValueError) as exc:
            yield ReadError(path, str(exc))
            return
        for item in read_file(Path(inner), fields, max_bytes, data=data):
            yield replace(item, path=path)

    def __call__(self, batch: dict) -> dict:
        from newsstance.prediction.analysis import build_result
        from newsstance.prediction.batch import article_rows, error_row, prepare_article, summary_row
        from newsstance.prediction.readers import ReadError

        out = {"path": [], "rows": [], "summaries": [], "errors": []}
        pending, sentences, contexts = [], [], []
        for path in batch["path"]:
            path = str(path)
            articles, errors = [], []
            for item in self._items(path):
                prepared = item if isinstance(item, ReadError) else prepare_article(item, self.classifier)
                if isinstance(prepared, ReadError):
                    errors.append(error_row(prepared))
                    continue
                spans, sents, ctx = prepared
                articles.append((item, spans, len(sentences), len(sents)))
                sentences += sents
                contexts += ctx
            pending.append((path, articles, errors))
        probs = self.classifier.probabilities(sentences, contexts, self.batch_size) if sentences else None
        for path, articles, errors in pending:
            rows, summaries = [], []
            for article, spans, start, n in articles:
                result = build_result(article.text, spans, probs[start:start + n], self.threshold)
                rows += article_rows(article, result)
                summaries.append(summary_row(article, result))
            out["path"].append(path)
            out["rows"].append(json.dumps(rows, ensure_ascii=False))
            out["summaries"].append(json.dumps(summaries, ensure_ascii=False))
            out["errors"].append(json.dumps(errors, ensure_ascii=False))
        return {k: np.array(v, dtype=object) for k, v in out.items()}


def explode(row: dict) -> list[dict]:
    """The sentence rows of one file's result row."""
    return json.loads(row["rows"])
