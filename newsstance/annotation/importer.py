"""`annotate import`: labelled tasks back into a sentence table that `newsstance train` reads.

Input: Label Studio's JSON export (tasks with "annotations"), or a task file from `annotate
select` whose `label` column was filled (also Label Studio's JSON-MIN/CSV exports, which have the
same flat shape). Output: a table (JSONL, CSV or Parquet, by extension) with the columns of
data/corpus/sentences.jsonl: doc_id, sentence_index, start, end, text, label, plus the context
the model saw (previous, headline) and the article's file. Use it as a `table` source in a config.

Every row is checked and every problem reported at once, each with its row or task: a missing
or unknown label, annotators who disagree, a task given twice, offsets that no longer point at
the sentence in the article. Nothing is written unless all rows pass.
"""

from __future__ import annotations

import difflib
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

from newsstance.annotation.tasks import Record, article_file, read_records
from newsstance.defaults import MAX_ARTICLE_BYTES
from newsstance.errors import DataError, OutputExistsError
from newsstance.files import atomic_path, write_jsonl_atomic
from newsstance.labels import LABELS
from newsstance.prediction.inputs import InputError, inventory
from newsstance.prediction.readers import Article, Fields, iter_articles, read_file

logger = logging.getLogger(__name__)

TABLE_COLUMNS = ("doc_id", "sentence_index", "start", "end", "text", "label", "previous", "headline", "file")
TABLE_SUFFIXES = (".jsonl", ".csv", ".parquet")
REQUIRED = ("article_id", "sentence_index", "start", "end", "text")
MAX_SHOWN = 50  # problems listed in the error message; the count covers all


@dataclass
class ImportResult:
    output: Path
    rows: int
    source: str  # "labelstudio" or "tasks"
    checked: int  # rows whose text was compared with their article
    unchecked: int  # rows whose article was not found (no --articles and the file moved)
    skipped: int  # unlabelled rows left out with skip_unlabelled


