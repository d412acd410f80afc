"""`newsstance data fetch|validate` (the corpus and real-news data) and `newsstance annotate
select|import` (choosing sentences of your own news to label, and importing the labels)."""

from __future__ import annotations

import sys

from newsstance.cli.options import add_field_options, fields


def _data_fetch(args) -> int:
    from pathlib import Path

    from newsstance.data.polnear import fetch

    folder = fetch(Path(args.to) if args.to else None, Path(args.labels))
    print(f"PolNeAR copy ready at {folder}")
    return 0


def _data_validate(args) -> int:
    from pathlib import Path

    from newsstance.data.validate import validate_data
    from newsstance.labels import LABELS

    report = validate_data(Path(args.path))
    for name, counts in report.counts.items():
        total = sum(counts.values())
        shares = "  ".join(f"{l} {counts[l]} ({counts[l] / total:.0%})" for l in LABELS)
        print(f"{name:>14}: {total:5d} sentences  {shares}")
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        print(f"{len(report.problems)} problem(s)", file=sys.stderr)
        return 1
    print("ok")
    return 0


def _annotate_select(args) -> int:
    from pathlib import Path

    from newsstance.annotation.select import SelectOptions, select_tasks

    options = SelectOptions(
        paths=args.paths, output=Path(args.output), n=args.n, model=args.model, strategy=args.strategy,
        measure=args.measure, per_article_max=args.per_article_max, seed=args.seed, format=args.format,
        exclude=args.exclude, overwrite=args.overwrite, backend=args.backend, batch_size=args.batch_size,
        fields=fields(args),
    )
    result = select_tasks(options)
    reasons = ", ".join(f"{n} by {reason}" for reason, n in result.by_reason.items())
    print(f"{result.tasks} tasks ({reasons}) from {result.sentences} sentences in {result.articles} articles -> {result.written[0]}")
    if result.tasks < args.n:
        print(f"  only {result.tasks} of the {args.n} asked for: the rest is capped by --per-article-max, duplicated or excluded")
    if result.excluded:
        print(f"  {result.excluded} sentence(s) skipped: already labelled in {', '.join(args.exclude)}")
    if result.duplicates:
        print(f"  {result.duplicates} repeated sentence(s) offered once")
    if result.unreadable:
        print(f"  {result.unreadable} article(s) could not be read (see the warnings above)")
    if len(result.written) > 1:
        print(f"  Label Studio labelling config: {result.written[1]}\n  (create a project, paste it under Settings > "
              f"Labeling Interface > Code, import {result.written[0]}; export as JSON when done)")
    return 0


def _annotate_import(args) -> int:
    from newsstance.annotation.importer import import_annotations

    result = import_annotations(args.export, args.output, args.articles, overwrite=args.overwrite,
                                skip_unlabelled=args.skip_unlabelled,
                                fields=fields(args))
    print(f"{result.rows} labelled sentences -> {result.output}")
    print(f"  offsets checked against the article text: {result.checked}" +
          (f"; not checked (article file not found, pass --articles): {result.unchecked}" if result.unchecked else ""))
    if result.skipped:
        print(f"  {result.skipped} unlabelled task(s) left out")
    print(f"  train on it: add `- {result.output}` under data.train in your config")
    return 0


def add_commands(sub) -> None:
    data = sub.add_parser("data", help="corpus and real-news data").add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("fetch", help="make a verified PolNeAR copy available")
    p.add_argument("dataset", choices=["polnear"])
    p.add_argument("--to", help="copy or download into this folder (default: a cache folder)")
    p.add_argument("--labels", default="data/external", help="folder with the PolNeAR labels and manifest")
    p.set_defaults(func=_data_fetch)
    p = data.add_parser("validate", help="check the corpus and label files: schema, offsets, leakage")
    p.add_argument("path", nargs="?", default="data", help="data folder (default: data)")
    p.set_defaults(func=_data_validate)

    from newsstance.annotation import MEASURES, PER_ARTICLE_MAX, STRATEGIES
    from newsstance.annotation.tasks import TASK_FORMATS
    from newsstance.defaults import BATCH_SIZE, SEED

    annotate = sub.add_parser("annotate", help="pick sentences to label from your own news, and import the labels").add_subparsers(
        dest="annotate_command", required=True, metavar="ACTION")
    p = annotate.add_parser("select", help="the sentences the model is least sure of (or a random draw) as annotation tasks")
    p.add_argument("paths", nargs="+", help="unlabelled article files or folders (.txt .md .html .json .jsonl .csv)")
    p.add_argument("-n", type=int, required=True, help="how many sentences to pick")
    p.add_argument("-o", "--output", required=True, help="task file: .jsonl, .csv or .json (Label Studio: .json with --format labelstudio)")
    p.add_argument("--model", help="model folder (default: $NEWSSTANCE_MODEL, else models/default)")
    p.add_argument("--strategy", choices=STRATEGIES, default=STRATEGIES[0], help="uncertainty, random, or mixed: half each (default: %(default)s)")
    p.add_argument("--measure", choices=MEASURES, default=MEASURES[0], help="uncertainty measure (default: %(default)s)")
    p.add_argument("--per-article-max", type=int, default=PER_ARTICLE_MAX, metavar="K", help="at most K sentences per article (default: %(default)s)")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the random draw (default: %(default)s)")
    p.add_argument("--format", choices=TASK_FORMATS, help="default: from the output's extension")
    p.add_argument("--exclude", action="append", default=[], metavar="TABLE",
                   help="skip sentences already labelled in this table or task file (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing task file")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    add_field_options(p)
    p.set_defaults(func=_annotate_select)
    p = annotate.add_parser("import", help="a Label Studio export or a filled task file -> a sentence table for training")
    p.add_argument("export", help="Label Studio JSON export, or the .jsonl/.csv/.json from `annotate select` with labels filled")
    p.add_argument("-o", "--output", required=True, help="sentence table: .jsonl, .csv or .parquet")
    p.add_argument("--articles", nargs="+", metavar="PATH", help="the article files or folders, to check offsets (default: each task's path)")
    p.add_argument("--skip-unlabelled", action="store_true", help="leave out tasks without a label instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace an existing table")
    add_field_options(p)
    p.set_defaults(func=_annotate_import)
