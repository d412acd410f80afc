"""Inference: a `Classifier` loaded from a model folder, and `classify()` on top of it.

Inputs are tokenized once, sorted by token count (longest first, so peak memory is reached
at once and padding is minimal), run in dynamically padded batches under
`torch.inference_mode`, and returned in the caller's order.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union, overload

import numpy as np

from newsstance.data.context import context_text, tokenize
from newsstance.errors import ModelFolderError, NewsstanceError
from newsstance.labels import LABELS
from newsstance.models.folder import ModelSettings, read_settings

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path("models/default")
MODEL_ENV = "NEWSSTANCE_MODEL"


@dataclass(frozen=True)
class Prediction:
    """One sentence's label, its calibrated probability, and all three probabilities."""

    label: str
    score: float
    scores: dict[str, float]


def resolve_model_dir(model: Union[str, Path, None] = None) -> Path:
    """`model` argument, else $NEWSSTANCE_MODEL, else models/default."""
    if model is not None:
        return Path(model)
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    if DEFAULT_MODEL_DIR.is_dir():
        return DEFAULT_MODEL_DIR
    raise ModelFolderError(
        f"no model given and {DEFAULT_MODEL_DIR}/ does not exist. Train one with "
        "`newsstance train configs/default.yaml` (or `make train`), then pass model=PATH "
        f"or set {MODEL_ENV}=PATH"
    )


class Classifier:
    """A trained newsstance model ready for repeated use."""

    def __init__(self, model, tokenizer, settings: ModelSettings, path: Path):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.settings = settings
        self.path = path

    @classmethod
    def load(cls, path: Union[str, Path, None] = None) -> "Classifier":
        folder = resolve_model_dir(path)
        settings = read_settings(folder)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a model folder is local: never ask a hub
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForSequenceClassification.from_pretrained(folder)
        except (OSError, ValueError) as exc:
            raise ModelFolderError(f"{folder}: cannot load the weights or tokenizer ({exc})") from None
        return cls(model, tokenizer, settings, folder)

    @property
    def uses_context(self) -> bool:
        c = self.settings.context_config
        return c.previous_sentence or c.headline

    def contexts(self, n: int, previous: Sequence[str] | None, headline: Sequence[str] | None) -> list[str | None]:
        settings = self.settings.context_config
        prev = previous or [""] * n
        head = headline or [""] * n
        return [context_text(settings, p or "", h or "") for p, h in zip(prev, head)]

    def logits(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None, batch_size: int = 64) -> np.ndarray:
        """Raw logits, shape (len(texts), 3), in the order of `texts`."""
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        pairs = list(contexts) if contexts is not None else [None] * len(texts)
        encoded = tokenize(self.tokenizer, list(texts), pairs, self.settings.max_length)
        ids = encoded["input_ids"]
        # longest first: peak memory is reached at once, and similar lengths share a batch
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        out = np.empty((len(ids), len(LABELS)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            features = [{k: encoded[k][i] for k in encoded.keys()} for i in chunk]
            out[chunk] = self._run(self.tokenizer.pad(features, return_tensors="np"))
        return out

    def _run(self, batch: dict) -> np.ndarray:
        """Logits for one padded batch of numpy arrays."""
        import torch

        with torch.inference_mode():
            tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
            return self.model(**tensors).logits.float().numpy()

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """Softmax of logits / temperature: the model's calibrated probabilities."""
        from scipy.special import softmax

        return softmax(logits / self.settings.temperature, axis=1)

    def probabilities(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None, batch_size: int = 64) -> np.ndarray:
        """Calibrated probabilities for the texts, in their order."""
        return self.calibrated(self.logits(texts, contexts, batch_size))

    def predict(
        self, texts: Sequence[str], previous: Sequence[str] | None = None,
        headline: Sequence[str] | None = None, batch_size: int = 64,
    ) -> list[Prediction]:
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise NewsstanceError(f"text #{i} is empty or not a string; give non-empty sentences")
        if (previous or headline) and not self.uses_context:
            logger.warning("%s was trained without context; the context given is ignored", self.path)
        probs = self.probabilities(texts, self.contexts(len(texts), previous, headline), batch_size)
        return [
            Prediction(LABELS[int(row.argmax())], float(row.max()), {l: float(p) for l, p in zip(LABELS, row)})
            for row in probs
        ]


_loaded: dict[Path, Classifier] = {}


def load_cached(model: Union[str, Path, None] = None) -> Classifier:
    """The Classifier for a model folder, loaded once per process."""
    folder = resolve_model_dir(model).resolve()
    if folder not in _loaded:
        _loaded[folder] = Classifier.load(folder)
    return _loaded[folder]


@overload
def classify(text: str, context: str | None = ..., headline: str | None = ..., model=...) -> Prediction: ...
@overload
def classify(text: Sequence[str], context: Sequence[str] | None = ..., headline: Sequence[str] | None = ..., model=...) -> list[Prediction]: ...


def classify(text, context=None, headline=None, model=None):
    """Label one sentence (-> Prediction) or a list of sentences (-> list, batched).

    `context` is the previous sentence of the same article (a list for a list of texts),
    `headline` the article's headline; both are used only when the model was trained with them.
    The model is `model`, else $NEWSSTANCE_MODEL, else models/default; loaded once per process.
    """
    classifier = model if isinstance(model, Classifier) else load_cached(model)
    if isinstance(text, str):
        prev = None if context is None else [context]
        head = None if headline is None else [headline]
        return classifier.predict([text], prev, head)[0]
    texts = list(text)
    for name, value in (("context", context), ("headline", headline)):
        if value is not None and (isinstance(value, str) or len(value) != len(texts)):
            raise NewsstanceError(f"{name} must be a list as long as the texts ({len(texts)}) when classifying a list")
    return classifier.predict(texts, context, headline)
