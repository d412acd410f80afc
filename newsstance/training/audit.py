"""Label audit: out-of-fold probabilities for every training label, ranked by cleanlab.

The training rows of a config are cut into k folds by article; for each fold a model is trained
per the same config on the other folds (selected and calibrated on the config's validation sets,
as usual) and scores the held-out fold. Every training label thus gets probabilities from a model
that never saw it, and `cleanlab.filter.find_label_issues` ranks the labels most likely to be
wrong (lowest self-confidence first). A person then reviews the top of the list against the
guidelines: the audit flags, it never changes a label.

Each fold's model is a normal run folder under the audit folder, so an interrupted audit
continues where it stopped (finished folds are reused). Install with `pip install
"newsstance[audit]"` (cleanlab).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from newsstance.config import Config
from newsstance.errors import NewsstanceError, OutputExistsError
from newsstance.files import atomic_path, write_json_atomic
from newsstance.labels import LABEL2ID, LABELS

logger = logging.getLogger(__name__)

ISSUES_FILE = "label_issues.csv"
SCORES_FILE = "out_of_fold.parquet"
SUMMARY_FILE = "summary.json"
KEY_COLUMNS = ("source", "doc_id", "sentence_index")  # what identifies a row in its file


@dataclass
class AuditResult:
    folder: Path
    rows: int
    flagged: int
    by_label: dict
    oof_macro_f1: float


def _require_cleanlab():
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        raise NewsstanceError('the label audit needs cleanlab: pip install "newsstance[audit]"') from None
    return find_label_issues, get_label_quality_scores


def fold_of_articles(doc_ids: pd.Series, folds: int, seed: int) -> np.ndarray:
    """Fold number per row; all sentences of an article share a fold."""
    articles = sorted(set(doc_ids))
    if len(articles) < folds:
        raise NewsstanceError(f"{folds} folds need at least {folds} articles in the training data, found {len(articles)}")
    order = np.random.default_rng(seed).permutation(len(articles))
    fold = {articles[i]: rank % folds for rank, i in enumerate(order)}
    return np.array([fold[d] for d in doc_ids])


def _fold_config(cfg: Config, folder: Path) -> Config:
    return cfg.model_copy(update={
        # the audit is of the human labels: folds train on gold rows only, without distillation
        "training": cfg.training.model_copy(update={"distill": None}),
        "output": cfg.output.model_copy(update={"dir": str(folder), "overwrite": False, "keep_checkpoints": False}),
        "evaluation": cfg.evaluation.model_copy(update={"baselines": False, "confusion_matrix_png": False}),
    })


def out_of_fold(cfg: Config, out: Path, folds: int, splits: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The training rows with a `fold` column and out-of-fold probabilities `p_<label>`."""
    from newsstance.data.soft import gold_rows
    from newsstance.data.splits import load_splits
    from newsstance.prediction import Classifier
    from newsstance.training.run import train

    splits = splits if splits is not None else load_splits(cfg.data)
    rows = gold_rows(splits["train"]).reset_index(drop=True).copy()  # a teacher's soft rows are not audited
    rows["fold"] = fold_of_articles(rows["doc_id"], folds, cfg.training.seed)
    probs = np.zeros((len(rows), len(LABELS)), dtype=np.float64)
    for k in range(folds):
        folder = out / f"fold_{k}"
        held = rows["fold"] == k
        if (folder / "metrics.json").exists():
            logger.info("fold %d/%d: reusing %s", k + 1, folds, folder)
        else:
            logger.info("fold %d/%d: training on %d rows, holding out %d", k + 1, folds, int((~held).sum()), int(held.sum()))
            fold_splits = {**splits, "train": rows[~held].drop(columns="fold").reset_index(drop=True)}
            train(_fold_config(cfg, folder), resume=(folder / "run.yaml").exists(), splits=fold_splits,
                  data_note=f"label audit: training rows of fold {k} of {folds} held out (by article, seed {cfg.training.seed})")
        classifier = Classifier.load(folder)
        part = rows[held]
        contexts = classifier.contexts(len(part), list(part["previous"]), list(part["headline"]))
        probs[held.to_numpy()] = classifier.probabilities(list(part["text"]), contexts, cfg.evaluation.batch_size)
    for i, label in enumerate(LABELS):
        rows[f"p_{label}"] = probs[:, i]
    return rows


def rank_issues(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows cleanlab flags as likely label errors, most likely first, with a suggested label."""
    find_label_issues, get_label_quality_scores = _require_cleanlab()
    labels = rows["label"].map(LABEL2ID).to_numpy()
    probs = rows[[f"p_{l}" for l in LABELS]].to_numpy()
    quality = get_label_quality_scores(labels, probs, method="self_confidence")
    flagged = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence")
    issues = rows.iloc[flagged].copy()
    issues.insert(0, "rank", np.arange(1, len(issues) + 1))
    issues["suggested"] = [LABELS[i] for i in probs[flagged].argmax(axis=1)]
    issues["label_quality"] = quality[flagged]
    return issues


def audit(cfg: Config, out: Path, folds: int = 5, overwrite: bool = False) -> AuditResult:
    """Cross-fit `cfg` over its training rows, rank likely label errors, write the audit folder:
    label_issues.csv (flagged rows, most likely first), out_of_fold.parquet (every row's
    probabilities) and summary.json."""
    from sklearn.metrics import f1_score

    _require_cleanlab()  # before hours of training, not after
    if folds < 2:
        raise NewsstanceError(f"--folds must be at least 2, got {folds}")
    out = Path(out)
    if (out / SUMMARY_FILE).exists() and not overwrite:
        raise OutputExistsError(f"{out}: holds a finished audit; pass --overwrite to run it again, or choose another -o")
    if out.exists() and any(out.iterdir()) and not (out / "audit.json").exists():
        raise OutputExistsError(f"{out}: folder exists and is not a newsstance audit; choose another -o")
    recorded = {"config": cfg.to_dict(), "folds": folds}
    if (out / "audit.json").exists() and json.loads((out / "audit.json").read_text(encoding="utf-8")) != recorded:
        raise OutputExistsError(f"{out}: holds an audit of another config or fold count; choose another -o")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "audit.json", recorded)
    rows = out_of_fold(cfg, out, folds)
    issues = rank_issues(rows)
    keep = ["rank", *KEY_COLUMNS, "text", "label", "suggested", "label_quality", *[f"p_{l}" for l in LABELS], "fold",
            "headline", "previous"]  # the context a reviewer reads the sentence in
    with atomic_path(out / ISSUES_FILE) as tmp:
        issues[[c for c in keep if c in issues.columns]].to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(out / SCORES_FILE) as tmp:
        rows.drop(columns=[c for c in ("previous", "headline") if c in rows.columns]).to_parquet(tmp, index=False)
    predicted = [LABELS[i] for i in rows[[f"p_{l}" for l in LABELS]].to_numpy().argmax(axis=1)]
    result = AuditResult(
        folder=out, rows=len(rows), flagged=len(issues),
        by_label={l: int((issues["label"] == l).sum()) for l in LABELS},
        oof_macro_f1=float(f1_score(rows["label"], predicted, labels=list(LABELS), average="macro")),
    )
    write_json_atomic(out / SUMMARY_FILE, {"rows": result.rows, "flagged": result.flagged, "flagged_by_label": result.by_label,
                                          "out_of_fold_macro_f1": result.oof_macro_f1, "folds": folds,
                                          "by_source": {str(k): int(v) for k, v in issues["source"].value_counts().items()}})
    return result
