"""ONNX Runtime backend, optionally int8: the same Classifier interface, faster on CPUs.

The first use exports the model folder's weights to `onnx/model.onnx` (needs the `onnx`
package) and, for int8, writes `onnx/model.int8.onnx` with ONNX Runtime's dynamic
quantization: per-channel int8 weights on the weight MatMuls only (attention's
activation-by-activation products stay fp32). Both files are reused afterwards, until the
weights they came from are newer (a model retrained or recopied in place is exported again).

int8 alone changed about 1.7% of labels on news sentences, nearly all near-ties; so the int8
path re-runs in fp32 the sentences whose top two probabilities are closer than
`FALLBACK_MARGIN` (about 4% of them), which brought agreement with fp32 above 99.5% at a small
cost in speed (benchmarks/predict_throughput.py). Install with `pip install "newsstance[onnx]"`.

Sessions run on ONNX Runtime's CUDAExecutionProvider when the device asks for CUDA (`auto` on
a machine with onnxruntime-gpu and a GPU, or `cuda`/`cuda:N`), else on the CPU provider. The
export itself always runs from a float32 copy of the model on the CPU.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from newsstance.defaults import BATCH_SIZE
from newsstance.errors import NewsstanceError
from newsstance.files import atomic_path
from newsstance.devices import DEFAULT_DEVICE, DEFAULT_DTYPE
from newsstance.prediction.classifier import Classifier, check_threads

logger = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
INT8_FILE = "model.int8.onnx"
FALLBACK_MARGIN = 0.2  # int8 rows whose top-2 probabilities differ by less are re-run in fp32


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise NewsstanceError(f"the ONNX backend needs the '{module}' package: pip install \"newsstance[onnx]\"")


def export_onnx(classifier: Classifier, path: Path) -> Path:
    """Export the torch model with dynamic batch and sequence axes (written atomically)."""
    import torch

    _require("onnx")
    sample = classifier.tokenizer(["An example sentence for export."], return_tensors="pt")
    names = [n for n in INPUTS if n in sample]
    with atomic_path(path) as tmp, torch.inference_mode():
        torch.onnx.export(
            classifier.model, tuple(sample[n] for n in names), str(tmp), input_names=names, output_names=["logits"],
            dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names}, "logits": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with atomic_path(target) as tmp:
        quantize_dynamic(str(source), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True})
    return target


def providers(device=DEFAULT_DEVICE) -> list:
    """ONNX Runtime execution providers for `device`: CUDA (with the CPU for the operators CUDA
    lacks, such as some int8 ones) where asked for and available, else the CPU alone."""
    import onnxruntime as ort

    from newsstance.devices import resolve_device

    text = str(device).strip().lower() if device is not None else "auto"
    available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    if text == "auto":
        wanted = resolve_device("auto")
        if wanted.type != "cuda" or not has_cuda:
            return ["CPUExecutionProvider"]
    else:
        wanted = resolve_device(device)  # an unknown or absent device is an error here
        if wanted.type == "cpu":
            return ["CPUExecutionProvider"]
        if wanted.type != "cuda":
            raise NewsstanceError(f"device {text!r}: the ONNX backend runs on CUDA or the CPU; use --backend torch "
                                  "for MPS, or --device cpu")
        if not has_cuda:
            raise NewsstanceError(f"device {text!r}: this ONNX Runtime has no CUDAExecutionProvider (it offers "
                                  f"{', '.join(available)}); pip install onnxruntime-gpu, or use --device cpu or "
                                  "--backend torch")
    return [("CUDAExecutionProvider", {"device_id": wanted.index or 0}), "CPUExecutionProvider"]


def _stale(derived: Path, source: Path) -> bool:
    """True when `derived` is missing or older than the file it was made from."""
    return not derived.exists() or (source.exists() and derived.stat().st_mtime < source.stat().st_mtime)


class OnnxClassifier(Classifier):
    """A Classifier whose batches run in ONNX Runtime; with a `fallback` fp32 session, near-tie
    rows of the (int8) main session are re-run in fp32."""

    def __init__(self, base: Classifier, session, variant: str, fallback=None):
        super().__init__(base.model, base.tokenizer, base.settings, base.path)
        self.session = self._active = session
        self.fallback = fallback
        self.variant = variant
        self.fallback_rows = 0  # how many rows were re-run in fp32 so far
        self._names = [i.name for i in session.get_inputs()]

    @classmethod
    def load(cls, path=None, quantize: str | None = None, threads: int | None = None,
             device=DEFAULT_DEVICE) -> "OnnxClassifier":
        _require("onnxruntime")
        import onnxruntime as ort

        threads = check_threads(threads)
        if quantize not in (None, "int8"):
            raise NewsstanceError(f"unknown quantization {quantize!r}; use int8")
        chosen = providers(device)
        base = Classifier.load(path, device="cpu", dtype="float32")  # the export's source
        fp32 = base.path / "onnx" / "model.onnx"
        if _stale(fp32, base.path / "model.safetensors"):
            logger.info("exporting %s to ONNX", base.path)
            export_onnx(base, fp32)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        fp32_session = ort.InferenceSession(str(fp32), options, providers=chosen)
        if quantize is None:
            return cls(base, fp32_session, "onnx")
        int8 = base.path / "onnx" / INT8_FILE
        if _stale(int8, fp32):
            logger.info("quantizing to int8")
            quantize_int8(fp32, int8)
        session = ort.InferenceSession(str(int8), options, providers=chosen)
        return cls(base, session, "onnx-int8", fallback=fp32_session)

    def _run(self, batch: dict) -> np.ndarray:
        feed = {n: batch[n].astype(np.int64) for n in self._names}
        return self._active.run(["logits"], feed)[0]

    def logits(self, texts, contexts=None, batch_size: int = BATCH_SIZE) -> np.ndarray:
        out = super().logits(texts, contexts, batch_size)
        if self.fallback is None or not len(out):
            return out
        top2 = np.sort(self.calibrated(out), axis=1)[:, -2:]
        rows = np.flatnonzero(top2[:, 1] - top2[:, 0] < FALLBACK_MARGIN)
        if len(rows):
            self._active = self.fallback
            try:
                pairs = None if contexts is None else [contexts[i] for i in rows]
                out[rows] = super().logits([texts[i] for i in rows], pairs, batch_size)
            finally:
                self._active = self.session
            self.fallback_rows += len(rows)
        return out


def load_backend(model=None, backend: str = "torch", quantize: str | None = None, threads: int | None = None,
                 device=DEFAULT_DEVICE, dtype=DEFAULT_DTYPE) -> Classifier:
    """The Classifier for `backend` ('torch' or 'onnx') on `device` (see Classifier.load); int8
    quantization needs 'onnx', and `dtype` other than auto/float32 needs 'torch'."""
    threads = check_threads(threads)
    if backend == "torch":
        if quantize:
            raise NewsstanceError("--quantize int8 runs on the ONNX backend: add --backend onnx")
        classifier = Classifier.load(model, device, dtype)
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        return classifier
    if backend == "onnx":
        if str(dtype) not in ("auto", "float32", "torch.float32"):
            raise NewsstanceError(f"--dtype {dtype} runs on the torch backend; the ONNX backend runs in float32 "
                                  "(or int8 with --quantize int8): drop --dtype or use --backend torch")
        return OnnxClassifier.load(model, quantize, threads, device)
    raise NewsstanceError(f"unknown backend {backend!r}; use torch or onnx")
