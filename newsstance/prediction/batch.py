"""`newsstance predict`: folders of articles in, one row per sentence out, streaming and safe.

Articles stream through in chunks; rows go to `<output>.partial` as they are made and a
journal records, after every flushed chunk, which articles are done and how long each partial
file was. `--resume` truncates the partial files to the journal's last entry and skips the
articles it lists, so an interrupted run (Ctrl-C, a crash, a killed job) neither redoes nor
duplicates work. When all articles are done the partial rows are converted to the requested
format and renamed into place: a finished output file is always complete.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from newsstance.errors import NewsstanceError, OutputExistsError
from newsstance.files import write_json_atomic
from newsstance.labels import LABELS
from newsstance.prediction.analysis import build_result, inputs
from newsstance.prediction.readers import Article, Fields, InputError, ReadError, inventory, iter_articles
from newsstance.prediction.segmentation import segment

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv", "parquet")
CHUNK_SENTENCES = 512  # sentences classified together; bounds memory whatever the folder size
CACHE_ENTRIES = 200_000  # repeated sentences (wire copy, boilerplate) are classified once
AGREEMENT_SAMPLE = 256  # sentences re-run on fp32 torch to report an ONNX path's label agreement


@dataclass
class PredictOptions:
    paths: list[str]
    output: str
    model: str | None = None
    format: str | None = None  # default: from the output's extension, else jsonl
    summary: str | None = None
    html: str | None = None
    resume: bool = False
    overwrite: bool = False
    batch_size: int = 64
    backend: str = "torch"
    quantize: str | None = None
    min_confidence: float | None = None  # default: the model's calibrated threshold
    fields: Fields = field(default_factory=Fields)
    max_bytes: int = 20 * 1024 * 1024
    threads: int | None = None


@dataclass
class RunStats:
    articles: int = 0
    sentences: int = 0
    errors: int = 0
    skipped_unsupported: int = 0
    resumed_articles: int = 0
    cache_hits: int = 0
    agreement_with_torch_fp32: float | None = None


class _Files:
    """The paths one run uses, all derived from the output path."""

    def __init__(self, options: PredictOptions):
        self.output = Path(options.output)
        self.rows = self.output.with_name(self.output.name + ".partial")
        self.journal = self.output.with_name(self.output.name + ".journal")
        self.errors = self.output.with_name(self.output.name + ".errors.jsonl")
        self.header = self.output.with_name(self.output.name + ".run.json")
        self.summary = Path(options.summary) if options.summary else None
        self.summary_rows = self.output.with_name(self.output.name + ".summary.partial")
        self.html = Path(options.html) if options.html else None

    def partials(self) -> list[Path]:
        return [self.rows, self.journal, self.summary_rows]


def _format(options: PredictOptions) -> str:
    if options.format:
        if options.format not in FORMATS:
            raise NewsstanceError(f"--format {options.format}: use one of {', '.join(FORMATS)}")
        return options.format
    suffix = Path(options.output).suffix.lstrip(".").lower()
    return suffix if suffix in FORMATS else "jsonl"


def _check_outputs(files: _Files, options: PredictOptions) -> None:
    for path in [files.output] + ([files.summary] if files.summary else []):
        if not path.parent.exists():
            raise NewsstanceError(f"{path}: the folder {path.parent} does not exist; create it first")
    if options.resume and options.overwrite:
        raise NewsstanceError("--resume and --overwrite exclude each other")
    if options.overwrite:
        for path in files.partials() + [files.errors]:
            path.unlink(missing_ok=True)
        return
    if files.output.exists():
        done = "is complete" if not files.journal.exists() else "exists"
        raise OutputExistsError(f"{files.output}: already {done}; pass --overwrite to replace it")
    if files.journal.exists() and not options.resume:
        raise OutputExistsError(f"{files.output}: an interrupted run left {files.journal.name}; "
                                "pass --resume to continue it or --overwrite to start again")
    if options.resume and not files.journal.exists():
        raise NewsstanceError(f"{files.output}: nothing to resume (no {files.journal.name}); run without --resume")


RUN_IDENTITY = ("model", "backend", "quantize", "min_confidence", "inputs", "format")


def _restore(files: _Files, header: dict) -> tuple[set[str], RunStats]:
    """Done article keys and counters from the journal; partial files cut back to its last entry.
    The journal's first line is the run's header: resuming with another model, backend,
    threshold, input or format would mix two runs in one file, so it is refused."""
    entries: list[dict] = []
    for line in files.journal.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a torn last line: the entry before it is the last complete chunk
    started = entries.pop(0).get("header", {}) if entries and "header" in entries[0] else {}
    changed = [k for k in RUN_IDENTITY if started.get(k) != header.get(k)]
    if changed:
        raise NewsstanceError(f"{files.output}: --resume with a different {', '.join(changed)} than the interrupted run "
                              f"({', '.join(f'{k}={started.get(k)!r}' for k in changed)}); rerun it as it was, or pass --overwrite")
    last = entries[-1] if entries else None
    for path, key in ((files.rows, "rows"), (files.summary_rows, "summary"), (files.errors, "errors")):
        if path.exists():
            with path.open("r+b") as handle:
                handle.truncate(last[key] if last else 0)
    files.journal.write_text("".join(json.dumps(e) + "\n" for e in [{"header": started}] + entries), encoding="utf-8")
    done = {key for e in entries for key in e["done"]}
    stats = RunStats(**last["stats"]) if last else RunStats()
    stats.resumed_articles = len(done)
    return done, stats


class _Cache:
    """A bounded map from (sentence, context) to probabilities."""

    def __init__(self, size: int):
        self.size, self.data = size, OrderedDict()

    def get(self, key):
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        return None

    def put(self, key, value) -> None:
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)


def _classify(classifier, sentences: list[str], contexts: list, cache: _Cache, stats: RunStats, batch_size: int) -> np.ndarray:
    keys = list(zip(sentences, contexts))
    probs = np.empty((len(keys), len(LABELS)), dtype=np.float32)
    missing: dict = {}
    for i, key in enumerate(keys):
        hit = cache.get(key)
        if hit is None:
            missing.setdefault(key, []).append(i)
        else:
            probs[i] = hit
            stats.cache_hits += 1
    if missing:
        unique = list(missing)
        computed = classifier.probabilities([k[0] for k in unique], [k[1] for k in unique], batch_size)
        for key, row in zip(unique, computed):
            cache.put(key, row)
            probs[missing[key]] = row
        stats.cache_hits += sum(len(v) - 1 for v in missing.values())
    return probs


def _rows(article: Article, result) -> list[dict]:
    return [{
        "article_id": article.id, "path": article.path, "sentence_index": s.index, "start": s.start, "end": s.end,
        "text": s.text, "label": s.label, "score": s.score, **{f"p_{l}": s.scores[l] for l in LABELS},
        "uncertain": s.uncertain,
    } for s in result.sentences]


def _append(path: Path, records: list[dict]) -> int:
    with path.open("a", encoding="utf-8") as handle:
        for r in records:
            handle.write(json.dumps(r, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path.stat().st_size


def _finalize_rows(partial: Path, target: Path, fmt: str) -> None:
    """Convert the JSONL partial rows to the requested format, then rename into place."""
    if fmt == "jsonl":
        partial.replace(target)  # one atomic rename
        return
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = target.with_name(target.name + ".tmp")
    chunks = pd.read_json(partial, lines=True, chunksize=50_000, dtype=False) if partial.stat().st_size else []
    writer, first = None, True
    for frame in chunks:
        if fmt == "csv":
            frame.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        first = False
    if writer:
        writer.close()
    if first:  # no rows at all
        tmp.write_text("", encoding="utf-8")
    tmp.replace(target)
    partial.unlink()  # last: until the output is in place, --resume still has the rows


def _write_summary_csv(partial: Path, target: Path) -> None:
    import pandas as pd

    frame = pd.read_json(partial, lines=True, dtype=False) if partial.exists() and partial.stat().st_size else pd.DataFrame()
    tmp = target.with_name(target.name + ".tmp")
    frame.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(target)


def _agreement(classifier, options: PredictOptions, sentences: list[str], contexts: list) -> float | None:
    """Share of labels the ONNX path gives that fp32 torch also gives, on the first sentences."""
    if options.backend == "torch" or not sentences:
        return None
    from newsstance.prediction.classifier import Classifier

    reference = Classifier(classifier.model, classifier.tokenizer, classifier.settings, classifier.path)
    a = reference.probabilities(sentences, contexts).argmax(axis=1)
    b = classifier.probabilities(sentences, contexts).argmax(axis=1)
    return float((a == b).mean())


def run_predict(options: PredictOptions, progress: bool = True) -> RunStats:
    """Label every sentence of every article under `options.paths`; returns the run's counts."""
    from tqdm.auto import tqdm

    from newsstance import __version__
    from newsstance.prediction.html_report import HtmlReport
    from newsstance.prediction.html_report import clear as clear_html
    from newsstance.prediction.onnx_backend import load_backend

    fmt = _format(options)
    files = _Files(options)
    _check_outputs(files, options)
    own = [files.output] + [p for p in (files.summary, files.html) if p]
    try:
        found = inventory(options.paths, exclude=own)
    except InputError as exc:
        raise NewsstanceError(str(exc)) from None
    classifier = load_backend(options.model, options.backend, options.quantize, options.threads)
    threshold = options.min_confidence if options.min_confidence is not None else classifier.settings.min_confidence
    identity = {"model": str(classifier.path.resolve()), "backend": options.backend, "quantize": options.quantize,
                "min_confidence": threshold, "inputs": [str(Path(p).resolve()) for p in options.paths], "format": fmt}
    if options.resume:
        done, stats = _restore(files, identity)
    else:
        done, stats = set(), RunStats()
        for stale in (files.rows, files.summary_rows, files.errors):  # left by a run killed before its first chunk
            stale.unlink(missing_ok=True)
        _append(files.journal, [{"header": identity}])
    stats.skipped_unsupported = len(found.unsupported)
    if found.unsupported:
        kinds = sorted({p.suffix or "(none)" for p in found.unsupported})
        logger.warning("skipped %d unsupported file(s) (%s)", len(found.unsupported), ", ".join(kinds))
    header = {"newsstance": __version__, **identity, "model_settings": asdict(classifier.settings),
              "files": len(found.files), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    html = HtmlReport(files.html) if files.html else None
    if html and options.overwrite:
        clear_html(files.html)
    cache = _Cache(CACHE_ENTRIES)
    bar = tqdm(unit="article", disable=not progress, desc="predict")
    started = time.time()
    pending: list = []  # (article, spans, sentences, contexts) waiting for the next chunk
    pending_errors: list[ReadError] = []

    def flush() -> None:
        nonlocal pending, pending_errors
        sentences = [s for item in pending for s in item[2]]
        contexts = [c for item in pending for c in item[3]]
        if stats.agreement_with_torch_fp32 is None and options.backend != "torch" and sentences:
            stats.agreement_with_torch_fp32 = _agreement(classifier, options, sentences[:AGREEMENT_SAMPLE], contexts[:AGREEMENT_SAMPLE])
        probs = _classify(classifier, sentences, contexts, cache, stats, options.batch_size)
        rows, summaries, offset = [], [], 0
        for article, spans, sents, _ in pending:
            result = build_result(article.text, spans, probs[offset:offset + len(sents)], threshold)
            offset += len(sents)
            rows += _rows(article, result)
            summaries.append({"article_id": article.id, "path": article.path, "position": article.position,
                              "title": article.title, **result.summary})
            if html:
                html.article(article, result)
        errors = [{"path": e.path, "line": e.line, "reason": e.reason} for e in pending_errors]
        entry = {
            "done": [a.key for a, *_ in pending] + [e.key for e in pending_errors],
            "rows": _append(files.rows, rows), "summary": _append(files.summary_rows, summaries),
            "errors": _append(files.errors, errors),
        }
        stats.articles += len(pending)
        stats.sentences += len(sentences)
        stats.errors += len(pending_errors)
        entry["stats"] = asdict(stats)
        _append(files.journal, [entry])
        elapsed = max(time.time() - started, 1e-9)
        bar.set_postfix(sentences_per_s=f"{stats.sentences / elapsed:.0f}", errors=stats.errors)
        pending, pending_errors = [], []

    try:
        for item in iter_articles(found.files, options.fields, options.max_bytes):
            if item.key in done:
                continue
            if isinstance(item, ReadError):
                logger.warning("%s", item.message())
                pending_errors.append(item)
                if len(pending_errors) >= CHUNK_SENTENCES:  # a folder of bad files still streams
                    flush()
                continue
            spans = segment(item.text)
            if not spans:
                pending_errors.append(ReadError(item.path, "no sentences found in the text", None, item.position))
                continue
            sentences, previous, headlines = inputs(item.text, spans, item.title)
            pending.append((item, spans, sentences, classifier.contexts(len(sentences), previous, headlines)))
            bar.update(1)
            if sum(len(p[2]) for p in pending) >= CHUNK_SENTENCES:
                flush()
        if pending or pending_errors:
            flush()
    except KeyboardInterrupt:
        bar.close()
        raise NewsstanceError(f"interrupted after {stats.articles} articles; "
                              f"continue with the same command and --resume") from None
    bar.close()
    # all done: the partial files become the outputs
    _finalize_rows(files.rows, files.output, fmt)
    if files.summary:
        _write_summary_csv(files.summary_rows, files.summary)
    if html:
        html.index(files.summary_rows)
    files.summary_rows.unlink(missing_ok=True)
    header.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), **asdict(stats))
    write_json_atomic(files.header, header)
    files.journal.unlink(missing_ok=True)
    if not stats.errors:
        files.errors.unlink(missing_ok=True)
    return stats
