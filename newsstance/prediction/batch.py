"""`newsstance predict`: folders of articles in, one row per sentence out, streaming and safe.

The run reads top-down in `run_predict`: lock the output, check every output, list the inputs,
fix the run's identity, load the model, stream the articles, finish the outputs.

Articles stream through in chunks; rows go to `<output>.partial` as they are made and the
journal (`journal.py`) records, after every flushed chunk, which articles are done and how long
each partial file was. `--resume` truncates the partial files to the journal's last entry and
skips the articles it lists, so an interrupted run (Ctrl-C, a crash, a killed job) neither
redoes nor duplicates work. When all articles are done the journal says so; then the summary,
the HTML index and the run record are written, and the predictions are renamed into place
last. A crash anywhere in between leaves a run that `--resume` finishes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import numpy as np

from newsstance.errors import NewsstanceError
from newsstance.files import write_json_atomic
from newsstance.labels import LABELS
from newsstance.prediction.analysis import build_result, inputs
from newsstance.prediction.journal import (
    OutputLock, RunFiles, completed_entry, input_stamps, model_fingerprint, restore,
)
from newsstance.prediction.options import PredictInterrupted, PredictOptions, RunStats
from newsstance.prediction.outputs import check_outputs, check_paths, finalize_rows, write_summary_csv
from newsstance.prediction.inputs import InputError, inventory
from newsstance.prediction.readers import Article, ReadError, iter_articles
from newsstance.prediction.segmentation import segment

logger = logging.getLogger(__name__)

CHUNK_SENTENCES = 512  # sentences classified together; bounds memory whatever the folder size
CACHE_ENTRIES = 200_000  # repeated sentences (wire copy, boilerplate) are classified once
AGREEMENT_SAMPLE = 256  # sentences re-run on fp32 torch to report an ONNX path's label agreement


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


def article_rows(article: Article, result) -> list[dict]:
    """The sentence rows of one article (both engines write these)."""
    return [{
        "article_id": article.id, "path": article.path, "sentence_index": s.index, "start": s.start, "end": s.end,
        "text": s.text, "label": s.label, "score": s.score, **{f"p_{l}": s.scores[l] for l in LABELS},
        "uncertain": s.uncertain,
    } for s in result.sentences]


def prepare_article(article: Article, classifier) -> tuple[list, list[str], list] | ReadError:
    """(spans, sentences, model contexts) of one article, or the ReadError of an article without
    sentences (both engines call this, so they split and frame articles alike)."""
    spans = segment(article.text)
    if not spans:
        return ReadError(article.path, "no sentences found in the text", None, article.position)
    sentences, previous, headlines = inputs(article.text, spans, article.title)
    return spans, sentences, classifier.contexts(len(sentences), previous, headlines)


def summary_row(article: Article, result) -> dict:
    return {"article_id": article.id, "path": article.path, "position": article.position, "title": article.title,
            **result.summary}


def error_row(error: ReadError) -> dict:
    return {"path": error.path, "line": error.line, "reason": error.reason}


def _append(path: Path, records: list[dict]) -> int:
    with path.open("a", encoding="utf-8") as handle:
        for r in records:
            handle.write(json.dumps(r, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path.stat().st_size


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
    options.validate()
    files = RunFiles(options)
    check_paths(files)
    with OutputLock(files.lock, files.output):
        try:
            return _run(options, files, progress)
        except KeyboardInterrupt:
            raise PredictInterrupted(_interrupted(files, None)) from None


def _interrupted(files: RunFiles, stats: RunStats | None) -> str:
    """The message after Ctrl-C: --resume only when a journal exists for it to continue."""
    if not files.journal.exists():
        return "interrupted before any article was written, so there is nothing to resume; run the same command again"
    done = f" after {stats.articles} articles" if stats is not None else ""
    return f"interrupted{done}; {files.output} is unfinished: continue with the same command and --resume"


def _run(options: PredictOptions, files: RunFiles, progress: bool) -> RunStats:
    from newsstance import __version__
    from newsstance.models.folder import read_settings
    from newsstance.prediction.classifier import resolve_model_dir
    from newsstance.prediction.html_report import HtmlReport

    check_outputs(files, options)
    try:
        found = inventory(options.paths, exclude=files.all())
    except InputError as exc:
        raise NewsstanceError(str(exc)) from None
    folder = resolve_model_dir(options.model)
    settings = read_settings(folder)
    threshold = options.min_confidence if options.min_confidence is not None else settings.min_confidence
    identity = {
        "model": str(folder.resolve()), "backend": options.backend, "quantize": options.quantize,
        "min_confidence": threshold, "inputs": [str(Path(p).resolve()) for p in options.paths],
        "format": options.output_format, "summary": str(files.summary.resolve()) if files.summary else None,
        "html": str(files.html.resolve()) if files.html else None, "model_sha256": model_fingerprint(folder),
    }
    journal_header = {**identity, "input_stamps": input_stamps(found.files), "outputs": [str(p) for p in files.all()]}
    if options.resume:
        done, stats, complete = restore(files, journal_header)
    else:
        done, stats, complete = set(), RunStats(), False
    _count_skipped(found, stats)
    record = {"newsstance": __version__, **identity, "device": options.device, "dtype": options.dtype,
              "model_settings": asdict(settings),
              "files": len(found.files), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if not complete:
        from newsstance.prediction.onnx_backend import load_backend

        classifier = load_backend(options.model, options.backend, options.quantize, options.threads,
                                  options.device, options.dtype)
        if not options.resume:  # a new run: what an earlier run (or --overwrite's) left is replaced
            for stale in (files.rows, files.summary_rows, files.errors, files.journal):
                stale.unlink(missing_ok=True)
        html = HtmlReport.start(files.html, __version__, resume=options.resume) if files.html else None
        if not options.resume:
            files.rows.touch()
            files.summary_rows.touch()
            _append(files.journal, [{"header": journal_header}])
        run = _Stream(options, files, classifier, threshold, html, stats)
        try:
            run.articles(iter_articles(found.files, options.fields, options.max_bytes), done, progress)
        except KeyboardInterrupt:
            raise PredictInterrupted(_interrupted(files, stats)) from None
        _append(files.journal, [completed_entry(stats)])
    _finish(files, options.output_format, record, stats)
    return stats


def _count_skipped(found, stats: RunStats) -> None:
    """What the inventory left out, in the run's counts and the log."""
    stats.skipped_unsupported = len(found.unsupported)
    stats.excluded_outputs = len(found.excluded)
    stats.duplicates = found.duplicates
    stats.unreadable = len(found.unreadable)
    if found.unsupported:
        kinds = sorted({p.suffix or "(none)" for p in found.unsupported})
        logger.warning("skipped %d unsupported file(s) (%s)", len(found.unsupported), ", ".join(kinds))
    if found.excluded:
        logger.info("skipped %d of newsstance's own output file(s)", len(found.excluded))
    if found.duplicates:
        logger.warning("skipped %d duplicate input(s) (the same file reached twice)", found.duplicates)
    for path in found.unreadable:
        logger.warning("%s: cannot be listed (permission denied); skipped", path)


