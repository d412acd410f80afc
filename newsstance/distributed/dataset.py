"""`classify_dataset`: labels for a Ray Dataset of sentences you already have."""

from __future__ import annotations

from newsstance.defaults import BATCH_SIZE
from newsstance.distributed.support import load_classifier, require_ray
from newsstance.errors import NewsstanceError
from newsstance.labels import LABELS


class SentenceLabeller:
    """A Ray actor adding label, score, uncertain and p_<label> columns to sentence batches."""

    def __init__(self, model, text_column: str, batch_size: int, device: str, dtype: str, threads: int):
        self.classifier = load_classifier(model, device, dtype, threads)
        self.text_column, self.batch_size = text_column, batch_size

    def __call__(self, batch):
        texts = [str(t) for t in batch[self.text_column]]
        # sentences without their neighbours, as classify() gives them (a context model sees empty context)
        probs = self.classifier.probabilities(texts, self.classifier.contexts(len(texts), None, None), self.batch_size)
        threshold = self.classifier.settings.min_confidence or 0.0
        batch["label"] = [LABELS[int(i)] for i in probs.argmax(axis=1)]
        batch["score"] = probs.max(axis=1)
        batch["uncertain"] = probs.max(axis=1) < threshold
        for k, label in enumerate(LABELS):
            batch[f"p_{label}"] = probs[:, k]
        return batch


def classify_dataset(ds, text_column: str = "text", model: str | None = None, batch_size: int = BATCH_SIZE,
                     workers: int = 1, device: str = "cpu", dtype: str = "auto", threads: int = 1):
    """`ds` (a Ray Dataset with one sentence per row in `text_column`) with `label`, `score`,
    `uncertain` and `p_<label>` columns added, computed by `workers` actors (one model load each)."""
    ray = require_ray()
    if text_column not in ds.columns():
        raise NewsstanceError(f"classify_dataset: no column {text_column!r} in the dataset (it has {ds.columns()}); "
                              "pass text_column=")
    return ds.map_batches(SentenceLabeller, batch_size=batch_size, batch_format="pandas",
                          compute=ray.data.ActorPoolStrategy(size=workers),
                          num_cpus=threads, num_gpus=1 if str(device).startswith("cuda") else 0,
                          fn_constructor_kwargs={"model": model, "text_column": text_column, "batch_size": batch_size,
                                                 "device": device, "dtype": dtype, "threads": threads})
