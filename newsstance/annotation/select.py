"""`annotate select`: the sentences of unlabelled articles most worth a human label.

Every sentence is read, segmented and scored exactly as `predict` does it (same readers, same
segmenter, same context rule, the model's calibrated probabilities); then N are picked:

- uncertainty: the sentences the model is least sure of, by the margin between its top two
  probabilities (smallest first) or by the entropy of all three (largest first);
- random: a seeded random draw, so the natural mix of the news stays represented;
- mixed: half of each (the uncertainty half first), never the same sentence twice.

Whatever the strategy, at most `per_article_max` sentences come from one article (a few long
articles must not fill the batch) and a text is picked once (wire copy and boilerplate repeat
word for word across articles). Sentences already labelled (`exclude`) are never offered.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from newsstance import __version__
from newsstance.annotation import MEASURES, PER_ARTICLE_MAX, STRATEGIES
from newsstance.annotation.tasks import PROB_COLUMNS, article_file, output_paths, read_records, task_format, write_tasks
from newsstance.data.tables import read_frame
from newsstance.defaults import BATCH_SIZE, MAX_ARTICLE_BYTES, SEED
from newsstance.errors import DataError, NewsstanceError, OutputExistsError
from newsstance.labels import LABELS
from newsstance.prediction.analysis import inputs
from newsstance.prediction.onnx_backend import load_backend
from newsstance.prediction.inputs import InputError, inventory
from newsstance.prediction.readers import Fields, ReadError, iter_articles
from newsstance.prediction.segmentation import segment

logger = logging.getLogger(__name__)

CHUNK_SENTENCES = 2048  # sentences scored per model call (bounds tokenizer memory)


@dataclass
class SelectOptions:
    """What `annotate select` reads, how it picks, and where the tasks go."""

    paths: list[Union[str, Path]]
    output: Path
    n: int  # how many sentences to pick
    model: Union[str, Path, None] = None  # model folder; None: $NEWSSTANCE_MODEL, else models/default
    strategy: str = "uncertainty"  # one of STRATEGIES
    measure: str = "margin"  # one of MEASURES, for the uncertainty ranking
    per_article_max: int = PER_ARTICLE_MAX
    seed: int = SEED  # for the random draw
    format: str | None = None  # one of tasks.TASK_FORMATS; None: from the output's extension
    exclude: list[Union[str, Path]] = field(default_factory=list)  # tables/tasks already labelled
    overwrite: bool = False
    backend: str = "torch"
    batch_size: int = BATCH_SIZE
    fields: Fields = Fields()
    max_bytes: int = MAX_ARTICLE_BYTES


@dataclass
class SelectResult:
    written: list[Path]
    tasks: int = 0
    articles: int = 0
    sentences: int = 0
    excluded: int = 0  # sentences skipped because `exclude` already labels them
    duplicates: int = 0  # sentences whose text appeared earlier
    unreadable: int = 0  # articles that could not be read (logged)
    by_reason: dict = field(default_factory=dict)


def fold(text: str) -> str:
    """The key under which two sentences count as the same text (whitespace folded)."""
    return " ".join(str(text).split())


def uncertainty(probs: np.ndarray, measure: str = "margin") -> np.ndarray:
    """Per row: the margin between the top two probabilities, or the entropy (natural log)."""
    if measure == "margin":
        top2 = np.sort(probs, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    if measure == "entropy":
        return -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
    raise NewsstanceError(f"unknown uncertainty measure {measure!r}; use one of {', '.join(MEASURES)}")


def choose(
    articles: Sequence[str], texts: Sequence[str], probs: np.ndarray, n: int, strategy: str = "uncertainty",
    measure: str = "margin", per_article_max: int = PER_ARTICLE_MAX, seed: int = SEED,
) -> list[tuple[int, str]]:
    """(row, reason) for the picked rows, in the order picked. `articles` names each row's
    article (for the cap), `texts` its sentence (for duplicates), `probs` its probabilities."""
    values = uncertainty(probs, measure)
    most_uncertain_first = np.argsort(values if measure == "margin" else -values, kind="stable")
    picked: list[tuple[int, str]] = []
    per_article: Counter = Counter()
    seen: set[str] = set()

    def take(order, quota: int, reason: str) -> None:
        goal = len(picked) + quota
        for i in order:
            if len(picked) >= goal:
                return
            key = fold(texts[i])
            if key in seen or per_article[articles[i]] >= per_article_max:
                continue
            seen.add(key)
            per_article[articles[i]] += 1
            picked.append((int(i), reason))

    n_uncertain = {"uncertainty": n, "random": 0, "mixed": n - n // 2}[strategy]
    take(most_uncertain_first, n_uncertain, "uncertainty")
    if strategy != "uncertainty":
        take(np.random.default_rng(seed).permutation(len(texts)), n - len(picked), "random")
    return picked


@dataclass
class Labelled:
    """Sentences already labelled: by text, and by (article, start, end)."""

    texts: set = field(default_factory=set)
    spans: set = field(default_factory=set)

    def __contains__(self, row: dict) -> bool:
        return (fold(row["text"]) in self.texts
                or (row["article_id"], row["start"], row["end"]) in self.spans
                or (article_file(row["path"], row["position"]), row["start"], row["end"]) in self.spans)


def read_labelled(paths: Sequence[Union[str, Path]]) -> Labelled:
    """What --exclude names: sentence tables (.jsonl/.csv/.parquet) or task files and Label Studio
    exports (.json); rows are matched by text, or by doc_id/article_id or file/path plus offsets."""
    labelled = Labelled()
    for raw in paths:
        path = Path(raw)
        if path.suffix.lower() == ".json":
            rows = [r.fields for r in read_records(path)[1]]
        else:
            frame = read_frame(path)
            if "text" not in frame.columns:
                raise DataError(f"{path}: --exclude needs a table of labelled sentences with a 'text' column; "
                                f"found {list(frame.columns)[:10]}")
            rows = frame.to_dict("records")
        for row in rows:
            labelled.texts.add(fold(row.get("text", "")))
            try:
                span = int(row["start"]), int(row["end"])
            except (KeyError, TypeError, ValueError):
                continue
            for key in ("doc_id", "article_id", "file"):
                if row.get(key) not in (None, ""):
                    labelled.spans.add((str(row[key]), *span))
            if row.get("path") not in (None, ""):
                labelled.spans.add((article_file(str(row["path"]), int(row.get("position") or 1)), *span))
    return labelled


def _check(options: SelectOptions) -> str:
    """Validate the options before any work; the task format."""
    if isinstance(options.n, bool) or not isinstance(options.n, int) or options.n < 1:
        raise NewsstanceError(f"-n must be a positive number of sentences to pick, got {options.n!r}")
    if isinstance(options.per_article_max, bool) or not isinstance(options.per_article_max, int) or options.per_article_max < 1:
        raise NewsstanceError(f"--per-article-max must be at least 1, got {options.per_article_max!r}")
    if options.strategy not in STRATEGIES:
        raise NewsstanceError(f"--strategy {options.strategy!r} is unknown; use one of {', '.join(STRATEGIES)}")
    if options.measure not in MEASURES:
        raise NewsstanceError(f"--measure {options.measure!r} is unknown; use one of {', '.join(MEASURES)}")
    fmt = task_format(Path(options.output), options.format)
    for path in output_paths(Path(options.output), fmt):
        if path.exists() and not options.overwrite:
            raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it, or choose another -o")
    return fmt


def _sentences(options: SelectOptions, files: list[Path], labelled: Labelled, result: SelectResult) -> list[dict]:
    """Every sentence of the articles as a task row without scores, minus the labelled ones."""
    rows, first_error = [], None
    for item in iter_articles(files, options.fields, options.max_bytes):
        if isinstance(item, ReadError):
            logger.warning("%s", item.message())
            result.unreadable += 1
            first_error = first_error or item.message()
            continue
        result.articles += 1
        spans = segment(item.text)
        sentences, previous, headlines = inputs(item.text, spans, item.title)
        for i, span in enumerate(spans):
            row = {"article_id": item.id, "path": item.path, "position": item.position, "sentence_index": i,
                   "start": span.start, "end": span.end, "text": sentences[i], "previous": previous[i],
                   "headline": headlines[i]}
            result.sentences += 1
            if row in labelled:
                result.excluded += 1
            else:
                rows.append(row)
    if not rows:
        why = (f"all {result.sentences} sentences are already labelled in {', '.join(map(str, options.exclude))}"
               if result.sentences else f"no sentences found ({result.articles} articles read"
               + (f"; {result.unreadable} unreadable, e.g. {first_error}" if result.unreadable else "") + ")")
        raise NewsstanceError(f"nothing to select from in {', '.join(map(str, options.paths))}: {why}")
    return rows


def _score(classifier, rows: list[dict], batch_size: int) -> np.ndarray:
    from tqdm.auto import tqdm

    out = np.empty((len(rows), len(LABELS)), dtype=np.float64)
    for start in tqdm(range(0, len(rows), CHUNK_SENTENCES), desc="score", unit="chunk", disable=None):
        chunk = rows[start:start + CHUNK_SENTENCES]
        contexts = classifier.contexts(len(chunk), [r["previous"] for r in chunk], [r["headline"] for r in chunk])
        out[start:start + len(chunk)] = classifier.probabilities([r["text"] for r in chunk], contexts, batch_size)
    return out


def select_tasks(options: SelectOptions, classifier=None) -> SelectResult:
    """Pick `options.n` sentences to label and write them as tasks; what was read and written.

    `classifier`, when given, is used instead of loading `options.model` (tests, notebooks)."""
    fmt = _check(options)
    try:  # an empty folder or a wrong path fails before the model loads
        found = inventory(options.paths, exclude=output_paths(Path(options.output), fmt))
    except InputError as exc:
        raise NewsstanceError(str(exc)) from None
    labelled = read_labelled(options.exclude) if options.exclude else Labelled()
    if classifier is None:
        classifier = load_backend(options.model, options.backend)  # ModelFolderError for a folder that is no model
    result = SelectResult(written=[])
    rows = _sentences(options, found.files, labelled, result)
    probs = _score(classifier, rows, options.batch_size)
    result.duplicates = len(rows) - len({fold(r["text"]) for r in rows})
    values = uncertainty(probs, options.measure)
    keys = [article_file(r["path"], r["position"]) for r in rows]
    picked = choose(keys, [r["text"] for r in rows], probs, options.n, options.strategy, options.measure,
                    options.per_article_max, options.seed)
    tasks = []
    for task_id, (i, reason) in enumerate(picked, start=1):
        p = probs[i]
        tasks.append({
            **rows[i], "task_id": task_id, "label": "", "predicted": LABELS[int(p.argmax())],
            "predicted_score": round(float(p.max()), 5), **{c: round(float(v), 5) for c, v in zip(PROB_COLUMNS, p)},
            "reason": reason, "measure": options.measure, "selection_score": round(float(values[i]), 5),
        })
    if len(tasks) < options.n:
        logger.warning("only %d of the %d sentences asked for could be picked (%d candidates, at most %d per article, "
                       "duplicates removed)", len(tasks), options.n, len(rows), options.per_article_max)
    version = f"{Path(classifier.path).resolve().name} (newsstance {__version__})"
    result.written = write_tasks(tasks, Path(options.output), fmt, version)
    result.tasks = len(tasks)
    result.by_reason = dict(Counter(t["reason"] for t in tasks))
    return result
