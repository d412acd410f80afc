"""Train / validation / test frames: from the configured files, or split by article.

A split never cuts an article in two: sentences of one article stay together, so the
test score is not inflated by neighbours seen in training.

`load_recorded_splits` rebuilds the sets a saved model was trained and evaluated on from the
run.yaml and data.json in its folder, wherever the command is run from.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from newsstance.config import DataConfig, Source, load_config
from newsstance.data.context import add_neighbours
from newsstance.data.soft import soft_mask
from newsstance.data.tables import read_sources
from newsstance.errors import DataError, ModelFolderError
from newsstance.files import sha256_file

logger = logging.getLogger(__name__)

RUN_CONFIG = "run.yaml"  # the resolved config a model folder records
DATA_RECORD = "data.json"  # its data files with their SHA-256, written by training.provenance
WORKING_DIR_KEY = "working_dir"  # data.json: the folder the run was made in (relative paths start there)


def split_by_article(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, held_out) with about `fraction` of the articles held out."""
    if fraction <= 0:
        return frame, frame.iloc[0:0]
    if frame["doc_id"].nunique() < 2:
        raise DataError("cannot split by article: the training data holds a single article; give validation/test files")
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    kept, held = next(splitter.split(frame, groups=frame["doc_id"]))
    return frame.iloc[kept], frame.iloc[held]


def named_sets(data: DataConfig) -> dict[str, list[Source]]:
    """The named sets besides train/validation/test: extra_validation, then extra_eval."""
    return {**data.extra_validation, **data.extra_eval}


def load_splits(data: DataConfig) -> dict[str, pd.DataFrame]:
    """Read every configured set; returns train, validation, test and each extra_validation and
    extra_eval name."""
    train = add_neighbours(read_sources(data.train, data.columns, data.polnear_dir))
    soft = soft_mask(train)  # a teacher's rows (kind: soft) are never split off into validation or test
    train, soft_rows = (train[~soft], train[soft]) if soft.any() else (train, None)
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
    if soft_rows is not None:  # ... and leave with the articles an automatic split held out
        held = set(splits["test"]["doc_id"]) | set(splits["validation"]["doc_id"]) if not (data.test and data.validation) else set()
        train = pd.concat([train, soft_rows[~soft_rows["doc_id"].isin(held)]], ignore_index=True)
    splits["train"] = train
    for name, sources in named_sets(data).items():
        splits[name] = add_neighbours(read_sources(sources, data.columns, data.polnear_dir))
    for name in ("train", "validation"):
        if splits[name].empty:
            raise DataError(
                f"the {name} split has no rows; give data.{name} files or raise data.split.{name}_fraction"
            )
    return {name: frame.reset_index(drop=True) for name, frame in splits.items()}


# --- the sets a saved model was made with ---------------------------------------------------


@dataclass
class RecordedSplits:
    """A model folder's data, rebuilt as at training time."""

    base: Path  # the folder the recorded relative paths were resolved against
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # evaluation sets that could be read
    skipped: dict[str, str] = field(default_factory=dict)  # set -> why it was not read (no PolNeAR copy)
    train: pd.DataFrame | None = None  # the training split, when its files are present unchanged
    notes: list[str] = field(default_factory=list)  # what a reader of the results must know (changed files)


