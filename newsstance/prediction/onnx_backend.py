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
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from newsstance.defaults import BATCH_SIZE
from newsstance.errors import NewsstanceError
from newsstance.files import atomic_path
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
    def load(cls, path=None, quantize: str | None = None, threads: int | None = None) -> "OnnxClassifier":
        _require("onnxruntime")
        import onnxruntime as ort

        threads = check_threads(threads)
        if quantize not in (None, "int8"):
            raise NewsstanceError(f"unknown quantization {quantize!r}; use int8")
        base = Classifier.load(path)
        fp32 = base.path / "onnx" / "model.onnx"
        if _stale(fp32, base.path / "model.safetensors"):
            logger.info("exporting %s to ONNX", base.path)
            export_onnx(base, fp32)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        fp32_session = ort.InferenceSession(str(fp32), options, providers=["CPUExecutionProvider"])
        if quantize is None:
            return cls(base, fp32_session, "onnx")
        int8 = base.path / "onnx" / INT8_FILE
        if _stale(int8, fp32):
            logger.info("quantizing to int8")
            quantize_int8(fp32, int8)
        session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
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


def load_backend(model=None, backend: str = "torch", quantize: str | None = None, threads: int | None = None) -> Classifier:
    """The Classifier for `backend` ('torch' or 'onnx'); int8 quantization needs 'onnx'."""
    threads = check_threads(threads)
    if backend == "torch":
        if quantize:
            raise NewsstanceError("--quantize int8 runs on the ONNX backend: add --backend onnx")
        classifier = Classifier.load(model)
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        return classifier
    if backend == "onnx":
        return OnnxClassifier.load(model, quantize, threads)
    raise NewsstanceError(f"unknown backend {backend!r}; use torch or onnx")
