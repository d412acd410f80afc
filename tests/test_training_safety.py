"""Training never loses an unfinished run, says the truth after Ctrl-C, guards its numbers,
writes a model card the Hub understands, and ships its configs as package data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from transformers import TrainerCallback

from conftest import MINI, tiny_config_dict
from newsstance.cli import main
from newsstance.config import shipped_configs, validate_config
from newsstance.errors import OutputExistsError
from newsstance.training import output as output_module
from newsstance.training import run as run_module
from newsstance.training.model_card import front_matter

REAL_TRAIN = run_module.train


class InterruptOnSave(TrainerCallback):
    """Ctrl-C right after the first checkpoint is written."""

    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt


class InterruptAtStart(TrainerCallback):
    """Ctrl-C before any checkpoint exists."""

    def on_train_begin(self, args, state, control, **kwargs):
        raise KeyboardInterrupt


class RecordStart(TrainerCallback):
    def __init__(self):
        self.first_step = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.first_step = state.global_step


class RecordLoss(TrainerCallback):
    def __init__(self):
        self.losses = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(logs["loss"])


def _with_callbacks(monkeypatch, *callbacks):
    """`newsstance train` as the user runs it, with extra Trainer callbacks."""
    monkeypatch.setattr(run_module, "train", lambda cfg, **kw: REAL_TRAIN(cfg, callbacks=list(callbacks), **kw))


def _config_file(tmp_path: Path, out: Path, overwrite: bool) -> str:
    raw = tiny_config_dict(out)
    raw["output"] |= {"overwrite": overwrite}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


# --- item 7: resume after Ctrl-C, even with output.overwrite: true ----------------------------


def test_ctrl_c_after_a_checkpoint_resumes_although_the_config_says_overwrite(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    config = _config_file(tmp_path, out, overwrite=True)  # as configs/smoke.yaml

    _with_callbacks(monkeypatch, InterruptOnSave())
    assert main(["train", config]) == 130
    err = capsys.readouterr().err
    assert "interrupted; continue from the last checkpoint" in err and f"newsstance train {config} --resume" in err
    checkpoints = sorted((out / "checkpoints").glob("checkpoint-*"))
    assert len(checkpoints) == 1 and not (out / "metrics.json").exists()
    monkeypatch.undo()

    # a plain rerun must not delete the checkpoint, although output.overwrite is true
    assert main(["train", config]) == 2
    err = capsys.readouterr().err
    assert f"holds an unfinished run with a checkpoint ({checkpoints[0].name}); pass --resume" in err
    assert sorted((out / "checkpoints").glob("checkpoint-*")) == checkpoints

    assert main(["train", config, "--resume", "--overwrite"]) == 2
    assert "--resume and --overwrite exclude each other" in capsys.readouterr().err

    start = RecordStart()
    _with_callbacks(monkeypatch, start)
    assert main(["train", config, "--resume"]) == 0
    assert start.first_step == int(checkpoints[0].name.rpartition("-")[2]) > 0  # continued, not restarted
    assert (out / "metrics.json").exists()
    assert json.loads((out / "environment.json").read_text())["epochs_run"] == pytest.approx(2.0)
    assert "model written to" in capsys.readouterr().out


def test_ctrl_c_before_any_checkpoint_says_rerun_and_a_rerun_works(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    config = _config_file(tmp_path, out, overwrite=False)
    _with_callbacks(monkeypatch, InterruptAtStart())
    assert main(["train", config]) == 130
    err = capsys.readouterr().err
    assert "interrupted before the first checkpoint was saved, so there is nothing to resume" in err
    assert "--resume" not in err and f"newsstance train {config}" in err
    assert (out / "run.yaml").exists() and output_module.latest_checkpoint(out) is None
    monkeypatch.undo()

    assert main(["train", config]) == 0  # exactly what the message said
    assert (out / "metrics.json").exists()


def _unfinished_run(out: Path, cfg, checkpoint_complete: bool = True) -> Path:
    checkpoint = out / "checkpoints" / "checkpoint-4"
    checkpoint.mkdir(parents=True)
    (out / "run.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if checkpoint_complete:
        (checkpoint / "trainer_state.json").write_text("{}")
    return checkpoint


def test_only_overwrite_on_the_command_line_discards_an_unfinished_run(tmp_path):
    out = tmp_path / "run"
    cfg = validate_config(tiny_config_dict(out) | {"output": {"dir": str(out), "overwrite": True}})
    checkpoint = _unfinished_run(out, cfg)
    check = output_module.check_output
    with pytest.raises(OutputExistsError, match="unfinished run with a checkpoint"):
        check(cfg, out, resume=False, overwrite=False)
    assert check(cfg, out, resume=True, overwrite=False) is False  # --resume wins over output.overwrite
    assert check(cfg, out, resume=False, overwrite=True) is True  # --overwrite: clear the folder
    assert output_module.latest_checkpoint(out) == checkpoint
    # a checkpoint cut off while saving (no trainer_state.json) cannot be resumed: nothing to lose
    other = tmp_path / "partial"
    _unfinished_run(other, cfg, checkpoint_complete=False)
    assert output_module.latest_checkpoint(other) is None
    assert check(cfg, other, resume=False, overwrite=False) is True


# --- item 5 and --set: config errors, not tracebacks ------------------------------------------


def test_negative_seed_threads_and_unparseable_set_are_config_errors(tmp_path, capsys):
    config = _config_file(tmp_path, tmp_path / "run", overwrite=False)
    code = main(["train", config, "--set", "training.seed=-1", "--set", "training.threads=-2",
                 "--set", "data.split.seed=-3"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"{config}: training.seed: expected greater than or equal to 0, got -1" in err
    assert f"{config}: training.threads: expected a positive integer or null (torch's default), got -2" in err
    assert f"{config}: data.split.seed: expected greater than or equal to 0, got -3" in err
    assert not (tmp_path / "run").exists()

    assert main(["train", config, "--set", "training.learning_rate=[unclosed"]) == 2
    err = capsys.readouterr().err
    assert "--set training.learning_rate=[unclosed: expected a YAML value after '='" in err and "Traceback" not in err


# --- model card ---------------------------------------------------------------------------


def test_model_card_front_matter_is_hub_metadata(tiny_model):
    text = (tiny_model / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-classification"
    assert meta["license"] == "mit" and meta["language"] == "en" and meta["metrics"] == ["f1"]
    assert "base_model" not in meta  # a random tiny BERT has no base model
    assert meta["datasets"] == [str(MINI)]
    recorded = json.loads((tiny_model / "metrics.json").read_text())["headline"]
    [index] = meta["model-index"]
    measured = {r["dataset"]["name"]: r["metrics"][0] for r in index["results"]}
    assert set(measured) == set(recorded) == {"validation", "test"}
    for split, metric in measured.items():
        assert metric["type"] == "f1" and metric["args"] == {"average": "macro"}
        assert metric["value"] == pytest.approx(recorded[split], abs=1e-4)
    assert "# newsstance model:" in text.split("---\n", 2)[2]


def test_front_matter_names_the_packaged_base_model_and_polnear():
    cfg = validate_config({"data": {"train": ["a.jsonl", {"path": "p.jsonl", "kind": "polnear"}],
                                    "test": [{"path": "a.jsonl", "split": "test"}]}})
    results = {"test": {"systems": {"model": {"macro_f1": 0.81234}}}}
    meta = front_matter(Path("models/x"), cfg, results)
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["datasets"] == ["a.jsonl", "PolNeAR"]
    [result] = meta["model-index"][0]["results"]
    assert result["dataset"] == {"type": "a.jsonl", "name": "test", "split": "test"}
    assert result["metrics"][0]["value"] == 0.8123
    hub = validate_config({"data": {"train": ["a.jsonl"]}, "model": {"name_or_path": "bert-base-uncased"}})
    assert front_matter(Path("m"), hub, results)["base_model"] == "bert-base-uncased"


# --- shipped configs ----------------------------------------------------------------------


def test_init_config_writes_a_shipped_config_and_never_overwrites_silently(tmp_path, capsys):
    target = tmp_path / "mine.yaml"
    assert main(["init-config", "smoke", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == shipped_configs()["smoke"]
    assert f"newsstance train {target}" in capsys.readouterr().out
    assert main(["validate-config", str(target)]) == 0

    target.write_text("# my edits\n")
    assert main(["init-config", "smoke", "-o", str(target)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert target.read_text() == "# my edits\n"
    assert main(["init-config", "smoke", "-o", str(target), "--overwrite"]) == 0
    assert target.read_text(encoding="utf-8") == shipped_configs()["smoke"]

    assert main(["init-config", "-o", str(tmp_path)]) == 0  # a folder: NAME.yaml inside it
    assert (tmp_path / "default.yaml").read_text(encoding="utf-8") == shipped_configs()["default"]
    assert main(["init-config", "smok", "-o", str(tmp_path / "x.yaml")]) == 2
    assert "did you mean 'smoke'?" in capsys.readouterr().err


# --- class weights with gradient accumulation ----------------------------------------------


def _rows_by_doc() -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for line in MINI.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows.setdefault(row["doc_id"], []).append(row)
    return rows


def _first_step_loss(tmp_path: Path, name: str, batch_size: int, accumulation: int) -> float:
    docs = _rows_by_doc()
    files = {"train": docs["m2"] + docs["m3"][:3], "validation": docs["m4"] + docs["m5"], "test": docs["m6"] + docs["m1"]}
    for split, rows in files.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(files["train"]) == batch_size * accumulation == 8  # one optimizer step sees every row
    raw = tiny_config_dict(tmp_path / name, train=str(tmp_path / "train.jsonl"), max_steps=1, batch_size=batch_size,
                           gradient_accumulation_steps=accumulation, group_by_length=False,
                           class_weights={"third_party_skepticism": 3.0, "official_position": 0.5})
    raw["data"] |= {"validation": [str(tmp_path / "validation.jsonl")], "test": [str(tmp_path / "test.jsonl")]}
    raw["evaluation"] = {"baselines": False, "confusion_matrix_png": False}
    recorder = RecordLoss()
    REAL_TRAIN(validate_config(raw), callbacks=[recorder])
    [loss] = recorder.losses
    return loss


def test_class_weights_with_gradient_accumulation_log_the_same_loss_as_one_batch(tmp_path):
    """One step over the same 8 rows, as 1 x 8 and as 2 x 4 accumulated: the weighted loss must
    be averaged over the micro-batches, not summed (2x) nor divided twice (0.5x)."""
    whole = _first_step_loss(tmp_path, "whole", batch_size=8, accumulation=1)
    accumulated = _first_step_loss(tmp_path, "accumulated", batch_size=4, accumulation=2)
    assert math.isfinite(whole) and whole > 0.5
    assert accumulated == pytest.approx(whole, rel=0.05)


def test_validate_config_reports_every_file_before_failing(tmp_path, capsys):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("data:\n  train: [x.jsonl]\ntraining:\n  seed: -1\n")
    second.write_text("data:\n  train: [x.jsonl]\ntraining:\n  epochs: .inf\n")
    smoke = str(Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml")
    assert main(["validate-config", str(first), smoke, str(second)]) == 2
    captured = capsys.readouterr()
    assert f"{smoke}: ok" in captured.out
    assert f"{first}: training.seed: expected greater than or equal to 0, got -1" in captured.err
    assert f"{second}: training.epochs: expected a finite number, got inf" in captured.err
