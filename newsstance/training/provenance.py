"""What a run records about itself: data fingerprints, package versions, resolved config."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from newsstance.config import Config
from newsstance.data.splits import WORKING_DIR_KEY, named_sets
from newsstance.files import sha256_file

PACKAGES = ("newsstance", "torch", "transformers", "datasets", "evaluate", "scikit-learn", "tokenizers")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def data_record(cfg: Config, splits: dict[str, pd.DataFrame]) -> dict:
    """Every configured file with its hash, and each split's row and label counts."""
    files = []
    for group, sources in [("train", cfg.data.train), ("validation", cfg.data.validation), ("test", cfg.data.test),
                           *named_sets(cfg.data).items()]:
        for source in sources:
            path = Path(source.path)
            files.append({"set": group, "path": source.path, "kind": source.kind, "sha256": sha256_file(path)})
    return {
        WORKING_DIR_KEY: str(Path.cwd()),  # relative paths above start here (`newsstance evaluate` from elsewhere)
        "files": files,
        "splits": {
            name: {
                "rows": int(len(frame)),
                "articles": int(frame["doc_id"].nunique()),
                "labels": {str(k): int(v) for k, v in frame["label"].value_counts().sort_index().items()},
                "sources": {str(k): int(v) for k, v in frame["source"].value_counts().items()} if "source" in frame else {},
            }
            for name, frame in splits.items()
        },
    }
