"""Fine-tune the real packaged all-MiniLM-L6-v2 on a slice of the corpus: it must learn."""

import json

import pytest

from newsstance.config import load_config
from newsstance.training.run import train

from conftest import ROOT


@pytest.mark.slow
def test_minilm_learns_beyond_the_majority_baseline(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(ROOT / "configs" / "offline.yaml", [
        f"output.dir={tmp_path}/minilm",
        "training.max_steps=60",          # ~1,900 sentences seen: a few minutes on 2 cores
        "training.batch_size=32",
        "training.eval_strategy=steps", "training.eval_steps=60",
        "training.early_stopping_patience=null",
        "evaluation.confusion_matrix_png=false",
    ])
    out = train(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    model_f1 = metrics["splits"]["test"]["macro_f1"]
    majority_f1 = metrics["baselines"]["test"]["majority"]
    # the majority class scores ~0.2 macro-F1; a model that learned is far above it
    assert model_f1 > majority_f1 + 0.25, metrics["splits"]["test"]
