"""The inference object and the saved model folder: what a folder must hold, what the
Classifier accepts, and calibrated scores that any runtime reproduces."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest

from newsstance import LABELS
from newsstance.errors import ModelFolderError, NewsstanceError
from newsstance.models.folder import read_settings, save_calibration, update_settings
from newsstance.prediction import Classifier, Prediction, classify

TEXTS = [
    "The minister said the bridge would reopen in May.",
    "Critics dismissed the plan as reckless.",
    "The bridge opened in 1964.",
    "\"We will appeal,\" the ministry said on Tuesday.",
    "Residents doubted the official figures.",
]
CONTEXTS = ["An earlier sentence.", "The council voted on Monday.", "Work began last year.", "A court ruled.", "Numbers rose."]


def _probs(predictions) -> np.ndarray:
    return np.array([[p.scores[label] for label in LABELS] for p in predictions])


def _without_context(folder):
    update_settings(folder, context={"previous_sentence": False, "headline": False})
    return folder


# a model folder must hold its own tokenizer and intact weights


def test_folder_without_tokenizer_files_is_refused(tiny_model_copy):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tiny_model_copy / name).unlink()
    with pytest.raises(ModelFolderError) as error:
        Classifier.load(tiny_model_copy)
    message = str(error.value)
    assert str(tiny_model_copy) in message and "no tokenizer files" in message
    assert "copy tokenizer.json and tokenizer_config.json from the training run" in message and "retrain" in message


def test_tokenizer_that_does_not_fit_the_embeddings_is_refused(tiny_model_copy):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_copy)
    tokenizer.add_tokens(["newsstancetokenone", "newsstancetokentwo"])  # the embeddings were not resized
    tokenizer.save_pretrained(tiny_model_copy)
    with pytest.raises(ModelFolderError, match=r"the tokenizer has 30,524 tokens but the model's embeddings have "
                                               r"30,522 rows.*copy the tokenizer files"):
        Classifier.load(tiny_model_copy)


@pytest.mark.parametrize("damage", ["truncated", "random"])
def test_damaged_weights_file_is_refused(tiny_model_copy, damage):
    weights = tiny_model_copy / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    with pytest.raises(ModelFolderError) as error:
        Classifier.load(tiny_model_copy)
    message = str(error.value)
    assert str(weights) in message and "damaged or incomplete weights file" in message
    assert "copy it again from the training run, or retrain" in message


def test_loading_leaves_the_environment_alone(tiny_model, monkeypatch):
    from newsstance.config import ModelConfig
    from newsstance.models.base import build_model, load_tokenizer

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = dict(os.environ)
    Classifier.load(tiny_model)
    tokenizer = load_tokenizer(ModelConfig(name_or_path=str(tiny_model)))
    build_model(ModelConfig(name_or_path=str(tiny_model)), tokenizer)
    assert dict(os.environ) == before


# numeric arguments and inputs are checked before any work


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True, "8", None])
def test_bad_batch_size_is_refused(tiny_model, batch_size):
    clf = Classifier.load(tiny_model)
    for call in (lambda: classify(TEXTS, model=tiny_model, batch_size=batch_size),
                 lambda: clf.predict(TEXTS, batch_size=batch_size),
                 lambda: clf.probabilities(TEXTS, batch_size=batch_size)):
        with pytest.raises(NewsstanceError, match=rf"batch_size must be a whole number of at least 1, got {batch_size!r}"):
            call()


@pytest.mark.parametrize("threads", [0, -1, 1.5])
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_bad_threads_are_refused(tiny_model_copy, threads, backend):
    from newsstance.prediction.onnx_backend import load_backend

    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    with pytest.raises(NewsstanceError, match=rf"threads must be a whole number of at least 1.*got {threads!r}"):
        load_backend(tiny_model_copy, backend, threads=threads)
    assert not (tiny_model_copy / "onnx").exists()  # refused before any export


@pytest.mark.parametrize("value", [float("nan"), 1.5, -0.1, "0.5"])
def test_bad_min_confidence_in_a_folder_is_refused(tiny_model_copy, value):
    config = json.loads((tiny_model_copy / "config.json").read_text())
    config["newsstance"]["min_confidence"] = value
    (tiny_model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match=r"config.json: newsstance.min_confidence must be a number between 0 and 1"):
        Classifier.load(tiny_model_copy)


def test_check_min_confidence():
    from newsstance.prediction.classifier import check_min_confidence

    assert check_min_confidence(0) == 0.0 and check_min_confidence(np.float32(0.5)) == 0.5 and check_min_confidence(1) == 1.0
    for bad in (float("nan"), 1.01, -0.01, None, True, "0.5"):
        with pytest.raises(NewsstanceError, match="--min-confidence must be a number between 0 and 1"):
            check_min_confidence(bad, "--min-confidence")


@pytest.mark.parametrize("text, found", [
    (None, "text is NoneType (None)"),
    (123, "text is int (123)"),
    (b"bytes", "text is bytes (b'bytes')"),
    (["Fine.", 5], "text #1 is int (5), not a string"),
    (["Fine.", None], "text #1 is NoneType (None), not a string"),
])
def test_text_that_is_not_a_string_is_refused(tiny_model, text, found):
    with pytest.raises(NewsstanceError) as error:
        classify(text, model=tiny_model)
    assert str(error.value).startswith(found)


def test_context_of_a_different_length_is_refused(tiny_model):
    with pytest.raises(NewsstanceError, match=r"^context has 1 items but there are 2 texts; give one context per text$"):
        classify(TEXTS[:2], context=CONTEXTS[:1], model=tiny_model)
    with pytest.raises(NewsstanceError, match=r"^headline has 3 items but there are 2 texts"):
        classify(TEXTS[:2], headline=CONTEXTS[:3], model=tiny_model)
    with pytest.raises(NewsstanceError, match=r"^context is str .*give a list as long as the texts \(2\)"):
        classify(TEXTS[:2], context="One string for two texts.", model=tiny_model)
    with pytest.raises(NewsstanceError, match=r"^context is list .*give one string when classifying one text"):
        classify(TEXTS[0], context=CONTEXTS[:1], model=tiny_model)
    with pytest.raises(NewsstanceError, match=r"^previous #1 is int \(7\)"):
        Classifier.load(tiny_model).predict(TEXTS[:2], previous=["A sentence.", 7])


def test_context_given_to_a_model_trained_without_it_is_ignored_with_a_warning(tiny_model, tiny_model_copy, caplog):
    plain = _without_context(tiny_model_copy)
    with caplog.at_level("WARNING", logger="newsstance.prediction.classifier"):
        alone = classify(TEXTS[0], model=plain)
        assert not caplog.records
        withc = classify(TEXTS[0], context=CONTEXTS[0], model=plain)
    [record] = caplog.records
    assert record.levelname == "WARNING" and record.getMessage() == f"{plain} was trained without context; the context given is ignored"
    assert withc == alone
    caplog.clear()
    with caplog.at_level("WARNING", logger="newsstance.prediction.classifier"):
        classify(TEXTS[0], context=CONTEXTS[0], model=tiny_model)  # trained with context: no warning
    assert not caplog.records


# the Python API


def test_predict_call_batch_size_and_to_dict(tiny_model):
    clf = Classifier.load(tiny_model)
    many = clf.predict(TEXTS, previous=CONTEXTS)
    assert clf(TEXTS, previous=CONTEXTS) == many
    one = clf.predict(TEXTS[0], previous=CONTEXTS[0])
    assert isinstance(one, Prediction) and one.label == many[0].label
    np.testing.assert_allclose(_probs([one]), _probs(many[:1]), atol=1e-5)  # alone vs in a padded batch
    np.testing.assert_allclose(_probs(classify(TEXTS, context=CONTEXTS, model=clf, batch_size=1)), _probs(many), atol=1e-5)
    np.testing.assert_allclose(_probs(classify(TEXTS, context=CONTEXTS, model=tiny_model, batch_size=2)), _probs(many), atol=1e-5)
    row = one.to_dict()
    assert row == {"label": one.label, "score": one.score, "scores": one.scores}
    assert json.loads(json.dumps(row)) == row and row["scores"] is not one.scores


# calibration folded into the weights


def test_temperature_is_folded_and_a_plain_pipeline_gives_the_same_scores(tiny_model, tiny_model_copy):
    from transformers import pipeline

    settings = read_settings(tiny_model)
    assert settings.temperature_folded and settings.temperature > 0 and settings.temperature != 1.0
    saved = json.loads((tiny_model / "config.json").read_text())["newsstance"]
    assert saved["temperature_folded"] is True and saved["temperature"] == settings.temperature

    def pipeline_probs(folder, inputs):
        rows = pipeline("text-classification", model=str(folder), top_k=None)(inputs)
        return np.array([[{d["label"]: d["score"] for d in row}[label] for label in LABELS] for row in rows])

    # the tiny model reads the previous sentence as a second segment: give the pipeline the same pair
    with_context = pipeline_probs(tiny_model, [{"text": t, "text_pair": c} for t, c in zip(TEXTS, CONTEXTS)])
    np.testing.assert_allclose(with_context, _probs(classify(TEXTS, context=CONTEXTS, model=tiny_model)), atol=1e-5)
    # and a model that reads sentences alone takes plain strings
    plain = _without_context(tiny_model_copy)
    np.testing.assert_allclose(pipeline_probs(plain, TEXTS), _probs(classify(TEXTS, model=plain)), atol=1e-5)


def test_onnx_runtime_gives_the_calibrated_scores_from_the_logits_alone(tiny_model_copy):
    pytest.importorskip("onnxruntime")
    from scipy.special import softmax

    from newsstance.data.context import tokenize
    from newsstance.prediction.onnx_backend import load_backend

    expected = _probs(classify(TEXTS, context=CONTEXTS, model=tiny_model_copy))
    onnx = load_backend(tiny_model_copy, "onnx")
    clf = Classifier.load(tiny_model_copy)
    encoded = tokenize(clf.tokenizer, TEXTS, clf.contexts(len(TEXTS), CONTEXTS, None), clf.settings.max_length)
    batch = clf.tokenizer.pad([{k: encoded[k][i] for k in encoded.keys()} for i in range(len(TEXTS))], return_tensors="np")
    names = [i.name for i in onnx.session.get_inputs()]
    [logits] = onnx.session.run(["logits"], {n: batch[n].astype(np.int64) for n in names})
    np.testing.assert_allclose(softmax(logits, axis=1), expected, atol=1e-5)  # no temperature needed
    np.testing.assert_allclose(_probs(onnx.predict(TEXTS, previous=CONTEXTS)), expected, atol=1e-5)


def test_a_folder_saved_before_the_fold_still_divides_by_its_temperature(tiny_model, tiny_model_copy):
    from transformers import AutoModelForSequenceClassification

    from newsstance.models.folder import output_layer

    temperature = read_settings(tiny_model).temperature
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_copy)
    layer = output_layer(model)
    assert layer is model.classifier
    layer.weight.data.mul_(temperature)
    layer.bias.data.mul_(temperature)
    model.save_pretrained(tiny_model_copy)  # unfolded weights, as folders written before format 2 hold
    config = json.loads((tiny_model_copy / "config.json").read_text())
    del config["newsstance"]["temperature_folded"]
    config["newsstance"]["format_version"] = 1
    (tiny_model_copy / "config.json").write_text(json.dumps(config))
    old = Classifier.load(tiny_model_copy)
    assert not old.settings.temperature_folded
    np.testing.assert_allclose(old.probabilities(TEXTS), Classifier.load(tiny_model).probabilities(TEXTS), atol=1e-5)


def test_save_calibration_composes_and_checks_before_writing(tiny_model_copy):
    clf = Classifier.load(tiny_model_copy)
    first = clf.settings.temperature
    logits = clf.logits(TEXTS)
    before = {p.name: p.read_bytes() for p in tiny_model_copy.iterdir() if p.is_file()}
    for temperature, min_confidence, found in ((0.0, 0.5, "temperature"), (float("nan"), 0.5, "temperature"),
                                               (2.0, 1.5, "min_confidence"), (2.0, float("nan"), "min_confidence")):
        with pytest.raises(NewsstanceError, match=found):
            save_calibration(tiny_model_copy, clf.model, temperature, min_confidence)
    assert {p.name: p.read_bytes() for p in tiny_model_copy.iterdir() if p.is_file()} == before
    np.testing.assert_allclose(clf.logits(TEXTS), logits)  # the in-memory model is untouched too

    settings = save_calibration(tiny_model_copy, clf.model, 2.0, 0.6)
    assert settings.temperature_folded and math.isclose(settings.temperature, first * 2.0) and settings.min_confidence == 0.6
    assert read_settings(tiny_model_copy) == settings
    reloaded = Classifier.load(tiny_model_copy)
    np.testing.assert_allclose(reloaded.logits(TEXTS), logits / 2.0, rtol=1e-5, atol=1e-6)
    assert sorted(p.name for p in tiny_model_copy.iterdir()) == sorted(
        set(before) | {"evaluation"})  # no staging folder or temporary file left behind


def test_onnx_export_follows_weights_changed_in_place(tiny_model_copy):
    pytest.importorskip("onnxruntime")
    from newsstance.prediction.onnx_backend import load_backend

    load_backend(tiny_model_copy, "onnx")  # exports onnx/model.onnx
    exported = tiny_model_copy / "onnx" / "model.onnx"
    os.utime(exported, (1, 1))  # older than any weights written from now on
    clf = Classifier.load(tiny_model_copy)
    save_calibration(tiny_model_copy, clf.model, 3.0, None)  # the weights change in place
    np.testing.assert_allclose(load_backend(tiny_model_copy, "onnx").probabilities(TEXTS), clf.probabilities(TEXTS), atol=1e-5)


# int8: a real check of the quantized path


def test_int8_agrees_with_fp32_and_really_runs_quantized(tiny_model_copy):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from newsstance.prediction.onnx_backend import INT8_FILE, load_backend

    texts = TEXTS + [f"The council said on day {i} that the budget vote would be delayed again." for i in range(15)]
    fp32 = load_backend(tiny_model_copy).probabilities(texts)
    int8 = load_backend(tiny_model_copy, "onnx", "int8")
    probs = int8.probabilities(texts)
    assert probs.shape == (len(texts), len(LABELS)) and np.isfinite(probs).all()
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs.argmax(1) == fp32.argmax(1)).mean() >= 0.9
    # the int8 graph holds quantized matrix products, and without the fp32 fallback its scores
    # differ from fp32 (it is not the fp32 model under another name) but only slightly
    ops = {node.op_type for node in onnx.load(str(tiny_model_copy / "onnx" / INT8_FILE)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    int8.fallback = None
    alone = int8.probabilities(texts)
    assert 0 < np.abs(alone - fp32).max() < 0.05
    assert (alone.argmax(1) == fp32.argmax(1)).mean() >= 0.9


def test_length_batches_end_before_mostly_padding_and_keep_every_index():
    from newsstance.prediction.classifier import MIN_FILL, length_batches

    lengths = [40, 38, 30, 29, 12, 11, 10, 9, 8, 3]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches = list(length_batches(order, lengths, batch_size=3))
    assert [i for b in batches for i in b] == order  # every input once, in order
    assert all(len(b) <= 3 for b in batches)
    assert all(lengths[b[-1]] >= MIN_FILL * lengths[b[0]] for b in batches)  # never below MIN_FILL of the longest
    assert batches == [[0, 1, 2], [3], [4, 5, 6], [7, 8], [9]]
