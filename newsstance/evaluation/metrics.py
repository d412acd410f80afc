"""Classification metrics through the `evaluate` library, loaded from scripts shipped inside
the package so they work offline; the confusion matrix comes from scikit-learn."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from newsstance.labels import LABELS

SCRIPTS = Path(__file__).parent / "metric_scripts"


@lru_cache(maxsize=None)
def _metric(name: str):
    import evaluate

    # a local script path: evaluate imports it without contacting the hub
    return evaluate.load(str(SCRIPTS / name / f"{name}.py"))


def classification_metrics(references: Sequence[int], predictions: Sequence[int]) -> dict:
    """Accuracy, macro-F1 (the headline), per-class P/R/F1/support and the confusion matrix."""
    from sklearn.metrics import confusion_matrix

    refs = [int(x) for x in references]
    preds = [int(x) for x in predictions]
    ids = list(range(len(LABELS)))
    acc = _metric("accuracy").compute(predictions=preds, references=refs)["accuracy"]
    prf = _metric("precision_recall_f1").compute(predictions=preds, references=refs, labels=ids)
    per_class = {
        label: {"precision": prf["precision"][i], "recall": prf["recall"][i], "f1": prf["f1"][i], "support": prf["support"][i]}
        for i, label in enumerate(LABELS)
    }
    return {
        "n": len(refs),
        "accuracy": acc,
        "macro_f1": prf["macro_f1"],
        "macro_precision": prf["macro_precision"],
        "macro_recall": prf["macro_recall"],
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(refs, preds, labels=ids).tolist(),
    }


def trainer_metrics(eval_prediction) -> dict:
    """`compute_metrics` for the Trainer. Uses the returned `label_ids`: with length grouping
    the Trainer reorders evaluation batches, so the input order must never be assumed."""
    logits = eval_prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    preds = np.asarray(logits).argmax(axis=-1)
    m = classification_metrics(eval_prediction.label_ids, preds)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
