"""Inference: a `Classifier` loaded from a model folder, and `classify()` on top of it.

Inputs are tokenized once, sorted by token count (longest first, so peak memory is reached
at once and padding is minimal), run in dynamically padded batches under
`torch.inference_mode`, and returned in the caller's order. A batch also ends where the next
input is shorter than `MIN_FILL` of its longest: a handful of texts of mixed lengths (one HTTP
batch, a short article) then runs as a few well-filled batches instead of one that is half
padding (measured on news sentences in batches of 32: 154 -> 193 sentences/s).

The model runs on the device `Classifier.load(device=...)` resolves (`newsstance.devices`:
auto = CUDA, then MPS, then CPU) in the dtype it resolves (half precision on a GPU that supports
it, float32 on the CPU). Every batch takes the same path on every device: numpy arrays ->
tensors on the model's device -> logits -> float32 numpy on the CPU.
"""

from __future__ import annotations

import logging
import numbers
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union, overload

import numpy as np

from newsstance.data.context import context_text, tokenize
from newsstance.defaults import BATCH_SIZE
from newsstance.devices import DEFAULT_DEVICE, DEFAULT_DTYPE
from newsstance.errors import ModelFolderError, NewsstanceError
from newsstance.labels import LABELS
from newsstance.models.folder import ModelSettings, check_min_confidence, read_settings

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path("models/default")
MODEL_ENV = "NEWSSTANCE_MODEL"
# a tokenizer is saved as tokenizer.json (fast) or as its vocabulary file (slow tokenizers)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model")
# models may pad their embedding table beyond the tokenizer (DeBERTa-v3: 128,100 rows for
# 128,001 tokens); a tokenizer smaller than this share of the rows belongs to another model
MIN_VOCAB_SHARE = 0.9
MIN_FILL = 0.7  # a batch ends before an input shorter than this share of its longest

__all__ = ["Classifier", "Prediction", "classify", "resolve_model_dir", "check_batch_size", "check_threads",
           "check_min_confidence"]


@dataclass(frozen=True)
class Prediction:
    """One sentence's label, its calibrated probability, and all three probabilities."""

    label: str
    score: float
    scores: dict[str, float]

    def to_dict(self) -> dict:
        """{"label", "score", "scores"}: plain types, ready for json.dumps or a DataFrame row."""
        return asdict(self)


def check_batch_size(value, name: str = "batch_size") -> int:
    """A whole number of sentences per batch, at least 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise NewsstanceError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def check_threads(value, name: str = "threads") -> int | None:
    """None (all cores) or a whole number of threads, at least 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise NewsstanceError(f"{name} must be a whole number of at least 1 (or None for all cores), got {value!r}")
    return int(value)


def _describe(value) -> str:
    shown = repr(value)
    return f"{type(value).__name__} ({shown[:60] + '...' if len(shown) > 60 else shown})"


def _check_texts(texts) -> list[str]:
    """The sentences as a list of non-empty strings, or an error naming the first bad one."""
    if texts is None or isinstance(texts, (bytes, bytearray, numbers.Number)) or not isinstance(texts, Iterable):
        raise NewsstanceError(f"text is {_describe(texts)}; give a sentence (str) or a list of sentences")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise NewsstanceError(f"text #{i} is {_describe(text)}, not a string; give every sentence as str")
        if not text.strip():
            raise NewsstanceError(f"text #{i} is empty; give non-empty sentences")
    return texts


