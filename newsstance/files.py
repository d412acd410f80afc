"""Atomic file writes: a file is either absent, its old version, or complete.

Every output newsstance writes in one go (reports, model-folder metadata, HTML pages, PolNeAR
copies) goes through here: written beside the target, then renamed over it.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    tmp.replace(path)


def write_json_atomic(path: Path, payload) -> None:
    write_atomic(path, json.dumps(payload, indent=2) + "\n")
