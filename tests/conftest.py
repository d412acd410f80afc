"""Shared fixtures: a tiny labelled corpus and a tiny random BERT trained on it (seconds)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini_corpus.jsonl"


def tiny_config_dict(out: Path, train: str = str(MINI), **training) -> dict:
    """A config for a 2-layer random BERT on the mini corpus, split by article."""
    return {
        "model": {"init": "random_tiny", "max_length": 48, "context": {"previous_sentence": True}},
        "data": {"train": [train], "split": {"validation_fraction": 0.2, "test_fraction": 0.2, "seed": 3}},
        "training": {"epochs": 2.0, "batch_size": 8, "learning_rate": 1.0e-3, "eval_strategy": "epoch",
                     "early_stopping_patience": None, "logging_steps": 1, **training},
        "output": {"dir": str(out)},
    }


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from newsstance.config import validate_config
    from newsstance.training.run import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    return train(validate_config(tiny_config_dict(out)))


@pytest.fixture
def tiny_model_copy(tiny_model, tmp_path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    return copy


def interrupt_predict_after(monkeypatch, chunks: int):
    """Make the next `run_predict` stop with Ctrl-C right after `chunks` chunks are journalled
    (a chunk per sentence). Returns a function that takes the interruption away again."""
    from newsstance.prediction import batch

    monkeypatch.setattr(batch, "CHUNK_SENTENCES", 1)
    real = batch._append
    seen = {"journal": 0}

    def append(path, records):
        size = real(path, records)
        if path.name.endswith(".journal"):
            seen["journal"] += 1
            if seen["journal"] == chunks + 1:  # the header, then the chunks
                raise KeyboardInterrupt
        return size

    monkeypatch.setattr(batch, "_append", append)
    return lambda: monkeypatch.setattr(batch, "_append", real)

