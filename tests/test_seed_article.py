"""The user's own example article, when this machine has it (never copied into the project):
segmented by newsstance's own segmenter, its sentences must line up with the specification's
gold table (../shared/LABELS.md, read at test time), and every one gets a label."""

import re

import pytest

from newsstance import LABELS, analyze_article

from conftest import ROOT

SHARED = ROOT.parent / "shared"
SEED = SHARED / "seed_article.txt"
TABLE = SHARED / "LABELS.md"
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})

pytestmark = pytest.mark.skipif(not (SEED.exists() and TABLE.exists()),
                                reason="../shared/seed_article.txt and ../shared/LABELS.md are not on this machine "
                                       "(the user's article is never copied into the project)")


def gold_sentences() -> list[tuple[str, str]]:
    """(opening words, label) of each gold sentence: the worked example's table, up to its first '...'."""
    section = TABLE.read_text(encoding="utf-8").split("## Worked example", 1)[1]
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (\w+) \|$", section, flags=re.MULTILINE)
    assert [int(n) for n, _, _ in rows] == list(range(1, len(rows) + 1))
    return [(re.split(r"\s*(?:\.\.\.|\u2026)", start)[0].strip().translate(QUOTES), label) for _, start, label in rows]


def test_the_seed_article_segments_into_the_gold_sentences(tiny_model):
    text = SEED.read_text(encoding="utf-8")
    gold = gold_sentences()
    result = analyze_article(text, model=tiny_model)  # the real path: segmentation, context, classification
    sentences = [s.text for s in result.sentences]
    assert len(gold) == 23 and len(sentences) == len(gold), sentences
    for i, (sentence, (opening, _)) in enumerate(zip(sentences, gold), start=1):
        assert len(opening) >= 10 and sentence.translate(QUOTES).startswith(opening), f"sentence {i}: {sentence!r}"
    # the sentences cover the article exactly: only whitespace between them, offsets exact
    assert "".join("".join(s.split()) for s in sentences) == "".join(text.split())
    assert all(text[s.start:s.end] == s.text for s in result.sentences)
    assert all(s.label in LABELS and 0 < s.score <= 1 for s in result.sentences)
    assert result.summary["sentences"] == len(gold)
