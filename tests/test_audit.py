"""Label audit: out-of-fold probabilities by article and cleanlab's ranking of likely errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from newsstance.config import validate_config
from newsstance.errors import NewsstanceError, OutputExistsError
from newsstance.labels import LABELS
from newsstance.training import audit as audit_module
from newsstance.training.audit import audit, fold_of_articles, rank_issues

from conftest import tiny_config_dict

pytest.importorskip("cleanlab")


def test_folds_keep_articles_whole_and_are_seeded():
    docs = pd.Series(["a", "a", "b", "c", "c", "c", "d", "e"])
    folds = fold_of_articles(docs, 2, seed=13)
    for doc in set(docs):
        assert len(set(folds[docs == doc])) == 1
    assert set(folds) == {0, 1}
    np.testing.assert_array_equal(folds, fold_of_articles(docs, 2, seed=13))
    with pytest.raises(NewsstanceError, match="at least 9 articles"):
        fold_of_articles(docs, 9, seed=13)


def test_a_confidently_contradicted_label_is_ranked_first():
    rng = np.random.default_rng(0)
    n = 60
    labels = [LABELS[i % 3] for i in range(n)]
    probs = np.full((n, 3), 0.05)
    for i in range(n):
        probs[i, i % 3] = 0.9  # the model agrees with every label...
    probs[6] = [0.02, 0.96, 0.02]  # ...except row 6 (labelled official_position): the model is sure it is skepticism
    probs += rng.uniform(0, 0.01, probs.shape)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = pd.DataFrame({"source": "t", "doc_id": [f"d{i}" for i in range(n)], "sentence_index": 0, "text": "x",
                         "label": labels, **{f"p_{l}": probs[:, i] for i, l in enumerate(LABELS)}})
    issues = rank_issues(rows)
    assert issues.iloc[0]["doc_id"] == "d6" and issues.iloc[0]["rank"] == 1
    assert issues.iloc[0]["suggested"] == "third_party_skepticism"
    assert len(issues) < 5


def test_audit_writes_out_of_fold_scores_for_every_training_row_and_resumes(tmp_path, monkeypatch):
    cfg = validate_config(tiny_config_dict(tmp_path / "unused", epochs=1.0))
    out = tmp_path / "audit"
    result = audit(cfg, out, folds=2)
    scores = pd.read_parquet(out / "out_of_fold.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert result.rows == len(scores) == summary["rows"] and set(scores["fold"]) == {0, 1}
    np.testing.assert_allclose(scores[[f"p_{l}" for l in LABELS]].sum(axis=1), 1.0, atol=1e-5)
    issues = pd.read_csv(out / "label_issues.csv")
    assert list(issues.columns[:7]) == ["rank", "source", "doc_id", "sentence_index", "text", "label", "suggested"]
    assert len(issues) == result.flagged
    for k in (0, 1):  # each fold model records which rows it left out
        assert "fold %d of 2" % k in json.loads((out / f"fold_{k}" / "data.json").read_text())["note"]
    # a finished audit is not replaced silently; an interrupted one reuses its finished folds
    with pytest.raises(OutputExistsError, match="finished audit"):
        audit(cfg, out, folds=2)
    (out / "summary.json").unlink()
    monkeypatch.setattr("newsstance.training.run.train", lambda *a, **k: pytest.fail("a finished fold was retrained"))
    assert audit(cfg, out, folds=2).rows == result.rows


def test_audit_refuses_a_folder_that_is_not_an_audit_and_another_config(tmp_path):
    cfg = validate_config(tiny_config_dict(tmp_path / "unused"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="not a newsstance audit"):
        audit(cfg, tmp_path / "mine", folds=2)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "audit.json").write_text(json.dumps({"config": {}, "folds": 3}))
    with pytest.raises(OutputExistsError, match="another config"):
        audit(cfg, tmp_path / "a", folds=2)
    with pytest.raises(NewsstanceError, match="at least 2"):
        audit(cfg, tmp_path / "b", folds=1)


def test_audit_without_cleanlab_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_cleanlab(name, *args, **kwargs):
        if name.startswith("cleanlab"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cleanlab)
    with pytest.raises(NewsstanceError, match=r'pip install "newsstance\[audit\]"'):
        audit_module.audit(validate_config(tiny_config_dict(tmp_path / "x")), tmp_path / "a", folds=2)


def test_audit_command_prints_where_to_review(tmp_path, capsys):
    import yaml

    from newsstance.cli import main

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tmp_path / "unused", epochs=1.0)))
    assert main(["audit", str(config), "-o", str(tmp_path / "audit"), "--folds", "2"]) == 0
    out = capsys.readouterr().out
    assert "training labels, 2 folds by article: out-of-fold macro-F1" in out
    assert str(tmp_path / "audit" / "label_issues.csv") in out
    assert main(["audit", str(config), "-o", str(tmp_path / "audit"), "--folds", "2"]) == 2  # finished: refused
