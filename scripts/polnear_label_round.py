"""One labelling round on PolNeAR `train/`: pick sentences with `newsstance annotate select`,
hand them to annotators, merge the labels back as offsets only.

    python scripts/polnear_label_round.py prepare --model models/default -n 6000 --work /tmp/round
    #   annotators fill WORK/first_XX.labels.jsonl (and WORK/second_XX.labels.jsonl, blind)
    python scripts/polnear_label_round.py adjudication --work /tmp/round
    #   an adjudicator fills WORK/adjudicate.labels.jsonl
    python scripts/polnear_label_round.py merge --work /tmp/round --set train_round2

`prepare` picks half by uncertainty of the model and half at random (`annotate select
--strategy mixed`, at most 8 sentences per article), skipping sentences that are already
labelled or that would reuse an already labelled (article, sentence_index). It writes, outside
the repository, the annotator files: per sentence its id, the headline, the two sentences before
and the one after (the procedure of data/DATASHEET.md), without the model's guess; a random
`--second` of them go, shuffled, to a blind second pass. `merge` appends the final labels to
data/external/polnear_train.jsonl (offsets, labels, the article's validation/train split, never
the text), the double-annotation record to polnear_agreement.jsonl, the new article files to the
manifest, and prints agreement and Cohen's kappa, overall and per label (one label against the
rest). PolNeAR text stays in WORK and never enters the repository.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

from newsstance.data.polnear import MANIFEST, find_copy, holdout_split
from newsstance.files import iter_jsonl, sha256_file, write_json_atomic, write_jsonl_atomic
from newsstance.labels import LABELS
from newsstance.prediction.segmentation import segment

EXTERNAL = Path("data/external")
TRAIN_LABELS = EXTERNAL / "polnear_train.jsonl"
AGREEMENT = EXTERNAL / "polnear_agreement.jsonl"
CHUNK = 1000  # sentences per first-pass annotator file
SECOND_CHUNK = 500  # per second-pass annotator file


def _article_text(copy: Path, file: str) -> str:
    return (copy / file).read_text(encoding="utf-8")


def prepare(args) -> int:
    from newsstance.annotation.select import SelectOptions, select_tasks
    from newsstance.data.polnear import read_polnear_labels

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    existing = [row for _, row in iter_jsonl(TRAIN_LABELS)]
    copy = find_copy(sorted({r["file"] for r in existing}))
    texts = read_polnear_labels(TRAIN_LABELS)
    write_jsonl_atomic(work / "existing.jsonl", [
        {"doc_id": Path(r["file"]).stem, "file": Path(r["file"]).stem, "start": r["start"], "end": r["end"], "text": t}
        for r, t in zip(existing, texts["text"])])
    taken_index = defaultdict(set)  # article stem -> sentence indices already used by labels
    taken_spans = defaultdict(list)
    for r in existing:
        taken_index[Path(r["file"]).stem].add(r["sentence_index"])
        taken_spans[Path(r["file"]).stem].append((r["start"], r["end"]))
    selected = work / "selected.jsonl"
    result = select_tasks(SelectOptions(
        paths=[copy / "train" / "text"], output=selected, n=int(args.n * args.oversample), model=args.model,
        strategy="mixed", per_article_max=args.per_article_max, seed=args.seed, exclude=[work / "existing.jsonl"],
        overwrite=True))
    print(f"select: {result.tasks} tasks from {result.sentences} sentences in {result.articles} articles "
          f"({result.excluded} already labelled, {result.duplicates} duplicates) {result.by_reason}")
    rows = [row for _, row in iter_jsonl(selected)]

    def free(row) -> bool:
        stem = row["article_id"]
        overlaps = any(s < row["end"] and row["start"] < e for s, e in taken_spans[stem])
        return row["sentence_index"] not in taken_index[stem] and not overlaps

    kept = [r for r in rows if free(r)]
    by_reason = defaultdict(list)
    for r in kept:
        by_reason[r["reason"]].append(r)
    half = args.n // 2
    chosen = by_reason["uncertainty"][:args.n - half] + by_reason["random"][:half]
    print(f"kept {len(kept)} of {len(rows)} after dropping reused sentence indices; chose {len(chosen)}: "
          f"{Counter(r['reason'] for r in chosen)}")
    rng = random.Random(args.seed)
    rng.shuffle(chosen)
    keys, tasks = [], []
    spans_of: dict[str, list] = {}
    for i, r in enumerate(chosen):
        file = f"train/text/{Path(r['path']).name}"
        if file not in spans_of:
            text = _article_text(copy, file)
            spans_of[file] = (text, segment(text))
        text, spans = spans_of[file]
        k = r["sentence_index"]
        around = lambda j: text[spans[j].start:spans[j].end] if 0 <= j < len(spans) else ""  # noqa: E731
        prev = spans[k - 1] if k > 0 else None
        keys.append({"id": f"r{i:05d}", "file": file, "start": r["start"], "end": r["end"], "sentence_index": k,
                     "prev_start": prev.start if prev else None, "prev_end": prev.end if prev else None,
                     "reason": r["reason"], "selection_score": r["selection_score"], "predicted": r["predicted"]})
        tasks.append({"id": f"r{i:05d}", "headline": text.split("\n", 1)[0].strip(), "before_2": around(k - 2),
                      "before_1": around(k - 1), "sentence": r["text"], "after_1": around(k + 1)})
    write_jsonl_atomic(work / "keys.jsonl", keys)
    for c in range(0, len(tasks), CHUNK):
        write_jsonl_atomic(work / f"first_{c // CHUNK:02d}.tasks.jsonl", tasks[c:c + CHUNK])
    second = rng.sample(tasks, min(args.second, len(tasks)))
    for c in range(0, len(second), SECOND_CHUNK):
        write_jsonl_atomic(work / f"second_{c // SECOND_CHUNK:02d}.tasks.jsonl", second[c:c + SECOND_CHUNK])
    print(f"{len(tasks)} first-pass tasks and {len(second)} second-pass tasks in {work}")
    return 0


def _labels(work: Path, pattern: str) -> dict[str, str]:
    out: dict[str, str] = {}
    problems = []
    for path in sorted(work.glob(pattern)):
        for number, row in iter_jsonl(path):
            if row.get("label") not in LABELS:
                problems.append(f"{path}:{number}: label {row.get('label')!r} is not one of {', '.join(LABELS)}")
            elif row["id"] in out and out[row["id"]] != row["label"]:
                problems.append(f"{path}:{number}: {row['id']} labelled twice, differently")
            else:
                out[row["id"]] = row["label"]
    if problems:
        raise SystemExit("\n".join(problems[:30]))
    return out


def adjudication(args) -> int:
    work = Path(args.work)
    tasks = {row["id"]: row for p in sorted(work.glob("first_*.tasks.jsonl")) for _, row in iter_jsonl(p)}
    first, second = _labels(work, "first_*.labels.jsonl"), _labels(work, "second_*.labels.jsonl")
    rng = random.Random(args.seed)
    rows = []
    for i, label in second.items():
        if first.get(i) not in (None, label):
            pair = [first[i], label]
            rng.shuffle(pair)  # the adjudicator does not know which pass said what
            rows.append({**tasks[i], "label_a": pair[0], "label_b": pair[1]})
    write_jsonl_atomic(work / "adjudicate.tasks.jsonl", rows)
    print(f"{len(rows)} disagreements of {len(second)} double-labelled sentences -> {work / 'adjudicate.tasks.jsonl'}")
    return 0


def kappa_report(pairs: list[tuple[str, str]]) -> str:
    from sklearn.metrics import cohen_kappa_score

    a, b = zip(*pairs)
    lines = [f"sentences {len(pairs)}  agreement {sum(x == y for x, y in pairs) / len(pairs):.3f}  "
             f"Cohen's kappa {cohen_kappa_score(a, b):.3f}"]
    for label in LABELS:
        lines.append(f"  {label}: kappa {cohen_kappa_score([x == label for x in a], [y == label for y in b]):.3f}")
    return "\n".join(lines)


def merge(args) -> int:
    work = Path(args.work)
    keys = {row["id"]: row for _, row in iter_jsonl(work / "keys.jsonl")}
    first, second = _labels(work, "first_*.labels.jsonl"), _labels(work, "second_*.labels.jsonl")
    adjudicated = _labels(work, "adjudicate.labels.jsonl")
    missing = [i for i in keys if i not in first]
    if missing:
        raise SystemExit(f"{len(missing)} task(s) without a first-pass label, e.g. {missing[:5]}")
    unresolved = [i for i, l in second.items() if l != first[i] and i not in adjudicated]
    if unresolved:
        raise SystemExit(f"{len(unresolved)} disagreement(s) not adjudicated, e.g. {unresolved[:5]}")
    rows = [row for _, row in iter_jsonl(TRAIN_LABELS)]
    known = {(r["file"], r["start"], r["end"]) for r in rows}
    new, agreement = [], []
    for i, k in keys.items():
        if (k["file"], k["start"], k["end"]) in known:
            continue
        final = adjudicated.get(i, first[i]) if i in second else first[i]
        new.append({"file": k["file"], "start": k["start"], "end": k["end"], "label": final,
                    "sentence_index": k["sentence_index"], "prev_start": k["prev_start"], "prev_end": k["prev_end"],
                    "origin": args.set, "selected_by": k["reason"], "split": holdout_split(k["file"])})
        if i in second:
            agreement.append({"file": k["file"], "start": k["start"], "end": k["end"], "set": args.set,
                              "first": first[i], "second": second[i], "final": final})
    write_jsonl_atomic(TRAIN_LABELS, rows + new)
    old_agreement = [row for _, row in iter_jsonl(AGREEMENT)]
    write_jsonl_atomic(AGREEMENT, old_agreement + agreement)
    manifest_path = EXTERNAL / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    copy = find_copy(sorted({r["file"] for r in new}))
    added = 0
    for file in sorted({r["file"] for r in new}):
        if file not in manifest["files"]:
            manifest["files"][file] = sha256_file(copy / file)
            added += 1
    manifest["files"] = dict(sorted(manifest["files"].items()))
    write_json_atomic(manifest_path, manifest)
    print(f"{len(new)} new labels ({Counter(r['label'] for r in new)}), {added} article file(s) added to the manifest")
    print(f"splits: {Counter(r['split'] for r in new)}; selected by: {Counter(r['selected_by'] for r in new)}")
    if agreement:
        print(kappa_report([(r["first"], r["second"]) for r in agreement]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--model", default="models/default")
    p.add_argument("-n", type=int, default=6000)
    p.add_argument("--oversample", type=float, default=1.25, help="ask select for this many times n (reused indices are dropped)")
    p.add_argument("--per-article-max", type=int, default=8)
    p.add_argument("--second", type=int, default=1000, help="sentences for the blind second pass")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--work", required=True, help="folder outside the repository (holds PolNeAR text)")
    p.set_defaults(func=prepare)
    p = sub.add_parser("adjudication")
    p.add_argument("--work", required=True)
    p.add_argument("--seed", type=int, default=13)
    p.set_defaults(func=adjudication)
    p = sub.add_parser("merge")
    p.add_argument("--work", required=True)
    p.add_argument("--set", default="train_round2", help="origin/agreement set name of this round")
    p.set_defaults(func=merge)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
