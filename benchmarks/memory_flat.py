"""Peak memory of `newsstance predict` on 1,000 and on 20,000 articles: it must stay flat.

    python benchmarks/memory_flat.py [--model models/default] [--sizes 1000,20000]

Each size runs in its own process over a folder of article files made from the shipped corpus
(each copy gets one unique closing sentence, so no two articles are identical), and reports
that process's peak resident memory. Articles stream through in chunks, so the peak should not
grow with the folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_folder(folder: Path, n: int) -> None:
    articles = [json.loads(l) for l in (ROOT / "data" / "corpus" / "articles.jsonl").read_text().splitlines()]
    for i in range(n):
        a = articles[i % len(articles)]
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"{a['id']}-{i}.txt").write_text(f"{a['text']}\n\nThis is archive copy number {i}.\n", encoding="utf-8")


def run(folder: Path, model: str, out: Path) -> tuple[float, float]:
    code = (
        "import resource, sys\n"
        "from newsstance.prediction.batch import PredictOptions, run_predict\n"
        f"run_predict(PredictOptions(paths=[{str(folder)!r}], output={str(out)!r}, model={model!r}), progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    start = time.time()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024, time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--sizes", default="1000,20000")
    args = parser.parse_args()
    print("| articles | peak RSS (MB) | seconds |")
    print("| --- | --- | --- |")
    peaks = []
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "articles"
            folder.mkdir()
            make_folder(folder, n)
            peak, seconds = run(folder, args.model, Path(tmp) / "out.jsonl")
            peaks.append(peak)
            print(f"| {n} | {peak:.0f} | {seconds:.0f} |", flush=True)
    print(f"\npeak memory ratio, largest / smallest folder: {peaks[-1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
