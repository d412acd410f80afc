"""Sentence segmentation for news: 40+ tricky cases written for this project."""

import json

import pytest

from newsstance.prediction.segmentation import segment

from conftest import FIXTURES

CASES = json.loads((FIXTURES / "segmentation_cases.json").read_text(encoding="utf-8"))


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_segmentation_case(case):
    text = case["text"]
    spans = segment(text)
    assert [text[s.start:s.end] for s in spans] == case["sentences"]
    # offsets are exact, ordered and non-overlapping
    for a, b in zip(spans, spans[1:]):
        assert a.end <= b.start


def _long_line(chars: int) -> str:
    """One line made of the single-line cases, long enough to need several windows."""
    single = [c["text"].strip() for c in CASES if "\n" not in c["text"].strip()]
    parts, i = [], 0
    while sum(len(p) + 1 for p in parts) < chars:
        parts.append(single[i % len(single)])
        i += 7  # a varied order
    return " ".join(parts)


def test_a_long_line_is_segmented_in_bounded_windows(monkeypatch):
    from newsstance.prediction import segmentation

    seen = []
    real = segmentation._segmenter()

    class Recording:
        def segment(self, text):
            seen.append(len(text))
            return real.segment(text)

    monkeypatch.setattr(segmentation, "_segmenter", lambda: Recording())
    line = _long_line(4 * segmentation.WINDOW)
    spans = segment(line)
    assert max(seen) <= segmentation.WINDOW  # pySBD's cost grows faster than its input: it never gets the whole line
    assert " ".join(line[s.start:s.end] for s in spans).split() == line.split()  # every word in exactly one sentence


@pytest.mark.parametrize("window", [300, 1000])
def test_windows_do_not_change_the_sentences(monkeypatch, window):
    from newsstance.prediction import segmentation

    line = _long_line(6000)
    monkeypatch.setattr(segmentation, "WINDOW", 10**9)
    whole = segment(line)
    monkeypatch.setattr(segmentation, "WINDOW", window)
    assert segment(line) == whole


@pytest.mark.parametrize("line", ["word " * 3000, "x" * 12_000, "Intro. " + "y" * 11_000 + " end."],
                         ids=["one long sentence", "no whitespace", "a long token"])
def test_a_line_without_sentence_breaks_is_cut_exactly(line):
    text = f"Headline\n\n{line}\nLast line."
    spans = segment(text)
    assert all(text[s.start:s.end] == text[s.start:s.end].strip() != "" for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    covered = "".join(text[s.start:s.end] for s in spans)
    assert "".join(covered.split()) == "".join(text.split())  # every character in exactly one sentence
