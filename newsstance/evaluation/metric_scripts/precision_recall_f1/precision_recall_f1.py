"""Per-class and macro precision, recall and F1 as one `evaluate` metric, shipped with
newsstance so it loads offline (the hub's scripts are not reachable everywhere)."""

import datasets
import evaluate
from sklearn.metrics import precision_recall_fscore_support


class PrecisionRecallF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Precision, recall and F1 per class (for `labels`) and macro-averaged over the classes present.",
            citation="",
            inputs_description="predictions, references: integer label ids; labels: the ids to report",
            features=datasets.Features({"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}),
        )

    def _compute(self, predictions, references, labels=None):
        p, r, f, support = precision_recall_fscore_support(references, predictions, labels=labels, zero_division=0)
        # macro averages over the classes that occur (in references or predictions): a class
        # absent from both has no F1, rather than an F1 of 0 that would drag the mean down
        mp, mr, mf, _ = precision_recall_fscore_support(references, predictions, average="macro", zero_division=0)
        return {
            "precision": [float(x) for x in p], "recall": [float(x) for x in r], "f1": [float(x) for x in f],
            "support": [int(x) for x in support],
            "macro_precision": float(mp), "macro_recall": float(mr), "macro_f1": float(mf),
        }
