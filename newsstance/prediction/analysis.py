"""One article in, its sentences with offsets, labels and scores out, plus a voice summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from newsstance.data.context import article_neighbours
from newsstance.labels import LABELS
from newsstance.prediction.segmentation import Span, segment

SKEPTIC = LABELS.index("third_party_skepticism")
LEAD = 5  # "the first five sentences"


@dataclass(frozen=True)
class SentenceResult:
    index: int
    start: int
    end: int
    text: str
    label: str
    score: float
    scores: dict[str, float]
    uncertain: bool


@dataclass(frozen=True)
class ArticleResult:
    sentences: list[SentenceResult]
    summary: dict

    def to_dict(self) -> dict:
        return {"sentences": [asdict(s) for s in self.sentences], "summary": self.summary}


def inputs(text: str, spans: Sequence[Span], title: str | None) -> tuple[list[str], list[str], list[str]]:
    """Sentences with their neighbours, by the rule used at training time."""
    sentences = [text[s.start:s.end] for s in spans]
    previous, headlines = article_neighbours(sentences, title)
    return sentences, previous, headlines


def summarize(probs: np.ndarray) -> dict:
    """Counts and shares per label, probability-weighted shares, where skepticism first appears."""
    n = len(probs)
    if n == 0:
        return {"sentences": 0}
    preds = probs.argmax(axis=1)
    counts = np.bincount(preds, minlength=len(LABELS))
    skeptic_at = np.flatnonzero(preds == SKEPTIC)
    return {
        "sentences": int(n),
        **{f"n_{l}": int(counts[i]) for i, l in enumerate(LABELS)},
        **{f"share_{l}": round(float(counts[i] / n), 4) for i, l in enumerate(LABELS)},
        **{f"weighted_share_{l}": round(float(probs[:, i].mean()), 4) for i, l in enumerate(LABELS)},
        "first_skeptical_sentence": int(skeptic_at[0]) if len(skeptic_at) else None,
        "skepticism_share_first_5": round(float((preds[:LEAD] == SKEPTIC).mean()), 4),
    }


def build_result(text: str, spans: Sequence[Span], probs: np.ndarray, min_confidence: float | None) -> ArticleResult:
    threshold = min_confidence if min_confidence is not None else 0.0
    rows = [
        SentenceResult(
            index=i, start=s.start, end=s.end, text=text[s.start:s.end], label=LABELS[int(p.argmax())],
            score=round(float(p.max()), 5), scores={l: round(float(v), 5) for l, v in zip(LABELS, p)},
            uncertain=bool(p.max() < threshold),
        )
        for i, (s, p) in enumerate(zip(spans, probs))
    ]
    return ArticleResult(rows, summarize(probs))


def analyze_article(text: str, title: str | None = None, model=None, min_confidence: float | None = None) -> ArticleResult:
    """Split an article into sentences and label each, with offsets into the text.

    `title`, when the text does not contain it, is prepended as the first line (offsets then
    refer to that composed text, which `ArticleResult` rows reproduce). `model` is a folder,
    a loaded Classifier, or None for $NEWSSTANCE_MODEL / models/default.
    """
    from newsstance.errors import NewsstanceError
    from newsstance.prediction.classifier import Classifier, load_cached

    if not isinstance(text, str) or not text.strip():
        raise NewsstanceError("analyze_article needs a non-empty article text")
    if title and not text.lstrip().startswith(title.strip()):
        text = f"{title.strip()}\n\n{text}"
    classifier = model if isinstance(model, Classifier) else load_cached(model)
    spans = segment(text)
    sentences, previous, headlines = inputs(text, spans, title)
    probs = classifier.probabilities(sentences, classifier.contexts(len(sentences), previous, headlines))
    threshold = classifier.settings.min_confidence if min_confidence is None else min_confidence
    return build_result(text, spans, probs, threshold)
