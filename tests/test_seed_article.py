"""The user's own example article, when this machine has it (never copied into the project)."""

import pytest

from newsstance import LABELS
from newsstance.prediction import classify

from conftest import ROOT

SEED = ROOT.parent / "shared" / "seed_article.txt"


@pytest.mark.skipif(not SEED.exists(), reason="../shared/seed_article.txt is not on this machine")
def test_classify_runs_over_the_seed_article(tiny_model):
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False)
    lines = [l.strip() for l in SEED.read_text(encoding="utf-8").splitlines() if l.strip()]
    sentences = [s.strip() for line in lines for s in segmenter.segment(line) if s.strip()]
    assert len(sentences) >= 20
    previous = [""] + sentences[:-1]
    predictions = classify(sentences, context=previous, model=tiny_model)
    assert len(predictions) == len(sentences)
    assert all(p.label in LABELS and 0 < p.score <= 1 for p in predictions)
