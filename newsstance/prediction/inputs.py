"""Inputs of a run: the article files under the paths given, folders walked iteratively (to any
depth, each linked folder once), de-duplicated by resolved path, without the run's own outputs
and without the outputs that earlier newsstance runs recorded; what was left out is counted."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Union

from newsstance.defaults import ARTICLE_SUFFIXES

logger = logging.getLogger(__name__)

# A newsstance predict run lists its outputs in OUT.run.json (when done) and in the first line of
# OUT.journal (while running); a later run over the same folder skips those files.
RECORD_SUFFIXES = (".run.json", ".journal")
RECORD_MAX_BYTES = 64 * 1024 * 1024  # a record lists every input's stamp: ~100 bytes a file


@dataclass
class Inventory:
    """What a set of input paths holds: files to read, and what was left out and why."""

    files: list[Path] = field(default_factory=list)  # supported, resolved, de-duplicated, sorted
    unsupported: list[Path] = field(default_factory=list)
    excluded: list[Path] = field(default_factory=list)  # one of `exclude`, or a recorded newsstance output
    duplicates: int = 0  # inputs whose resolved path was already listed (symlinks, a file given twice)
    unreadable: list[Path] = field(default_factory=list)  # folders that could not be listed, broken links


class InputError(Exception):
    """An input path that cannot be used at all (missing, empty folder, nothing supported)."""


def inventory(paths: list[Union[str, Path]], exclude: Iterable[Union[str, Path]] = ()) -> Inventory:
    """Supported files under `paths`, without the paths in `exclude` (a folder: all under it) and
    without the outputs that earlier newsstance runs recorded beside or among the inputs."""
    found = Inventory()
    listed: set[Path] = set()
    candidates: list[Path] = []
    records: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            top, before = Path(os.path.realpath(path)), len(found.unreadable)
            children = _walk(top, found.unreadable)
            if top in found.unreadable[before:]:
                raise InputError(f"{path}: the folder cannot be listed (permission denied); check its permissions")
            if not children and len(found.unreadable) == before:
                raise InputError(f"{path}: the folder is empty")
            records.update(c for c in children if c.name.endswith(RECORD_SUFFIXES))
        else:
            children = [Path(os.path.realpath(path))]
            records.update(_records_beside(children[0]))
        for child in children:
            if child in listed:
                found.duplicates += 1
            else:
                listed.add(child)
                candidates.append(child)
    blocked = {Path(os.path.realpath(e)) for e in exclude} | _recorded_outputs(records)
    for child in sorted(candidates):
        if blocked and (child in blocked or not blocked.isdisjoint(child.parents)):
            found.excluded.append(child)
        elif child.suffix.lower() in ARTICLE_SUFFIXES:
            found.files.append(child)
        else:
            found.unsupported.append(child)
    if not found.files:
        kinds = sorted({p.suffix or "(none)" for p in found.unsupported})
        left_out = f"; {len(found.excluded)} newsstance output(s) or excluded file(s) left out" if found.excluded else ""
        raise InputError(f"no supported article files in {', '.join(map(str, paths))} (found {', '.join(kinds) or 'none'}"
                         f"{left_out}); supported: {', '.join(ARTICLE_SUFFIXES)}")
    return found


def _walk(top: Path, unreadable: list[Path]) -> list[Path]:
    """Files under the resolved folder `top`, resolved; hidden files are left out. A stack instead of
    recursion (any depth); linked folders are followed once each, so a link loop ends."""
    files: list[Path] = []
    visited: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in visited:
                continue
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            logger.warning("%s: cannot list the folder (%s); its files are skipped", folder, exc.strerror or exc)
            unreadable.append(folder)
            continue
        for entry in entries:
            try:
                link = entry.is_symlink()
                if entry.is_dir():
                    stack.append(Path(os.path.realpath(entry.path)) if link else folder / entry.name)
                elif entry.is_file():
                    if not entry.name.startswith("."):
                        files.append(Path(os.path.realpath(entry.path)) if link else folder / entry.name)
                elif link:
                    logger.warning("%s: broken link (its target does not exist); skipped", entry.path)
                    unreadable.append(Path(entry.path))
            except OSError as exc:
                logger.warning("%s: cannot read (%s); skipped", entry.path, exc.strerror or exc)
                unreadable.append(Path(entry.path))
    return files


def _records_beside(file: Path) -> list[Path]:
    """Run records in the folder of a file named directly."""
    try:
        with os.scandir(file.parent) as entries:
            return [file.parent / e.name for e in entries if e.name.endswith(RECORD_SUFFIXES)]
    except OSError:
        return []


def _recorded_outputs(records: Iterable[Path]) -> set[Path]:
    """Every output that the given run records / journals list, and the records themselves."""
    outputs: set[Path] = set()
    for record in records:
        listed = _record_outputs(record)
        if listed is None:
            continue
        outputs.add(record)
        for raw in listed:
            path = Path(os.path.realpath(record.parent / raw))  # absolute paths stay as they are
            if path == record.parent or path in record.parents:
                continue  # a record never owns the folder it sits in: ignore a malformed entry
            outputs.update((path, path.with_name(path.name + ".lock")))
    return outputs


def _record_outputs(record: Path) -> list[str] | None:
    """The outputs a run record or journal lists, or None when the file is not one."""
    try:
        if record.stat().st_size > RECORD_MAX_BYTES and record.name.endswith(".run.json"):
            return None
        with record.open("rb") as fh:
            head = json.loads(fh.readline(RECORD_MAX_BYTES) if record.name.endswith(".journal") else fh.read())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(head, dict):
        return None
    if record.name.endswith(".journal"):
        head = head.get("header")
    elif "newsstance" not in head:
        return None
    if not isinstance(head, dict):
        return None
    outputs = head.get("outputs")
    if outputs is None and record.name.endswith(".run.json") and "model" in head:
        output = record.name[: -len(".run.json")]  # a record written before outputs were listed
        outputs = [output, output + ".errors.jsonl", output + ".journal", output + ".partial"]
    if not isinstance(outputs, list):
        return None
    return [p for p in outputs if isinstance(p, str)]
