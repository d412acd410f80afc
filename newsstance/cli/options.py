"""Argument types and option groups shared by several commands (defined once)."""

from __future__ import annotations

import argparse


def whole_number(text: str) -> int:
    """argparse type: an integer >= 1, with a message that says so."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def probability(text: str) -> float:
    """argparse type: a number from 0 to 1 (not NaN)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:  # False for NaN too
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value


def add_device_options(p: argparse.ArgumentParser) -> None:
    """--device and --dtype, for every command that runs a model."""
    from newsstance.devices import DEFAULT_DEVICE, DEFAULT_DTYPE, DTYPES

    p.add_argument("--device", default=DEFAULT_DEVICE, metavar="DEVICE",
                   help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (default: %(default)s)")
    p.add_argument("--dtype", choices=DTYPES, default=DEFAULT_DTYPE,
                   help="auto: bfloat16/float16 on a GPU that supports it, float32 on the CPU (default: %(default)s)")


def add_field_options(p: argparse.ArgumentParser) -> None:
    """Where JSON/JSONL/CSV articles keep their id, title and text."""
    p.add_argument("--id-field", default="id", help="article id field in JSON/JSONL/CSV articles")
    p.add_argument("--title-field", default="title", help="title field in JSON/JSONL/CSV articles")
    p.add_argument("--text-field", default="text", help="text field in JSON/JSONL/CSV articles")


def fields(args):
    """The field options as the readers take them."""
    from newsstance.prediction.readers import Fields

    return Fields(id=args.id_field, title=args.title_field, text=args.text_field)
