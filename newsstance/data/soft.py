"""Soft-labelled sentence tables: a teacher's calibrated probabilities instead of a gold label.

A `kind: soft` source (training data only) has one probability column per label,
`prob_official_position`, `prob_third_party_skepticism`, `prob_neutral_reporting`, each row
non-negative and summing to 1. A row gives its sentence either as `text` (with `doc_id` and
`sentence_index`, like any table) or as PolNeAR offsets (`file, start, end, sentence_index`,
text rebuilt from the PolNeAR copy, as for `kind: polnear`). Rows come out in the standard frame
with `label` = the teacher's top label (for counts and stratification), `soft` = True and the
probability columns; gold rows of other sources get `soft` = False and empty probabilities.

Beside the table, `<name>.meta.json` records the teacher (its folder, the SHA-256 of its weights
as `fingerprint`, its temperature) and how the rows were chosen; `training.distill` names the
fingerprint it expects and a mismatch is refused before training.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from newsstance.errors import DataError
from newsstance.files import iter_jsonl
from newsstance.labels import LABELS

PROB_COLUMNS = tuple(f"prob_{label}" for label in LABELS)
SUM_TOLERANCE = 1e-3


def meta_path(path: Path) -> Path:
    """`polnear_soft.jsonl` -> `polnear_soft.meta.json`."""
    path = Path(path)
    return path.with_name(path.name.split(".", 1)[0] + ".meta.json")


def read_meta(path: Path) -> dict:
    where = meta_path(path)
    if not where.is_file():
        raise DataError(f"{path}: no {where.name} beside it; a soft-label table records its teacher there "
                        "(written by `newsstance distill label-unlabelled`)")
    try:
        meta = json.loads(where.read_text(encoding="utf-8"))
        meta["teacher"]["fingerprint"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{where}: not a soft-label record with teacher.fingerprint ({exc!r})") from None
    return meta


def probabilities(row: dict, where: str) -> list[float]:
    """The row's probability columns as floats, checked: present, finite, >= 0, summing to 1."""
    missing = [c for c in PROB_COLUMNS if c not in row or row[c] is None or row[c] == ""]
    if missing:
        raise DataError(f"{where}: missing probability column(s) {', '.join(missing)}; a soft row needs "
                        f"{', '.join(PROB_COLUMNS)}")
    try:
        values = [float(row[c]) for c in PROB_COLUMNS]
    except (TypeError, ValueError):
        raise DataError(f"{where}: probabilities must be numbers, got {[row[c] for c in PROB_COLUMNS]}") from None
    if not all(math.isfinite(v) for v in values) or min(values) < 0:
        raise DataError(f"{where}: probabilities must be finite and >= 0, got {values}")
    if abs(sum(values) - 1) > SUM_TOLERANCE:
        raise DataError(f"{where}: probabilities sum to {sum(values):.6f}, expected 1 (within {SUM_TOLERANCE}); "
                        "write calibrated probabilities, not logits or percentages")
    return values


def read_soft(path: Path, columns, polnear_dir: str | None = None, split: str | None = None) -> pd.DataFrame:
    """A soft table -> standard frame with `soft` and the probability columns."""
    from newsstance.data.polnear import article_texts, is_test_file, sentence_fields

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: soft-label table not found; regenerate it with `newsstance distill label-unlabelled`")
    if path.suffix.lower() != ".jsonl":
        raise DataError(f"{path}: soft-label tables are JSONL; got '{path.suffix}'")
    read_meta(path)
    rows, numbers = [], []
    for number, row in iter_jsonl(path):
        if split is not None and row.get("split") != split:
            continue
        rows.append(row)
        numbers.append(number)
    if not rows:
        raise DataError(f"{path}: no rows" + (f" with split == {split!r}" if split else ""))
    offsets = "file" in rows[0]
    texts = {}
    if offsets:
        for number, row in zip(numbers, rows):
            missing = [k for k in ("file", "start", "end", "sentence_index") if k not in row]
            if missing:
                raise DataError(f"{path}:{number}: missing field(s) {missing}; offset rows need file, start, end, sentence_index")
            if is_test_file(str(row["file"])):
                raise DataError(f"{path}:{number}: {row['file']} is in PolNeAR's test split, which is never used")
        texts = article_texts(path, sorted({r["file"] for r in rows}), polnear_dir)
    out = []
    for number, row in zip(numbers, rows):
        where = f"{path}:{number}"
        probs = probabilities(row, where)
        if offsets:
            fields = sentence_fields(path, number, row, texts[row["file"]])
        else:
            names = {"text": columns.text, "doc_id": columns.doc_id, "sentence_index": columns.sentence_index}
            missing = [src for src in names.values() if src not in row]
            if missing:
                raise DataError(f"{where}: missing field(s) {missing}; a soft row needs a sentence (text, doc_id, "
                                "sentence_index) or PolNeAR offsets (file, start, end, sentence_index)")
            fields = {dst: row[src] for dst, src in names.items()}
            if not isinstance(fields["text"], str) or not fields["text"].strip():
                raise DataError(f"{where}: empty text; every row needs a non-empty sentence")
        out.append({**fields, "label": LABELS[int(np.argmax(probs))], "soft": True,
                    **dict(zip(PROB_COLUMNS, probs))})
    frame = pd.DataFrame(out)
    frame["doc_id"] = frame["doc_id"].astype(str)
    frame["sentence_index"] = frame["sentence_index"].astype(int)
    return frame


def soft_mask(frame: pd.DataFrame) -> np.ndarray:
    """True for the rows that carry a teacher's probabilities rather than a gold label."""
    if "soft" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame["soft"].fillna(False).astype(bool).to_numpy()


def gold_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with a gold label (for baselines, class weights and statistics)."""
    mask = soft_mask(frame)
    return frame[~mask] if mask.any() else frame
