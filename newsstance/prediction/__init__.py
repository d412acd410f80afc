"""Prediction stage: the Classifier, classify(), article reading, segmentation and batch runs."""

from newsstance.prediction.classifier import Classifier, Prediction, classify, resolve_model_dir

__all__ = ["Classifier", "Prediction", "classify", "resolve_model_dir", "analyze_article"]


def __getattr__(name: str):
    if name == "analyze_article":
        from newsstance.prediction.analysis import analyze_article

        return analyze_article
    raise AttributeError(name)
