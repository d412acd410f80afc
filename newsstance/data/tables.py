"""Labelled sentence tables (JSONL, CSV, Parquet) read into one standard frame.

Every table is mapped to the columns `text, label, doc_id, sentence_index` (plus `previous`
and `headline` when the source knows them) and validated row by row: an unknown label or an
empty text names the file and line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from newsstance.config import ColumnsConfig, Source
from newsstance.data.polnear import read_polnear_labels
from newsstance.data.soft import read_soft
from newsstance.errors import DataError
from newsstance.files import iter_jsonl
from newsstance.labels import LABELS

TABLE_FORMATS = (".jsonl", ".csv", ".parquet")
STANDARD_COLUMNS = ("text", "label", "doc_id", "sentence_index")
LINE = "_line"  # the physical line a JSONL row came from, for error messages


def read_frame(path: Path) -> pd.DataFrame:
    """Read one table file as strings-and-ints, raising DataError with the file name."""
    if not path.exists():
        raise DataError(f"{path}: data file not found; check the path in the config's data section")
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            return pd.DataFrame([{**row, LINE: number} for number, row in iter_jsonl(path)])
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except DataError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from None
    raise DataError(f"{path}: unsupported data format '{suffix}'; use one of {', '.join(TABLE_FORMATS)}")


def _line_number(path: Path, index: int) -> int:
    # CSV: 1-based lines after the header; Parquet: the row number
    return index + (2 if path.suffix.lower() == ".csv" else 1)


def standardize(frame: pd.DataFrame, path: Path, columns: ColumnsConfig) -> pd.DataFrame:
    """Rename mapped columns to the standard names and validate every row."""
    mapping = {getattr(columns, name): name for name in STANDARD_COLUMNS}
    missing = [f"'{src}' (for {dst})" for src, dst in mapping.items() if src not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {list(frame.columns)}. "
            "Rename them or map them under data.columns in the config"
        )
    if frame.empty:
        raise DataError(f"{path}: the file has no rows")
    # mapped columns take the standard names; other columns (topic, genre, ...) ride along as
    # metadata for evaluation slices, unless their name is taken by a mapped column
    extra = [c for c in frame.columns if c not in mapping and c not in STANDARD_COLUMNS and c != LINE]
    out = frame[list(mapping) + extra].rename(columns=mapping).copy()
    lines = frame[LINE] if LINE in frame.columns else pd.Series([_line_number(path, int(i)) for i in frame.index], index=frame.index)
    out["doc_id"] = out["doc_id"].astype(str)
    problems = []
    # the frame's index is the row's position in the file, also after a split filter
    for line, text, label, index in zip(lines, out["text"], out["label"], out["sentence_index"]):
        if label not in LABELS:
            problems.append(f"{path}:{line}: unknown label {label!r}; expected one of {', '.join(LABELS)}")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}:{line}: empty text; every row needs a non-empty sentence")
        try:
            int(index)
        except (TypeError, ValueError):
            problems.append(f"{path}:{line}: sentence index {index!r} is not an integer")
        if len(problems) >= 20:
            break
    if problems:
        raise DataError("\n".join(problems))
    out["sentence_index"] = out["sentence_index"].astype(int)
    return out.reset_index(drop=True)


def read_source(source: Source, columns: ColumnsConfig, polnear_dir: str | None = None) -> pd.DataFrame:
    """One configured source -> standard frame, with `source` naming where rows came from."""
    path = Path(source.path)
    if source.kind == "polnear":
        frame = read_polnear_labels(path, polnear_dir, source.split)
    elif source.kind == "soft":
        frame = read_soft(path, columns, polnear_dir, source.split)
    else:
        raw = read_frame(path)
        if source.split is not None:
            if "split" not in raw.columns:
                raise DataError(f"{path}: the config selects split {source.split!r} but the file has no 'split' column")
            raw = raw[raw["split"] == source.split]
            if raw.empty:
                raise DataError(f"{path}: no rows with split == {source.split!r}; check the split name in the config")
        frame = standardize(raw, path, columns)
    frame["source"] = f"{path}[{source.split}]" if source.split else str(path)
    return frame


def read_sources(sources: list[Source], columns: ColumnsConfig, polnear_dir: str | None = None) -> pd.DataFrame:
    frames = [read_source(s, columns, polnear_dir) for s in sources]
    if not frames:
        return pd.DataFrame(columns=STANDARD_COLUMNS)
    frame = pd.concat(frames, ignore_index=True)
    clash = frame[frame.duplicated(["doc_id", "sentence_index"], keep=False)]
    if not clash.empty:
        first = clash.iloc[0]
        where = sorted(set(clash[(clash["doc_id"] == first["doc_id"]) & (clash["sentence_index"] == first["sentence_index"])]["source"]))
        raise DataError(
            f"article {first['doc_id']!r} sentence {first['sentence_index']} appears more than once (in {', '.join(where)}); "
            "each (doc_id, sentence_index) must be unique across a set's files: rename the doc_ids of one source"
        )
    return frame
