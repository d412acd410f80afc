"""The command line: parse, load, dispatch, map errors to exit codes. No stage logic here.

Each module of this package registers the commands of one stage on the parser:
train (train, validate-config, init-config, evaluate, audit, compare), predict, serve,
data (data, annotate) and models (models, distill)."""

from __future__ import annotations

import argparse
import logging
import sys

from newsstance.cli import data, models, predict, serve, train
from newsstance.errors import NewsstanceError

COMMAND_MODULES = (train, predict, serve, data, models)  # the order of `newsstance --help`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsstance", description="Whose voice each sentence of a news article carries.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except NewsstanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # train and predict say themselves whether --resume can continue
        print("interrupted", file=sys.stderr)
        return 130
