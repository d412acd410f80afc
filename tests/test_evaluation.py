"""The evaluation report: CIs, calibration, slices, errors, baselines, compare."""

import json

import numpy as np
import pytest
from scipy.special import softmax

from newsstance.cli import main
from newsstance.evaluation.bootstrap import article_weights, bootstrap_ci, paired_difference_ci
from newsstance.evaluation.calibration import calibrate, expected_calibration_error, fit_temperature
from newsstance.evaluation.rules import rule_label


def test_article_bootstrap_resamples_whole_articles():
    docs = ["a"] * 3 + ["b"] * 2 + ["c"] * 5
    weights = article_weights(docs, n_resamples=200, seed=1)
    assert weights.shape == (200, 10)
    # rows of one article always carry the same weight; each resample draws 3 articles
    assert (weights[:, 0] == weights[:, 2]).all() and (weights[:, 5] == weights[:, 9]).all()
    assert set((weights[:, 0] + weights[:, 3] + weights[:, 5]).tolist()) == {3}


def test_intervals_contain_the_point_estimate():
    rng = np.random.default_rng(0)
    docs = [f"d{i // 10}" for i in range(300)]
    refs = rng.integers(0, 3, 300)
    preds = np.where(rng.random(300) < 0.75, refs, rng.integers(0, 3, 300))
    ci = bootstrap_ci(docs, refs, preds, n_resamples=300)
    from sklearn.metrics import accuracy_score, f1_score

    assert ci["unit"] == "article"
    assert ci["accuracy"][0] <= accuracy_score(refs, preds) <= ci["accuracy"][1]
    assert ci["macro_f1"][0] <= f1_score(refs, preds, average="macro") <= ci["macro_f1"][1]
    assert ci["macro_f1"][1] - ci["macro_f1"][0] > 0.02
    same = paired_difference_ci(docs, refs, preds, preds, n_resamples=100)
    assert same["delta_macro_f1"] == 0 and same["ci"] == [0.0, 0.0]


def test_temperature_scaling_fixes_an_overconfident_model():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 2000)
    # logits that point at the right label 70% of the time, scaled to be far too sure
    noisy = np.where(rng.random(2000) < 0.7, labels, rng.integers(0, 3, 2000))
    logits = np.eye(3)[noisy] * 8.0 + rng.normal(0, 0.5, (2000, 3))
    before = expected_calibration_error(softmax(logits, axis=1), labels)
    result = calibrate(logits, labels)
    assert result["temperature"] > 2.0  # softened
    assert result["ece_after"] < before / 3
    assert result["ece_before"] == pytest.approx(before)
    assert 0.34 <= result["min_confidence"] < 1
    # the label never changes, only the confidence
    t = fit_temperature(logits, labels)
    assert (softmax(logits / t, axis=1).argmax(1) == logits.argmax(1)).all()


@pytest.mark.parametrize("sentence, label", [
    ("Critics dismissed the plan as unrealistic.", "third_party_skepticism"),
    ("The minister said the plan would be ready in May.", "official_position"),
    ("\u201cWe are ready,\u201d she told reporters.", "official_position"),
    ("The bridge was built in 1964.", "neutral_reporting"),
    ("It remains unclear whether the funds exist.", "third_party_skepticism"),
])
def test_rule_baseline_is_transparent(sentence, label):
    assert rule_label(sentence) == label


def test_training_report_has_every_part(tiny_model):
    report = tiny_model / "evaluation"
    metrics = json.loads((report / "metrics.json").read_text())
    for split in ("validation", "test"):
        r = metrics[split]
        assert {"model", "rules", "majority", "tfidf_logreg"} == set(r["systems"])
        m = r["systems"]["model"]
        assert m["ci"]["macro_f1"][0] <= m["macro_f1"] <= m["ci"]["macro_f1"][1]
        for label, c in m["per_class"].items():
            lo, hi = m["ci"]["per_class"][label]["f1"]
            assert lo <= c["f1"] <= hi
        assert {"quoted", "position"} <= set(r["slices"])
        assert len(r["calibration"]["reliability"]) == 10 and r["calibration"]["coverage"][0]["threshold"] == 0.34
        for name in (f"confusion_{split}.png", f"reliability_{split}.png", f"coverage_{split}.png",
                     f"errors_{split}.csv", f"predictions_{split}.csv"):
            assert (report / name).exists(), name
    text = (report / "report.md").read_text()
    assert "95% CI" in text and "Most confident mistakes" in text and "Slice by position" in text
    settings = json.loads((tiny_model / "config.json").read_text())["newsstance"]
    assert 0.34 <= settings["min_confidence"] < 1


