"""The files one predict run owns, the lock that makes it the only writer, and its journal.

Every file is named after the output `OUT`: rows stream to `OUT.partial`, per-article summaries
to `OUT.summary.partial`, read errors to `OUT.errors.jsonl`, and `OUT.journal` records after
every flushed chunk which articles are done and how long each partial file was. The journal's
first line is the run's header: what makes it the same run (model and its weights' hash,
threshold, inputs and their sizes and times, formats and outputs) and every file it writes, so
that `--resume` continues only the same run and later runs recognise these files as outputs.
When everything is written, `OUT.run.json` records the finished run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from newsstance.errors import NewsstanceError
from newsstance.files import sha256_file, write_jsonl_atomic
from newsstance.prediction.options import PredictOptions, RunStats

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class RunFiles:
    """The paths one run uses; all but the summary and HTML folder derive from the output."""

    def __init__(self, options: PredictOptions):
        self.output = Path(options.output)
        self.rows = self._beside(".partial")
        self.journal = self._beside(".journal")
        self.errors = self._beside(".errors.jsonl")
        self.record = self._beside(".run.json")
        self.lock = self._beside(".lock")
        self.lock_pid = pid_file(self.lock)
        self.summary = Path(options.summary) if options.summary else None
        self.summary_rows = self._beside(".summary.partial")
        self.html = Path(options.html) if options.html else None

    def _beside(self, suffix: str) -> Path:
        return self.output.with_name(self.output.name + suffix)

    def finished(self) -> list[Path]:
        """Every file a finished run leaves (for its run record), resolved."""
        paths = [self.output, self.errors, self.summary, self.html, self.record, self.lock]
        return [p.resolve() for p in paths if p is not None]

    def all(self) -> list[Path]:
        """Every file the run writes at some point (for the journal, and to keep out of the inputs)."""
        return self.finished() + [p.resolve() for p in (self.rows, self.summary_rows, self.journal, self.lock_pid)]

    def named(self) -> dict[str, Path]:
        """The outputs a user names or sees, for messages: option name -> path."""
        out = {"-o": self.output, "the errors file": self.errors, "the run record": self.record}
        if self.summary:
            out["--summary"] = self.summary
        if self.html:
            out["--html"] = self.html
        return out


class OutputLock:
    """An exclusive lock file held for the whole run: one writer per output, ever.

    The holder writes its pid beside the lock (`LOCK.pid`) so that a refused run can name it. Both
    files are removed when the run ends (while still held, so no other run sees them half-gone)."""

    def __init__(self, lock: Path, output: Path):
        self.lock, self.output = Path(lock), Path(output)
        self.pid_file = pid_file(self.lock)
        self._lock = None

    def __enter__(self) -> "OutputLock":
        import filelock

        lock = filelock.FileLock(str(self.lock), timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            try:
                pid = self.pid_file.read_text(encoding="utf-8").strip() or "unknown"
            except OSError:
                pid = "unknown"
            raise NewsstanceError(f"another newsstance predict is writing {self.output} (pid {pid}); "
                                  "wait for it to finish (or stop it), then run again") from None
        except OSError as exc:
            raise NewsstanceError(f"{self.lock}: cannot create the lock file ({exc.strerror}); "
                                  f"the folder {self.lock.parent} must be writable") from None
        self._lock = lock
        self.pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        removed = False
        try:
            self.pid_file.unlink(missing_ok=True)
            self.lock.unlink(missing_ok=True)
            removed = True
        except OSError:  # Windows cannot delete a file it holds open: remove it once released
            pass
        finally:
            self._lock.release()
        if not removed:
            for path in (self.pid_file, self.lock):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass


def pid_file(lock: Path) -> Path:
    """Where the holder of `lock` writes its pid."""
    return lock.with_name(lock.name + ".pid")


_hashes: dict[tuple[str, int, int], str] = {}


def _hash(path: Path) -> str:
    """SHA-256 of a file, cached by (path, size, mtime_ns): a resume in the same process rehashes nothing."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        _hashes[key] = sha256_file(path)
    return _hashes[key]


def model_fingerprint(folder: Path) -> dict[str, str]:
    """SHA-256 of the model's config and weights: a model retrained in place gets another."""
    return {name: _hash(folder / name) for name in ("config.json",) + WEIGHT_FILES if (folder / name).exists()}


