"""Reference points every report shows on the same split: the majority class and
TF-IDF + logistic regression (scikit-learn), both fitted on the training split."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from newsstance.defaults import SEED
from newsstance.labels import LABEL2ID


def majority_baseline(train_labels: Sequence[str], n: int) -> np.ndarray:
    ids = np.array([LABEL2ID[l] for l in train_labels])
    return np.full(n, np.bincount(ids, minlength=len(LABEL2ID)).argmax())


def tfidf_logreg_baseline(train_texts: Sequence[str], train_labels: Sequence[str], seed: int = SEED):
    """A fitted pipeline: word 1-2 grams, sublinear tf, class-balanced logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced", random_state=seed),
    )
    return pipeline.fit(list(train_texts), [LABEL2ID[l] for l in train_labels])
