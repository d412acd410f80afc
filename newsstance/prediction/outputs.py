"""A predict run's outputs: which may be written (checked before anything is touched), and the
final conversion of the streamed JSONL rows into the requested format.

Every output (predictions, summary, errors file, run record, HTML folder) follows one rule: it
is refused if it exists, unless --overwrite or --resume; refused if it is one of the inputs or
another output. Nothing already written is lost.
"""

from __future__ import annotations

from pathlib import Path

from newsstance.defaults import ARTICLE_SUFFIXES
from newsstance.errors import NewsstanceError, OutputExistsError
from newsstance.files import atomic_path
from newsstance.prediction import html_report
from newsstance.prediction.journal import RunFiles, recorded_outputs
from newsstance.prediction.options import PredictOptions

CONVERT_ROWS = 50_000  # rows converted to CSV/Parquet at a time


def check_paths(files: RunFiles) -> None:
    """Outputs that could never be written: a missing folder, -o naming a folder, --html a file."""
    for name, path in [("-o", files.output)] + ([("--summary", files.summary)] if files.summary else []):
        if path.is_dir():
            raise NewsstanceError(f"{name} {path}: is a folder; give a file name, such as {path / 'predictions.jsonl'}"
                                  if name == "-o" else f"{name} {path}: is a folder; give a file name, such as {path / 'summary.csv'}")
        if not path.parent.is_dir():
            raise NewsstanceError(f"{path}: the folder {path.parent} does not exist; create it first")
    if files.html and files.html.exists() and not files.html.is_dir():
        raise NewsstanceError(f"--html {files.html}: is a file, not a folder; give --html a folder for the report "
                              f"(it holds index.html and one page per article)")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_outputs(files: RunFiles, options: PredictOptions) -> None:
    """Refuse outputs that collide with each other or with the inputs, or that exist without
    --overwrite/--resume; and a --resume with nothing to resume. Runs under the lock, touches nothing."""
    named = {name: path.resolve() for name, path in files.named().items()}
    seen: dict[Path, str] = {}
    for name, path in named.items():
        if path in seen:
            raise NewsstanceError(f"{name} and {seen[path]} are the same file ({path}); give each output its own name")
        seen[path] = name
    internal = {p.resolve() for p in (files.rows, files.journal, files.lock, files.lock_pid, files.summary_rows)}
    for name in ("--summary", "--html"):
        if named.get(name) in internal:
            raise NewsstanceError(f"{name} {named[name]}: is one of the files -o {files.output} writes; give it another name")
    if files.html:
        report = named["--html"]
        for name, path in named.items():
            if name != "--html" and path.parent == report and (path.name in ("index.html", html_report.MARKER)
                                                             or html_report.PAGE.fullmatch(path.name)):
                raise NewsstanceError(f"{name} {path}: the HTML report in {report} writes this file; give it another name")

    recorded = recorded_outputs(files)
    everything = {**{f"{p.name} (a file of -o)": p for p in internal}, **named}
    for raw in options.paths:
        given = Path(raw).resolve()
        for name, path in everything.items():
            if path == given or (name == "--html" and _inside(given, path)):
                what = "is" if path == given else "contains"
                raise NewsstanceError(f"{name} {path}: {what} one of the inputs; write outputs elsewhere")
            if (given.is_dir() and _inside(path, given) and path.is_file() and path not in recorded
                    and path.suffix.lower() in ARTICLE_SUFFIXES):
                raise NewsstanceError(f"{name} {path}: is an article file in the input folder {given} (no newsstance run "
                                      f"record lists it as an output); write outputs elsewhere")

    if options.resume and not files.journal.exists():
        done = "is complete" if files.output.exists() else "was never started"
        raise NewsstanceError(f"{files.output}: nothing to resume (no {files.journal.name}; the run {done}); "
                              "run without --resume" + (" and with --overwrite to replace it" if files.output.exists() else ""))
    if files.journal.exists() and not (options.resume or options.overwrite):
        raise OutputExistsError(f"{files.output}: an interrupted run left {files.journal.name}; "
                                "pass --resume to continue it or --overwrite to start again")
    if files.html:
        html_report.check_folder(files.html, options.overwrite, options.resume)
    if options.resume or options.overwrite:
        return
    for name, path in files.named().items():
        if name != "--html" and path.exists():
            raise OutputExistsError(f"{path}: already exists ({name}); pass --overwrite to replace it")


def finalize_rows(partial: Path, target: Path, fmt: str, before_rename=None) -> None:
    """Convert the JSONL partial rows to `fmt` and put them in place as `target`, in one rename.

    `before_rename` runs when the converted file is complete but not yet in place: the run
    writes its record there, so that a crash leaves either a run --resume can finish or a
    finished run, never predictions without their record."""
    if fmt == "jsonl":
        if before_rename:
            before_rename()
        partial.replace(target)  # one atomic rename
        return
    with atomic_path(target) as tmp:
        _convert(partial, tmp, fmt)
        if before_rename:
            before_rename()
    partial.unlink()  # last: until the output is in place, --resume still has the rows


def _convert(partial: Path, tmp: Path, fmt: str) -> None:
    import pandas as pd

    chunks = pd.read_json(partial, lines=True, chunksize=CONVERT_ROWS, dtype=False) if partial.stat().st_size else []
    writer, first = None, True
    for frame in chunks:
        if fmt == "csv":
            frame.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        first = False
    if writer:
        writer.close()
    if first:  # no rows at all
        tmp.write_text("", encoding="utf-8")


def write_summary_csv(partial: Path, target: Path) -> None:
    import pandas as pd

    frame = pd.read_json(partial, lines=True, dtype=False) if partial.exists() and partial.stat().st_size else pd.DataFrame()
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
