"""The teacher labels the PolNeAR `train/` sentences no human labelled: soft labels for distillation.

Only articles of the training side of the by-article holdout (`holdout_split(file) == "train"`)
are used, so the real-news validation set stays unseen; PolNeAR `dev/` and `test/` never are.
Each article is segmented as for prediction; sentences with a gold label (same sentence index,
or overlapping a labelled span) are skipped. The rows are offsets plus the teacher's calibrated
probabilities (no text: PolNeAR has no licence), written atomically with a `.meta.json` record
of the teacher's fingerprint.

    newsstance distill label-unlabelled --teacher models/teacher -o data/external/polnear_soft.jsonl
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from newsstance.data.polnear import article_texts, holdout_split, is_test_file, load_manifest
from newsstance.data.soft import PROB_COLUMNS, meta_path
from newsstance.defaults import BATCH_SIZE, SEED
from newsstance.errors import NewsstanceError, OutputExistsError
from newsstance.files import iter_jsonl, write_json_atomic, write_jsonl_atomic
from newsstance.labels import LABELS
from newsstance.training.distill import fingerprint

logger = logging.getLogger(__name__)

DECIMALS = 6


@dataclass
class SoftLabelOptions:
    teacher: Path
    output: Path
    gold: tuple[Path, ...] = (Path("data/external/polnear_train.jsonl"),)
    per_article_max: int | None = None  # at most this many sentences per article (a seeded draw)
    max_rows: int | None = None  # at most this many rows in all (a seeded draw of articles' sentences)
    batch_size: int = BATCH_SIZE
    seed: int = SEED
    polnear_dir: str | None = None
    device: str = "auto"
    overwrite: bool = False


def _gold_spans(paths) -> tuple[dict, dict]:
    """Per article: the labelled sentence indices and spans of every gold label file."""
    indices, spans = defaultdict(set), defaultdict(list)
    for path in paths:
        if not Path(path).is_file():
            raise NewsstanceError(f"{path}: gold label file not found (--gold)")
        for _, row in iter_jsonl(Path(path)):
            indices[row["file"]].add(row["sentence_index"])
            spans[row["file"]].append((row["start"], row["end"]))
    return indices, spans


def candidate_rows(options: SoftLabelOptions) -> tuple[list[dict], dict[str, str], dict]:
    """(rows to label, article texts, counts): every unlabelled sentence of the training-side
    PolNeAR train/ articles, capped per article and in all as asked."""
    from newsstance.prediction.segmentation import segment

    anchor = Path(options.gold[0])
    files = sorted(f for f in load_manifest(anchor.parent)
                   if f.startswith("train/") and not is_test_file(f) and holdout_split(f) == "train")
    texts = article_texts(anchor, files, options.polnear_dir)
    indices, spans = _gold_spans(options.gold)
    rng = random.Random(options.seed)
    rows, gold_skipped, available = [], 0, 0
    for file in files:
        text = texts[file]
        article = []
        parts = segment(text)
        for k, span in enumerate(parts):
            if k in indices[file] or any(s < span.end and span.start < e for s, e in spans[file]):
                gold_skipped += 1
                continue
            prev = parts[k - 1] if k > 0 else None
            article.append({"file": file, "start": span.start, "end": span.end, "sentence_index": k,
                            "prev_start": prev.start if prev else None, "prev_end": prev.end if prev else None,
                            "split": "train"})
        available += len(article)
        if options.per_article_max is not None and len(article) > options.per_article_max:
            article = sorted(rng.sample(article, options.per_article_max), key=lambda r: r["sentence_index"])
        rows += article
    if options.max_rows is not None and len(rows) > options.max_rows:
        keep = set(rng.sample(range(len(rows)), options.max_rows))
        rows = [r for i, r in enumerate(rows) if i in keep]
    counts = {"articles": len(files), "gold_sentences_skipped": gold_skipped, "unlabelled_sentences": available}
    return rows, texts, counts


def label_unlabelled(options: SoftLabelOptions, progress=print) -> dict:
    """Write the soft-label table and its record; returns the record."""
    from newsstance.prediction.classifier import Classifier

    out, meta_out = Path(options.output), meta_path(options.output)
    if out.suffix.lower() != ".jsonl":
        raise NewsstanceError(f"{out}: soft-label tables are JSONL; name it *.jsonl")
    for target in (out, meta_out):
        if target.exists() and not options.overwrite:
            raise OutputExistsError(f"{target} exists; pass --overwrite to replace it")
    teacher_print = fingerprint(options.teacher)  # before any work: a folder without weights fails here
    classifier = Classifier.load(options.teacher, device=options.device)
    rows, texts, counts = candidate_rows(options)
    if not rows:
        raise NewsstanceError("no unlabelled sentences left to label: every training-side sentence has a gold label")
    progress(f"labelling {len(rows):,} sentences of {counts['articles']} articles with {options.teacher}")
    sentences = [texts[r["file"]][r["start"]:r["end"]] for r in rows]
    previous = [texts[r["file"]][r["prev_start"]:r["prev_end"]] if r["prev_start"] is not None else "" for r in rows]
    headlines = [texts[r["file"]].split("\n", 1)[0].strip() for r in rows]
    probs = classifier.probabilities(sentences, classifier.contexts(len(rows), previous, headlines),
                                     batch_size=options.batch_size)
    for row, p in zip(rows, probs):
        row.update({c: round(float(v), DECIMALS) for c, v in zip(PROB_COLUMNS, p)})
    record = {
        "teacher": {"path": str(options.teacher), "fingerprint": teacher_print,
                    "temperature": classifier.settings.temperature, "labels": list(LABELS)},
        "source": "PolNeAR v1.0.0 train/, articles on the training side of the by-article holdout; "
                  "sentences without a gold label (offsets and probabilities only)",
        "gold": [str(g) for g in options.gold], "per_article_max": options.per_article_max,
        "max_rows": options.max_rows, "seed": options.seed, "rows": len(rows),
        "articles_with_rows": len({r["file"] for r in rows}), **counts,
        "top_label": {label: int(sum(1 for p in probs if LABELS[int(p.argmax())] == label)) for label in LABELS},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    meta_out.unlink(missing_ok=True)  # the old record goes first: a crash leaves a table that is refused
    write_jsonl_atomic(out, rows)
    write_json_atomic(meta_out, record)  # last: a table without its record is refused when read
    progress(f"wrote {out} ({len(rows):,} rows) and {meta_out.name}; teacher fingerprint {teacher_print[:16]}...")
    return record
