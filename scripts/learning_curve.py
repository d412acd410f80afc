"""Learning curve: real-news dev macro-F1 against the number of real-news training labels.

    python scripts/learning_curve.py                       # configs/gold_only.yaml, sizes 0 1500 3000 6000 all
    python scripts/learning_curve.py --sizes 0 1500 all --all-from models/gold_only

For each size N the config is trained as it is, except that its real-news (PolNeAR) training
rows are cut to about N sentences, whole articles drawn in a seeded random order; the authored
corpus is always in. Each run is a normal model folder under --out (an interrupted curve reuses
the finished points); `--all-from` takes the "all" point from an existing run of the same config.
Prints a Markdown table (macro-F1 with its article-bootstrap 95% CI, skepticism F1, ECE) and
writes it with a PNG next to --figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from newsstance.config import load_config
from newsstance.data.splits import load_splits
from newsstance.files import atomic_path, write_atomic

EVAL_SET = "polnear_dev"


def real_rows(frame) -> np.ndarray:
    return frame["source"].astype(str).str.contains("polnear").to_numpy()


def subsample(train, n: int, seed: int):
    """The authored rows plus whole real-news articles, in seeded random order, up to n sentences."""
    real = real_rows(train)
    articles = sorted(set(train.loc[real, "doc_id"]))
    order = np.random.default_rng(seed).permutation(len(articles))
    sizes = train.loc[real].groupby("doc_id").size()
    keep, total = set(), 0
    for i in order:
        doc = articles[i]
        if total + sizes[doc] > n:
            continue
        keep.add(doc)
        total += sizes[doc]
    chosen = ~real | train["doc_id"].isin(keep).to_numpy()
    return train[chosen].reset_index(drop=True), total


def point(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    s = metrics["splits"][EVAL_SET]
    return {"macro_f1": s["macro_f1"], "ci": s["ci"]["macro_f1"],
            "skepticism_f1": s["per_class"]["third_party_skepticism"]["f1"], "ece": metrics["ece"][EVAL_SET],
            "test": metrics["headline"].get("test")}


def main() -> int:
    from newsstance.training.run import train

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/gold_only.yaml")
    parser.add_argument("--sizes", nargs="+", default=["0", "1500", "3000", "6000", "all"])
    parser.add_argument("--out", default="models/curve", help="folder for the runs (one per size)")
    parser.add_argument("--all-from", help="an existing run of the config to use as the 'all' point")
    parser.add_argument("--figure", default="docs/learning_curve.png")
    args = parser.parse_args()

    cfg = load_config(args.config)
    splits = load_splits(cfg.data)
    available = int(real_rows(splits["train"]).sum())
    table = []
    for size in args.sizes:
        if size == "all" and args.all_from:
            folder, n = Path(args.all_from), available
        else:
            wanted = available if size == "all" else int(size)
            if wanted > available:
                print(f"size {size}: only {available} real-news training labels; skipped", file=sys.stderr)
                continue
            train_rows, n = subsample(splits["train"], wanted, cfg.training.seed)
            folder = Path(args.out) / f"real_{size}"
            if not (folder / "metrics.json").exists():
                run_cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"dir": str(folder), "overwrite": False})})
                train(run_cfg, resume=(folder / "run.yaml").exists(), splits={**splits, "train": train_rows},
                      data_note=f"learning curve: real-news training rows cut to {n} sentences (whole articles, seed {cfg.training.seed})")
        table.append({"real_labels": n, **point(folder)})

    lines = ["| real-news training labels | real-news dev macro-F1 [95% CI] | skepticism F1 | ECE | authored test macro-F1 |",
             "| --- | --- | --- | --- | --- |"]
    for r in table:
        lines.append(f"| {r['real_labels']:,} | {r['macro_f1']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | "
                     f"{r['skepticism_f1']:.3f} | {r['ece']:.3f} | {r['test']:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    figure = Path(args.figure)
    write_atomic(figure.with_suffix(".md"), text)

    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    xs = [r["real_labels"] for r in table]
    ax.errorbar(xs, [r["macro_f1"] for r in table], capsize=3, marker="o",
                yerr=[[r["macro_f1"] - r["ci"][0] for r in table], [r["ci"][1] - r["macro_f1"] for r in table]])
    ax.set_xlabel("real-news (PolNeAR) training labels, authored corpus always in")
    ax.set_ylabel("PolNeAR dev macro-F1 (95% CI)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(figure) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    print(f"written: {figure} and {figure.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
