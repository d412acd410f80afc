"""The evaluation report: CIs, calibration, slices, errors, baselines, compare."""

import json

import numpy as np
import pytest
from scipy.special import softmax

from newsstance.cli import main
from newsstance.evaluation.bootstrap import article_weights, bootstrap_ci, paired_difference_ci
from newsstance.evaluation.calibration import calibrate, expected_calibration_error, fit_temperature
from newsstance.evaluation.rules import rule_label

from conftest import MINI


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


def test_all_resamples_at_once_score_as_scikit_learn_does_each():
    from newsstance.evaluation.bootstrap import _resample_scores, _scores

    rng = np.random.default_rng(5)
    docs = [f"d{i // 4}" for i in range(80)]
    refs = rng.choice([0, 2], 80)  # label 1 is never gold: absent from some resamples, predicted in others
    preds = np.where(rng.random(80) < 0.6, refs, rng.integers(0, 3, 80))
    preds[:4] = 1  # only article d0 has a prediction of label 1
    weights = article_weights(docs, n_resamples=60, seed=2)
    vectorised = _resample_scores(refs, preds, weights)
    for i, w in enumerate(weights):
        accuracy, precision, recall, f1, macro = _scores(refs, preds, w)
        assert vectorised["accuracy"][i] == pytest.approx(accuracy, abs=1e-12)
        assert vectorised["macro_f1"][i] == pytest.approx(macro, abs=1e-12)
        for name, expected in (("precision", precision), ("recall", recall), ("f1", f1)):
            np.testing.assert_allclose(vectorised[name][i], expected, atol=1e-12)
    assert len({int(w[:4].sum() > 0) for w in weights}) == 2  # both cases occurred: label 1 drawn and not
    for bad_refs, bad_preds in (([], []), ([0, 1], [0]), ([0, 3], [0, 1]), ([-1, 0], [0, 0])):
        with pytest.raises(ValueError, match="label ids 0 to 2"):
            bootstrap_ci(["a"] * len(bad_refs), bad_refs, bad_preds)


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
    from newsstance.files import iter_jsonl

    rows = [row for _, row in iter_jsonl(MINI)]
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


