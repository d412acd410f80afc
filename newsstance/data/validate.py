"""`newsstance data validate`: the corpus and the PolNeAR label files, checked row by row.

Checks schema, labels, offsets (`text == article_text[start:end]`), that every article sits in
one split, exact and near-duplicate sentences across splits, and reports label counts per split.
Every problem names the file and line.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from newsstance.data.polnear import MANIFEST, SPLITS as POLNEAR_SPLITS, is_test_file, load_manifest
from newsstance.data.soft import meta_path, probabilities, read_meta
from newsstance.errors import DataError
from newsstance.files import iter_jsonl
from newsstance.labels import LABELS

ARTICLE_FIELDS = ("id", "headline", "text", "topic", "genre", "country", "date", "split")
SENTENCE_FIELDS = ("doc_id", "sentence_index", "start", "end", "text", "label", "split")
POLNEAR_FIELDS = ("file", "start", "end", "label", "sentence_index")
SPLITS = ("train", "validation", "test", "challenge")
NEAR_DUPLICATE_COSINE = 0.9


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_jsonl(path: Path, report: Report) -> list[tuple[int, dict]]:
    """Every good row; each bad line becomes a problem in the report (all are listed at once)."""
    return list(iter_jsonl(path, report.problems))


def _has_fields(report: Report, where: str, row: dict, fields: tuple[str, ...]) -> bool:
    """Record the fields a row lacks; True when it has them all and can be checked further."""
    missing = [f for f in fields if f not in row]
    if missing:
        report.problems.append(f"{where}: missing field(s) {missing}")
    return not missing


def _check_label(report: Report, where: str, label) -> None:
    if label not in LABELS:
        report.problems.append(f"{where}: unknown label {label!r}; expected one of {', '.join(LABELS)}")


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _near_duplicates(by_split: dict[str, list[tuple[str, str]]], report: Report, path: Path) -> None:
    """Sentences of one split that are (nearly) the same as a sentence of another split."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    splits = [s for s in by_split if by_split[s]]
    every = [t for s in splits for _, t in by_split[s]]
    if len(every) < 2:
        return
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 5)).fit(every)
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            va = vectorizer.transform([t for _, t in by_split[a]])
            vb = vectorizer.transform([t for _, t in by_split[b]])
            sims = (va @ vb.T).tocoo()
            for r, c, v in zip(sims.row, sims.col, sims.data):
                ta, tb = by_split[a][r], by_split[b][c]
                if v >= NEAR_DUPLICATE_COSINE and len(_normalise(ta[1]).split()) > 3:
                    report.problems.append(
                        f"{path}: {a} sentence {ta[0]} and {b} sentence {tb[0]} are near-duplicates "
                        f"(cosine {v:.2f}); rewrite one or move the articles into one split"
                    )


def validate_corpus(folder: Path, report: Report | None = None) -> Report:
    report = report or Report()
    articles_path, sentences_path = folder / "articles.jsonl", folder / "sentences.jsonl"
    for path in (articles_path, sentences_path):
        if not path.exists():
            report.problems.append(f"{path}: not found")
    if not report.ok:
        return report
    articles: dict[str, dict] = {}
    for number, a in _read_jsonl(articles_path, report):
        if not _has_fields(report, f"{articles_path}:{number}", a, ARTICLE_FIELDS):
            continue
        if a["id"] in articles:
            report.problems.append(f"{articles_path}:{number}: duplicate article id {a['id']!r}")
        if a["split"] not in SPLITS:
            report.problems.append(f"{articles_path}:{number}: split {a['split']!r} is not one of {SPLITS}")
        articles[a["id"]] = a
    by_split: dict[str, list[tuple[str, str]]] = defaultdict(list)
    seen_index: dict[str, list[int]] = defaultdict(list)
    for number, s in _read_jsonl(sentences_path, report):
        where = f"{sentences_path}:{number}"
        if not _has_fields(report, where, s, SENTENCE_FIELDS):
            continue
        _check_label(report, where, s["label"])
        article = articles.get(s["doc_id"])
        if article is None:
            report.problems.append(f"{where}: doc_id {s['doc_id']!r} is not in {articles_path.name}")
            continue
        if article["text"][s["start"]:s["end"]] != s["text"]:
            report.problems.append(f"{where}: text differs from article {s['doc_id']} [{s['start']}:{s['end']}]")
        if s["split"] != article["split"]:
            report.problems.append(f"{where}: split {s['split']!r} but article {s['doc_id']} is in {article['split']!r}")
        if not s["text"].strip():
            report.problems.append(f"{where}: empty sentence")
        seen_index[s["doc_id"]].append(s["sentence_index"])
        report.counts[s["split"]][s["label"]] += 1
        by_split[s["split"]].append((f"{s['doc_id']}#{s['sentence_index']}", s["text"]))
    for doc_id, indices in seen_index.items():
        if sorted(indices) != list(range(len(indices))):
            report.problems.append(f"{sentences_path}: article {doc_id} sentence indices are not 0..{len(indices) - 1}")
    _near_duplicates(by_split, report, sentences_path)
    return report


