"""The command line: parse, load, dispatch, map errors to exit codes. No stage logic here."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from newsstance.errors import NewsstanceError


def _train(args) -> int:
    from newsstance.config import load_config
    from newsstance.training.run import train

    cfg = load_config(args.config, args.set)
    out = train(cfg, resume=args.resume, overwrite=args.overwrite or None)
    metrics = json.loads((out / "metrics.json").read_text())
    print(f"model written to {out}/")
    for split, f1 in metrics["headline"].items():
        print(f"  {split:>12}: macro-F1 {f1:.3f}")
    return 0


def _validate_config(args) -> int:
    from newsstance.config import load_config

    for path in args.config:
        load_config(path, args.set)
        print(f"{path}: ok")
    return 0


def _evaluate(args) -> int:
    from newsstance.evaluation.report import evaluate_model

    results = evaluate_model(args.model, args.data, args.out)
    for split, systems in results.items():
        if split == "report_dir":
            continue
        for system, m in systems.items():
            print(f"{split} {system:>13}: macro-F1 {m['macro_f1']:.3f}  accuracy {m['accuracy']:.3f}  (n={m['n']})")
    print(f"report: {results['report_dir']}/report.md")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsstance", description="Whose voice each sentence of a news article carries.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="fine-tune a model from a YAML config")
    p.add_argument("config", help="YAML config, e.g. configs/default.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. training.learning_rate=3e-5")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an output folder that holds another run")
    p.set_defaults(func=_train)

    p = sub.add_parser("validate-config", help="check configs and report every problem")
    p.add_argument("config", nargs="+")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_validate_config)

    p = sub.add_parser("evaluate", help="evaluate a model folder on a labelled sentence table")
    p.add_argument("model", help="model folder written by `newsstance train`")
    p.add_argument("data", help="sentence table (JSONL, CSV or Parquet) with text and label")
    p.add_argument("--out", help="report folder (default: MODEL/evaluation/DATA_NAME)")
    p.set_defaults(func=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except NewsstanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