def _check_column(values, name: str, n: int, single: bool) -> list[str] | None:
    """`context`/`headline`: a string for one text, a list as long as the texts for a list."""
    if values is None:
        return None
    if single:
        if not isinstance(values, str):
            raise NewsstanceError(f"{name} is {_describe(values)}; give one string when classifying one text")
        return [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise NewsstanceError(f"{name} is {_describe(values)}; give a list as long as the texts ({n}) when classifying a list")
    values = list(values)
    if len(values) != n:
        raise NewsstanceError(f"{name} has {len(values)} items but there are {n} texts; give one {name} per text")
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            raise NewsstanceError(f"{name} #{i} is {_describe(value)}; give a string (or None for none)")
    return values


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


def _load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    if not any((folder / name).exists() for name in TOKENIZER_FILES):
        raise ModelFolderError(
            f"{folder}: no tokenizer files (none of {', '.join(TOKENIZER_FILES)}); copy tokenizer.json and "
            "tokenizer_config.json from the training run's folder into it, or retrain"
        )
    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelFolderError(
            f"{folder}: cannot load the tokenizer ({exc}); copy the tokenizer files from the training run again, or retrain"
        ) from None


def _load_model(folder: Path):
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification

    try:
        return AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
    except SafetensorError as exc:
        raise ModelFolderError(
            f"{folder / 'model.safetensors'}: damaged or incomplete weights file ({exc}); copy it again from the "
            "training run, or retrain"
        ) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelFolderError(
            f"{folder}: cannot load the weights ({exc}); copy model.safetensors again from the training run, or retrain"
        ) from None



def length_batches(order: Sequence[int], lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """`order` (indices, longest first) cut into batches of at most `batch_size` that end early
    where the next input is shorter than `MIN_FILL` of the batch's first (longest) one, so no
    batch is mostly padding."""
    start = 0
    while start < len(order):
        floor = MIN_FILL * lengths[order[start]]
        end = start + 1
        while end < len(order) and end - start < batch_size and lengths[order[end]] >= floor:
            end += 1
        yield list(order[start:end])
        start = end

class Classifier:
    """A trained newsstance model ready for repeated use.

        clf = Classifier.load("models/default")
        clf.predict("The ministry said it would appeal.")   # -> Prediction
        clf(["First sentence.", "Second one."])            # -> list[Prediction]
    """

    def __init__(self, model, tokenizer, settings: ModelSettings, path: Path):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.settings = settings
        self.path = path

    @property
    def device(self):
        """The torch device the model's weights are on."""
        return next(self.model.parameters()).device

    @property
    def dtype(self):
        """The torch dtype of the model's weights."""
        return next(self.model.parameters()).dtype

    @classmethod
    def load(cls, path: Union[str, Path, None] = None, device=DEFAULT_DEVICE, dtype=DEFAULT_DTYPE) -> "Classifier":
        """Load a folder written by `newsstance train`; never contacts a model hub.

        device: auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps; one this machine does
        not have is a NewsstanceError. dtype: auto (bfloat16 or float16 on a GPU that supports
        it, float32 on the CPU), float32, float16 or bfloat16."""
        from newsstance.devices import resolve_device, resolve_dtype

        # both are checked before the folder is read: a wrong option costs no model load
        target = resolve_device(device)
        precision = resolve_dtype(dtype, target)
        folder = resolve_model_dir(path)
        settings = read_settings(folder)
        tokenizer = _load_tokenizer(folder)
        model = _load_model(folder)
        rows = model.get_input_embeddings().num_embeddings
        if not MIN_VOCAB_SHARE * rows <= len(tokenizer) <= rows:
            raise ModelFolderError(
                f"{folder}: the tokenizer has {len(tokenizer):,} tokens but the model's embeddings have {rows:,} rows, "
                "so they do not belong together; copy the tokenizer files (tokenizer.json, tokenizer_config.json) "
                "from the training run that wrote these weights, or retrain"
            )
        return cls(model.to(device=target, dtype=precision), tokenizer, settings, folder)

    @property
    def uses_context(self) -> bool:
        c = self.settings.context_config
        return c.previous_sentence or c.headline

    def contexts(self, n: int, previous: Sequence[str] | None, headline: Sequence[str] | None) -> list[str | None]:
        settings = self.settings.context_config
        prev = previous or [""] * n
        head = headline or [""] * n
        return [context_text(settings, p or "", h or "") for p, h in zip(prev, head)]

    def logits(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None,
               batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The model's logits, shape (len(texts), 3), in the order of `texts` (for a folder with
        `temperature_folded`, already divided by the temperature)."""
        batch_size = check_batch_size(batch_size)
        if not len(texts):
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        pairs = list(contexts) if contexts is not None else [None] * len(texts)
        encoded = tokenize(self.tokenizer, list(texts), pairs, self.settings.max_length)
        ids = encoded["input_ids"]
        # longest first: peak memory is reached at once, and similar lengths share a batch
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        out = np.empty((len(ids), len(LABELS)), dtype=np.float32)
        for chunk in length_batches(order, [len(x) for x in ids], batch_size):
            features = [{k: encoded[k][i] for k in encoded.keys()} for i in chunk]
            out[chunk] = self._run(self.tokenizer.pad(features, return_tensors="np"))
        return out

    def _run(self, batch: dict) -> np.ndarray:
        """Logits for one padded batch of numpy arrays: moved to the model's device, run, and
        returned as float32 numpy on the CPU (the same path on every device)."""
        import torch

        device = self.device
        with torch.inference_mode():
            tensors = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
            return self.model(**tensors).logits.float().cpu().numpy()

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """The calibrated probabilities: softmax of the logits, divided by the temperature unless
        the folder has it folded into the weights already."""
        from scipy.special import softmax

        if self.settings.temperature_folded:
            return softmax(logits, axis=1)
        return softmax(logits / self.settings.temperature, axis=1)

    def probabilities(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None,
                      batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Calibrated probabilities for the texts, in their order."""
        return self.calibrated(self.logits(texts, contexts, batch_size))

    @overload
    def predict(self, texts: str, previous: str | None = ..., headline: str | None = ...,
                batch_size: int = ...) -> Prediction: ...
    @overload
    def predict(self, texts: Sequence[str], previous: Sequence[str] | None = ..., headline: Sequence[str] | None = ...,
                batch_size: int = ...) -> list[Prediction]: ...

    def predict(self, texts, previous=None, headline=None, batch_size: int = BATCH_SIZE):
        """Label one sentence (-> Prediction) or a list of sentences (-> list, in their order).

        `previous` is the sentence before each one in its article and `headline` the article's
        headline (a string for one text, a list as long as the texts for a list); both are used
        only when the model was trained with them."""
        return self._predict(texts, previous, headline, batch_size, "previous")

    __call__ = predict

    def _predict(self, texts, previous, headline, batch_size, previous_name: str):
        single = isinstance(texts, str)
        texts = _check_texts([texts] if single else texts)
        previous = _check_column(previous, previous_name, len(texts), single)
        headline = _check_column(headline, "headline", len(texts), single)
        batch_size = check_batch_size(batch_size)
        if (previous or headline) and not self.uses_context:
            logger.warning("%s was trained without context; the context given is ignored", self.path)
        probs = self.probabilities(texts, self.contexts(len(texts), previous, headline), batch_size)
        predictions = [
            Prediction(LABELS[int(row.argmax())], float(row.max()), {l: float(p) for l, p in zip(LABELS, row)})
            for row in probs
        ]
        return predictions[0] if single else predictions


_loaded: dict[tuple, Classifier] = {}


def load_cached(model: Union[str, Path, None] = None, device=DEFAULT_DEVICE, dtype=DEFAULT_DTYPE) -> Classifier:
    """The Classifier for a model folder on a device, loaded once per process."""
    from newsstance.devices import resolve_device, resolve_dtype

    target = resolve_device(device)
    key = (resolve_model_dir(model).resolve(), str(target), str(resolve_dtype(dtype, target)))
    if key not in _loaded:
        _loaded[key] = Classifier.load(key[0], target, dtype)
    return _loaded[key]


@overload
def classify(text: str, context: str | None = ..., headline: str | None = ..., model=...,
             batch_size: int = ..., device=..., dtype=...) -> Prediction: ...
@overload
def classify(text: Sequence[str], context: Sequence[str] | None = ..., headline: Sequence[str] | None = ...,
             model=..., batch_size: int = ..., device=..., dtype=...) -> list[Prediction]: ...


def classify(text, context=None, headline=None, model=None, batch_size: int = BATCH_SIZE,
             device=DEFAULT_DEVICE, dtype=DEFAULT_DTYPE):
    """Label one sentence (-> Prediction) or a list of sentences (-> list, batched).

    `context` is the previous sentence of the same article (a list for a list of texts),
    `headline` the article's headline; both are used only when the model was trained with them.
    The model is `model` (a folder or a loaded Classifier), else $NEWSSTANCE_MODEL, else
    models/default; a folder is loaded once per process and device, on `device` in `dtype`
    (see `Classifier.load`; a loaded Classifier keeps its own).
    """
    # check the input before loading a model: a wrong call fails at once
    single = isinstance(text, str)
    texts = _check_texts([text] if single else text)
    check_batch_size(batch_size)
    classifier = model if isinstance(model, Classifier) else load_cached(model, device, dtype)
    return classifier._predict(text if single else texts, context, headline, batch_size, "context")
