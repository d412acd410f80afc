"""The evaluation report: one folder with metrics.json for machines and report.md plus PNG and
CSV files for people. Every split gets the model's scores with article-level bootstrap CIs,
the baselines on the same rows, calibration, slices and its most confident mistakes."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from newsstance.evaluation.baselines import majority_baseline, tfidf_logreg_baseline
from newsstance.evaluation.bootstrap import bootstrap_ci
from newsstance.evaluation.calibration import coverage_curve, expected_calibration_error, reliability
from newsstance.evaluation.metrics import classification_metrics
from newsstance.evaluation.rules import rule_baseline
from newsstance.files import write_atomic, write_json_atomic
from newsstance.evaluation.slices import slice_columns, slice_metrics
from newsstance.labels import LABEL2ID, LABELS

logger = logging.getLogger(__name__)

# Quality targets for the default model (reported, never asserted): (set, what, target)
TARGETS = (
    ("test", "macro_f1", 0.90), ("challenge", "macro_f1", 0.80), ("polnear_dev", "macro_f1", 0.75),
    ("test", "ece", 0.05), ("challenge", "ece", 0.05), ("polnear_dev", "ece", 0.05),
    ("polnear_dev", "margin_over_tfidf", 0.10),
)


def target_status(results: dict) -> list[dict]:
    """Each target whose set was evaluated: measured value, target, met, and by how much."""
    rows = []
    for split, what, target in TARGETS:
        if split not in results:
            continue
        r = results[split]
        if what == "macro_f1":
            value, higher = r["systems"]["model"]["macro_f1"], True
        elif what == "ece":
            value, higher = r["calibration"]["ece"], False
        elif "tfidf_logreg" in r["systems"]:
            value, higher = r["systems"]["model"]["macro_f1"] - r["systems"]["tfidf_logreg"]["macro_f1"], True
        else:
            continue
        met = value >= target if higher else value <= target
        rows.append({"set": split, "metric": what, "target": target, "value": round(value, 4), "met": met,
                     "gap": round(0.0 if met else abs(target - value), 4)})
    return rows


def predict_frame(classifier, frame: pd.DataFrame, batch_size: int = 64) -> np.ndarray:
    """Calibrated probabilities for every row of a standard frame, context built from its columns."""
    previous = list(frame["previous"]) if "previous" in frame else None
    headline = list(frame["headline"]) if "headline" in frame else None
    contexts = classifier.contexts(len(frame), previous, headline)
    return classifier.probabilities(list(frame["text"]), contexts, batch_size)


def _scored(doc_ids, refs, preds, seed: int) -> dict:
    metrics = classification_metrics(refs, preds)
    metrics["ci"] = bootstrap_ci(doc_ids, refs, preds, seed=seed)
    return metrics


def _errors(frame: pd.DataFrame, refs: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    preds = probs.argmax(axis=1)
    table = pd.DataFrame({
        "doc_id": frame["doc_id"].to_numpy(), "sentence_index": frame["sentence_index"].to_numpy(),
        "gold": [LABELS[i] for i in refs], "predicted": [LABELS[i] for i in preds],
        "confidence": probs.max(axis=1).round(4), "text": frame["text"].to_numpy(),
        "previous": frame["previous"].to_numpy() if "previous" in frame else "",
    })
    return table[preds != refs].sort_values("confidence", ascending=False)


def evaluate_frames(
    classifier, frames: dict[str, pd.DataFrame], train: pd.DataFrame | None = None, baselines: bool = True,
    batch_size: int = 64, seed: int = 13, slices: list[str] | None = None,
) -> dict:
    """{split: {n, articles, systems: {model, majority, tfidf_logreg, rules}, calibration, slices, ...}}

    The frames keep their own tables in `_tables` (predictions and errors) for write_report.
    """
    tfidf = tfidf_logreg_baseline(train["text"], train["label"], seed) if baselines and train is not None else None
    results: dict = {}
    for name, frame in frames.items():
        if frame.empty:
            logger.warning("%s has no rows: not evaluated", name)
            continue
        logger.info("evaluating %s (%d sentences)", name, len(frame))
        refs = np.array([LABEL2ID[l] for l in frame["label"]])
        docs = frame["doc_id"].astype(str).to_numpy()
        probs = predict_frame(classifier, frame, batch_size)
        preds = probs.argmax(axis=1)
        systems = {"model": _scored(docs, refs, preds, seed)}
        if baselines:
            systems["rules"] = _scored(docs, refs, rule_baseline(list(frame["text"])), seed)
        if tfidf is not None:
            systems["majority"] = _scored(docs, refs, majority_baseline(train["label"], len(refs)), seed)
            systems["tfidf_logreg"] = _scored(docs, refs, tfidf.predict(list(frame["text"])), seed)
        predictions = pd.DataFrame({
            "doc_id": docs, "sentence_index": frame["sentence_index"].to_numpy(), "gold": [LABELS[i] for i in refs],
            "predicted": [LABELS[i] for i in preds], **{f"p_{l}": probs[:, i].round(5) for i, l in enumerate(LABELS)},
        })
        results[name] = {
            "n": int(len(frame)), "articles": int(frame["doc_id"].nunique()),
            "systems": systems,
            "calibration": {
                "temperature": classifier.settings.temperature,
                "ece": expected_calibration_error(probs, refs),
                "reliability": reliability(probs, refs),
                "coverage": coverage_curve(probs, refs),
            },
            "slices": slice_metrics(frame, refs, preds, slice_columns(frame, slices)),
            "_tables": {"predictions": predictions, "errors": _errors(frame, refs, probs)},
        }
    return results


# --- writing -------------------------------------------------------------------------------


def _ci(metrics: dict, key: str) -> str:
    lo, hi = metrics["ci"][key]
    return f"{metrics[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def _split_markdown(split: str, r: dict) -> list[str]:
    m = r["systems"]["model"]
    lines = [f"## {split}: {r['n']} sentences, {r['articles']} articles", "",
             "95% CIs from 1,000 bootstrap resamples of articles.", "",
             "| system | macro-F1 [95% CI] | accuracy [95% CI] |", "| --- | --- | --- |"]
    for system, sm in r["systems"].items():
        lines.append(f"| {system} | {_ci(sm, 'macro_f1')} | {_ci(sm, 'accuracy')} |")
    lines += ["", "| label | precision | recall | F1 [95% CI] | support |", "| --- | --- | --- | --- | --- |"]
    for label, c in m["per_class"].items():
        lo, hi = m["ci"]["per_class"][label]["f1"]
        lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} [{lo:.3f}, {hi:.3f}] | {c['support']} |")
    lines += ["", "Confusion matrix (rows gold, columns predicted):", "",
              "| gold \\ predicted | " + " | ".join(LABELS) + " |", "| --- |" + " --- |" * len(LABELS)]
    for label, row in zip(LABELS, m["confusion_matrix"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    cal = r["calibration"]
    lines += ["", f"![confusion matrix](confusion_{split}.png)", "",
              f"Calibration (temperature {cal['temperature']:.3f}): expected calibration error {cal['ece']:.3f}.", "",
              "| answer only at confidence >= | coverage | accuracy |", "| --- | --- | --- |"]
    for p in cal["coverage"]:
        acc = "n/a" if p["accuracy"] is None else f"{p['accuracy']:.3f}"
        lines.append(f"| {p['threshold']:.2f} | {p['coverage']:.3f} | {acc} |")
    lines += ["", f"![reliability](reliability_{split}.png) ![coverage](coverage_{split}.png)", ""]
    for column, values in r["slices"].items():
        lines += [f"Slice by {column}:", "", "| value | sentences | articles | macro-F1 | accuracy |", "| --- | --- | --- | --- | --- |"]
        for value, s in values.items():
            lines.append(f"| {value} | {s['n']} | {s['articles']} | {s['macro_f1']:.3f} | {s['accuracy']:.3f} |")
        lines.append("")
    errors = r["_tables"]["errors"].head(10)
    lines += [f"Most confident mistakes (all in `errors_{split}.csv`):", "",
              "| article | # | gold | predicted | conf. | sentence | previous sentence |", "| --- | --- | --- | --- | --- | --- | --- |"]
    clean = lambda t: str(t).replace("|", "/").replace("\n", " ")  # noqa: E731
    for e in errors.itertuples():
        lines.append(f"| {e.doc_id} | {e.sentence_index} | {e.gold} | {e.predicted} | {e.confidence:.2f} | {clean(e.text)} | {clean(e.previous)} |")
    return lines + [""]


def write_report(results: dict, out_dir: Path, title: str = "Evaluation", png: bool = True, skipped: dict | None = None) -> Path:
    """metrics.json, report.md, and per split: confusion/reliability/coverage PNGs, predictions and errors CSVs."""
    from newsstance.evaluation.plots import confusion_png, coverage_png, reliability_png

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    overview = ["| set | sentences | model macro-F1 [95% CI] | " + " | ".join(
        s for s in ("rules", "majority", "tfidf_logreg") if any(s in r["systems"] for r in results.values())) + " | ECE |"]
    for split, r in results.items():
        base = [f"{r['systems'][s]['macro_f1']:.3f}" for s in ("rules", "majority", "tfidf_logreg") if s in r["systems"]]
        overview.append(f"| {split} | {r['n']} | {_ci(r['systems']['model'], 'macro_f1')} | " + " | ".join(base) + f" | {r['calibration']['ece']:.3f} |")
    lines += overview[:1] + ["| --- " * (overview[0].count("|") - 1) + "|"] + overview[1:] + [""]
    for name, reason in (skipped or {}).items():
        lines += [f"- {name}: skipped ({reason})"]
    targets = target_status(results)
    if targets:
        lines += ["", "Quality targets for the default model:", "", "| set | metric | target | measured | met | missed by |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for t in targets:
            bound = ">=" if t["metric"] != "ece" else "<="
            missed = "" if t["met"] else f"{t['gap']:.3f}"
            met = "yes" if t["met"] else "no"
            lines.append(f"| {t['set']} | {t['metric']} | {bound} {t['target']:.2f} | {t['value']:.3f} | {met} | {missed} |")
        lines.append("")
    for split, r in results.items():
        lines += _split_markdown(split, r)
        tables = r["_tables"]
        tables["predictions"].to_csv(out_dir / f"predictions_{split}.csv", index=False)
        tables["errors"].to_csv(out_dir / f"errors_{split}.csv", index=False)
        if png:
            confusion_png(r["systems"]["model"]["confusion_matrix"], f"{title}: {split}", out_dir / f"confusion_{split}.png")
            reliability_png(r["calibration"]["reliability"], f"reliability: {split}", out_dir / f"reliability_{split}.png")
            coverage_png(r["calibration"]["coverage"], f"coverage-accuracy: {split}", out_dir / f"coverage_{split}.png")
    payload = {split: {k: v for k, v in r.items() if k != "_tables"} for split, r in results.items()}
    if targets:
        payload["_targets"] = targets
    if skipped:
        payload["_skipped"] = skipped
    write_json_atomic(out_dir / "metrics.json", payload)
    write_atomic(out_dir / "report.md", "\n".join(lines))
    return out_dir


# --- the `newsstance evaluate` entry point --------------------------------------------------


def _table_kind(path: Path) -> str:
    """PolNeAR label files hold offsets, not text."""
    if path.suffix == ".jsonl" and path.exists():
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
        try:
            keys = set(json.loads(first)) if first.strip() else set()
        except json.JSONDecodeError:
            return "table"
        if {"file", "start", "end"} <= keys and "text" not in keys:
            return "polnear"
    return "table"


def _recorded_frames(model_dir: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The evaluation sets of a model's run.yaml, rebuilt as at training time (including an
    automatic split by article). Where a PolNeAR copy is missing, the sets that can be read are
    evaluated and the others skipped with the reason."""
    from newsstance.config import load_config
    from newsstance.data.context import add_neighbours
    from newsstance.data.splits import load_splits
    from newsstance.data.tables import read_sources
    from newsstance.errors import DataError, NewsstanceError

    run = model_dir / "run.yaml"
    if not run.exists():
        raise NewsstanceError(f"{model_dir}: no run.yaml, so no recorded evaluation data; pass a DATA file to evaluate on")
    cfg = load_config(run)
    data = cfg.data
    frames: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}

    def read(name: str, sources) -> None:
        try:
            frames[name] = add_neighbours(read_sources(sources, data.columns, data.polnear_dir))
        except DataError as exc:
            if not any(s.kind == "polnear" for s in sources):
                raise
            skipped[name] = str(exc)
            logger.warning("%s skipped: %s", name, exc)

    if data.validation and data.test:
        read("validation", data.validation)
        read("test", data.test)
    else:  # an automatic split by article: rebuilt from the training data, as at training time
        core = data.model_copy(update={"extra_eval": {}})
        frames.update({k: v for k, v in load_splits(core).items() if k != "train" and len(v)})
    for name, sources in data.extra_eval.items():
        read(name, sources)
    return frames, skipped


