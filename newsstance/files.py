"""Atomic file writes: a file is either absent, its old version, or complete.

Every output newsstance writes in one go (reports, model-folder metadata, HTML pages, PolNeAR
copies, converted predictions) goes through here: written to a uniquely named temporary file
beside the target, flushed to disk, then renamed over it. A failure removes the temporary file
and leaves the target as it was.

Also the two readers every module shares: `iter_jsonl` (the one JSONL reader) and
`sha256_file` (the one file fingerprint).
"""

from __future__ import annotations

import contextlib
import hashlib
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
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the target gets a normal file's mode
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: str | bytes) -> None:
    with atomic_path(Path(path)) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


def write_jsonl_atomic(path: Path, rows) -> None:
    """One JSON object per line (UTF-8, non-ASCII kept as is), written atomically."""
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_json_atomic(path: Path, payload) -> None:
    write_atomic(path, json.dumps(payload, indent=2) + "\n")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (data files can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def iter_jsonl(path: Path, problems: list[str] | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSONL file.

    A line that is not a JSON object raises DataError naming the file and line; a caller that
    reports every problem at once (the validator) passes `problems`, and bad lines are recorded
    there and skipped instead."""
    from newsstance.errors import DataError

    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                problem = None if isinstance(row, dict) else f"{path}:{number}: expected a JSON object, got {type(row).__name__}"
            except json.JSONDecodeError as exc:
                problem = f"{path}:{number}: not valid JSON ({exc.msg}); each line must be one object"
            except RecursionError:
                problem = f"{path}:{number}: JSON nested too deeply to read; each line must be one flat object"
            if problem is None:
                yield number, row
            elif problems is None:
                raise DataError(problem)
            else:
                problems.append(problem)
