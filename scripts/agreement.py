"""Inter-annotator agreement of the independent second passes, as reported in data/DATASHEET.md.

    python scripts/agreement.py

Corpus: first labels are the authors' (data/corpus/source/), second labels the blind pass
(data/corpus/second_pass.jsonl). PolNeAR: data/external/polnear_agreement.jsonl.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

DATA = Path(__file__).resolve().parents[1] / "data"


def corpus_pairs() -> dict[str, list[tuple[str, str]]]:
    first, split = {}, {}
    for path in sorted((DATA / "corpus" / "source").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            a = json.loads(line)
            labels = [a["headline_label"]] + [label for p in a["paragraphs"] for _, label in p]
            for i, label in enumerate(labels):
                first[(a["id"], i)] = label
    for line in (DATA / "corpus" / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        a = json.loads(line)
        split[a["id"]] = a["split"]
    pairs = defaultdict(list)
    for line in (DATA / "corpus" / "second_pass.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        pairs[f"corpus {split[r['doc_id']]}"].append((first[(r["doc_id"], r["sentence_index"])], r["label"]))
    return pairs


def polnear_pairs() -> dict[str, list[tuple[str, str]]]:
    pairs = defaultdict(list)
    for line in (DATA / "external" / "polnear_agreement.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        pairs[f"PolNeAR {r['set']}"].append((r["first"], r["second"]))
    return pairs


def main() -> None:
    labels = ("official_position", "third_party_skepticism", "neutral_reporting")
    print("| set | sentences | agreement | Cohen's kappa | kappa per label (official / skepticism / neutral) "
          "| disagreements adjudicated |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, pairs in {**corpus_pairs(), **polnear_pairs()}.items():
        a, b = zip(*pairs)
        agree = sum(x == y for x, y in pairs) / len(pairs)
        # one label against the rest; 1.000 where both passes never or always chose it alike
        per_label = " / ".join(
            f"{cohen_kappa_score([x == l for x in a], [y == l for y in b]) if len(set(a + b)) > 1 else 1.0:.3f}"
            for l in labels)
        print(f"| {name} | {len(pairs)} | {agree:.3f} | {cohen_kappa_score(a, b):.3f} | {per_label} "
              f"| {sum(x != y for x, y in pairs)} |")


if __name__ == "__main__":
    main()
