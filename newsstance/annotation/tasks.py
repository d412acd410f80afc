"""Annotation tasks on disk, both ways: written by `annotate select`, read by `annotate import`.

A task is one sentence to label, with what the annotator needs to judge it (the previous
sentence and the headline), the model's guess and probabilities (a pre-annotation), why it was
picked, where it is (article id, file, offsets) and an empty `label` to fill.

Formats, chosen by the output's extension or --format:
- jsonl, csv, json: one flat row per task (a spreadsheet-friendly CSV for a plain annotator);
- labelstudio: Label Studio's JSON task import format, a list of {"data": ..., "predictions":
  [...]} (https://labelstud.io/guide/task_format), with the labelling config XML written next to
  it so the project can be created with the same label names.

Read back: the filled jsonl/csv/json, Label Studio's JSON export (tasks with "annotations"), or
its JSON-MIN/CSV exports (flat rows whose `label` column holds the choice).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from newsstance.errors import DataError, NewsstanceError
from newsstance.files import iter_jsonl, write_atomic
from newsstance.labels import DESCRIPTIONS, LABELS

TASK_FORMATS = ("jsonl", "csv", "json", "labelstudio")
SUFFIX_FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".json": "json"}
FROM_NAME, TO_NAME = "label", "text"  # the Label Studio control and object tag names
PROB_COLUMNS = tuple(f"p_{label}" for label in LABELS)
# label first, then what the annotator reads, then the model's guess, then bookkeeping
COLUMNS = (
    "task_id", "label", "text", "previous", "headline", "predicted", "predicted_score", *PROB_COLUMNS,
    "reason", "measure", "selection_score", "article_id", "path", "position", "sentence_index", "start", "end",
)
MULTI_ARTICLE_SUFFIXES = (".json", ".jsonl", ".csv")  # files that hold several articles


def article_file(path: str, position: int) -> str:
    """How tables name an article's file: the path, plus #N for the N-th article of a JSON/JSONL/CSV file."""
    return f"{path}#{position}" if Path(path).suffix.lower() in MULTI_ARTICLE_SUFFIXES else str(path)


def task_format(output: Path, requested: str | None = None) -> str:
    """The task format: --format if given (checked against the extension), else the extension."""
    suffix = Path(output).suffix.lower()
    found = SUFFIX_FORMATS.get(suffix)
    if requested is None:
        if found is None:
            raise NewsstanceError(f"{output}: cannot tell the task format from '{suffix or '(no extension)'}'; "
                                  f"name the output .jsonl, .csv or .json, or pass --format {'|'.join(TASK_FORMATS)}")
        return found
    if requested not in TASK_FORMATS:
        raise NewsstanceError(f"unknown task format {requested!r}; use one of {', '.join(TASK_FORMATS)}")
    expected = "json" if requested == "labelstudio" else requested
    if found != expected:
        raise NewsstanceError(f"{output}: --format {requested} writes a .{expected} file, but the output ends in "
                              f"'{suffix or '(no extension)'}'; name it {Path(output).with_suffix('.' + expected).name}")
    return requested


def label_config_path(output: Path) -> Path:
    """Where the Label Studio labelling config goes: tasks.json -> tasks.label_config.xml."""
    output = Path(output)
    return output.with_name(f"{output.stem}.label_config.xml")


def output_paths(output: Path, fmt: str) -> list[Path]:
    return [Path(output), label_config_path(output)] if fmt == "labelstudio" else [Path(output)]