def did_you_mean(label: str) -> str:
    """' (did you mean X?)' for a near miss of a label name, else ''."""
    norm = label.strip().lower().replace(" ", "_").replace("-", "_")
    close = [l for l in LABELS if norm and norm in l] or difflib.get_close_matches(norm, LABELS, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ArticleIndex:
    """The article texts tasks point to: from --articles when given, else each task's own file."""

    def __init__(self, paths: Sequence[Union[str, Path]] | None, fields: Fields = Fields(), max_bytes: int = MAX_ARTICLE_BYTES):
        self.given = bool(paths)
        self.fields, self.max_bytes = fields, max_bytes
        self._by_key: dict[tuple[str, int], Article] = {}
        self._by_id: dict[str, list[Article]] = defaultdict(list)
        self._read: set[str] = set()
        if paths:
            try:
                found = inventory(list(paths))
            except InputError as exc:
                raise DataError(f"--articles: {exc}") from None
            self._add(iter_articles(found.files, fields, max_bytes))

    def _add(self, items) -> None:
        for item in items:
            if isinstance(item, Article):
                self._by_key[(str(Path(item.path).resolve()), item.position)] = item
                self._by_id[item.id].append(item)

    def find(self, path: str, position: int, article_id: str) -> tuple[Article | None, str | None]:
        """(article, None), or (None, why it is missing) when --articles was given, or (None, None)."""
        key = (str(Path(path).resolve()), position) if path else None
        if key and key not in self._by_key and not self.given and key[0] not in self._read and Path(path).is_file():
            self._read.add(key[0])
            self._add(read_file(Path(path), self.fields, self.max_bytes))
        if key in self._by_key:
            return self._by_key[key], None
        if not self.given:
            return None, None
        same_id = self._by_id.get(article_id, [])
        if len(same_id) == 1:
            return same_id[0], None
        if same_id:
            return None, (f"article id {article_id!r} names {len(same_id)} articles in --articles "
                          f"({', '.join(a.key for a in same_id[:3])}); keep the task's path or give the articles distinct ids")
        return None, f"its article {article_id!r} ({path or 'no path'}) is not among --articles; add the folder that holds it"


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _label(record: Record, problems: list[str]) -> str | None:
    """The record's one label, or None with the problem recorded."""
    labels = {label for label, _ in record.labels}
    if not labels:
        return None
    if len(labels) > 1:
        who = ", ".join(f"{'annotator ' + str(a) if a is not None else 'a row'} chose {l!r}" for l, a in record.labels)
        problems.append(f"{record.where}: the annotators disagree ({who}); adjudicate in Label Studio "
                        "(keep one annotation, cancel the others) and export again")
        return None
    label = labels.pop()
    if label not in LABELS:
        problems.append(f"{record.where}: unknown label {label!r}{did_you_mean(label)}; labels are {', '.join(LABELS)}")
        return None
    return label


def _row(record: Record, problems: list[str]) -> dict | None:
    """The table row for one record, or None with its problems recorded."""
    f = record.fields
    if "article_id" not in f and "doc_id" in f:
        f = {**f, "article_id": f["doc_id"]}
    missing = [k for k in REQUIRED if f.get(k) in (None, "")]
    if missing:
        problems.append(f"{record.where}: missing {', '.join(missing)}; every task needs {', '.join(REQUIRED)} "
                        "as `annotate select` wrote them (do not delete those columns)")
        return None
    numbers = {k: _int(f[k]) for k in ("sentence_index", "start", "end")}
    bad = [f"{k}={f[k]!r}" for k, v in numbers.items() if v is None or v < 0]
    if not bad and numbers["end"] <= numbers["start"]:
        bad = [f"start={f['start']!r}", f"end={f['end']!r}"]
    if bad:
        problems.append(f"{record.where}: expected whole numbers >= 0 with start < end, got {', '.join(bad)}")
        return None
    path = _text(f.get("path"))
    return {
        "doc_id": str(f["article_id"]), **numbers, "text": _text(f["text"]), "label": None,
        "previous": _text(f.get("previous")), "headline": _text(f.get("headline")),
        "file": article_file(path, _int(f.get("position")) or 1) if path else "",
        "_path": path, "_position": _int(f.get("position")) or 1,
    }


def _check_offsets(row: dict, where: str, index: ArticleIndex, problems: list[str]) -> bool | None:
    """True: the text matches its article; False: a problem was recorded; None: not checked."""
    start, end, text = row["start"], row["end"], row["text"]
    article, missing = index.find(row["_path"], row["_position"], row["doc_id"])
    if missing:
        problems.append(f"{where}: {missing}")
        return False
    if article is None:
        if end - start != len(text):
            problems.append(f"{where}: offsets {start}:{end} span {end - start} characters but the text has {len(text)}; "
                            "the text was edited or the offsets are wrong")
            return False
        return None
    actual = article.text[start:end]
    if actual != text:
        problems.append(f"{where}: the text no longer matches the article {article.key} at {start}:{end}: "
                        f"the task has {text!r}, the article has {actual!r}; re-run `annotate select` on the "
                        "current articles, or restore the task's text")
        return False
    return True


def write_table(rows: list[dict], output: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    suffix = output.suffix.lower()
    if suffix == ".jsonl":
        write_jsonl_atomic(output, frame.to_dict("records"))
    else:
        with atomic_path(output) as tmp:
            if suffix == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)


def import_annotations(
    export: Union[str, Path], output: Union[str, Path], articles: Sequence[Union[str, Path]] | None = None,
    overwrite: bool = False, skip_unlabelled: bool = False, fields: Fields = Fields(),
) -> ImportResult:
    """Turn a Label Studio export or a filled task file into a sentence table; raise DataError
    listing every problem (nothing written), else write `output` and say what was checked."""
    export, output = Path(export), Path(output)
    if output.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"{output}: a sentence table is .jsonl, .csv or .parquet; got '{output.suffix or '(no extension)'}'")
    if output.exists() and output.resolve() == export.resolve():
        raise DataError(f"{output}: the table would overwrite the export it is read from; choose another -o")
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output}: already exists; pass --overwrite to replace it, or choose another -o")
    source, records = read_records(export)
    index = ArticleIndex(articles, fields)
    problems: list[str] = []
    rows, seen_span, seen_index = [], {}, {}
    checked = unchecked = skipped = 0
    for record in records:
        problems += record.problems
        row = _row(record, problems)
        label = _label(record, problems)
        if row is None:
            continue
        if label is None and not record.labels and not record.problems:  # (a problem already says why)
            if skip_unlabelled:
                skipped += 1
                continue
            problems.append(f"{record.where}: no label; fill the `label` column (one of {', '.join(LABELS)}), "
                            "or pass --skip-unlabelled to leave unlabelled tasks out")
        span = (row["doc_id"], row["file"], row["start"], row["end"])
        if span in seen_span:
            problems.append(f"{record.where}: the same sentence as {seen_span[span]} (article {row['doc_id']!r}, "
                            f"characters {row['start']}:{row['end']}); a task must appear once: delete one")
            continue
        seen_span[span] = record.where
        at = (row["doc_id"], row["sentence_index"])
        if at in seen_index:
            problems.append(f"{record.where}: article {row['doc_id']!r} sentence {row['sentence_index']} is also "
                            f"{seen_index[at]}, at other offsets; two articles share this id: give them distinct ids")
            continue
        seen_index[at] = record.where
        verdict = _check_offsets(row, record.where, index, problems)
        checked += verdict is True
        unchecked += verdict is None
        row["label"] = label
        rows.append(row)
    if problems:
        shown = "\n  ".join(problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise DataError(f"{export}: {len(problems)} problem(s); nothing was written:\n  {shown}{more}")
    if not rows:
        raise DataError(f"{export}: no labelled tasks to import ({skipped} unlabelled left out)")
    rows.sort(key=lambda r: (r["doc_id"], r["file"], r["sentence_index"]))
    write_table([{k: r[k] for k in TABLE_COLUMNS} for r in rows], output)
    if unchecked:
        logger.warning("%d row(s) not checked against their article (file not found); pass --articles to check them", unchecked)
    return ImportResult(output, len(rows), source, checked, unchecked, skipped)
