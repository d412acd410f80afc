"""Mark which PolNeAR `train/` articles form the real-news validation set.

Every row of data/external/polnear_train.jsonl gets `split: train` or `split: validation`, by
article: an article is held out when the SHA-256 of its file name, read as a fraction of 2**32,
is below HOLDOUT_FRACTION. The rule depends on the file name alone, so an article keeps its split
when more labels are added later, and sentences of one article never straddle the two splits.

    python scripts/polnear_holdout.py            # rewrite the file in place (idempotent)
    python scripts/polnear_holdout.py --check    # exit 1 if a row's split is missing or wrong
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from newsstance.data.polnear import holdout_split
from newsstance.files import iter_jsonl, write_jsonl_atomic

LABELS_FILE = Path("data/external/polnear_train.jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=LABELS_FILE)
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args()
    rows = [row for _, row in iter_jsonl(args.labels)]
    wrong = [r for r in rows if r.get("split") != holdout_split(r["file"])]
    counts = collections.Counter((holdout_split(r["file"]), r["label"]) for r in rows)
    articles = collections.Counter(holdout_split(f) for f in {r["file"] for r in rows})
    for split in ("train", "validation"):
        n = sum(v for (s, _), v in counts.items() if s == split)
        print(f"{split:>10}: {articles[split]:4d} articles {n:5d} sentences  "
              + "  ".join(f"{l} {v}" for (s, l), v in sorted(counts.items()) if s == split))
    if args.check:
        print(f"{len(wrong)} row(s) without their split")
        return 1 if wrong else 0
    if wrong:
        write_jsonl_atomic(args.labels, [{**r, "split": holdout_split(r["file"])} for r in rows])
        print(f"{args.labels}: split set on {len(wrong)} row(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
