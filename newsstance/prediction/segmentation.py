"""Sentence segmentation for news, with exact character offsets.

Lines are segmented one at a time, so headlines, subheads, datelines and live-blog stamps on
their own lines stay their own sentences. Within a line, pySBD (a maintained rule-based
segmenter with abbreviation, initial, number and quotation handling) finds the sentences;
offsets are recovered by searching each sentence from the previous one's end, so
`text[start:end] == sentence` holds for every span, whatever pySBD normalises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_LINE = re.compile(r"[^\n]+")
_MARKDOWN_HEADING = re.compile(r"^\s*#{1,6}\s+")
# closing quotation marks that pySBD sometimes leaves at the start of the next sentence
_LEADING_CLOSERS = "\"”’'"
# abbreviations common in news that end a token with a period but rarely a sentence
_NEWS_ABBREVIATIONS = re.compile(
    r"\b(?:Gen|Lt|Col|Maj|Capt|Sgt|Adm|Gov|Sen|Rep|Rev|Prof|Dr|Mr|Mrs|Ms|St|Jr|Sr|No|Nos|Vol|Sept|Jan|Feb|Mar|Apr|Aug|Oct|Nov|Dec|Corp|Inc|Ltd|Co|Bros|Ave|Blvd|approx|est|vs)\.$"
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


_INSIDE_QUOTE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"\u201d\u2019]))\s+(?=[\"\u201c\u2018]?[A-Z])")
_ABBREVIATED_WORD = re.compile(r"(?:\b[A-Z]\.|\b(?:[A-Za-z]\.){2,}|" + _NEWS_ABBREVIATIONS.pattern[:-1] + r")$")


def _open_quote(prefix: str) -> bool:
    """Whether a double quotation is open at the end of `prefix`."""
    return prefix.count("\u201c") > prefix.count("\u201d") or prefix.count('"') % 2 == 1


def _split_quoted(piece: str) -> list[str]:
    """pySBD keeps a multi-sentence quotation whole, and misses a break between two quotations;
    news corpora split both by sentence."""
    parts, last = [], 0
    for match in _INSIDE_QUOTE_BREAK.finditer(piece):
        before = piece[last:match.start()]
        closed_quote = before.rstrip()[-1:] in "\"\u201d\u2019"  # '...years." "Next' : pySBD misses it
        if (closed_quote or _open_quote(piece[:match.start()])) and not _ABBREVIATED_WORD.search(before.rstrip()):
            parts.append(before)
            last = match.end()
    parts.append(piece[last:])
    return parts


def _line_sentences(line: str) -> list[str]:
    pieces = [q for p in _segmenter().segment(line) for q in _split_quoted(p) if q.strip()]
    merged: list[str] = []
    for piece in pieces:
        stripped = piece.strip()
        if merged and (
            _NEWS_ABBREVIATIONS.search(merged[-1].rstrip())  # "Gen." then "Smith said"
            or stripped[:1] in _LEADING_CLOSERS and len(stripped) <= 2  # a stray closing quote
            or stripped[:1].islower()  # a lowercase continuation is not a new sentence
        ):
            merged[-1] = merged[-1] + " " + piece
        else:
            merged.append(piece)
    return merged


def segment(text: str) -> list[Span]:
    """Sentence spans of `text`, in order, never empty, never overlapping."""
    spans: list[Span] = []
    for match in _LINE.finditer(text):
        line, offset = match.group(), match.start()
        heading = _MARKDOWN_HEADING.match(line)
        cursor = heading.end() if heading else 0
        for sentence in _line_sentences(line[cursor:]):
            words = sentence.split()
            if not words:
                continue
            # locate the sentence: from its first word to its last word, as they stand in the line
            start = line.find(words[0], cursor)
            end = start
            for word in words:
                end = line.find(word, end) + len(word)
            if start < 0 or end < start:
                continue
            spans.append(Span(offset + start, offset + end))
            cursor = end
    return spans


def sentences(text: str) -> list[str]:
    return [text[s.start:s.end] for s in segment(text)]
