"""Atomic file writes: a file is either absent, its old version, or complete.

Every output newsstance writes in one go (reports, model-folder metadata, HTML pages, PolNeAR
copies, converted predictions) goes through here: written to a uniquely named temporary file
beside the target, flushed to disk, then renamed over it. A failure removes the temporary file
and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed over `path` when the block succeeds.

    For writers that take a path (pandas, pyarrow, ONNX). The temporary name is unique, so two
    processes writing the same target never share it; on an exception it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes) -> None:
    with atomic_path(Path(path)) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


def write_json_atomic(path: Path, payload) -> None:
    write_atomic(path, json.dumps(payload, indent=2) + "\n")
