"""Report figures: confusion matrix, reliability diagram, coverage-accuracy curve (PNG).

Drawn on `matplotlib.figure.Figure` objects, not through pyplot: no global figure state and no
backend switch, so a notebook or GUI application that calls newsstance keeps its own backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from newsstance.files import atomic_path
from newsstance.labels import LABELS


def _figure(size: tuple[float, float]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.subplots()


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> None:
    """Axis labels and title, then the PNG (written atomically)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def confusion_png(matrix: list[list[int]], title: str, path: Path) -> None:
    fig, ax = _figure((5.2, 4.4))
    data = np.array(matrix)
    ax.imshow(data, cmap="Blues")
    names = [l.replace("_", "\n") for l in LABELS]
    ax.set_xticks(range(len(LABELS)), names, fontsize=8)
    ax.set_yticks(range(len(LABELS)), names, fontsize=8)
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > data.max() / 2 else "black")
    _finish(fig, ax, "predicted", "gold", title, path)


def reliability_png(bins: list[dict], title: str, path: Path) -> None:
    fig, ax = _figure((4.6, 4.4))
    used = [b for b in bins if b["n"]]
    centers = [(b["low"] + b["high"]) / 2 for b in used]
    ax.bar(centers, [b["accuracy"] for b in used], width=0.09, color="#4c78a8", label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(centers, [b["confidence"] for b in used], "o", color="#e45756", label="mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    _finish(fig, ax, "confidence", "accuracy", title, path)


def coverage_png(points: list[dict], title: str, path: Path) -> None:
    fig, ax = _figure((4.6, 4.0))
    kept = [p for p in points if p["accuracy"] is not None]
    ax.plot([p["coverage"] for p in kept], [p["accuracy"] for p in kept], "o-", color="#4c78a8")
    for p in kept:
        ax.annotate(f"{p['threshold']:.2f}", (p["coverage"], p["accuracy"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    _finish(fig, ax, "coverage (share answered)", "accuracy of answered", title, path)
