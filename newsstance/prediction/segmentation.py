"""Sentence segmentation for news, with exact character offsets.

Lines are segmented one at a time, so headlines, subheads, datelines and live-blog stamps on
their own lines stay their own sentences. Within a line, pySBD (a maintained rule-based
segmenter with abbreviation, initial, number and quotation handling) finds the sentences;
offsets are recovered by searching each sentence from the previous one's end, so
`text[start:end] == sentence` holds for every span, whatever pySBD normalises.

pySBD's cost grows faster than the length of its input (a 587 KB single-line article took
minutes), so a line longer than `WINDOW` characters is segmented in windows of at most that
size. A window's last sentence may be cut by the window's edge, so it is not kept: the next
window starts where it starts. A window's edges therefore never make a sentence boundary,
except inside a single "sentence" longer than a window, which is cut at its last whitespace.
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


WINDOW = 5_000  # characters of one line given to pySBD at once; longer lines are segmented in windows
_BREAKS = (". ", "? ", "! ")


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


def _locate(line: str, cursor: int, sentences: list[str]) -> list[tuple[int, int]]:
    """Offsets in `line` of each sentence, from its first word to its last word, searched from `cursor`."""
    found = []
    for sentence in sentences:
        words = sentence.split()
        if not words:
            continue
        start = line.find(words[0], cursor)
        end = start
        for word in words:
            end = line.find(word, end) + len(word)
        if start < 0 or end < start:
            continue
        found.append((start, end))
        cursor = end
    return found


def _window_end(line: str, start: int) -> int:
    """Where a window that begins at `start` ends: after the last sentence-like break ('. ', '? ',
    '! ') in its second half, else at its last whitespace, else at `WINDOW` characters."""
    limit = start + WINDOW
    for marks in (_BREAKS, " \t"):
        cut = max(line.rfind(mark, start + WINDOW // 2, limit) for mark in marks)
        if cut > start:
            return cut + (2 if marks is _BREAKS else 1)
    return limit


def _line_spans(line: str, cursor: int) -> list[tuple[int, int]]:
    """Sentence offsets in one line from `cursor` on, in windows of at most `WINDOW` characters."""
    spans: list[tuple[int, int]] = []
    while len(line) - cursor > WINDOW:
        end = _window_end(line, cursor)
        piece = line[cursor:end]
        window = [(cursor + a, cursor + b) for a, b in _locate(piece, 0, _line_sentences(piece))]
        if len(window) > 1:  # the last one may continue past the window's edge: redo it in the next
            spans += window[:-1]
            cursor = window[-1][0]
        else:
            spans += window
            cursor = end
    return spans + _locate(line, cursor, _line_sentences(line[cursor:]))


def segment(text: str) -> list[Span]:
    """Sentence spans of `text`, in order, never empty, never overlapping."""
    spans: list[Span] = []
    for match in _LINE.finditer(text):
        line, offset = match.group(), match.start()
        heading = _MARKDOWN_HEADING.match(line)
        spans += [Span(offset + start, offset + end) for start, end in _line_spans(line, heading.end() if heading else 0)]
    return spans


def sentences(text: str) -> list[str]:
    return [text[s.start:s.end] for s in segment(text)]
