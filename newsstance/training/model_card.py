"""The model card: README.md in the model folder, written from what the run measured."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from newsstance.config import Config
from newsstance.files import write_atomic
from newsstance.labels import DESCRIPTIONS, LABELS


def _context_words(cfg: Config) -> str:
    c = cfg.model.context
    seen = [name for name, on in (("the previous sentence", c.previous_sentence), ("the headline", c.headline)) if on]
    return "the sentence plus " + " and ".join(seen) if seen else "the sentence alone"


def write_model_card(out: Path, cfg: Config, results: dict, calibration: dict, splits: dict[str, pd.DataFrame]) -> None:
    lines = [
        f"# newsstance model: {out.name}",
        "",
        "Labels each sentence of a news article with whose voice it carries. Trained with "
        f"`newsstance train` from `{cfg.model.name_or_path}` (init: {cfg.model.init}); the model sees "
        f"{_context_words(cfg)} (max {cfg.model.max_length} tokens).",
        "",
        "## Intended use",
        "",
        "Sentence-level coding of news coverage for media research, fact-checking and newsroom data "
        "work: separating what principal actors claim from what others dispute and from the narrator's "
        "facts, aggregated over many articles. Not for judging whether a claim is true, and not for "
        "decisions about individuals.",
        "",
        "## Labels",
        "",
        "| id | label | meaning |",
        "| --- | --- | --- |",
        *[f"| {i} | `{l}` | {DESCRIPTIONS[l]} |" for i, l in enumerate(LABELS)],
        "",
        "## Data",
        "",
        "| split | sentences | articles | " + " | ".join(LABELS) + " | files |",
        "| --- | --- | --- |" + " --- |" * len(LABELS) + " --- |",
    ]
    for name, frame in splits.items():
        counts = frame["label"].value_counts()
        files = ", ".join(f"`{s}`" for s in sorted(frame["source"].unique())) if "source" in frame else ""
        lines.append(f"| {name} | {len(frame)} | {frame['doc_id'].nunique()} | "
                     + " | ".join(str(int(counts.get(l, 0))) for l in LABELS) + f" | {files} |")
    lines += ["", "File hashes: `data.json`. Full configuration: `run.yaml`. Versions and seed: `environment.json`.", "",
              "## Results", "", "Macro-F1 through the inference path (calibrated), with 95% article-bootstrap CIs for the model:", "",
              "| split | model | rule baseline | majority | TF-IDF + LR |", "| --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        systems = r["systems"]
        lo, hi = systems["model"]["ci"]["macro_f1"]
        cells = [f"{systems['model']['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}]"] + [
            f"{systems[k]['macro_f1']:.3f}" if k in systems else "n/a" for k in ("rules", "majority", "tfidf_logreg")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Per class (F1):", "", "| split | " + " | ".join(LABELS) + " |", "| --- |" + " --- |" * len(LABELS)]
    for name, r in results.items():
        pc = r["systems"]["model"]["per_class"]
        lines.append(f"| {name} | " + " | ".join(f"{pc[l]['f1']:.3f}" for l in LABELS) + " |")
    lines += [
        "",
        f"Calibration: temperature {calibration['temperature']:.3f} fitted on validation; expected "
        f"calibration error there {calibration['ece_before']:.3f} before, {calibration['ece_after']:.3f} after. "
        f"Default `min_confidence` {calibration['min_confidence']:.2f} ({calibration['min_confidence_rule']}).",
        "Detailed report with confusion matrices: `evaluation/report.md`.",
        "",
        "## Limitations",
        "",
        "- One label per sentence: a sentence that mixes a claim and its rebuttal gets the label of its main clause.",
        "- A sentence that continues an earlier quote is ambiguous without context; a model that sees the "
        "sentence alone cannot tell whose quote it continues.",
        "- Authored training text is cleaner than real news; scores on real news (where reported) are the "
        "honest measure and are lower.",
        "- English only; trained on political, economic and general news.",
        "",
    ]
    write_atomic(out / "README.md", "\n".join(lines))
