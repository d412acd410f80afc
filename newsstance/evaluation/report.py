"""Evaluating a model: every split gets the model's scores with article-level bootstrap CIs,
the baselines on the same rows, calibration, slices and its most confident mistakes.

This module computes; `render.py` writes the report folder (metrics.json, report.md, PNG and
CSV files). `evaluate_model` is the `newsstance evaluate` entry point that does both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import pandas as pd

from newsstance.defaults import BATCH_SIZE, SEED
from newsstance.devices import DEFAULT_DEVICE, DEFAULT_DTYPE
from newsstance.evaluation.baselines import majority_baseline, tfidf_logreg_baseline
from newsstance.evaluation.bootstrap import bootstrap_ci
from newsstance.evaluation.calibration import coverage_curve, expected_calibration_error, reliability
from newsstance.evaluation.metrics import classification_metrics
from newsstance.evaluation.render import append_section, write_report
from newsstance.evaluation.rules import rule_baseline
from newsstance.evaluation.slices import slice_columns, slice_metrics
from newsstance.evaluation.targets import TARGETS, target_status
from newsstance.labels import LABEL2ID, LABELS

__all__ = ["TARGETS", "evaluate_frames", "evaluate_model", "predict_frame", "target_status", "write_report"]

logger = logging.getLogger(__name__)

ABLATION_HEADING = "Ablation"


def predict_frame(classifier, frame: pd.DataFrame, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Calibrated probabilities for every row of a standard frame, context built from its columns."""
    previous = list(frame["previous"]) if "previous" in frame else None
    headline = list(frame["headline"]) if "headline" in frame else None
    contexts = classifier.contexts(len(frame), previous, headline)
    return classifier.probabilities(list(frame["text"]), contexts, batch_size)


def _scored(doc_ids, refs, preds, seed: int) -> dict:
    metrics = classification_metrics(refs, preds)
    metrics["ci"] = bootstrap_ci(doc_ids, refs, preds, seed=seed)
    return metrics


