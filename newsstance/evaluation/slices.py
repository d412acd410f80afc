"""Evaluation slices: metadata columns (topic, genre, ...) and two derived views of a sentence,
quoted vs narrated and its position in the article."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from newsstance.labels import is_quoted

DERIVED = ("quoted", "position")
NOT_SLICES = {"text", "label", "doc_id", "sentence_index", "previous", "headline", "source", "split", "start", "end",
              "confidence", "prev_start", "prev_end", "origin", "file"}
MAX_VALUES = 60  # a column with more distinct values is an identifier, not a slice


def position_bucket(index: int) -> str:
    if index == 0:
        return "headline"
    return "sentences 1-5" if index <= 5 else "sentences 6-10" if index <= 10 else "sentences 11+"


def derived_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "quoted": ["quoted" if is_quoted(t) else "narrated" for t in frame["text"]],
        "position": [position_bucket(int(i)) for i in frame["sentence_index"]],
    }, index=frame.index)


def _hashable(column: pd.Series) -> bool:
    return all(isinstance(v, (str, int, float, bool, type(None))) for v in column)


def slice_columns(frame: pd.DataFrame, requested: list[str] | None = None) -> list[str]:
    """Requested slices, or every metadata column with a handful of values plus the derived ones."""
    available = [c for c in frame.columns if c not in NOT_SLICES and _hashable(frame[c]) and frame[c].nunique() <= MAX_VALUES]
    available += list(DERIVED)
    if requested is None:
        return available
    return [c for c in requested if c in available]


def slice_metrics(frame: pd.DataFrame, refs: np.ndarray, preds: np.ndarray, columns: list[str]) -> dict:
    """{column: {value: {n, articles, accuracy, macro_f1}}}"""
    table = pd.concat([frame.reset_index(drop=True), derived_columns(frame).reset_index(drop=True)], axis=1)
    table = table.loc[:, ~table.columns.duplicated(keep="last")]
    out: dict = {}
    for column in columns:
        out[column] = {}
        for value, index in table.groupby(column, sort=True).groups.items():
            idx = np.asarray(index)
            out[column][str(value)] = {
                "n": int(len(idx)), "articles": int(table.loc[idx, "doc_id"].nunique()),
                "accuracy": float(accuracy_score(refs[idx], preds[idx])),
                "macro_f1": float(f1_score(refs[idx], preds[idx], average="macro", zero_division=0)),  # over labels present
            }
    return out
