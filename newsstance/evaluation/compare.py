"""`newsstance compare RUN ...`: several runs' headline metrics, CIs and calibration in one
table, and for two runs a paired article-bootstrap of the macro-F1 difference on shared sets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from newsstance.errors import ModelFolderError
from newsstance.evaluation.bootstrap import paired_difference_ci
from newsstance.labels import LABEL2ID


def _metrics_path(run: Path) -> Path:
    path = run / "evaluation" / "metrics.json"
    if not path.exists():
        raise ModelFolderError(f"{run}: no evaluation/metrics.json; train it with `newsstance train` or run `newsstance evaluate {run}`")
    return path


def check_runs(runs: list[Path]) -> None:
    """Raise ModelFolderError for the first run without a saved evaluation."""
    for run in runs:
        _metrics_path(run)


def _load(run: Path) -> dict:
    return json.loads(_metrics_path(run).read_text(encoding="utf-8"))


def _describe(run: Path) -> str:
    config = run / "config.json"
    if config.exists():
        context = json.loads(config.read_text()).get("newsstance", {}).get("context", {})
        seen = [k for k, v in context.items() if v]
        return f"{run.name} (context: {', '.join(seen) or 'none'})"
    return run.name


def compare_runs(runs: list[Path]) -> str:
    """A Markdown comparison of the runs' evaluation reports."""
    reports = {run: _load(run) for run in runs}
    splits = [s for s in next(iter(reports.values())) if not s.startswith("_")]
    lines = ["| set | run | sentences | macro-F1 [95% CI] | accuracy [95% CI] | ECE | temperature |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for split in splits:
        for run, report in reports.items():
            if split not in report:
                continue
            r, m = report[split], report[split]["systems"]["model"]
            f1, acc = m["ci"]["macro_f1"], m["ci"]["accuracy"]
            lines.append(f"| {split} | {_describe(run)} | {r['n']} | {m['macro_f1']:.3f} [{f1[0]:.3f}, {f1[1]:.3f}] | "
                         f"{m['accuracy']:.3f} [{acc[0]:.3f}, {acc[1]:.3f}] | {r['calibration']['ece']:.3f} | "
                         f"{r['calibration']['temperature']:.3f} |")
    if len(runs) == 2:
        a, b = runs
        lines += ["", f"Paired difference, {_describe(b)} minus {_describe(a)} (article bootstrap, 1,000 resamples):", "",
                  "| set | delta macro-F1 | 95% CI | resamples where the second run is better |", "| --- | --- | --- | --- |"]
        for split in splits:
            pa, pb = a / "evaluation" / f"predictions_{split}.csv", b / "evaluation" / f"predictions_{split}.csv"
            if not (pa.exists() and pb.exists()):
                continue
            fa, fb = pd.read_csv(pa), pd.read_csv(pb)
            key = ["doc_id", "sentence_index"]
            merged = fa.merge(fb, on=key + ["gold"], suffixes=("_a", "_b"))
            if len(merged) != len(fa):
                continue  # not the same rows: no paired comparison
            d = paired_difference_ci(merged["doc_id"].astype(str), merged["gold"].map(LABEL2ID),
                                     merged["predicted_a"].map(LABEL2ID), merged["predicted_b"].map(LABEL2ID))
            lines.append(f"| {split} | {d['delta_macro_f1']:+.3f} | [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] | {d['share_of_resamples_b_better']:.0%} |")
    return "\n".join(lines) + "\n"