def _errors(frame: pd.DataFrame, refs: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    preds = probs.argmax(axis=1)
    table = pd.DataFrame({
        "doc_id": frame["doc_id"].to_numpy(), "sentence_index": frame["sentence_index"].to_numpy(),
        "gold": [LABELS[i] for i in refs], "predicted": [LABELS[i] for i in preds],
        "confidence": probs.max(axis=1).round(4), "text": frame["text"].to_numpy(),
        "previous": frame["previous"].to_numpy() if "previous" in frame else "",
    })
    return table[preds != refs].sort_values("confidence", ascending=False)


def evaluate_frames(
    classifier, frames: dict[str, pd.DataFrame], train: pd.DataFrame | None = None, baselines: bool = True,
    batch_size: int = BATCH_SIZE, seed: int = SEED, slices: list[str] | None = None,
) -> dict:
    """{split: {n, articles, systems: {model, majority, tfidf_logreg, rules}, calibration, slices, ...}}

    The frames keep their own tables in `_tables` (predictions and errors) for write_report.
    """
    tfidf = tfidf_logreg_baseline(train["text"], train["label"], seed) if baselines and train is not None else None
    results: dict = {}
    for name, frame in frames.items():
        if frame.empty:
            logger.warning("%s has no rows: not evaluated", name)
            continue
        logger.info("evaluating %s (%d sentences)", name, len(frame))
        refs = np.array([LABEL2ID[l] for l in frame["label"]])
        docs = frame["doc_id"].astype(str).to_numpy()
        probs = predict_frame(classifier, frame, batch_size)
        preds = probs.argmax(axis=1)
        systems = {"model": _scored(docs, refs, preds, seed)}
        if baselines:
            systems["rules"] = _scored(docs, refs, rule_baseline(list(frame["text"])), seed)
        if tfidf is not None:
            systems["majority"] = _scored(docs, refs, majority_baseline(train["label"], len(refs)), seed)
            systems["tfidf_logreg"] = _scored(docs, refs, tfidf.predict(list(frame["text"])), seed)
        predictions = pd.DataFrame({
            "doc_id": docs, "sentence_index": frame["sentence_index"].to_numpy(), "gold": [LABELS[i] for i in refs],
            "predicted": [LABELS[i] for i in preds], **{f"p_{l}": probs[:, i].round(5) for i, l in enumerate(LABELS)},
        })
        results[name] = {
            "n": int(len(frame)), "articles": int(frame["doc_id"].nunique()),
            "systems": systems,
            "calibration": {
                "temperature": classifier.settings.temperature,
                "ece": expected_calibration_error(probs, refs),
                "reliability": reliability(probs, refs),
                "coverage": coverage_curve(probs, refs),
            },
            "slices": slice_metrics(frame, refs, preds, slice_columns(frame, slices)),
            "_tables": {"predictions": predictions, "errors": _errors(frame, refs, probs)},
        }
    return results


# --- the `newsstance evaluate` entry point --------------------------------------------------


def _table_kind(path: Path) -> str:
    """PolNeAR label files hold offsets, not text."""
    from newsstance.errors import DataError
    from newsstance.files import iter_jsonl

    if path.suffix == ".jsonl" and path.exists():
        try:
            first = next(iter(iter_jsonl(path)), (0, {}))[1]
        except DataError:  # read_source reports the bad line
            return "table"
        if {"file", "start", "end"} <= set(first) and "text" not in first:
            return "polnear"
    return "table"


def evaluate_model(
    model: Union[str, Path, None], data: Union[str, Path, None] = None, out_dir: Union[str, Path, None] = None,
    split: str | None = None, slices: list[str] | None = None, ablation: Sequence[Union[str, Path]] = (),
    device: str = DEFAULT_DEVICE, dtype: str = DEFAULT_DTYPE,
) -> dict:
    """Evaluate a saved model and write a report folder.

    With `data`, on that sentence table (rows of `split` only, if given); without, on every set
    the model's run.yaml names, found relative to where the run was made. Baselines are fitted
    on the model's recorded training data when it is still present unchanged. `ablation` runs
    (model folders with their own evaluation) are compared with this model in a report section.
    `device` and `dtype` say where the model runs (see `Classifier.load`).
    """
    from newsstance.config import ColumnsConfig, Source
    from newsstance.data.context import add_neighbours
    from newsstance.data.splits import load_recorded_splits
    from newsstance.data.tables import read_source
    from newsstance.errors import NewsstanceError
    from newsstance.evaluation.compare import check_runs, compare_runs
    from newsstance.prediction import Classifier

    ablation = [Path(r) for r in ablation]
    check_runs(ablation)  # before any work: a typo in a run name costs no evaluation
    classifier = Classifier.load(model, device, dtype)
    if data is None:
        recorded = load_recorded_splits(classifier.path)
        frames = recorded.frames
        default_out = classifier.path / "evaluation"
    else:
        data = Path(data)
        source = Source(path=str(data), kind=_table_kind(data), split=split)
        name = f"{data.stem}_{split}" if split else data.stem
        frames = {name: add_neighbours(read_source(source, ColumnsConfig()))}
        default_out = classifier.path / "evaluation" / name
        recorded = load_recorded_splits(classifier.path, sets=False) if (classifier.path / "run.yaml").exists() else None
    skipped = recorded.skipped if recorded else {}
    notes = list(recorded.notes) if recorded else ["no run.yaml in the model folder: baselines fitted on training data skipped"]
    if not frames:
        raise NewsstanceError(f"nothing to evaluate for {classifier.path}: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    results = evaluate_frames(classifier, frames, recorded.train if recorded else None, slices=slices)
    out = Path(out_dir) if out_dir else default_out
    write_report(results, out, f"{classifier.path.name}", skipped=skipped, notes=notes)
    if ablation:
        table = compare_runs([classifier.path] + ablation)
        append_section(out, ABLATION_HEADING, "The same sets, scored by each run's own saved evaluation:\n\n" + table)
    return {"report_dir": str(out), "skipped": skipped, "notes": notes,
            "splits": {k: {s: m["macro_f1"] for s, m in v["systems"].items()} | {"n": v["n"]} for k, v in results.items()}}
