"""The saved model folder: what travels with the weights so inference needs no training YAML.

The label map lives in the transformer config (`id2label`/`label2id`); newsstance's own
settings (context, max length, calibration) live under the `newsstance` key of that config.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from newsstance.config import ContextConfig
from newsstance.errors import ModelFolderError
from newsstance.files import write_json_atomic
from newsstance.labels import LABELS

SETTINGS_KEY = "newsstance"
FORMAT_VERSION = 1


@dataclass
class ModelSettings:
    """Inference settings saved with a model."""

    context: dict = field(default_factory=lambda: ContextConfig().model_dump())
    max_length: int = 128
    temperature: float = 1.0  # fitted on validation after training (1.0: uncalibrated)
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
    known = {k: v for k, v in raw.items() if k in ModelSettings.__dataclass_fields__}
    return ModelSettings(**known)


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
