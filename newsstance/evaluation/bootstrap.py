"""Bootstrap confidence intervals resampled by article, not by sentence.

Sentences of one article are not independent (same writer, same story), so each resample
draws whole articles with replacement. A resample is expressed as per-row sample weights
(how often the row's article was drawn). All resamples are scored at once from their weighted
confusion matrices, with scikit-learn's definitions (zero_division=0; macro-F1 over the labels
present); a thousand calls of scikit-learn's validating metric functions took most of an
evaluation's time. The point estimates elsewhere are scikit-learn's own; the tests check that
both agree resample for resample.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from newsstance.defaults import SEED
from newsstance.labels import LABELS

DEFAULT_RESAMPLES = 1000


def article_weights(doc_ids: Sequence[str], n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_rows) weights: row weight = times its article was drawn."""
    docs, row_doc = np.unique(np.asarray(doc_ids, dtype=str), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(docs), size=(n_resamples, len(docs)))
    counts = np.stack([np.bincount(d, minlength=len(docs)) for d in draws])
    return counts[:, row_doc]


def _scores(refs, preds, weights) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:
    """Accuracy, per-class P/R/F1 for all labels, and macro-F1 over the labels present, as the
    point estimate defines it (a label absent from a resample's gold and predictions is skipped)."""
    ids = list(range(len(LABELS)))
    p, r, f, _ = precision_recall_fscore_support(refs, preds, labels=ids, sample_weight=weights, zero_division=0)
    drawn = np.ones(len(refs), bool) if weights is None else np.asarray(weights) > 0
    present = np.isin(ids, np.concatenate([refs[drawn], preds[drawn]]))
    return accuracy_score(refs, preds, sample_weight=weights), p, r, f, float(f[present].mean())


def _resample_scores(refs, preds, weights: np.ndarray) -> dict[str, np.ndarray]:
    """`_scores` for every row of `weights` (n_resamples, n_rows) at once: accuracy and macro-F1
    (n_resamples,), precision, recall and F1 (n_resamples, n_labels)."""
    k = len(LABELS)
    refs, preds = np.asarray(refs, dtype=int), np.asarray(preds, dtype=int)
    if len(refs) == 0 or len(refs) != len(preds) or not (0 <= min(refs.min(), preds.min()) <= max(refs.max(), preds.max()) < k):
        raise ValueError(f"bootstrap: expected as many predictions as gold labels (at least one), as label ids 0 to "
                         f"{k - 1}; got {len(refs)} gold and {len(preds)} predicted")
    pair = np.zeros((len(refs), k * k))
    pair[np.arange(len(refs)), refs * k + preds] = 1.0
    confusion = (weights @ pair).reshape(len(weights), k, k)  # [resample, gold, predicted]
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    gold, predicted = confusion.sum(axis=2), confusion.sum(axis=1)

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    f1 = ratio(2 * tp, gold + predicted)
    present = (gold + predicted) > 0
    return {"accuracy": tp.sum(axis=1) / confusion.sum(axis=(1, 2)), "precision": ratio(tp, predicted),
            "recall": ratio(tp, gold), "f1": f1, "macro_f1": (f1 * present).sum(axis=1) / present.sum(axis=1)}


def bootstrap_ci(doc_ids, refs, preds, n_resamples: int = DEFAULT_RESAMPLES, seed: int = SEED, level: float = 0.95) -> dict:
    """Percentile intervals for accuracy, macro-F1 and per-class precision/recall/F1."""
    scores = _resample_scores(np.asarray(refs), np.asarray(preds), article_weights(doc_ids, n_resamples, seed))
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    interval = lambda values: [float(np.percentile(values, lo)), float(np.percentile(values, hi))]  # noqa: E731
    return {
        "level": level, "resamples": n_resamples, "unit": "article",
        "accuracy": interval(scores["accuracy"]),
        "macro_f1": interval(scores["macro_f1"]),
        "per_class": {
            label: {name: interval(scores[name][:, i]) for name in ("precision", "recall", "f1")}
            for i, label in enumerate(LABELS)
        },
    }


def paired_difference_ci(doc_ids, refs, preds_a, preds_b, n_resamples: int = DEFAULT_RESAMPLES, seed: int = SEED) -> dict:
    """Macro-F1 of b minus a on the same rows, with an article-level paired bootstrap interval."""
    refs, preds_a, preds_b = np.asarray(refs), np.asarray(preds_a), np.asarray(preds_b)
    point = _scores(refs, preds_b, None)[4] - _scores(refs, preds_a, None)[4]
    weights = article_weights(doc_ids, n_resamples, seed)
    deltas = _resample_scores(refs, preds_b, weights)["macro_f1"] - _resample_scores(refs, preds_a, weights)["macro_f1"]
    return {"delta_macro_f1": float(point), "ci": [float(np.percentile(deltas, 2.5)), float(np.percentile(deltas, 97.5))],
            "share_of_resamples_b_better": float(np.mean(deltas > 0))}
