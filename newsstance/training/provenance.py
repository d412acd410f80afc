"""What a run records about itself: data fingerprints, package versions, resolved config."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from newsstance.config import Config

PACKAGES = ("newsstance", "torch", "transformers", "datasets", "evaluate", "scikit-learn", "tokenizers")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
                           *cfg.data.extra_eval.items()]:
        for source in sources:
            path = Path(source.path)
            files.append({"set": group, "path": source.path, "kind": source.kind, "sha256": sha256_file(path)})
    return {
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


def recorded_training_frame(model_dir: Path) -> pd.DataFrame | None:
    """The training split a model was fitted on, if its files are still there unchanged."""
    from newsstance.config import load_config
    from newsstance.data.splits import load_splits

    record_path, config_path = model_dir / "data.json", model_dir / "run.yaml"
    if not (record_path.exists() and config_path.exists()):
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    for entry in record["files"]:
        path = Path(entry["path"])
        if not path.exists() or sha256_file(path) != entry["sha256"]:
            return None
    from newsstance.errors import DataError

    cfg = load_config(config_path)
    try:
        return load_splits(cfg.data)["train"]
    except DataError:  # e.g. no PolNeAR copy on this machine
        return None


