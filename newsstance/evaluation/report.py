"""An evaluation report folder: metrics.json for machines, report.md and a confusion-matrix
PNG for people, with the baselines on the same split."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from newsstance.evaluation.baselines import majority_baseline, tfidf_logreg_baseline
from newsstance.evaluation.metrics import classification_metrics
from newsstance.labels import LABEL2ID, LABELS

logger = logging.getLogger(__name__)


def predict_frame(classifier, frame: pd.DataFrame, batch_size: int = 64) -> np.ndarray:
    """Probabilities for every row of a standard frame, context built from its columns."""
    previous = list(frame["previous"]) if "previous" in frame else None
    headline = list(frame["headline"]) if "headline" in frame else None
    contexts = classifier.contexts(len(frame), previous, headline)
    return classifier.probabilities(list(frame["text"]), contexts, batch_size)


def evaluate_frames(
    classifier, frames: dict[str, pd.DataFrame], train: pd.DataFrame | None = None,
    baselines: bool = True, batch_size: int = 64, seed: int = 13,
) -> dict:
    """{split: {"model": metrics, "majority": ..., "tfidf_logreg": ...}}"""
    tfidf = tfidf_logreg_baseline(train["text"], train["label"], seed) if baselines and train is not None else None
    results: dict = {}
    for name, frame in frames.items():
        refs = [LABEL2ID[l] for l in frame["label"]]
        probs = predict_frame(classifier, frame, batch_size)
        results[name] = {"model": classification_metrics(refs, probs.argmax(axis=1))}
        if tfidf is not None:
            results[name]["majority"] = classification_metrics(refs, majority_baseline(train["label"], len(refs)))
            results[name]["tfidf_logreg"] = classification_metrics(refs, tfidf.predict(list(frame["text"])))
    return results


def _confusion_png(matrix: list[list[int]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    data = np.array(matrix)
    ax.imshow(data, cmap="Blues")
    ax.set_xticks(range(len(LABELS)), [l.replace("_", "\n") for l in LABELS], fontsize=8)
    ax.set_yticks(range(len(LABELS)), [l.replace("_", "\n") for l in LABELS], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > data.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _markdown(results: dict, title: str) -> str:
    lines = [f"# {title}", ""]
    for split, systems in results.items():
        m = systems["model"]
        lines += [f"## {split} ({m['n']} sentences)", "", "| system | accuracy | macro-F1 |", "| --- | --- | --- |"]
        for system, sm in systems.items():
            lines.append(f"| {system} | {sm['accuracy']:.3f} | {sm['macro_f1']:.3f} |")
        lines += ["", "Per class (model):", "", "| label | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
        for label, c in m["per_class"].items():
            lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
        lines += ["", "Confusion matrix (rows gold, columns predicted):", "", "| gold \\ predicted | " + " | ".join(LABELS) + " |",
                  "| --- |" + " --- |" * len(LABELS)]
        for label, row in zip(LABELS, m["confusion_matrix"]):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
        lines += ["", f"![confusion matrix](confusion_{split}.png)", ""]
    return "\n".join(lines)


def write_report(results: dict, out_dir: Path, title: str = "Evaluation", png: bool = True) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if png:
        for split, systems in results.items():
            _confusion_png(systems["model"]["confusion_matrix"], f"{title}: {split}", out_dir / f"confusion_{split}.png")
    (out_dir / "report.md").write_text(_markdown(results, title), encoding="utf-8")
    return out_dir


def evaluate_model(model: Union[str, Path, None], data: Union[str, Path], out_dir: Union[str, Path, None] = None) -> dict:
    """Evaluate a saved model on one labelled sentence table; write a report folder.

    Baselines are fitted on the training files the model folder records, when they are still
    present with the same hashes; otherwise they are left out and the report says so.
    """
    from newsstance.config import ColumnsConfig, Source
    from newsstance.data.context import add_neighbours
    from newsstance.data.tables import read_source
    from newsstance.prediction import Classifier
    from newsstance.training.provenance import recorded_training_frame

    classifier = Classifier.load(model)
    data = Path(data)
    kind = "polnear" if data.parent.name == "external" and data.name.startswith("polnear") else "table"
    frame = add_neighbours(read_source(Source(path=str(data), kind=kind), ColumnsConfig()))
    train = recorded_training_frame(classifier.path)
    if train is None:
        logger.warning("baselines skipped: the training data recorded in %s is not available unchanged", classifier.path)
    results = evaluate_frames(classifier, {data.stem: frame}, train)
    out = Path(out_dir) if out_dir else classifier.path / "evaluation" / data.stem
    write_report(results, out, f"{classifier.path.name} on {data.name}")
    results["report_dir"] = str(out)
    return results
