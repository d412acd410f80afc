"""Temperature scaling (Guo et al., 2017) and expected calibration error.

One scalar T divides the logits; it is fitted on the validation split by minimising the
negative log-likelihood, so the predicted label never changes, only the confidence.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels)

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def calibrate(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Fit T and report ECE before and after."""
    t = fit_temperature(logits, labels)
    return {
        "temperature": t,
        "ece_before": expected_calibration_error(softmax(logits, axis=1), labels),
        "ece_after": expected_calibration_error(softmax(logits / t, axis=1), labels),
    }
