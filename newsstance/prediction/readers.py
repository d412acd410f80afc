"""Article readers: each input file (found by `newsstance.prediction.inputs`) turned into
articles (id, path, title, text) or a recorded error. Nothing here raises for one bad file: the
run goes on and the error names the file, the line where there is one, and the reason."""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from newsstance.defaults import MAX_ARTICLE_BYTES

logger = logging.getLogger(__name__)

_TOO_DEEP = "JSON nested too deeply to read (Python's recursion limit); an article is an object or a list of objects"


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



_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))  # UTF-32 first: its LE BOM starts like UTF-16's


def decode(data: bytes) -> str:
    """Text by its BOM, else UTF-16 without a BOM, else UTF-8, else the encoding charset-normalizer
    detects; newlines normalised. Binary data (NUL bytes) raises ValueError."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding:
        text = data.decode(encoding)
    else:
        text = _utf16_without_bom(data)
        if text is None and b"\x00" in data[:8192]:
            raise ValueError("binary file (NUL bytes), not text")
        if text is None:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                from charset_normalizer import from_bytes

                best = from_bytes(data).best()
                if best is None:
                    raise UnicodeDecodeError("unknown", data[:1], 0, 1, "no text encoding fits these bytes")
                text = str(best)
    if "\x00" in text:
        raise ValueError(f"binary file (NUL characters after decoding{f' as {encoding}' if encoding else ''}), not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM: mostly-Latin text has a NUL in every other byte, and only there."""
    sample = data[: min(len(data), 8192) // 2 * 2]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    for zeros, others, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros >= 0.3 * half and others <= 0.01 * half:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                return None
            controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\n\r\f")
            return text if controls <= 0.01 * min(len(text), 4096) else None
    return None


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    check_size(path.stat().st_size, max_bytes)
    return path.read_bytes()


def _plain(path: Path, text: str) -> Article:
    """.txt/.md: the first line is the headline when a blank line follows it."""
    lines = text.split("\n")
    title = lines[0].lstrip("# ").strip() if len(lines) > 2 and lines[0].strip() and not lines[1].strip() else None
    return Article(id=path.stem, path=str(path), text=text, title=title)


def _extractor():
    """trafilatura, imported when the first HTML file is read (it pulls in lxml and justext)."""
    import trafilatura

    return trafilatura


def _html(path: Path, text: str) -> Article:
    trafilatura = _extractor()
    body = trafilatura.extract(text, include_comments=False, include_tables=False, favor_precision=True)
    if not body or not body.strip():
        raise ValueError("no article text found in the HTML (broken page, or no main content)")
    metadata = trafilatura.extract_metadata(text)
    title = metadata.title.strip() if metadata is not None and metadata.title else None
    if title and body.lstrip().startswith(title):  # the page's own <h1> already opens the body
        return Article(id=path.stem, path=str(path), text=body, title=title)
    return Article(id=path.stem, path=str(path), text=f"{title}\n\n{body}" if title else body, title=title)


def _missing_package(exc: ImportError, suffix: str) -> str:
    """One message for a reader whose library is missing, naming the package to install."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "lxml_html_clean" in str(exc) or exc.name in ("lxml.html.clean", "lxml_html_clean"):
        package = "lxml_html_clean"  # lxml >= 5.2 moved its HTML cleaner out; justext still imports it
    elif exc.name:
        package = exc.name.split(".")[0]
    else:
        return f"reading {suffix} files needs a Python package that cannot be imported ({detail}); reinstall newsstance"
    return f"reading {suffix} files needs the Python package {package}, which cannot be imported ({detail}); install it with `pip install {package}`"


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


def _csv_rows(path: Path, text: str, fields: Fields, max_bytes: int) -> Iterator[Article | ReadError]:
    # the csv module refuses fields over 128 KB by default; no field can be longer than its file
    csv.field_size_limit(max(csv.field_size_limit(), min(max_bytes, 2**31 - 1)))
    reader = csv.reader(io.StringIO(text, newline=""))  # quoted fields keep their newlines
    position = 0
    try:
        header = next(reader, None)
        if header is None or fields.text not in header:
            yield ReadError(str(path), f"missing text column '{fields.text}' (columns: {header}); name it with --text-field", 1)
            return
        for row in reader:
            if not row:
                continue  # a blank line
            position += 1
            if len(row) < len(header) or any(v.strip() for v in row[len(header):]):
                yield ReadError(str(path), f"row {position} has {len(row)} fields, the header has {len(header)}; "
                                           "check that row's quoting and commas", reader.line_num, position)
                continue
            yield _record(path, dict(zip(header, row)), fields, reader.line_num, position)
    except csv.Error as exc:  # the rest of the file cannot be trusted after a parse error
        yield ReadError(str(path), f"row {position + 1}: not valid CSV ({exc})", reader.line_num, position + 1)


def check_size(size: int, max_bytes: int) -> None:
    """ValueError for an empty file or one over the limit (local files, and remote ones before download)."""
    if size == 0:
        raise ValueError("empty file")
    if size > max_bytes:
        raise ValueError(f"too large ({size:,} bytes; the limit is {max_bytes:,}); split it or raise --max-bytes")


def _read(path: Path, fields: Fields, max_bytes: int, data: bytes | None = None) -> Iterator[Article | ReadError]:
    try:
        if data is not None:
            check_size(len(data), max_bytes)
        text = decode(data if data is not None else _read_bytes(path, max_bytes))
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
                    except RecursionError:
                        yield ReadError(str(path), _TOO_DEEP, number, number)
        elif suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield ReadError(str(path), f"not valid JSON ({exc.msg})", exc.lineno)
                return
            except RecursionError:
                yield ReadError(str(path), _TOO_DEEP)
                return
            for i, obj in enumerate(data if isinstance(data, list) else [data], start=1):
                yield _record(path, obj, fields, None, i)
        elif suffix == ".csv":
            yield from _csv_rows(path, text, fields, max_bytes)
    except ValueError as exc:
        yield ReadError(str(path), str(exc))


def read_file(path: Path, fields: Fields = Fields(), max_bytes: int = MAX_ARTICLE_BYTES,
              data: bytes | None = None) -> Iterator[Article | ReadError]:
    """Articles of one file, or ReadErrors; one bad record does not stop the rest of the file, and
    no exception from one file, expected or not, ends the run: it becomes that file's ReadError.
    `data`: the file's bytes, already fetched (a remote file); else the file is read from `path`."""
    position = 0
    try:
        for item in _read(Path(path), fields, max_bytes, data):
            position = item.position
            yield item
    except ImportError as exc:
        yield ReadError(str(path), _missing_package(exc, Path(path).suffix.lower() or "these"), None, position + 1)
    except Exception as exc:  # a bug or a hostile file: record it against the file and go on
        logger.debug("unexpected error reading %s", path, exc_info=True)
        reason = "too large to hold in memory" if isinstance(exc, MemoryError) else f"cannot be read ({type(exc).__name__}: {exc})"
        yield ReadError(str(path), reason, None, position + 1)


def iter_articles(files: list[Path], fields: Fields = Fields(), max_bytes: int = MAX_ARTICLE_BYTES) -> Iterator[Article | ReadError]:
    for path in files:
        yield from read_file(path, fields, max_bytes)
