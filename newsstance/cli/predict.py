"""`newsstance predict`: label every sentence of article files and folders, in this process (the
local engine, prediction.batch) or on a Ray cluster (distributed)."""

from __future__ import annotations

from newsstance.cli.options import add_device_options, add_field_options, fields, probability, whole_number
from newsstance.errors import NewsstanceError


def _predict(args) -> int:
    from newsstance.prediction.batch import PredictOptions, run_predict

    if args.engine == "ray":
        return _predict_ray(args)
    if args.address or args.workers != 1:
        raise NewsstanceError("--address and --workers apply to --engine ray; add it, or leave them out")

    options = PredictOptions(
        paths=args.paths, output=args.output, model=args.model, format=args.format, summary=args.summary,
        html=args.html, resume=args.resume, overwrite=args.overwrite, batch_size=args.batch_size,
        backend=args.backend, quantize=args.quantize, min_confidence=args.min_confidence,
        fields=fields(args), threads=args.threads,
        max_bytes=args.max_bytes, device=args.device, dtype=args.dtype,
    )
    stats = run_predict(options)
    print(f"{stats.articles} articles, {stats.sentences} sentences -> {args.output}")
    if stats.resumed_articles:
        print(f"  ({stats.resumed_articles} articles were already done before --resume)")
    if stats.skipped_unsupported:
        print(f"  skipped {stats.skipped_unsupported} unsupported file(s)")
    if stats.excluded_outputs:
        print(f"  skipped {stats.excluded_outputs} of newsstance's own output file(s)")
    if stats.duplicates:
        print(f"  skipped {stats.duplicates} duplicate input(s) (the same file reached twice)")
    if stats.unreadable:
        print(f"  skipped {stats.unreadable} folder(s) or file(s) that could not be listed (see the warnings above)")
    if stats.errors:
        print(f"  {stats.errors} article(s) could not be read: see {args.output}.errors.jsonl")
    if stats.agreement_with_torch_fp32 is not None:
        print(f"  label agreement with the fp32 torch path: {stats.agreement_with_torch_fp32:.1%}")
    return 0


def _predict_ray(args) -> int:
    from newsstance.distributed import RayOptions, run_ray_predict

    local_only = [flag for flag, value in (("--format", args.format), ("--summary", args.summary), ("--html", args.html),
                                           ("--backend onnx", args.backend != "torch"), ("--quantize", args.quantize))
                  if value]
    if local_only:
        raise NewsstanceError(f"{', '.join(local_only)}: not available with --engine ray, which writes Parquet sentence, "
                              "summary and error files into the -o folder")
    counts = run_ray_predict(RayOptions(
        paths=args.paths, output=args.output, model=args.model, address=args.address, workers=args.workers,
        batch_size=args.batch_size, threads=args.threads, device=args.device,
        dtype=args.dtype, min_confidence=args.min_confidence, fields=fields(args), max_bytes=args.max_bytes,
        resume=args.resume, overwrite=args.overwrite))
    print(f"{counts['articles']} articles, {counts['sentences']} sentences -> {args.output}/sentences/")
    if counts["resumed_files"]:
        print(f"  ({counts['resumed_files']} files were already done before --resume)")
    if counts["errors"]:
        print(f"  {counts['errors']} file(s) or record(s) could not be read: see {args.output}/errors/")
    return 0


def add_commands(sub) -> None:
    from newsstance.defaults import ARTICLE_SUFFIXES, BATCH_SIZE, MAX_ARTICLE_BYTES, OUTPUT_FORMATS

    p = sub.add_parser("predict", help="label every sentence of article files and folders")
    p.add_argument("paths", nargs="+", help=f"article files or folders ({' '.join(ARTICLE_SUFFIXES)})")
    p.add_argument("-o", "--output", required=True,
                   help=f"predictions file ({', '.join('.' + f for f in OUTPUT_FORMATS)}); its run files are named after it")
    p.add_argument("--model", help="model folder (default: $NEWSSTANCE_MODEL, else models/default)")
    p.add_argument("--format", choices=OUTPUT_FORMATS, help="default: from the output's extension (they must agree)")
    p.add_argument("--summary", help="per-article summary CSV")
    p.add_argument("--html", metavar="DIR", help="write a self-contained HTML report into DIR (new, empty, or an earlier report)")
    p.add_argument("--resume", action="store_true", help="continue (or finish) an interrupted run of the same command")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--batch-size", type=whole_number, default=BATCH_SIZE, help=f"sentences per batch (default: {BATCH_SIZE})")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--quantize", choices=["int8"], help="int8 dynamic quantization (with --backend onnx)")
    p.add_argument("--min-confidence", type=probability, help="mark sentences under this score uncertain, 0 to 1 (default: the model's)")
    add_field_options(p)
    p.add_argument("--threads", type=whole_number, help="CPU threads for inference")
    add_device_options(p)
    p.add_argument("--max-bytes", type=whole_number, default=MAX_ARTICLE_BYTES,
                   help=f"skip (and record) article files larger than this (default: {MAX_ARTICLE_BYTES})")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process; ray: a Ray cluster, -o is a folder of Parquet files (needs newsstance[ray])")
    p.add_argument("--address", help="with --engine ray: auto (a running cluster) or ray://HOST:PORT; default: a local Ray instance")
    p.add_argument("--workers", type=whole_number, default=1, help="with --engine ray: model actors (default: 1)")
    p.set_defaults(func=_predict)
