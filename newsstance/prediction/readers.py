"""Article readers: folders walked recursively and files named directly, each file turned into
articles (id, path, title, text) or a recorded error. Nothing here raises for one bad file:
the run goes on and the error names the file, the line where there is one, and the reason."""

from __future__ import annotations

import csv
import io
import json

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Union

SUPPORTED = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".csv")
MAX_BYTES = 20 * 1024 * 1024  # a single article file above this is refused


@dataclass(frozen=True)
class Fields:
    """Field names for JSON, JSONL and CSV articles."""

    id: str = "id"
    title: str = "title"
    text: str = "text"


@dataclass(frozen=True)
class Article:
    id: str
    path: str
    text: str  # the text as read; a separate title is prepended as its first line
    title: str | None = None
    position: int = 1  # 1-based: the article's place in its file (line for JSONL, row for CSV)

    @property
    def key(self) -> str:
        return f"{self.path}#{self.position}"


@dataclass(frozen=True)
class ReadError:
    path: str
    reason: str
    line: int | None = None
    position: int = 1

    @property
    def key(self) -> str:
        return f"{self.path}#{self.position}"

    def message(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


@dataclass
class Inventory:
    """What a set of input paths holds: files to read, and what was skipped."""

    files: list[Path] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)


class InputError(Exception):
    """An input path that cannot be used at all (missing, empty folder, nothing supported)."""


def inventory(paths: list[Union[str, Path]], exclude: list[Path] = ()) -> Inventory:
    """Supported files under `paths` (resolved, sorted); `exclude` keeps a run's own outputs out."""
    found = Inventory()
    excluded = [p.resolve() for p in exclude]
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            children = sorted(p.resolve() for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not children:
                raise InputError(f"{path}: the folder is empty")
        else:
            children = [path.resolve()]
        for child in children:
            if any(child == e or e in child.parents for e in excluded) or child.name.startswith(tuple(e.name + "." for e in excluded)):
                continue
            (found.files if child.suffix.lower() in SUPPORTED else found.unsupported).append(child)
    if not found.files:
        kinds = sorted({p.suffix or "(none)" for p in found.unsupported})
        raise InputError(f"no supported article files in {', '.join(map(str, paths))} (found {', '.join(kinds)}); "
                         f"supported: {', '.join(SUPPORTED)}")
    return found


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not) first, else the encoding charset-normalizer detects; newlines normalised."""
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(data).best()
            if best is None:
                raise UnicodeDecodeError("unknown", data[:1], 0, 1, "no text encoding fits these bytes")
            text = str(best)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file")
    if size > max_bytes:
        raise ValueError(f"too large ({size:,} bytes; the limit is {max_bytes:,}); split it or raise --max-bytes")
    data = path.read_bytes()
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("binary file (NUL bytes), not text")
    return data


def _plain(path: Path, text: str) -> Article:
    """.txt/.md: the first line is the headline when a blank line follows it."""
    lines = text.split("\n")
    title = lines[0].lstrip("# ").strip() if len(lines) > 2 and lines[0].strip() and not lines[1].strip() else None
    return Article(id=path.stem, path=str(path), text=text, title=title)


def _html(path: Path, text: str) -> Article:
    import trafilatura

    body = trafilatura.extract(text, include_comments=False, include_tables=False, favor_precision=True)
    if not body or not body.strip():
        raise ValueError("no article text found in the HTML (broken page, or no main content)")
    metadata = trafilatura.extract_metadata(text)
    title = metadata.title.strip() if metadata is not None and metadata.title else None
    if title and body.lstrip().startswith(title):  # the page's own <h1> already opens the body
        return Article(id=path.stem, path=str(path), text=body, title=title)
    return Article(id=path.stem, path=str(path), text=f"{title}\n\n{body}" if title else body, title=title)


def _record(path: Path, obj, fields: Fields, line: int | None, position: int) -> Article | ReadError:
    where = "" if line else f"record {position}: "
    if not isinstance(obj, dict):
        return ReadError(str(path), f"{where}expected a JSON object with a '{fields.text}' field, got {type(obj).__name__}", line, position)
    text = obj.get(fields.text)
    if not isinstance(text, str):
        got = sorted(obj)[:8]
        return ReadError(str(path), f"{where}missing text field '{fields.text}' (fields found: {got}); "
                                    f"name the field with --text-field", line, position)
    if not text.strip():
        return ReadError(str(path), f"{where}empty '{fields.text}'", line, position)
    title = obj.get(fields.title)
    title = title.strip() if isinstance(title, str) and title.strip() else None
    ident = obj.get(fields.id)
    ident = str(ident) if ident not in (None, "") else f"{path.stem}:{line or position}"
    text = text.replace("\r\n", "\n")
    return Article(id=ident, path=str(path), text=f"{title}\n\n{text}" if title else text, title=title, position=position)


def read_file(path: Path, fields: Fields = Fields(), max_bytes: int = MAX_BYTES) -> Iterator[Article | ReadError]:
    """Articles of one file, or ReadErrors; one bad record does not stop the rest of the file."""
    try:
        text = decode(_read_bytes(path, max_bytes))
    except PermissionError:
        yield ReadError(str(path), "permission denied")
        return
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        yield ReadError(str(path), str(exc) if not isinstance(exc, UnicodeDecodeError) else f"cannot decode text ({exc.reason})")
        return
    suffix = path.suffix.lower()
    try:
        if suffix in (".txt", ".md"):
            yield _plain(path, text) if text.strip() else ReadError(str(path), "empty file")
        elif suffix in (".html", ".htm"):
            yield _html(path, text)
        elif suffix == ".jsonl":
            for number, line in enumerate(text.split("\n"), start=1):
                if line.strip():
                    try:
                        yield _record(path, json.loads(line), fields, number, number)
                    except json.JSONDecodeError as exc:
                        yield ReadError(str(path), f"not valid JSON ({exc.msg})", number, number)
        elif suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield ReadError(str(path), f"not valid JSON ({exc.msg})", exc.lineno)
                return
            for i, obj in enumerate(data if isinstance(data, list) else [data], start=1):
                yield _record(path, obj, fields, None, i)
        elif suffix == ".csv":
            reader = csv.DictReader(io.StringIO(text, newline=""))  # quoted fields keep their newlines
            if reader.fieldnames is None or fields.text not in reader.fieldnames:
                yield ReadError(str(path), f"missing text column '{fields.text}' (columns: {reader.fieldnames}); "
                                           "name it with --text-field", 1)
                return
            for position, row in enumerate(reader, start=1):
                yield _record(path, row, fields, reader.line_num, position)
    except ValueError as exc:
        yield ReadError(str(path), str(exc))


def iter_articles(files: list[Path], fields: Fields = Fields(), max_bytes: int = MAX_BYTES) -> Iterator[Article | ReadError]:
    for path in files:
        yield from read_file(path, fields, max_bytes)


