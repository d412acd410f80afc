"""Train / validation / test frames: from the configured files, or split by article.

A split never cuts an article in two: sentences of one article stay together, so the
test score is not inflated by neighbours seen in training.
"""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from newsstance.config import DataConfig
from newsstance.data.context import add_neighbours
from newsstance.data.tables import read_sources
from newsstance.errors import DataError


def split_by_article(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, held_out) with about `fraction` of the articles held out."""
    if fraction <= 0:
        return frame, frame.iloc[0:0]
    if frame["doc_id"].nunique() < 2:
        raise DataError("cannot split by article: the training data holds a single article; give validation/test files")
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    kept, held = next(splitter.split(frame, groups=frame["doc_id"]))
    return frame.iloc[kept], frame.iloc[held]


def load_splits(data: DataConfig) -> dict[str, pd.DataFrame]:
    """Read every configured set; returns train, validation, test and each extra_eval name."""
    train = add_neighbours(read_sources(data.train, data.columns, data.polnear_dir))
    splits: dict[str, pd.DataFrame] = {}
    held_fraction = 0.0  # share of the original articles already taken out of train
    for name, sources, fraction in (
        ("test", data.test, data.split.test_fraction),
        ("validation", data.validation, data.split.validation_fraction),
    ):
        if sources:
            splits[name] = add_neighbours(read_sources(sources, data.columns, data.polnear_dir))
        else:
            train, splits[name] = split_by_article(train, fraction / (1 - held_fraction), data.split.seed)
            held_fraction += fraction
    splits["train"] = train
    for name, sources in data.extra_eval.items():
        splits[name] = add_neighbours(read_sources(sources, data.columns, data.polnear_dir))
    for name in ("train", "validation"):
        if splits[name].empty:
            raise DataError(
                f"the {name} split has no rows; give data.{name} files or raise data.split.{name}_fraction"
            )
    return {name: frame.reset_index(drop=True) for name, frame in splits.items()}