def input_stamps(files: list[Path]) -> dict[str, list[int]]:
    """Each input file's [size, mtime_ns]: a file edited between a run and its resume changes its stamp."""
    stamps = {}
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue  # unreadable: the reader records it as an error
        stamps[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return stamps


# header keys that make two runs the same run: a resume that changes one would mix two runs in one output
RUN_IDENTITY = ("model", "backend", "quantize", "min_confidence", "inputs", "format", "summary", "html")


def _identity_problems(started: dict, header: dict) -> list[str]:
    problems = []
    for key in RUN_IDENTITY:
        was, now = started.get(key), header.get(key)
        if was == now:
            continue
        if key in ("summary", "html") and not was:
            problems.append(f"--{key} {now} was not part of the interrupted run (its index would link to pages "
                            f"of articles done before); resume without --{key}")
        elif key in ("summary", "html") and not now:
            problems.append(f"the interrupted run also wrote --{key} {was}; resume with --{key} {was}")
        else:
            problems.append(f"a different {key} than the interrupted run ({key}={was!r} then, {now!r} now)")
    if not problems and started.get("model_sha256") != header.get("model_sha256"):
        was, now = started.get("model_sha256") or {}, header.get("model_sha256") or {}
        changed = sorted(n for n in set(was) | set(now) if was.get(n) != now.get(n))
        what = "weights" if any(n in WEIGHT_FILES for n in changed) else "config"
        problems.append(f"the model {what} in {header.get('model')} changed since the interrupted run "
                        f"({', '.join(changed)} differ)")
    if not problems:
        was, now = started.get("input_stamps") or {}, header.get("input_stamps") or {}
        for path, stamp in sorted(was.items()):
            if path not in now:
                problems.append(f"input {path} is gone or unreadable since the interrupted run")
            elif now[path] != stamp:
                size = f"size {stamp[0]} -> {now[path][0]}" if stamp[0] != now[path][0] else "modified time changed"
                problems.append(f"input {path} changed ({size})")
    return problems


def read_journal(journal: Path) -> tuple[dict, list[dict]]:
    """(header, entries) of a journal; a torn last line (a crash mid-write) ends the entries."""
    entries: list[dict] = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break
    started = entries.pop(0).get("header", {}) if entries and "header" in entries[0] else {}
    return started, entries


def restore(files: RunFiles, header: dict) -> tuple[set[str], RunStats, bool]:
    """Done article keys, counters and whether every article was done, from the journal; the
    partial files are cut back to its last entry. A journal whose run differs from `header`
    (another model or weights, threshold, inputs, outputs) is refused, naming what changed."""
    started, entries = read_journal(files.journal)
    problems = _identity_problems(started, header)
    if problems:
        raise NewsstanceError(f"{files.output}: cannot --resume: " + "; ".join(problems)
                              + ". Rerun it as it was, or start again with --overwrite")
    complete = bool(entries) and entries[-1].get("complete", False)
    chunks = [e for e in entries if "done" in e]
    last = chunks[-1] if chunks else None
    if not complete:
        for path, key in ((files.rows, "rows"), (files.summary_rows, "summary"), (files.errors, "errors")):
            if path.exists():
                with path.open("r+b") as handle:
                    handle.truncate(last[key] if last else 0)
        write_jsonl_atomic(files.journal, [{"header": started}] + chunks)  # a crash here keeps the old journal
    done = {key for e in chunks for key in e["done"]}
    stats = RunStats(**(entries[-1] if complete else last or {}).get("stats", {}))
    stats.resumed_articles = len(done)
    return done, stats, complete


def completed_entry(stats: RunStats) -> dict:
    """The journal's last line once every article is done: from here on only outputs are written."""
    return {"complete": True, "stats": asdict(stats)}


def recorded_outputs(files: RunFiles) -> set[Path]:
    """Outputs that this output's run record or journal lists (written by an earlier run)."""
    listed: set[Path] = set()
    try:
        listed |= {Path(p) for p in json.loads(files.record.read_text(encoding="utf-8")).get("outputs", [])}
    except (OSError, ValueError, AttributeError):
        pass
    try:
        listed |= {Path(p) for p in read_journal(files.journal)[0].get("outputs", [])}
    except (OSError, ValueError, AttributeError):
        pass
    return listed
