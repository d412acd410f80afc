"""Knowledge distillation as a loss, composed into the Trainer (`compute_loss_func`), not a subclass.

Training rows are gold (a label) or soft (a teacher's calibrated probabilities, `kind: soft`).
With soft rows the `labels` of a training batch are rows `[gold id or -1, p_1, ..., p_L]`; the
loss is

    (1 - alpha) * CE(student logits, gold) on the gold rows (class-weighted as configured)
  + alpha * T^2 * KL(teacher_T || student_T) on the soft rows

where `x_T` is softmax(log x / T) for the teacher's probabilities and softmax(logits / T) for the
student (Hinton et al., 2015; T^2 keeps the gradient scale independent of T). A batch with only
one kind of row takes that term alone. Evaluation sets are gold only and get plain labels, so
the same function returns the (weighted) cross-entropy there. With alpha 0 the soft rows are
dropped before training: the run is exactly the plain one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from newsstance.config import Config, DistillConfig
from newsstance.data.soft import PROB_COLUMNS, read_meta, soft_mask
from newsstance.errors import NewsstanceError
from newsstance.files import sha256_file
from newsstance.labels import LABEL2ID

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"


def fingerprint(model_dir: Path) -> str:
    """The teacher's fingerprint: SHA-256 of its saved weights (temperature folded in)."""
    weights = Path(model_dir) / WEIGHTS
    if not weights.is_file():
        raise NewsstanceError(f"{model_dir}: no {WEIGHTS}; the teacher must be a newsstance model folder")
    return sha256_file(weights)


def check_teacher(cfg: Config) -> None:
    """Every soft source was made by the teacher the config names; else one error per mismatch."""
    d = cfg.training.distill
    if d is None:
        return
    expected = d.teacher_fingerprint
    if d.teacher and Path(d.teacher).is_dir():
        actual = fingerprint(Path(d.teacher))
        if expected and actual != expected:
            raise NewsstanceError(f"training.distill: the teacher at {d.teacher} has fingerprint {actual[:16]}..., "
                                  f"the config expects {expected[:16]}...; the teacher was retrained: regenerate the "
                                  "soft labels and update teacher_fingerprint")
        expected = expected or actual
    problems = []
    for source in cfg.data.train:
        if source.kind != "soft":
            continue
        made_by = read_meta(Path(source.path))["teacher"]["fingerprint"]
        if expected and made_by != expected:
            problems.append(f"{source.path}: made by the teacher with fingerprint {made_by[:16]}..., but "
                            f"training.distill names {expected[:16]}...; regenerate it with `newsstance distill "
                            "label-unlabelled` or point the config at the matching teacher")
    if problems:
        raise NewsstanceError("\n".join(problems))


def prepare_train(train: pd.DataFrame, distill: DistillConfig | None) -> pd.DataFrame:
    """The training rows to use: soft rows dropped when alpha is 0 (plain training)."""
    mask = soft_mask(train)
    if distill is not None and distill.alpha == 0 and mask.any():
        logger.info("training.distill.alpha is 0: %d soft rows left out, plain training", int(mask.sum()))
        return train[~mask].reset_index(drop=True)
    return train


def label_rows(frame: pd.DataFrame) -> list:
    """`labels` for a dataset: gold ids, or `[gold id or -1, probabilities...]` rows when the
    frame has soft rows."""
    mask = soft_mask(frame)
    gold = [LABEL2ID[label] for label in frame["label"]]
    if not mask.any():
        return gold
    probs = frame[list(PROB_COLUMNS)].to_numpy(dtype=np.float64)
    return [[-1.0, *p] if soft else [float(g), *([0.0] * len(PROB_COLUMNS))]
            for g, soft, p in zip(gold, mask, probs)]


def distill_loss(weights, alpha: float, temperature: float):
    """The mixed loss as a `compute_loss_func(outputs, labels, num_items_in_batch)`."""
    import torch
    import torch.nn.functional as F

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs.logits.float()
        w = weights.to(logits.device) if weights is not None else None
        if labels.dim() == 1:
            return F.cross_entropy(logits, labels, weight=w)
        gold, teacher = labels[:, 0].long(), labels[:, 1:].float()
        soft = gold < 0
        terms = []
        if (~soft).any():
            terms.append((1 - alpha) * F.cross_entropy(logits[~soft], gold[~soft], weight=w))
        if soft.any():
            target = torch.softmax(torch.log(teacher[soft].clamp_min(1e-12)) / temperature, dim=-1)
            student = F.log_softmax(logits[soft] / temperature, dim=-1)
            terms.append(alpha * temperature ** 2 * F.kl_div(student, target, reduction="batchmean"))
        return sum(terms)

    return loss


def describe(cfg: Config, train: pd.DataFrame) -> dict | None:
    """What environment.json records about distillation."""
    d = cfg.training.distill
    if d is None:
        return None
    return {"alpha": d.alpha, "temperature": d.temperature, "teacher": d.teacher,
            "teacher_fingerprint": d.teacher_fingerprint, "soft_rows": int(soft_mask(train).sum())}
