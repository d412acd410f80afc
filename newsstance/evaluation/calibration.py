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
    return float(sum(b["n"] * abs(b["accuracy"] - b["confidence"]) for b in reliability(probs, labels, bins) if b["n"]) / len(probs))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """Per confidence bin: range, count, mean confidence and accuracy (the reliability diagram)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return [
        {"low": float(edges[b]), "high": float(edges[b + 1]), "n": int((which == b).sum()),
         "confidence": float(confidence[which == b].mean()) if (which == b).any() else None,
         "accuracy": float(correct[which == b].mean()) if (which == b).any() else None}
        for b in range(bins)
    ]


COVERAGE_THRESHOLDS = (0.34, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def coverage_curve(probs: np.ndarray, labels: np.ndarray, thresholds=COVERAGE_THRESHOLDS) -> list[dict]:
    """How many sentences the model answers at each confidence level, and how accurately."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    out = []
    for t in thresholds:
        kept = confidence >= t
        out.append({"threshold": float(t), "coverage": float(kept.mean()),
                    "accuracy": float(correct[kept].mean()) if kept.any() else None})
    return out


TARGET_ACCURACY = 0.90
MIN_COVERAGE = 0.5


def choose_min_confidence(probs: np.ndarray, labels: np.ndarray) -> float:
    """The default `--min-confidence`: the lowest threshold at which the sentences answered on
    validation are at least 90% accurate, but never one that leaves fewer than half answered."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    floor = float(np.quantile(confidence, 1 - MIN_COVERAGE))
    for t in np.arange(0.34, 1.0, 0.01):
        kept = confidence >= t
        if kept.any() and correct[kept].mean() >= TARGET_ACCURACY:
            return round(float(min(t, floor)), 2)
    return round(floor, 2)


def calibrate(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Fit T on validation; report ECE before and after and the chosen default threshold."""
    t = fit_temperature(logits, labels)
    calibrated = softmax(logits / t, axis=1)
    return {
        "temperature": t,
        "ece_before": expected_calibration_error(softmax(logits, axis=1), labels),
        "ece_after": expected_calibration_error(calibrated, labels),
        "min_confidence": choose_min_confidence(calibrated, labels),
        "min_confidence_rule": f"lowest threshold with validation accuracy >= {TARGET_ACCURACY} on the answered "
                               f"sentences, keeping at least {MIN_COVERAGE:.0%} of them",
    }
