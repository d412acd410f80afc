"""The user's example article (../shared/seed_article.txt): the default model against its gold labels.

    python scripts/seed_article.py [--model models/default]

The gold labels are the specification's table for that article (labels only; the article's text
is read from the shared folder and never copied into the project).
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed_article.txt"
O, S, N = "official_position", "third_party_skepticism", "neutral_reporting"
GOLD = [O, O, N, O, O, O, N, N, N, O, O, O, O, O, S, S, S, S, S, N, N, S, S]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    args = parser.parse_args()
    if not SEED.exists():
        raise SystemExit(f"{SEED} is not on this machine")
    from newsstance import analyze_article

    result = analyze_article(SEED.read_text(encoding="utf-8"), model=args.model)
    if len(result.sentences) != len(GOLD):
        raise SystemExit(f"segmented into {len(result.sentences)} sentences, the gold table has {len(GOLD)}")
    hits = 0
    for s, gold in zip(result.sentences, GOLD):
        hits += s.label == gold
        mark = "ok " if s.label == gold else "MISS"
        print(f"{mark} {s.index + 1:2d} gold {gold:<22} predicted {s.label:<22} {s.score:.2f}")
    print(f"\n{hits}/{len(GOLD)} sentences agree with the gold labels")


if __name__ == "__main__":
    main()