def label_config() -> str:
    """The Label Studio labelling interface: headline and previous sentence for context, the
    sentence, and one single choice among the labels (with their definitions as hints)."""
    choices = "\n".join(f"    <Choice value={quoteattr(l)} hint={quoteattr(DESCRIPTIONS[l])}/>" for l in LABELS)
    return (
        "<View>\n"
        '  <Header value="$headline" size="5"/>\n'
        '  <Text name="previous" value="$previous"/>\n'
        f'  <Text name="{TO_NAME}" value="$text"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInLine="true" required="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def labelstudio_task(row: dict, model_version: str) -> dict:
    """One task in Label Studio's import format, with the model's guess as a prediction."""
    data = {k: v for k, v in row.items() if k != "label"}
    prediction = {
        "model_version": model_version,
        "score": row["predicted_score"],
        "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [row["predicted"]]}}],
    }
    return {"data": data, "predictions": [prediction]}


def render_tasks(rows: list[dict], fmt: str, model_version: str = "newsstance") -> str:
    rows = [{c: row.get(c, "") for c in COLUMNS} for row in rows]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    if fmt == "labelstudio":
        return json.dumps([labelstudio_task(r, model_version) for r in rows], ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    raise NewsstanceError(f"unknown task format {fmt!r}; use one of {', '.join(TASK_FORMATS)}")


def write_tasks(rows: list[dict], output: Path, fmt: str, model_version: str = "newsstance") -> list[Path]:
    """Write the tasks (and, for Label Studio, the labelling config) atomically; the paths written."""
    write_atomic(Path(output), render_tasks(rows, fmt, model_version))
    if fmt == "labelstudio":
        write_atomic(label_config_path(output), label_config())
    return output_paths(output, fmt)


# --- reading back -----------------------------------------------------------------------


@dataclass
class Record:
    """One task as read back: where it is in the file, its data, and the labels given to it."""

    where: str  # "tasks.csv:5 (task 4)" or "export.json: task 17"
    fields: dict
    labels: list[tuple[str, object]] = field(default_factory=list)  # (label, annotator) per annotation
    problems: list[str] = field(default_factory=list)  # shape problems met while reading


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip())


def _flat_labels(value) -> list[tuple[str, object]]:
    """The label cell of a flat row: a string, or Label Studio JSON-MIN's {"choices": [...]}."""
    if isinstance(value, dict) and "choices" in value:
        value = value["choices"]
    if isinstance(value, list):
        return [(str(v).strip(), None) for v in value if not _blank(v)]
    return [] if _blank(value) else [(str(value).strip(), None)]


def _annotation_labels(annotation: dict, where: str, problems: list[str]) -> list[str]:
    choices = []
    for result in annotation.get("result") or []:
        if not isinstance(result, dict):
            continue
        value = result.get("value") if isinstance(result.get("value"), dict) else {}
        if "choices" in value and result.get("from_name", FROM_NAME) == FROM_NAME:
            choices += [str(c).strip() for c in value["choices"] or []]
    if len(choices) > 1:
        who = annotation.get("completed_by")
        problems.append(f"{where}: annotation {annotation.get('id')} (annotator {who}) chose several labels {choices}; "
                        "each sentence takes exactly one: fix it in Label Studio (the config says choice=\"single\")")
    return choices


def _labelstudio_records(path: Path, items: list) -> list[Record]:
    if not any("annotations" in item for item in items):
        raise DataError(f"{path}: Label Studio tasks without any annotations (is this the file `annotate select` "
                        "wrote?); label the tasks, then export the project from Label Studio as JSON and import that")
    records = []
    for number, item in enumerate(items, start=1):
        where = f"{path}: task {item.get('id', f'#{number}')}"
        record = Record(where, dict(item["data"]))
        if "task_id" in record.fields:
            record.where += f" (task_id {record.fields['task_id']})"
        for annotation in item.get("annotations") or []:
            if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                continue  # a skipped task is no label
            choices = _annotation_labels(annotation, record.where, record.problems)
            if len(choices) == 1:
                record.labels.append((choices[0], annotation.get("completed_by")))
        records.append(record)
    return records


def _flat_record(where: str, row: dict) -> Record:
    row = {str(k).lstrip("\ufeff"): v for k, v in row.items()}  # a spreadsheet may add a BOM to the first name
    if not _blank(row.get("task_id")):
        where += f" (task {row['task_id']})"
    return Record(where, row, _flat_labels(row.get("label")))


def _not_tasks(path: Path, found: str) -> DataError:
    return DataError(
        f"{path}: neither a Label Studio export nor tasks written by `newsstance annotate select` ({found}); "
        "import the JSON export of a Label Studio project, or the filled .jsonl/.csv/.json from `annotate select`"
    )


def read_records(path: Path) -> tuple[str, list[Record]]:
    """('labelstudio' | 'tasks', records) for a Label Studio export or a filled task file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the Label Studio export or the filled task file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            items = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _not_tasks(path, f"not valid JSON: {exc}") from None
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            found = "an empty list" if items == [] else f"a JSON {type(items).__name__}" if not isinstance(items, list) else "a list of non-objects"
            raise _not_tasks(path, f"expected a list of task objects, found {found}")
        if all(isinstance(i.get("data"), dict) for i in items):
            return "labelstudio", _labelstudio_records(path, items)
        if all("text" in i for i in items):
            return "tasks", [_flat_record(f"{path}: item {n}", i) for n, i in enumerate(items, start=1)]
        raise _not_tasks(path, f"the first item has keys {sorted(items[0])[:10]}")
    if suffix == ".jsonl":
        records = [_flat_record(f"{path}:{n}", row) for n, row in iter_jsonl(path)]
    elif suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason}); save the CSV as UTF-8") from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        records = [_flat_record(f"{path}:{reader.line_num}", row) for row in reader]
    else:
        raise DataError(f"{path}: cannot read '{suffix}' tasks; import a Label Studio JSON export or a .jsonl/.csv/.json task file")
    if not records:
        raise DataError(f"{path}: no tasks in the file")
    if "text" not in records[0].fields:
        raise _not_tasks(path, f"no 'text' column; found {sorted(records[0].fields)[:10]}")
    return "tasks", records
