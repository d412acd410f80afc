"""Writing an evaluation report folder: metrics.json for machines, report.md with PNG figures
and CSV tables for people. Everything here formats results computed by `report.py`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from newsstance.evaluation.targets import target_status
from newsstance.files import atomic_path, write_atomic, write_json_atomic
from newsstance.labels import LABELS


def _ci(metrics: dict, key: str) -> str:
    lo, hi = metrics["ci"][key]
    return f"{metrics[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def _clean(text) -> str:
    """A table cell: no pipes, no line breaks."""
    return str(text).replace("|", "/").replace("\n", " ")


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
    for e in errors.itertuples():
        lines.append(f"| {e.doc_id} | {e.sentence_index} | {e.gold} | {e.predicted} | {e.confidence:.2f} | {_clean(e.text)} | {_clean(e.previous)} |")
    return lines + [""]


def _overview(results: dict) -> list[str]:
    baselines = [s for s in ("rules", "majority", "tfidf_logreg") if any(s in r["systems"] for r in results.values())]
    header = "| set | sentences | model macro-F1 [95% CI] | " + " | ".join(baselines) + " | ECE |"
    lines = [header, "| --- " * (header.count("|") - 1) + "|"]
    for split, r in results.items():
        base = [f"{r['systems'][s]['macro_f1']:.3f}" for s in baselines if s in r["systems"]]
        lines.append(f"| {split} | {r['n']} | {_ci(r['systems']['model'], 'macro_f1')} | " + " | ".join(base) + f" | {r['calibration']['ece']:.3f} |")
    return lines + [""]


def _targets_markdown(targets: list[dict]) -> list[str]:
    lines = ["", "Quality targets for the default model:", "", "| set | metric | target | measured | met | missed by |",
             "| --- | --- | --- | --- | --- | --- |"]
    for t in targets:
        bound = ">=" if t["metric"] != "ece" else "<="
        missed = "" if t["met"] else f"{t['gap']:.3f}"
        lines.append(f"| {t['set']} | {t['metric']} | {bound} {t['target']:.2f} | {t['value']:.3f} | {'yes' if t['met'] else 'no'} | {missed} |")
    return lines + [""]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_report(
    results: dict, out_dir: Path, title: str = "Evaluation", png: bool = True, skipped: dict | None = None,
    notes: list[str] | None = None,
) -> Path:
    """metrics.json, report.md, and per split: confusion/reliability/coverage PNGs, predictions and errors CSVs.

    `skipped` (set -> reason) and `notes` are listed under the overview."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""] + _overview(results)
    lines += [f"- {name}: skipped ({reason})" for name, reason in (skipped or {}).items()]
    lines += [f"- note: {note}" for note in notes or []]
    targets = target_status(results)
    if targets:
        lines += _targets_markdown(targets)
    for split, r in results.items():
        lines += _split_markdown(split, r)
        _write_csv(r["_tables"]["predictions"], out_dir / f"predictions_{split}.csv")
        _write_csv(r["_tables"]["errors"], out_dir / f"errors_{split}.csv")
        if png:
            from newsstance.evaluation.plots import confusion_png, coverage_png, reliability_png

            confusion_png(r["systems"]["model"]["confusion_matrix"], f"{title}: {split}", out_dir / f"confusion_{split}.png")
            reliability_png(r["calibration"]["reliability"], f"reliability: {split}", out_dir / f"reliability_{split}.png")
            coverage_png(r["calibration"]["coverage"], f"coverage-accuracy: {split}", out_dir / f"coverage_{split}.png")
    payload = {split: {k: v for k, v in r.items() if k != "_tables"} for split, r in results.items()}
    if targets:
        payload["_targets"] = targets
    if skipped:
        payload["_skipped"] = skipped
    if notes:
        payload["_notes"] = notes
    write_json_atomic(out_dir / "metrics.json", payload)
    write_atomic(out_dir / "report.md", "\n".join(lines))
    return out_dir


def append_section(out_dir: Path, heading: str, body: str) -> None:
    """Add a `## heading` section to the end of a written report.md (e.g. an ablation table
    that reads the metrics.json just written)."""
    report = Path(out_dir) / "report.md"
    text = report.read_text(encoding="utf-8").rstrip("\n")
    write_atomic(report, f"{text}\n\n## {heading}\n\n{body.rstrip()}\n")