def validate_polnear_labels(path: Path, report: Report | None = None) -> Report:
    """Offsets-only label files: schema, labels, manifest coverage, never a test-split file."""
    report = report or Report()
    try:
        manifest = load_manifest(path.parent)
    except Exception as exc:  # reported, not raised: the validator lists everything
        report.problems.append(str(exc))
        manifest = {}
    name = path.stem
    split_of: dict[str, str] = {}  # article file -> its split, which must be one per article
    for number, r in _read_jsonl(path, report):
        where = f"{path}:{number}"
        if not _has_fields(report, where, r, POLNEAR_FIELDS):
            continue
        if "split" in r:
            if r["split"] not in POLNEAR_SPLITS:
                report.problems.append(f"{where}: split {r['split']!r} is not one of {POLNEAR_SPLITS}")
            elif split_of.setdefault(r["file"], r["split"]) != r["split"]:
                report.problems.append(f"{where}: {r['file']} has rows in split {split_of[r['file']]!r} and {r['split']!r}; "
                                       "an article's sentences belong to one split")
        if "text" in r:
            report.problems.append(f"{where}: holds PolNeAR text; commit offsets and labels only")
        _check_label(report, where, r["label"])
        if is_test_file(str(r["file"])):
            report.problems.append(f"{where}: {r['file']} is in PolNeAR's test split, which is never used")
        if manifest and r["file"] not in manifest:
            report.problems.append(f"{where}: {r['file']} is not in {MANIFEST}")
        if not 0 <= r["start"] < r["end"]:
            report.problems.append(f"{where}: bad offsets {r['start']}-{r['end']}")
        report.counts[name][r["label"]] += 1
    return report


def _validate_agreement(path: Path, report: Report) -> None:
    """The double-annotation record: offsets, both passes and the adjudicated label."""
    for number, r in _read_jsonl(path, report):
        if not _has_fields(report, f"{path}:{number}", r, ("file", "start", "end", "set", "first", "second", "final")):
            continue
        if any(r[k] not in LABELS for k in ("first", "second", "final")):
            report.problems.append(f"{path}:{number}: a label is not one of {', '.join(LABELS)}")
        elif r["first"] == r["second"] != r["final"]:
            report.problems.append(f"{path}:{number}: both passes agree on {r['first']} but the final label differs")


def _validate_soft(path: Path, report: Report) -> None:
    """A teacher's soft labels: offsets, probabilities, its record, never text or the test split."""
    try:
        read_meta(path)
    except DataError as exc:
        report.problems.append(str(exc))
    manifest = load_manifest(path.parent)
    for number, r in _read_jsonl(path, report):
        where = f"{path}:{number}"
        if not _has_fields(report, where, r, ("file", "start", "end", "sentence_index")):
            continue
        try:
            probs = probabilities(r, where)
        except DataError as exc:
            report.problems.append(str(exc))
            continue
        if "text" in r:
            report.problems.append(f"{where}: holds PolNeAR text; commit offsets and probabilities only")
        if is_test_file(str(r["file"])):
            report.problems.append(f"{where}: {r['file']} is in PolNeAR's test split, which is never used")
        if r["file"] not in manifest:
            report.problems.append(f"{where}: {r['file']} is not in {MANIFEST}")
        report.counts[path.stem][LABELS[probs.index(max(probs))]] += 1  # the teacher's top label


def validate_data(root: Path) -> Report:
    """Everything under a data folder: corpus/ and external/polnear_*.jsonl."""
    report = Report()
    if (root / "corpus").is_dir():
        validate_corpus(root / "corpus", report)
    for path in sorted((root / "external").glob("polnear_*.jsonl")):
        if path.stem.endswith("_agreement"):
            _validate_agreement(path, report)
        elif meta_path(path).is_file():
            _validate_soft(path, report)
        else:
            validate_polnear_labels(path, report)
    if not report.counts and not report.problems:
        report.problems.append(f"{root}: no corpus/ or external/polnear_*.jsonl found; pass the project's data/ folder")
    return report
