"""One device option for inference and training (issue 10, item 1).

No GPU here: the choice of device, dtype and training precision is checked with torch's own
availability functions patched (torch.cuda.is_available, torch.backends.mps.is_available,
torch.cuda.is_bf16_supported, torch.cuda.device_count); everything that moves tensors runs for
real on the CPU, through the same code a GPU takes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import MINI, tiny_config_dict
from newsstance import LABELS
from newsstance.cli import main
from newsstance.config import validate_config
from newsstance.devices import resolve_device, resolve_dtype, training_precision
from newsstance.errors import ConfigError, NewsstanceError
from newsstance.prediction import Classifier, classify
from newsstance.training import run as run_module

TEXTS = ["The minister said the bridge would reopen in May.", "Critics dismissed the plan as reckless.",
         "The bridge opened in 1964."]


@pytest.fixture
def machine(monkeypatch):
    """Pretend hardware: machine(cuda=2, mps=True, bf16=False)."""

    def pretend(cuda: int = 0, mps: bool = False, bf16: bool = False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return pretend


# --- choosing the device -------------------------------------------------------------------


@pytest.mark.parametrize("cuda, mps, expected", [(1, True, "cuda"), (0, True, "mps"), (0, False, "cpu")])
def test_auto_picks_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected


def test_explicit_devices_are_taken_when_present(machine):
    machine(cuda=2, mps=True)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("CUDA") == torch.device("cuda")
    assert resolve_device("mps") == torch.device("mps")
    assert resolve_device(torch.device("cpu", 0)) == torch.device("cpu")  # what a Trainer reports under torchrun


@pytest.mark.parametrize("asked, hardware, message", [
    ("cuda", {}, "device 'cuda': CUDA is not available here"),
    ("cuda:0", {}, "device 'cuda:0': CUDA is not available here"),
    ("cuda:2", {"cuda": 2}, "device 'cuda:2': this machine has 2 CUDA GPU(s), numbered cuda:0 to cuda:1"),
    ("mps", {"cuda": 1}, "device 'mps': Apple's Metal (MPS) backend is not available on this machine"),
    ("gpu", {}, "device: expected one of auto, cpu, cuda, cuda:N, mps"),
    ("mps:1", {"mps": True}, "device: expected one of auto, cpu, cuda, cuda:N, mps"),
])
def test_an_unavailable_or_unknown_device_is_a_clear_error(machine, asked, hardware, message):
    machine(**hardware)
    with pytest.raises(NewsstanceError) as error:
        resolve_device(asked)
    assert message in str(error.value)
    if "not available" in message:
        assert "--device cpu" in str(error.value)  # how to fix it


# --- choosing the dtype ----------------------------------------------------------------------


@pytest.mark.parametrize("device, bf16, expected", [
    ("cpu", True, torch.float32), ("cuda", True, torch.bfloat16), ("cuda", False, torch.float16),
    ("mps", False, torch.float16),
])
def test_auto_dtype_is_half_on_a_gpu_that_supports_it_and_float32_on_cpu(machine, device, bf16, expected):
    machine(cuda=1, mps=True, bf16=bf16)
    assert resolve_dtype("auto", torch.device(device)) == expected
    assert resolve_dtype("float32", torch.device(device)) == torch.float32


def test_explicit_half_precision_where_it_cannot_run_is_an_error(machine):
    machine(cuda=1, mps=True, bf16=False)
    assert resolve_dtype("float16", torch.device("cuda")) == torch.float16
    for dtype, device, message in [
        ("float16", "cpu", "dtype float16: half precision runs on a GPU, and this model runs on the CPU"),
        ("bfloat16", "cpu", "dtype bfloat16: half precision runs on a GPU"),
        ("bfloat16", "cuda", "dtype bfloat16: the GPU cuda does not support bfloat16"),
        ("bfloat16", "mps", "dtype bfloat16: not supported on MPS"),
        ("half", "cpu", "dtype: expected one of auto, float32, float16, bfloat16, got 'half'"),
    ]:
        with pytest.raises(NewsstanceError, match=message):
            resolve_dtype(dtype, torch.device(device))


# --- training precision ----------------------------------------------------------------------


@pytest.mark.parametrize("device, bf16, expected", [
    ("cuda", True, "bf16"), ("cuda", False, "fp16"), ("cpu", True, "fp32"), ("mps", True, "fp32"),
])
def test_training_precision_auto(machine, device, bf16, expected):
    machine(cuda=1, mps=True, bf16=bf16)
    assert training_precision("auto", torch.device(device)) == expected
    assert training_precision("fp32", torch.device(device)) == "fp32"


def test_explicit_training_precision_the_device_lacks_is_a_config_error(machine):
    machine(cuda=1, bf16=False)
    assert training_precision("fp16", torch.device("cuda")) == "fp16"
    with pytest.raises(ConfigError, match=r"training.precision: expected a precision this machine can train in, "
                                          r"got bf16 while training runs on cpu .*set it to auto or fp32"):
        training_precision("bf16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="training.precision: expected a precision this GPU supports, got bf16"):
        training_precision("bf16", torch.device("cuda"))


def test_precision_maps_onto_the_trainers_flags(tmp_path):
    cfg = validate_config(tiny_config_dict(tmp_path / "run"))
    cpu = torch.device("cpu")
    plain = run_module._training_arguments(cfg, tmp_path / "run", cpu, "fp32")
    assert (plain.use_cpu, plain.bf16, plain.fp16) == (True, False, False)
    bf16 = run_module._training_arguments(cfg, tmp_path / "run", cpu, "bf16")
    assert (bf16.bf16, bf16.fp16) == (True, False)


def test_training_in_bf16_on_this_cpu_fails_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    config = tmp_path / "bf16.yaml"
    raw = tiny_config_dict(out, precision="bf16")
    config.write_text(json.dumps(raw))  # JSON is YAML
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err
    assert "training.precision: expected a precision this machine can train in, got bf16 while training runs on cpu" in err
    assert not out.exists()


def test_precision_is_validated_like_every_key(tmp_path):
    with pytest.raises(ConfigError, match=r"training.precision: expected 'auto', 'fp32', 'bf16' or 'fp16'"):
        validate_config(tiny_config_dict(tmp_path, precision="half"))


def test_class_weighted_loss_follows_the_logits_device_and_dtype():
    """The weight vector is made on the CPU; the loss must move it to the logits (a GPU in
    training: here the meta device, which, like a GPU, refuses to mix with CPU tensors) and
    take bf16 logits from mixed precision."""
    import pandas as pd

    cfg = validate_config(tiny_config_dict(Path("unused"), class_weights="balanced"))
    train = pd.DataFrame({"label": [LABELS[0], LABELS[0], LABELS[1], LABELS[2]]})
    loss, weights = run_module._loss_function(cfg, train)
    assert weights[LABELS[0]] < weights[LABELS[1]]

    class Outputs:
        def __init__(self, logits):
            self.logits = logits

    on_meta = loss(Outputs(torch.zeros(4, 3, device="meta")), torch.zeros(4, dtype=torch.long, device="meta"))
    assert on_meta.device.type == "meta"
    half = loss(Outputs(torch.zeros(4, 3, dtype=torch.bfloat16)), torch.zeros(4, dtype=torch.long))
    assert half.dtype == torch.float32 and torch.isclose(half, torch.log(torch.tensor(3.0)))


# --- inference on a chosen device -------------------------------------------------------------


def test_classifier_on_cpu_scores_equal_the_default(tiny_model):
    default = Classifier.load(tiny_model)
    on_cpu = Classifier.load(tiny_model, device="cpu", dtype="float32")
    assert on_cpu.device == torch.device("cpu") and on_cpu.dtype == torch.float32
    assert default.device == torch.device("cpu") and default.dtype == torch.float32  # auto here: no GPU
    np.testing.assert_array_equal(on_cpu.probabilities(TEXTS), default.probabilities(TEXTS))
    assert classify(TEXTS, model=tiny_model, device="cpu") == default.predict(TEXTS)


def test_classifier_load_refuses_an_absent_device_before_reading_the_folder(tmp_path):
    with pytest.raises(NewsstanceError, match="device 'cuda': CUDA is not available here"):
        Classifier.load(tmp_path / "no-such-model", device="cuda")  # the device is named, not the folder
    with pytest.raises(NewsstanceError, match="dtype float16: half precision runs on a GPU"):
        classify("A sentence.", model=tmp_path / "no-such-model", device="cpu", dtype="float16")


def test_onnx_providers_follow_the_device(machine, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    from newsstance.prediction.onnx_backend import providers

    machine(cuda=0)
    assert providers("cpu") == ["CPUExecutionProvider"] and providers("auto") == ["CPUExecutionProvider"]
    machine(cuda=2)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert providers("auto") == ["CPUExecutionProvider"]  # CUDA present, but this onnxruntime has no CUDA provider
    with pytest.raises(NewsstanceError, match="no CUDAExecutionProvider.*pip install onnxruntime-gpu"):
        providers("cuda")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers("cuda:1") == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert providers("auto")[0] == ("CUDAExecutionProvider", {"device_id": 0})


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def articles(tmp_path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour Plan Faces Doubts\n\nThe port authority said it would dredge the channel. "
                                  "Critics dismissed the plan as wishful thinking.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Rail Strike Ends\n\nThe union said members would return on Friday.\n", encoding="utf-8")
    return folder


def test_predict_accepts_device_cpu_and_gives_the_default_rows(articles, tiny_model, tmp_path):
    plain, on_cpu = tmp_path / "plain.jsonl", tmp_path / "cpu.jsonl"
    assert main(["predict", str(articles), "-o", str(plain), "--model", str(tiny_model)]) == 0
    assert main(["predict", str(articles), "-o", str(on_cpu), "--model", str(tiny_model),
                 "--device", "cpu", "--dtype", "float32"]) == 0
    assert on_cpu.read_text() == plain.read_text() and on_cpu.read_text()
    records = [json.loads(p.read_text()) for p in tmp_path.glob("cpu*.json") if "run" in p.name]
    assert any(r.get("device") == "cpu" and r.get("dtype") == "float32" for r in records)


def test_predict_on_an_absent_device_fails_before_writing(articles, tiny_model, tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    assert main(["predict", str(articles), "-o", str(out), "--model", str(tiny_model), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "device 'cuda': CUDA is not available here" in err and "Traceback" not in err
    assert not list(tmp_path.glob("pred*"))


def test_evaluate_accepts_device_and_dtype(tiny_model, tmp_path, capsys):
    assert main(["evaluate", str(tiny_model), str(MINI), "--out", str(tmp_path / "rep"),
                 "--device", "cpu", "--dtype", "float32"]) == 0
    assert (tmp_path / "rep" / "report.md").exists()
    assert main(["evaluate", str(tiny_model), str(MINI), "--out", str(tmp_path / "rep2"), "--device", "mps"]) == 2
    assert "device 'mps'" in capsys.readouterr().err and not (tmp_path / "rep2").exists()
