"""Model selection and calibration on several validation sets (e.g. authored + real news)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from newsstance.config import validate_config
from newsstance.errors import ConfigError
from newsstance.training.selection import MeanOfSetsSelection

from conftest import MINI, tiny_config_dict


def _round(callback, control, values: dict[str, float]) -> dict:
    """One evaluation round as the Trainer runs it on a dict of sets: one call per set."""
    last = {}
    for name, value in values.items():
        last = {f"eval_{name}_macro_f1": value, f"eval_{name}_loss": 1.0}
        callback.on_evaluate(None, TrainerState(), control, metrics=last)
    return last


def test_the_mean_of_the_sets_is_added_to_the_last_sets_metrics_and_drives_early_stopping():
    callback = MeanOfSetsSelection(["validation", "real"], "macro_f1", greater_is_better=True, patience=2)
    control = TrainerControl()
    assert _round(callback, control, {"validation": 0.8, "real": 0.4})["eval_select_macro_f1"] == pytest.approx(0.6)
    # a round that improves one set but not the mean counts as no improvement
    assert _round(callback, control, {"validation": 0.9, "real": 0.2})["eval_select_macro_f1"] == pytest.approx(0.55)
    assert not control.should_training_stop
    _round(callback, control, {"validation": 0.5, "real": 0.5})
    assert control.should_training_stop  # two rounds without a better mean


def test_one_set_only_reports_once_the_whole_round_is_in():
    callback = MeanOfSetsSelection(["validation", "real"], "macro_f1", greater_is_better=True, patience=None)
    first = {"eval_validation_macro_f1": 0.7}
    callback.on_evaluate(None, TrainerState(), TrainerControl(), metrics=first)
    assert "eval_select_macro_f1" not in first


def _renamed_copy(tmp_path, prefix: str):
    frame = pd.read_json(MINI, lines=True)
    frame["doc_id"] = prefix + frame["doc_id"].astype(str)
    path = tmp_path / f"{prefix}.jsonl"
    frame.to_json(path, orient="records", lines=True)
    return path


def test_training_selects_on_the_mean_and_calibrates_on_the_pooled_sets(tmp_path):
    from newsstance.data.splits import load_splits
    from newsstance.evaluation.calibration import fit_temperature
    from newsstance.labels import LABEL2ID
    from newsstance.prediction import Classifier
    from newsstance.training.run import train

    raw = tiny_config_dict(tmp_path / "run", early_stopping_patience=None)
    raw["model"]["context"] = {"previous_sentence": False}
    real = _renamed_copy(tmp_path, "real")
    raw["data"]["extra_validation"] = {"real_validation": [str(real)]}
    raw["training"]["select_on"] = ["validation", "real_validation"]
    raw["calibration"] = {"fit_on": ["validation", "real_validation"]}
    out = train(validate_config(raw))

    env = json.loads((out / "environment.json").read_text())
    assert env["selected_on"]["sets"] == ["validation", "real_validation"]
    metrics = json.loads((out / "metrics.json").read_text())
    validation_f1 = metrics["trainer_validation"]["eval_validation_macro_f1"]
    real_f1 = metrics["trainer_validation"]["eval_real_validation_macro_f1"]
    assert metrics["trainer_validation"]["eval_select_macro_f1"] == pytest.approx((validation_f1 + real_f1) / 2)
    assert env["selected_on"]["best_mean"] == pytest.approx(metrics["trainer_validation"]["eval_select_macro_f1"])
    assert metrics["calibration"]["fit_on"] == ["validation", "real_validation"]
    assert "real_validation" in metrics["splits"]  # reported like every other set
    # the folded temperature is the NLL optimum on the pooled sets: refitting on them finds ~1
    assert "fitted on validation + real_validation" in (out / "README.md").read_text()
    splits = load_splits(validate_config(raw).data)
    both = pd.concat([splits["validation"], splits["real_validation"]], ignore_index=True)
    logits = Classifier.load(out).logits(list(both["text"]))
    assert fit_temperature(logits, np.array([LABEL2ID[l] for l in both["label"]])) == pytest.approx(1.0, abs=0.02)


def _config(**changes) -> dict:
    raw = tiny_config_dict("unused")
    raw["data"]["extra_validation"] = {"real_validation": ["a.jsonl"]}
    for key, value in changes.items():
        section, name = key.split("__")
        raw.setdefault(section, {})[name] = value
    return raw


def test_select_on_and_fit_on_name_existing_validation_sets():
    with pytest.raises(ConfigError) as err:
        validate_config(_config(training__select_on=["validation", "real_validaton"], calibration__fit_on=["dev"]))
    message = str(err.value)
    assert "training.select_on: expected names of validation sets (validation, real_validation), got unknown " \
           "'real_validaton'; did you mean 'real_validation'?" in message
    assert "calibration.fit_on:" in message and "'dev'" in message


def test_set_names_are_unique_and_not_reserved():
    raw = _config()
    raw["data"]["extra_eval"] = {"real_validation": ["b.jsonl"], "test": ["c.jsonl"]}
    with pytest.raises(ConfigError) as err:
        validate_config(raw)
    message = str(err.value)
    assert "data.extra_eval.test: expected a new set name" in message
    assert "data.extra_eval.real_validation: expected a name not used by data.extra_validation" in message


def test_defaults_select_and_calibrate_on_every_validation_set():
    cfg = validate_config(_config())
    assert cfg.select_on == cfg.fit_on == ["validation", "real_validation"]
    with pytest.raises(ConfigError, match="training.select_on"):
        validate_config(_config(training__select_on=[]))
