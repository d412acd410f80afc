"""The command line: readable errors, no tracebacks, python -m works the same."""

import subprocess
import sys

import pytest

from newsstance.cli import main

from conftest import ROOT


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "newsstance", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_validate_config_ok_and_errors(tmp_path):
    ok = _run("validate-config", "configs/default.yaml", "configs/smoke.yaml")
    assert ok.returncode == 0 and "configs/default.yaml: ok" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  train: [x.jsonl]\ntraining:\n  lerning_rate: 1.0e-5\n  epochs: two\n")
    out = _run("validate-config", str(bad))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{bad}: training.lerning_rate: unknown key; did you mean 'learning_rate'?" in out.stderr
    assert f"{bad}: training.epochs: expected a valid number, got the string 'two'" in out.stderr


@pytest.mark.parametrize("argv, message", [
    (["train", "missing.yaml"], "missing.yaml: file not found"),
    (["evaluate", "no/such/model", "data/corpus/sentences.jsonl"], "no/such/model: no such model folder"),
])
def test_bad_input_exits_non_zero_without_traceback(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_train_with_missing_data_file_names_it(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  train: [{tmp_path}/nope.jsonl]\noutput:\n  dir: {tmp_path}/out\n")
    assert main(["train", str(cfg)]) == 2
    assert f"{tmp_path}/nope.jsonl: data file not found" in capsys.readouterr().err


def test_evaluate_command_writes_a_report(tiny_model, tmp_path, capsys):
    from conftest import MINI

    assert main(["evaluate", str(tiny_model), str(MINI), "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "mini_corpus (31 sentences): model " in out and " tfidf_logreg " in out
    assert (tmp_path / "rep" / "report.md").exists() and (tmp_path / "rep" / "confusion_mini_corpus.png").exists()


def test_smoke_config_trains_from_the_cli_with_set_overrides(tmp_path):
    out = _run("train", "configs/smoke.yaml", "--set", f"output.dir={tmp_path}/smoke", "--set", "training.max_steps=2")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "model written to" in out.stdout
    assert (tmp_path / "smoke" / "metrics.json").exists()