def evaluate_model(
    model: Union[str, Path, None], data: Union[str, Path, None] = None, out_dir: Union[str, Path, None] = None,
    split: str | None = None, slices: list[str] | None = None,
) -> dict:
    """Evaluate a saved model and write a report folder.

    With `data`, on that sentence table (rows of `split` only, if given); without, on every set
    the model's run.yaml names. Baselines are fitted on the model's recorded training data when
    it is still present unchanged.
    """
    from newsstance.config import ColumnsConfig, Source
    from newsstance.data.context import add_neighbours
    from newsstance.data.tables import read_source
    from newsstance.errors import NewsstanceError
    from newsstance.prediction import Classifier
    from newsstance.training.provenance import recorded_training_frame

    classifier = Classifier.load(model)
    skipped: dict[str, str] = {}
    if data is None:
        frames, skipped = _recorded_frames(classifier.path)
        default_out = classifier.path / "evaluation"
    else:
        data = Path(data)
        source = Source(path=str(data), kind=_table_kind(data), split=split)
        name = f"{data.stem}_{split}" if split else data.stem
        frames = {name: add_neighbours(read_source(source, ColumnsConfig()))}
        default_out = classifier.path / "evaluation" / name
    if not frames:
        raise NewsstanceError(f"nothing to evaluate for {classifier.path}: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    train = recorded_training_frame(classifier.path)
    if train is None:
        logger.warning("baselines fitted on training data skipped: the data recorded in %s is not available unchanged", classifier.path)
    results = evaluate_frames(classifier, frames, train, slices=slices)
    out = Path(out_dir) if out_dir else default_out
    write_report(results, out, f"{classifier.path.name}", skipped=skipped)
    return {"report_dir": str(out), "skipped": skipped,
            "splits": {k: {s: m["macro_f1"] for s, m in v["systems"].items()} | {"n": v["n"]} for k, v in results.items()}}
