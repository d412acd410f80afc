"""Bootstrap confidence intervals resampled by article, not by sentence.

Sentences of one article are not independent (same writer, same story), so each resample
draws whole articles with replacement. A resample is expressed as per-row sample weights
(how often the row's article was drawn), and scored by scikit-learn's own metrics.
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


def bootstrap_ci(doc_ids, refs, preds, n_resamples: int = DEFAULT_RESAMPLES, seed: int = SEED, level: float = 0.95) -> dict:
    """Percentile intervals for accuracy, macro-F1 and per-class precision/recall/F1."""
    refs, preds = np.asarray(refs), np.asarray(preds)
    acc, prec, rec, f1, macro = [], [], [], [], []
    for w in article_weights(doc_ids, n_resamples, seed):
        a, p, r, f, m = _scores(refs, preds, w)
        acc.append(a), prec.append(p), rec.append(r), f1.append(f), macro.append(m)
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    interval = lambda values: [float(np.percentile(values, lo)), float(np.percentile(values, hi))]  # noqa: E731
    f1 = np.array(f1)
    return {
        "level": level, "resamples": n_resamples, "unit": "article",
        "accuracy": interval(acc),
        "macro_f1": interval(macro),
        "per_class": {
            label: {"precision": interval(np.array(prec)[:, i]), "recall": interval(np.array(rec)[:, i]), "f1": interval(f1[:, i])}
            for i, label in enumerate(LABELS)
        },
    }


def paired_difference_ci(doc_ids, refs, preds_a, preds_b, n_resamples: int = DEFAULT_RESAMPLES, seed: int = SEED) -> dict:
    """Macro-F1 of b minus a on the same rows, with an article-level paired bootstrap interval."""
    refs, preds_a, preds_b = np.asarray(refs), np.asarray(preds_a), np.asarray(preds_b)
    point = _scores(refs, preds_b, None)[4] - _scores(refs, preds_a, None)[4]
    deltas = [_scores(refs, preds_b, w)[4] - _scores(refs, preds_a, w)[4] for w in article_weights(doc_ids, n_resamples, seed)]
    return {"delta_macro_f1": float(point), "ci": [float(np.percentile(deltas, 2.5)), float(np.percentile(deltas, 97.5))],
            "share_of_resamples_b_better": float(np.mean(np.array(deltas) > 0))}
