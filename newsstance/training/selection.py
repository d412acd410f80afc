"""Checkpoint selection and early stopping on the mean of several validation sets.

The Trainer evaluates a dict of validation sets one after another and prefixes each set's
metrics (`eval_<set>_macro_f1`); it picks the best checkpoint by one metric name. This callback,
composed into the Trainer, waits until every selection set of one evaluation round has been
scored, adds their mean as `eval_select_<metric>` to the metrics of the round's last set (the
dict the Trainer merges and then checks), and stops training after `patience` rounds without
improvement, as the Trainer's own EarlyStoppingCallback would on a single set.
"""

from __future__ import annotations

import logging

import numpy as np
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

SELECT_PREFIX = "select"


def selection_metric(metric: str) -> str:
    """The metric name the Trainer selects on (`metric_for_best_model`)."""
    return f"{SELECT_PREFIX}_{metric}"


class MeanOfSetsSelection(TrainerCallback):
    def __init__(self, sets: list[str], metric: str, greater_is_better: bool, patience: int | None):
        self.sets, self.metric, self.greater = list(sets), metric, greater_is_better
        self.patience = patience
        self.round: dict[str, float] = {}
        self.best: float | None = None
        self.stale = 0

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics:
            return
        for name in self.sets:
            key = f"eval_{name}_{self.metric}"
            if key in metrics:
                self.round[name] = float(metrics[key])
        if len(self.round) < len(self.sets):
            return  # more sets of this round still to come
        value = float(np.mean([self.round[name] for name in self.sets]))
        self.round = {}
        metrics[f"eval_{selection_metric(self.metric)}"] = value
        better = self.best is None or (value > self.best if self.greater else value < self.best)
        if better:
            self.best, self.stale = value, 0
        else:
            self.stale += 1
        logger.info("selection: mean %s over %s = %.4f (best %.4f)", self.metric, "+".join(self.sets), value, self.best)
        if self.patience and self.stale >= self.patience:
            logger.info("early stopping: no improvement in %d evaluations", self.stale)
            control.should_training_stop = True

    def on_train_begin(self, args, state, control, **kwargs):
        # a resumed run continues from the best value its checkpoint recorded
        if state.best_metric is not None and self.best is None:
            self.best = float(state.best_metric)
