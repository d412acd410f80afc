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
