"""The saved model folder: what travels with the weights so inference needs no training YAML.

The label map lives in the transformer config (`id2label`/`label2id`); newsstance's own
settings (context, max length, calibration) live under the `newsstance` key of that config.

The calibration temperature T is folded into the weights: `save_calibration` divides the
classification head's output layer by T, so the saved logits are already calibrated and any
runtime (a plain `transformers` pipeline, ONNX) gives newsstance's probabilities. T stays
recorded, with `temperature_folded: true`; folders saved before the fold (no flag) still
divide at inference.
"""

from __future__ import annotations

import json
import math
import numbers
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from newsstance.config import ContextConfig
from newsstance.errors import ModelFolderError, NewsstanceError
from newsstance.files import atomic_path, write_json_atomic
from newsstance.labels import LABELS

SETTINGS_KEY = "newsstance"
FORMAT_VERSION = 2  # 2: the temperature may be folded into the weights (`temperature_folded`)


@dataclass
class ModelSettings:
    """Inference settings saved with a model."""

    context: dict = field(default_factory=lambda: ContextConfig().model_dump())
    max_length: int = 128
    temperature: float = 1.0  # fitted on validation after training (1.0: uncalibrated)
    temperature_folded: bool = False  # True: the weights already divide the logits by `temperature`
    min_confidence: float | None = None  # default threshold for `uncertain`
    format_version: int = FORMAT_VERSION

    @property
    def context_config(self) -> ContextConfig:
        return ContextConfig(**self.context)


def attach_settings(model_config, settings: ModelSettings) -> None:
    setattr(model_config, SETTINGS_KEY, asdict(settings))


def read_settings(folder: Path) -> ModelSettings:
    """Check that `folder` is a newsstance model and return its settings."""
    config_path = folder / "config.json"
    if not folder.is_dir():
        raise ModelFolderError(
            f"{folder}: no such model folder; train one with `newsstance train configs/default.yaml` "
            "or pass model= / set NEWSSTANCE_MODEL to an existing folder"
        )
    if not config_path.exists():
        raise ModelFolderError(f"{folder}: not a model folder (no config.json); point to a folder written by `newsstance train`")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFolderError(f"{config_path}: unreadable model config ({exc})") from None
    id2label = config.get("id2label") or {}
    found = [id2label.get(str(i)) for i in range(len(id2label))]
    if found != list(LABELS):
        raise ModelFolderError(
            f"{config_path}: id2label is {id2label or 'missing'}; a newsstance model maps "
            f"{dict(enumerate(LABELS))}. Is this a model written by `newsstance train`?"
        )
    raw = config.get(SETTINGS_KEY)
    if not isinstance(raw, dict):
        raise ModelFolderError(f"{config_path}: no '{SETTINGS_KEY}' settings; this folder was not written by `newsstance train`")
    version = raw.get("format_version", 1)
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{config_path}: model folder format {version}, but this newsstance reads up to {FORMAT_VERSION}; "
            "upgrade newsstance (pip install -U newsstance)"
        )
    known = {k: v for k, v in raw.items() if k in ModelSettings.__dataclass_fields__}
    settings = ModelSettings(**known)
    try:
        check_temperature(settings.temperature, f"{config_path}: {SETTINGS_KEY}.temperature")
        if settings.min_confidence is not None:
            check_min_confidence(settings.min_confidence, f"{config_path}: {SETTINGS_KEY}.min_confidence")
    except NewsstanceError as exc:
        raise ModelFolderError(f"{exc}; retrain the model or fix the value in config.json") from None
    return settings


def check_min_confidence(value, name: str = "min_confidence") -> float:
    """A probability threshold: a number in [0, 1], not NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise NewsstanceError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def check_temperature(value, name: str = "temperature") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise NewsstanceError(f"{name} must be a finite number above 0, got {value!r}")
    return float(value)


def update_settings(folder: Path, **changes) -> ModelSettings:
    """Rewrite selected settings in a saved model's config.json (e.g. after calibration)."""
    settings = read_settings(folder)
    for key, value in changes.items():
        setattr(settings, key, value)
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config[SETTINGS_KEY] = asdict(settings)
    write_json_atomic(path, config)
    return settings


def output_layer(model):
    """The last `nn.Linear` with one output per label: the layer that produces the logits
    (BERT: `classifier`; RoBERTa/MPNet heads: `classifier.out_proj`)."""
    import torch

    num_labels = model.config.num_labels
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == num_labels]
    if not layers:
        raise ModelFolderError(
            f"{type(model).__name__}: no linear layer with {num_labels} outputs to fold the temperature into; "
            "this model architecture is not supported"
        )
    return layers[-1]


def save_calibration(folder: Path, model, temperature: float, min_confidence: float | None) -> ModelSettings:
    """Fold 1/`temperature` into `model`'s output layer (in place), record T and the threshold,
    and rewrite the folder's weights and config.json (each file replaced atomically).

    Afterwards softmax of the model's plain logits is the calibrated probability, in any runtime.
    Calibrating an already folded model composes: the recorded T is the product of both."""
    import torch

    folder = Path(folder)
    settings = read_settings(folder)
    temperature = check_temperature(temperature)
    if min_confidence is not None:
        min_confidence = check_min_confidence(min_confidence)
    layer = output_layer(model)
    with torch.no_grad():
        layer.weight.div_(temperature)
        if layer.bias is not None:
            layer.bias.div_(temperature)
    settings.temperature = temperature * (settings.temperature if settings.temperature_folded else 1.0)
    settings.temperature_folded = True
    settings.min_confidence = min_confidence
    settings.format_version = FORMAT_VERSION
    attach_settings(model.config, settings)
    # save beside the folder's files, then move each one into place: the weights first, then the
    # config that says they are folded (a reader never sees the flag without the folded weights)
    staging = Path(tempfile.mkdtemp(prefix=".calibration.", dir=folder))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        written = sorted(p for p in staging.iterdir() if p.is_file())
        for source in sorted(written, key=lambda p: p.name == "config.json"):
            with atomic_path(folder / source.name) as tmp:
                source.replace(tmp)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return settings
