"""newsstance: whose voice each sentence of a news article carries.

    from newsstance import classify
    classify("The ministry said it would appeal the ruling.")

Importing is cheap: torch and transformers load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsstance.labels import LABELS

try:  # the installed distribution's version, defined once in pyproject.toml
    from importlib.metadata import PackageNotFoundError, version as _version

    __version__ = _version("newsstance")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
__all__ = ["LABELS", "Classifier", "Prediction", "classify", "analyze_article", "load_config", "train", "evaluate_model", "__version__"]

_LAZY = {
    "Classifier": "newsstance.prediction.classifier",
    "Prediction": "newsstance.prediction.classifier",
    "analyze_article": "newsstance.prediction.analysis",
    "classify": "newsstance.prediction.classifier",
    "load_config": "newsstance.config",
    "train": "newsstance.training.run",
    "evaluate_model": "newsstance.evaluation.report",
}

if TYPE_CHECKING:  # pragma: no cover
    from newsstance.config import load_config
    from newsstance.evaluation.report import evaluate_model
    from newsstance.prediction.analysis import analyze_article
    from newsstance.prediction.classifier import Classifier, Prediction, classify
    from newsstance.training.run import train


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'newsstance' has no attribute {name!r}")