def _perfect_run(tiny_model, folder):
    """A genuinely different run: a copy of tiny_model whose saved test predictions are all right,
    with metrics.json, calibration and context to match."""
    import shutil

    import pandas as pd

    shutil.copytree(tiny_model, folder)
    preds = folder / "evaluation" / "predictions_test.csv"
    frame = pd.read_csv(preds)
    frame["predicted"] = frame["gold"]
    frame.to_csv(preds, index=False)
    metrics = json.loads((folder / "evaluation" / "metrics.json").read_text())
    test = metrics["test"]
    test["systems"]["model"].update(macro_f1=1.0, accuracy=1.0)
    test["systems"]["model"]["ci"].update(macro_f1=[1.0, 1.0], accuracy=[1.0, 1.0])
    test["calibration"].update(ece=0.0, temperature=2.0)
    (folder / "evaluation" / "metrics.json").write_text(json.dumps(metrics))
    config = json.loads((folder / "config.json").read_text())
    config["newsstance"]["context"] = {"previous_sentence": False, "headline": False}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_compare_two_different_runs_reports_their_numbers_and_the_difference(tiny_model, tmp_path, capsys):
    import pandas as pd
    from sklearn.metrics import f1_score

    other = _perfect_run(tiny_model, tmp_path / "other")
    assert main(["compare", str(tiny_model), str(other), "--out", str(tmp_path / "cmp.md")]) == 0
    table = (tmp_path / "cmp.md").read_text()
    assert table == capsys.readouterr().out
    a = json.loads((tiny_model / "evaluation" / "metrics.json").read_text())["test"]
    m = a["systems"]["model"]
    f1, acc = m["ci"]["macro_f1"], m["ci"]["accuracy"]
    assert (f"| test | tiny (context: previous_sentence) | {a['n']} | {m['macro_f1']:.3f} [{f1[0]:.3f}, {f1[1]:.3f}] | "
            f"{m['accuracy']:.3f} [{acc[0]:.3f}, {acc[1]:.3f}] | {a['calibration']['ece']:.3f} | "
            f"{a['calibration']['temperature']:.3f} |") in table
    assert f"| test | other (context: none) | {a['n']} | 1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] | 0.000 | 2.000 |" in table
    # the paired difference: perfect minus the tiny model's own macro-F1 on the same rows
    preds = pd.read_csv(tiny_model / "evaluation" / "predictions_test.csv")
    delta = 1.0 - f1_score(preds["gold"], preds["predicted"], average="macro")
    assert delta > 0  # the tiny model is not perfect, so the runs really differ
    row = next(line for line in table.split("Paired difference")[1].splitlines() if line.startswith("| test |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"{delta:+.3f}"
    low, high = (float(x) for x in cells[2].strip("[]").split(","))
    assert 0 <= low <= delta <= high
    with pytest.raises(SystemExit):
        main(["compare"])


def test_evaluate_appends_an_ablation_section(tiny_model, tmp_path):
    from newsstance.errors import ModelFolderError
    from newsstance.evaluation.report import evaluate_model

    other = _perfect_run(tiny_model, tmp_path / "other")
    # a run without a saved evaluation is refused before any work
    with pytest.raises(ModelFolderError, match="no evaluation/metrics.json"):
        evaluate_model(tiny_model, out_dir=tmp_path / "none", ablation=[tmp_path / "missing"])
    assert not (tmp_path / "none").exists()
    assert main(["evaluate", str(tiny_model), str(MINI), "--out", str(tmp_path / "rep"), "--ablation", str(other)]) == 0
    report = (tmp_path / "rep" / "report.md").read_text()
    assert report.index("# tiny") < report.index("## Ablation")
    ablation = report.split("## Ablation")[1]
    assert "| test | other (context: none) |" in ablation and "| test | tiny (context: previous_sentence) |" in ablation
    assert "Paired difference, other (context: none) minus tiny (context: previous_sentence)" in ablation


def test_targets_report_the_gap():
    from newsstance.evaluation.targets import target_status

    results = {
        "test": {"systems": {"model": {"macro_f1": 0.85}}, "calibration": {"ece": 0.03}},
        "polnear_dev": {"systems": {"model": {"macro_f1": 0.70}, "tfidf_logreg": {"macro_f1": 0.55}}, "calibration": {"ece": 0.09}},
    }
    rows = {(r["set"], r["metric"]): r for r in target_status(results)}
    assert rows[("test", "macro_f1")] == {"set": "test", "metric": "macro_f1", "target": 0.90, "value": 0.85, "met": False, "gap": 0.05}
    assert rows[("test", "ece")]["met"] is True
    assert rows[("polnear_dev", "margin_over_tfidf")]["value"] == 0.15 and rows[("polnear_dev", "margin_over_tfidf")]["met"]
    assert ("challenge", "macro_f1") not in rows  # a set not evaluated has no row
    results["polnear_dev"]["systems"]["model"]["per_class"] = {"third_party_skepticism": {"f1": 0.61}}
    skepticism = [r for r in target_status(results) if r["metric"] == "skepticism_f1"]
    assert skepticism == [{"set": "polnear_dev", "metric": "skepticism_f1", "target": 0.65, "value": 0.61, "met": False, "gap": 0.04}]
    real = [r["target"] for r in target_status(results) if r["set"] == "polnear_dev" and r["metric"] == "macro_f1"]
    assert real == [0.72, 0.75]  # this stage's target and the product's


def _project(tiny_model, root):
    """tiny_model as trained in `root` with relative paths: root/data/mini.jsonl, root/models/tiny."""
    import shutil

    import yaml

    (root / "data").mkdir(parents=True)
    shutil.copy(MINI, root / "data" / "mini.jsonl")
    model = root / "models" / "tiny"
    shutil.copytree(tiny_model, model)
    run = yaml.safe_load((model / "run.yaml").read_text())
    run["data"]["train"] = [{"path": "data/mini.jsonl", "kind": "table", "split": None}]
    run["output"]["dir"] = "models/tiny"
    (model / "run.yaml").write_text(yaml.safe_dump(run))
    record = json.loads((model / "data.json").read_text())
    for entry in record["files"]:
        entry["path"] = "data/mini.jsonl"
    (model / "data.json").write_text(json.dumps(record))
    return model


def test_evaluate_finds_the_recorded_data_from_another_folder(tiny_model, tmp_path, monkeypatch):
    import shutil

    from newsstance.evaluation.report import evaluate_model

    model = _project(tiny_model, tmp_path / "project")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    # the run was made in the folder that holds output.dir (project/), not here
    result = evaluate_model(model, out_dir=tmp_path / "r1")
    own = json.loads((tiny_model / "evaluation" / "metrics.json").read_text())
    assert set(result["splits"]) == {"validation", "test"} and result["notes"] == []
    for split in ("validation", "test"):
        assert result["splits"][split]["n"] == own[split]["n"]
        assert result["splits"][split]["model"] == pytest.approx(own[split]["systems"]["model"]["macro_f1"])
        assert "tfidf_logreg" in result["splits"][split]  # the training data was found too
    # a model folder moved away from its project: the working folder recorded in data.json
    moved = tmp_path / "moved" / "tiny"
    shutil.copytree(model, moved)
    record = json.loads((moved / "data.json").read_text())
    (moved / "data.json").write_text(json.dumps(record | {"working_dir": str(tmp_path / "project")}))
    assert set(evaluate_model(moved, out_dir=tmp_path / "r2")["splits"]) == {"validation", "test"}


def test_evaluate_names_the_recorded_file_that_is_gone(tiny_model, tmp_path, monkeypatch, capsys):
    model = _project(tiny_model, tmp_path / "project")
    (tmp_path / "project" / "data" / "mini.jsonl").unlink()
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(model), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{model / 'run.yaml'}: recorded data file(s) gone: train: data/mini.jsonl" in err
    # every place it looked is named: the recorded working folder, the project holding output.dir, here
    looked = err.split("looked for ", 1)[1].split(")", 1)[0].split(", ")
    assert str(tmp_path / "project" / "data" / "mini.jsonl") in looked and str(tmp_path / "data" / "mini.jsonl") in looked
    assert f"newsstance evaluate {model} DATA" in err
    # with a DATA file the evaluation runs, and says why the fitted baselines are missing
    assert main(["evaluate", str(model), str(MINI), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "note: training data gone (data/mini.jsonl" in out
    assert "training data gone" in (tmp_path / "r" / "report.md").read_text()


def test_plots_leave_the_matplotlib_backend_alone(tmp_path):
    import subprocess
    import sys

    code = f"""
import sys
from pathlib import Path
import matplotlib
before = matplotlib.get_backend()
from newsstance.evaluation.plots import confusion_png, coverage_png, reliability_png
out = Path({str(tmp_path)!r})
confusion_png([[3, 1, 0], [0, 2, 1], [1, 0, 4]], "t", out / "c.png")
reliability_png([{{"low": 0.3, "high": 0.4, "n": 2, "accuracy": 0.5, "confidence": 0.35}}], "r", out / "r.png")
coverage_png([{{"threshold": 0.5, "coverage": 0.8, "accuracy": 0.7}}], "c", out / "v.png")
print("pyplot" if "matplotlib.pyplot" in sys.modules else "no pyplot", before, matplotlib.get_backend())
"""
    env = {"MPLBACKEND": "svg", "PATH": "/usr/bin:/bin", "MPLCONFIGDIR": str(tmp_path / "mpl")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["no", "pyplot", "svg", "svg"]
    for name in ("c.png", "r.png", "v.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("sentence, quoted", [
    ("\u00abNous sommes pr\u00eats\u00bb, a-t-il dit.", True),
    ("\u201eWir sind bereit\u201c, sagte er.", True),
    ("``We are ready,'' she told reporters.", True),
    ('"We are ready," she told reporters.', True),
    ("The minister\u2019s plan was approved.", False),  # an apostrophe, not a quotation
    ("The bridge was built in 1964.", False),
])
def test_one_definition_of_a_quoted_sentence(sentence, quoted):
    import pandas as pd

    from newsstance.evaluation.rules import _ATTRIBUTION
    from newsstance.evaluation.slices import derived_columns
    from newsstance.labels import is_quoted

    assert is_quoted(sentence) is quoted
    frame = pd.DataFrame({"text": [sentence], "sentence_index": [3]})
    assert derived_columns(frame)["quoted"][0] == ("quoted" if quoted else "narrated")
    # the rule baseline's attribution cue fires on the same quotation marks
    without_verbs = sentence.replace("told reporters", "x").replace("sagte er", "x").replace("a-t-il dit", "x")
    assert bool(_ATTRIBUTION.search(without_verbs)) is quoted