def _resolve(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def _inferred_run_dir(model_dir: Path, output_dir: str) -> Path | None:
    """Where the run was made, from its relative output.dir: models/default found at
    /x/models/default means the run was made in /x."""
    out = Path(os.path.normpath(output_dir))
    if out.is_absolute() or out.parts[:1] == ("..",):
        return None
    here = model_dir.resolve()
    if here.parts[-len(out.parts):] != out.parts:
        return None
    return Path(*here.parts[: -len(out.parts)])


def _rebased(data: DataConfig, base: Path) -> DataConfig:
    """The data section with every relative path resolved against `base`."""

    def sources(items: list[Source]) -> list[Source]:
        return [s.model_copy(update={"path": str(_resolve(s.path, base))}) for s in items]

    return data.model_copy(update={
        "train": sources(data.train), "validation": sources(data.validation), "test": sources(data.test),
        "extra_validation": {name: sources(items) for name, items in data.extra_validation.items()},
        "extra_eval": {name: sources(items) for name, items in data.extra_eval.items()},
        "polnear_dir": str(_resolve(data.polnear_dir, base)) if data.polnear_dir else None,
    })


def _recorded_files(data: DataConfig) -> list[tuple[str, Source]]:
    groups = [("train", data.train), ("validation", data.validation), ("test", data.test), *named_sets(data).items()]
    return [(group, source) for group, items in groups for source in items]


def _choose_base(model_dir: Path, data: DataConfig, record: dict, output_dir: str) -> tuple[Path, str, list[Path]]:
    """The first candidate folder under which every recorded file exists: the working folder
    recorded in data.json, the one implied by output.dir, then the current folder. Also returns
    every candidate, for the message when a file is found under none of them."""
    candidates: list[tuple[Path, str]] = []
    if record.get(WORKING_DIR_KEY):
        candidates.append((Path(record[WORKING_DIR_KEY]), f"recorded in {model_dir / DATA_RECORD}"))
    inferred = _inferred_run_dir(model_dir, output_dir)
    if inferred is not None:
        candidates.append((inferred, f"the folder that holds output.dir {output_dir!r}"))
    candidates.append((Path.cwd(), "the current folder"))
    relative = [s.path for _, s in _recorded_files(data) if not Path(s.path).expanduser().is_absolute()]
    tried = list(dict.fromkeys(base for base, _ in candidates))
    for base, why in candidates:
        if all((base / p).exists() for p in relative):
            return base, why, tried
    return (*candidates[0], tried)


def load_recorded_splits(model_dir: Path, sets: bool = True) -> RecordedSplits:
    """The evaluation sets (with `sets`) and the training split of a saved model, rebuilt from its
    run.yaml as at training time, including an automatic split by article.

    Relative paths in run.yaml are resolved against the folder the run was made in (see
    `_choose_base`), so an installed package evaluates a model from anywhere. A recorded table
    that is gone raises DataError naming it; a PolNeAR set whose labels or copy are missing is
    skipped with the reason; the training split is None (no fitted baselines) when its files are
    gone, changed or unreadable, with the reason in `notes`.
    """
    model_dir = Path(model_dir)
    run = model_dir / RUN_CONFIG
    if not run.exists():
        raise ModelFolderError(f"{model_dir}: no {RUN_CONFIG}, so no recorded data; pass a DATA file to evaluate on")
    cfg = load_config(run)
    record_path = model_dir / DATA_RECORD
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}
    base, why, tried = _choose_base(model_dir, cfg.data, record, cfg.output.dir)
    where = f"relative paths resolved against {base} ({why})"
    data = _rebased(cfg.data, base)
    out = RecordedSplits(base=base)

    # which recorded files are gone or changed since training
    recorded_hash = {e["path"]: e["sha256"] for e in record.get("files", [])}
    gone: dict[str, list[str]] = {}
    changed: set[str] = set()
    for (group, source), (_, original) in zip(_recorded_files(data), _recorded_files(cfg.data)):
        path = Path(source.path)
        if not path.exists():
            looked = [str(path)] + [str(_resolve(original.path, b)) for b in tried if _resolve(original.path, b) != path]
            gone.setdefault(group, []).append(f"{original.path} (looked for {', '.join(looked)})")
        elif original.path in recorded_hash and sha256_file(path) != recorded_hash[original.path]:
            changed.add(group)
            out.notes.append(f"{path} ({group}) changed since training: its SHA-256 differs from {record_path}")
    automatic = not (data.validation and data.test)  # validation/test cut from the training data
    if sets:
        needed = ["train"] * automatic + ["validation", "test"] + [
            name for name, items in named_sets(data).items() if not any(s.kind == "polnear" for s in items)]
        missing = [f"{group}: {item}" for group in needed for item in gone.get(group, [])]
        if missing:
            raise DataError(
                f"{run}: recorded data file(s) gone: {'; '.join(missing)}; {where}. Run the command from the "
                f"folder the model was trained in, or pass a DATA file: newsstance evaluate {model_dir} DATA"
            )
    core = data.model_copy(update={"extra_eval": {}, "extra_validation": {}})
    train = None
    if sets:
        if automatic:
            splits = load_splits(core)
            out.frames.update({k: v for k, v in splits.items() if k != "train" and len(v)})
            train = splits["train"]
        else:
            _read_set(out, "validation", data.validation, data)
            _read_set(out, "test", data.test, data)
        for name, items in named_sets(data).items():
            if name in gone:
                out.skipped[name] = f"recorded file(s) gone: {'; '.join(gone[name])}; {where}"
                logger.warning("%s skipped: %s", name, out.skipped[name])
            else:
                _read_set(out, name, items, data)
    if "train" in gone:
        out.notes.append(f"training data gone ({'; '.join(gone['train'])}; {where}): baselines fitted on it are skipped")
    elif "train" in changed:
        out.notes.append("training data changed since training: baselines fitted on it are skipped")
    else:
        try:
            out.train = train if train is not None else load_splits(core)["train"]
        except DataError as exc:  # e.g. a PolNeAR training source without a copy on this machine
            out.notes.append(f"training data not readable ({exc}): baselines fitted on it are skipped")
    for note in out.notes:
        logger.warning(note)
    return out


def _read_set(out: RecordedSplits, name: str, sources: list[Source], data: DataConfig) -> None:
    """Read one recorded set; a PolNeAR set whose copy is missing is skipped with the reason."""
    try:
        out.frames[name] = add_neighbours(read_sources(sources, data.columns, data.polnear_dir))
    except DataError as exc:
        if not any(s.kind == "polnear" for s in sources):
            raise
        out.skipped[name] = str(exc)
        logger.warning("%s skipped: %s", name, exc)
