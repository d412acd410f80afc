"""What every part of the Ray engine needs: Ray itself (an optional extra) and telling URIs from paths."""

from __future__ import annotations

import re

from newsstance.errors import NewsstanceError

INSTALL_HINT = 'pip install "newsstance[ray]"'


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise NewsstanceError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def is_uri(path: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", str(path)))


def load_classifier(model, device: str, dtype: str, threads: int):
    """The model load of an actor (once per actor), on `threads` torch threads."""
    import torch

    from newsstance.prediction.classifier import Classifier, resolve_model_dir

    torch.set_num_threads(threads)
    return Classifier.load(resolve_model_dir(model), device=device, dtype=dtype)
