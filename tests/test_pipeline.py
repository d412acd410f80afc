"""train -> evaluate -> classify end to end on a tiny random BERT."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from newsstance import LABELS
from newsstance.config import validate_config
from newsstance.errors import ModelFolderError, OutputExistsError
from newsstance.prediction import Classifier, Prediction, classify

from conftest import MINI, tiny_config_dict


def test_run_leaves_a_self_describing_folder(tiny_model):
    for name in ("model.safetensors", "config.json", "tokenizer.json", "run.yaml", "data.json", "environment.json",
                 "metrics.json", "README.md", "evaluation/report.md", "evaluation/metrics.json",
                 "evaluation/confusion_test.png"):
        assert (tiny_model / name).exists(), name
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["id2label"] == {str(i): l for i, l in enumerate(LABELS)}
    assert config["newsstance"]["context"] == {"previous_sentence": True, "headline": False}
    assert config["newsstance"]["temperature"] > 0
    data = json.loads((tiny_model / "data.json").read_text())
    assert data["files"][0]["path"] == str(MINI) and len(data["files"][0]["sha256"]) == 64
    assert sum(s["rows"] for s in data["splits"].values()) == 31
    env = json.loads((tiny_model / "environment.json").read_text())
    assert env["seed"] == 13 and "transformers" in env["versions"]
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    assert set(metrics["splits"]) == {"validation", "test"}
    assert {"majority", "tfidf_logreg"} <= set(metrics["baselines"]["test"])
    assert yaml.safe_load((tiny_model / "run.yaml").read_text())["model"]["init"] == "random_tiny"
    card = (tiny_model / "README.md").read_text()
    for heading in ("## Intended use", "## Labels", "## Data", "## Results", "## Limitations"):
        assert heading in card
    assert not (tiny_model / "checkpoints").exists()


def test_classify_one_a_list_and_with_context(tiny_model):
    one = classify("The minister said the bridge would reopen in May.", model=tiny_model)
    assert isinstance(one, Prediction) and one.label in LABELS
    assert set(one.scores) == set(LABELS) and abs(sum(one.scores.values()) - 1) < 1e-5
    assert one.score == max(one.scores.values())
    many = classify(["A first sentence.", "A second, longer sentence about the budget vote."], model=tiny_model)
    assert len(many) == 2 and all(isinstance(p, Prediction) for p in many)
    alone = classify("\"It was never going to work.\"", model=tiny_model)
    withc = classify("\"It was never going to work.\"", context="Critics dismissed the plan.", model=tiny_model)
    assert alone.scores != withc.scores  # the context reaches the model


def test_batching_and_order_do_not_change_scores(tiny_model):
    clf = Classifier.load(tiny_model)
    texts = [f"Sentence number {i} " + "word " * (i % 7) for i in range(20)]
    batched = clf.probabilities(texts, batch_size=4)
    single = np.vstack([clf.probabilities([t]) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_model_resolution_env_and_error(tiny_model, monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSSTANCE_MODEL", str(tiny_model))
    assert classify("The court ruled on Monday.").label in LABELS
    monkeypatch.delenv("NEWSSTANCE_MODEL")
    monkeypatch.chdir(tmp_path)  # no models/default here
    with pytest.raises(ModelFolderError, match="newsstance train configs/default.yaml"):
        classify("The court ruled on Monday.")


def test_folder_without_label_map_is_refused(tiny_model_copy):
    config = json.loads((tiny_model_copy / "config.json").read_text())
    del config["id2label"]
    (tiny_model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="id2label is missing"):
        Classifier.load(tiny_model_copy)


def test_empty_text_is_refused(tiny_model):
    from newsstance.errors import NewsstanceError

    with pytest.raises(NewsstanceError, match="text #1 is empty"):
        classify(["Fine.", "  "], model=tiny_model)


def test_output_folder_of_another_run_is_refused(tiny_model, tmp_path):
    from newsstance.training.run import train

    cfg = validate_config(tiny_config_dict(tiny_model) | {"training": {"epochs": 1.0}})
    with pytest.raises(OutputExistsError, match="holds a different run"):
        train(cfg)


def test_interrupted_run_resumes_from_checkpoint(tmp_path):
    """A run killed after its first checkpoint continues with --resume and finishes."""
    from transformers import TrainerCallback

    from newsstance.training import run as run_module

    out = tmp_path / "resumable"
    cfg = validate_config(tiny_config_dict(out, epochs=3.0) | {"output": {"dir": str(out), "keep_checkpoints": True}})

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise KeyboardInterrupt

    import transformers

    real_init = transformers.Trainer.__init__

    def init_with_interrupt(self, *a, **k):
        k["callbacks"] = list(k.get("callbacks") or []) + [Interrupt()]
        real_init(self, *a, **k)

    transformers.Trainer.__init__ = init_with_interrupt
    try:
        with pytest.raises(KeyboardInterrupt):
            run_module.train(cfg)
    finally:
        transformers.Trainer.__init__ = real_init
    checkpoints = sorted((out / "checkpoints").glob("checkpoint-*"))
    assert len(checkpoints) == 1 and not (out / "metrics.json").exists()
    with pytest.raises(OutputExistsError, match="pass --resume"):
        run_module.train(cfg)
    run_module.train(cfg, resume=True)
    env = json.loads((out / "environment.json").read_text())
    assert env["epochs_run"] == pytest.approx(3.0)
    assert (out / "metrics.json").exists()


def test_length_grouping_reorders_predict_and_metrics_follow_label_ids(tiny_model, tmp_path):
    """transformers 5 applies group_by_length to evaluation too: Trainer.predict returns rows in
    the sampler's order. Metrics must use the returned label_ids, never the input order."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from newsstance.config import validate_config as vc
    from newsstance.data.splits import load_splits
    from newsstance.evaluation.metrics import classification_metrics, trainer_metrics
    from newsstance.evaluation.report import predict_frame
    from newsstance.labels import LABEL2ID
    from newsstance.training.run import encode

    cfg = vc(tiny_config_dict(tiny_model))
    frame = load_splits(cfg.data)["train"]
    clf = Classifier.load(tiny_model)
    dataset = encode(frame, clf.tokenizer, cfg)
    args = TrainingArguments(output_dir=str(tmp_path / "predict"), per_device_eval_batch_size=4,
                             train_sampling_strategy="group_by_length", report_to=[], use_cpu=True)
    trainer = Trainer(model=clf.model, args=args, processing_class=clf.tokenizer,
                      data_collator=DataCollatorWithPadding(clf.tokenizer))
    output = trainer.predict(dataset)
    gold = [LABEL2ID[l] for l in frame["label"]]
    assert list(output.label_ids) != gold  # reordered: input order is not the output order
    assert sorted(output.label_ids) == sorted(gold)
    ours = classification_metrics(gold, predict_frame(clf, frame).argmax(axis=1))
    assert trainer_metrics(output)["macro_f1"] == pytest.approx(ours["macro_f1"])


def test_import_is_cheap():
    code = "import sys, newsstance; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
