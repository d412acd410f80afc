"""Article readers: folders walked (iteratively, to any depth) and files named directly, each file
turned into articles (id, path, title, text) or a recorded error. Nothing here raises for one bad
file: the run goes on and the error names the file, the line where there is one, and the reason."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Union

from newsstance.defaults import ARTICLE_SUFFIXES, MAX_ARTICLE_BYTES

logger = logging.getLogger(__name__)

# A newsstance predict run lists its outputs in OUT.run.json (when done) and in the first line of
# OUT.journal (while running); a later run over the same folder skips those files.
RECORD_SUFFIXES = (".run.json", ".journal")
RECORD_MAX_BYTES = 64 * 1024 * 1024  # a record lists every input's stamp: ~100 bytes a file
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
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file")
    if size > max_bytes:
        raise ValueError(f"too large ({size:,} bytes; the limit is {max_bytes:,}); split it or raise --max-bytes")
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


def _read(path: Path, fields: Fields, max_bytes: int) -> Iterator[Article | ReadError]:
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


def read_file(path: Path, fields: Fields = Fields(), max_bytes: int = MAX_ARTICLE_BYTES) -> Iterator[Article | ReadError]:
    """Articles of one file, or ReadErrors; one bad record does not stop the rest of the file, and
    no exception from one file, expected or not, ends the run: it becomes that file's ReadError."""
    position = 0
    try:
        for item in _read(Path(path), fields, max_bytes):
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