def test_errors_csv_lists_confident_mistakes_with_context(tiny_model):
    import pandas as pd

    errors = pd.read_csv(tiny_model / "evaluation" / "errors_test.csv", keep_default_na=False)
    assert list(errors.columns) == ["doc_id", "sentence_index", "gold", "predicted", "confidence", "text", "previous"]
    assert (errors["gold"] != errors["predicted"]).all()
    assert list(errors["confidence"]) == sorted(errors["confidence"], reverse=True)


def test_evaluate_without_data_uses_the_recorded_sets_and_slices_by_metadata(tiny_model_copy, tmp_path, capsys):
    assert main(["evaluate", str(tiny_model_copy), "--out", str(tmp_path / "all")]) == 0
    out = capsys.readouterr().out
    assert "validation (" in out and "test (" in out
    assert main(["evaluate", str(tiny_model_copy), str(_with_topics(tmp_path)), "--slices", "topic", "--out", str(tmp_path / "t")]) == 0
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert set(next(iter(metrics.values()))["slices"]) == {"topic"}


def _with_topics(tmp_path):
    from conftest import MINI

    rows = [json.loads(l) for l in MINI.read_text().splitlines()]
    path = tmp_path / "topics.jsonl"
    path.write_text("".join(json.dumps(r | {"topic": "economy" if r["doc_id"] in ("m3", "m5") else "politics"}) + "\n" for r in rows))
    return path


def test_missing_polnear_copy_is_skipped_with_a_message(tiny_model_copy, tmp_path, monkeypatch):
    import yaml

    from newsstance.data import polnear
    from newsstance.evaluation.report import evaluate_model

    monkeypatch.setattr(polnear, "SHARED_COPY", tmp_path / "none")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NEWSSTANCE_POLNEAR", raising=False)
    from conftest import ROOT

    run = yaml.safe_load((tiny_model_copy / "run.yaml").read_text())
    run["data"]["extra_eval"] = {"polnear_dev": [{"path": str(ROOT / "data/external/polnear_dev.jsonl"), "kind": "polnear"}]}
    (tiny_model_copy / "run.yaml").write_text(yaml.safe_dump(run))
    result = evaluate_model(tiny_model_copy, out_dir=tmp_path / "r")
    assert "newsstance data fetch polnear" in result["skipped"]["polnear_dev"]
    assert "polnear_dev: skipped" in (tmp_path / "r" / "report.md").read_text()


def test_compare_two_runs_with_paired_difference(tiny_model, tmp_path, capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    assert main(["compare", str(tiny_model), str(other), "--out", str(tmp_path / "cmp.md")]) == 0
    table = (tmp_path / "cmp.md").read_text()
    assert "| test | tiny (context: previous_sentence) |" in table
    assert "Paired difference" in table and "| test | +0.000 | [+0.000, +0.000] |" in table
    with pytest.raises(SystemExit):
        main(["compare"])
    assert main(["evaluate", str(other), "--out", str(tmp_path / "rep"), "--ablation", str(tiny_model)]) == 0
    assert "## Ablation" in (tmp_path / "rep" / "report.md").read_text()


def test_targets_report_the_gap():
    from newsstance.evaluation.report import target_status

    results = {
        "test": {"systems": {"model": {"macro_f1": 0.85}}, "calibration": {"ece": 0.03}},
        "polnear_dev": {"systems": {"model": {"macro_f1": 0.70}, "tfidf_logreg": {"macro_f1": 0.55}}, "calibration": {"ece": 0.09}},
    }
    rows = {(r["set"], r["metric"]): r for r in target_status(results)}
    assert rows[("test", "macro_f1")] == {"set": "test", "metric": "macro_f1", "target": 0.90, "value": 0.85, "met": False, "gap": 0.05}
    assert rows[("test", "ece")]["met"] is True
    assert rows[("polnear_dev", "margin_over_tfidf")]["value"] == 0.15 and rows[("polnear_dev", "margin_over_tfidf")]["met"]
    assert ("challenge", "macro_f1") not in rows  # a set not evaluated has no row