class _Stream:
    """Articles in, rows out: chunks of about CHUNK_SENTENCES classified together, each chunk's
    rows, summaries, errors and HTML pages written before the journal records it as done."""

    def __init__(self, options: PredictOptions, files: RunFiles, classifier, threshold, html, stats: RunStats):
        self.options, self.files, self.classifier, self.threshold, self.html = options, files, classifier, threshold, html
        self.stats = stats
        self.cache = _Cache(CACHE_ENTRIES)
        self.pending: list = []  # (article, spans, sentences, contexts) waiting for the next chunk
        self.errors: list[ReadError] = []
        self.started = time.time()
        self.bar = None

    def articles(self, items, done: set[str], progress: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(unit="article", disable=not progress, desc="predict")
        try:
            for item in items:
                if item.key in done:
                    continue
                if isinstance(item, ReadError):
                    logger.warning("%s", item.message())
                    self.errors.append(item)
                    if len(self.errors) >= CHUNK_SENTENCES:  # a folder of bad files still streams
                        self.flush()
                    continue
                prepared = prepare_article(item, self.classifier)
                if isinstance(prepared, ReadError):
                    self.errors.append(prepared)
                    continue
                self.pending.append((item, *prepared))
                self.bar.update(1)
                if sum(len(p[2]) for p in self.pending) >= CHUNK_SENTENCES:
                    self.flush()
            if self.pending or self.errors:
                self.flush()
        finally:
            self.bar.close()

    def flush(self) -> None:
        stats, options = self.stats, self.options
        sentences = [s for item in self.pending for s in item[2]]
        contexts = [c for item in self.pending for c in item[3]]
        if stats.agreement_with_torch_fp32 is None and options.backend != "torch" and sentences:
            stats.agreement_with_torch_fp32 = _agreement(self.classifier, options, sentences[:AGREEMENT_SAMPLE],
                                                         contexts[:AGREEMENT_SAMPLE])
        probs = _classify(self.classifier, sentences, contexts, self.cache, stats, options.batch_size)
        rows, summaries, pages, offset = [], [], [], 0
        for article, spans, sents, _ in self.pending:
            result = build_result(article.text, spans, probs[offset:offset + len(sents)], self.threshold)
            offset += len(sents)
            rows += article_rows(article, result)
            summaries.append(summary_row(article, result))
            pages.append((article, result))
        if self.html:
            self.html.articles(pages)
        errors = [error_row(e) for e in self.errors]
        entry = {
            "done": [a.key for a, *_ in self.pending] + [e.key for e in self.errors],
            "rows": _append(self.files.rows, rows), "summary": _append(self.files.summary_rows, summaries),
            "errors": _append(self.files.errors, errors),
        }
        stats.articles += len(self.pending)
        stats.sentences += len(sentences)
        stats.errors += len(self.errors)
        entry["stats"] = asdict(stats)
        _append(self.files.journal, [entry])
        elapsed = max(time.time() - self.started, 1e-9)
        self.bar.set_postfix(sentences_per_s=f"{stats.sentences / elapsed:.0f}", errors=stats.errors)
        self.pending, self.errors = [], []


def _finish(files: RunFiles, fmt: str, record: dict, stats: RunStats) -> None:
    """Every article is done (the journal says so): write the summary, the HTML index and the
    run record, then rename the predictions into place, then remove the run's working files.
    Each step can be redone, so --resume finishes a run that stopped anywhere in here."""
    from newsstance.prediction.html_report import HtmlReport

    if files.summary_rows.exists():  # else: removed after the summary and index were written
        if files.summary:
            write_summary_csv(files.summary_rows, files.summary)
        if files.html:
            HtmlReport(files.html).index(files.summary_rows)
    finished = files.finished() if stats.errors else [p for p in files.finished() if p != files.errors.resolve()]
    record.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), **asdict(stats), outputs=[str(p) for p in finished])

    def write_record() -> None:
        write_json_atomic(files.record, record)

    if files.rows.exists():
        finalize_rows(files.rows, files.output, fmt, before_rename=write_record)
    else:  # the predictions were already renamed into place when the run stopped
        write_record()
    files.summary_rows.unlink(missing_ok=True)
    if not stats.errors:
        files.errors.unlink(missing_ok=True)
    files.journal.unlink(missing_ok=True)  # last: until here, --resume can finish the run
