"""The command line: parse, load, dispatch, map errors to exit codes. No stage logic here."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from newsstance.cli_models import add_commands as add_model_commands
from newsstance.errors import NewsstanceError


def _train(args) -> int:
    from newsstance.config import load_config
    from newsstance.training.run import train

    cfg = load_config(args.config, args.set)
    try:
        out = train(cfg, resume=args.resume, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(_train_interrupted(args, cfg), file=sys.stderr)
        return 130
    import os

    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 wrote (and reports) the model
        return 0
    metrics = json.loads((out / "metrics.json").read_text())
    print(f"model written to {out}/")
    for split, f1 in metrics["headline"].items():
        print(f"  {split:>12}: macro-F1 {f1:.3f}")
    return 0


def _train_interrupted(args, cfg) -> str:
    """What to do after Ctrl-C, from what the run left on disk: --resume only if it can work."""
    import shlex
    from pathlib import Path

    from newsstance.training.run import latest_checkpoint

    out = Path(cfg.output.dir)
    command = " ".join(["newsstance train", shlex.quote(args.config), *(f"--set {shlex.quote(s)}" for s in args.set)])
    checkpoint = latest_checkpoint(out)
    if (out / "metrics.json").exists() and (out / "run.yaml").exists():
        return f"interrupted after training had finished; the model in {out}/ is complete"
    if checkpoint is not None:
        return f"interrupted; continue from the last checkpoint ({out / 'checkpoints' / checkpoint.name}) with:\n  {command} --resume"
    again = command + (" --overwrite" if args.overwrite else "")
    return f"interrupted before the first checkpoint was saved, so there is nothing to resume; start again with:\n  {again}"


def _validate_config(args) -> int:
    from newsstance.config import load_config
    from newsstance.errors import ConfigError

    problems = []  # every file is checked; all problems are reported together
    for path in args.config:
        try:
            load_config(path, args.set)
        except ConfigError as exc:
            problems += exc.problems
            continue
        print(f"{path}: ok")
    if problems:
        raise ConfigError(problems)
    return 0


def _init_config(args) -> int:
    from newsstance.config import write_shipped_config

    out = write_shipped_config(args.name, args.output, overwrite=args.overwrite)
    print(f"wrote {out} (a copy of the shipped {args.name}.yaml). Its data paths are relative to the folder you run "
          f"newsstance from: edit them, then check with `newsstance validate-config {out}` and train with "
          f"`newsstance train {out}`")
    return 0


def _evaluate(args) -> int:
    from newsstance.evaluation.report import evaluate_model

    results = evaluate_model(args.model, args.data, args.out, split=args.split, slices=args.slices,
                             ablation=args.ablation or (), device=args.device, dtype=args.dtype)
    for split, scores in results["splits"].items():
        n = scores.pop("n")
        print(f"{split} ({n} sentences): " + "  ".join(f"{system} {f1:.3f}" for system, f1 in scores.items()) + "  (macro-F1)")
    for name, reason in results["skipped"].items():
        print(f"{name}: skipped ({reason})")
    for note in results["notes"]:
        print(f"note: {note}")
    print(f"report: {results['report_dir']}/report.md")
    return 0


def _fields(args):
    """The --id-field/--title-field/--text-field options of predict and annotate."""
    from newsstance.prediction.readers import Fields

    return Fields(id=args.id_field, title=args.title_field, text=args.text_field)


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
        fields=_fields(args), threads=args.threads,
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
        dtype=args.dtype, min_confidence=args.min_confidence, fields=_fields(args), max_bytes=args.max_bytes,
        resume=args.resume, overwrite=args.overwrite))
    print(f"{counts['articles']} articles, {counts['sentences']} sentences -> {args.output}/sentences/")
    if counts["resumed_files"]:
        print(f"  ({counts['resumed_files']} files were already done before --resume)")
    if counts["errors"]:
        print(f"  {counts['errors']} file(s) or record(s) could not be read: see {args.output}/errors/")
    return 0


def _whole_number(text: str) -> int:
    """argparse type: an integer >= 1, with a message that says so."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _probability(text: str) -> float:
    """argparse type: a number from 0 to 1 (not NaN)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:  # False for NaN too
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value


def _audit(args) -> int:
    from pathlib import Path

    from newsstance.config import load_config
    from newsstance.training.audit import ISSUES_FILE, audit

    result = audit(load_config(args.config, args.set), Path(args.output), folds=args.folds, overwrite=args.overwrite)
    print(f"{result.rows} training labels, {args.folds} folds by article: out-of-fold macro-F1 {result.oof_macro_f1:.3f}")
    print(f"{result.flagged} flagged as likely label errors ("
          + ", ".join(f"{label} {n}" for label, n in result.by_label.items()) + ")")
    print(f"review them, most likely first: {result.folder / ISSUES_FILE}")
    return 0


def _compare(args) -> int:
    from pathlib import Path

    from newsstance.evaluation.compare import compare_runs

    table = compare_runs([Path(r) for r in args.runs])
    if args.out:
        from newsstance.files import write_atomic

        write_atomic(Path(args.out), table)
    print(table, end="")
    return 0


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
        fields=_fields(args),
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
                                fields=_fields(args))
    print(f"{result.rows} labelled sentences -> {result.output}")
    print(f"  offsets checked against the article text: {result.checked}" +
          (f"; not checked (article file not found, pass --articles): {result.unchecked}" if result.unchecked else ""))
    if result.skipped:
        print(f"  {result.skipped} unlabelled task(s) left out")
    print(f"  train on it: add `- {result.output}` under data.train in your config")
    return 0


def _serve(args) -> int:
    import os

    from newsstance.serve.server import serve
    from newsstance.serve.settings import TOKEN_ENV, ServeSettings

    names = ("model", "host", "port", "backend", "quantize", "threads", "max_batch", "max_wait_ms", "workers",
             "max_queue", "max_body_bytes", "max_texts", "max_text_chars", "max_article_chars")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    settings = ServeSettings(**given, token=os.environ.get(TOKEN_ENV), cors_origins=tuple(args.cors_origin))
    try:
        serve(settings, access_log=args.access_log)
    except KeyboardInterrupt:  # Ctrl-C after a graceful shutdown: a normal way to stop a server
        print("stopped", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsstance", description="Whose voice each sentence of a news article carries.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="fine-tune a model from a YAML config")
    p.add_argument("config", help="YAML config, e.g. configs/default.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. training.learning_rate=3e-5")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last checkpoint (even with output.overwrite: true)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in output.dir, even an unfinished one with checkpoints")
    p.set_defaults(func=_train)

    p = sub.add_parser("validate-config", help="check configs and report every problem")
    p.add_argument("config", nargs="+", help="YAML configs; every problem in every file is reported")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key in each config")
    p.set_defaults(func=_validate_config)

    p = sub.add_parser("init-config", help="write a copy of a shipped config to edit")
    p.add_argument("name", nargs="?", default="default", help="a shipped config (default: default); an unknown name lists them")
    p.add_argument("-o", "--output", metavar="PATH", help="file or folder to write (default: NAME.yaml here)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=_init_config)

    p = sub.add_parser("evaluate", help="evaluate a model folder on a labelled sentence table")
    p.add_argument("model", help="model folder written by `newsstance train`")
    p.add_argument("data", nargs="?", help="sentence table (JSONL, CSV, Parquet) or PolNeAR label file; default: every set in MODEL/run.yaml")
    p.add_argument("--split", help="evaluate only rows whose `split` column has this value")
    p.add_argument("--slices", nargs="+", metavar="COLUMN", help="slice by these columns (default: all metadata, quoted, position)")
    p.add_argument("--out", help="report folder (default: MODEL/evaluation[/DATA_NAME])")
    p.add_argument("--ablation", nargs="+", metavar="RUN", help="add a comparison with these runs (e.g. models/context) to the report")
    from newsstance.devices import DEFAULT_DEVICE, DEFAULT_DTYPE, DTYPES

    p.add_argument("--device", default=DEFAULT_DEVICE, metavar="DEVICE",
                   help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (default: %(default)s)")
    p.add_argument("--dtype", choices=DTYPES, default=DEFAULT_DTYPE,
                   help="auto: bfloat16/float16 on a GPU that supports it, float32 on the CPU (default: %(default)s)")
    p.set_defaults(func=_evaluate)

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
    p.add_argument("--batch-size", type=_whole_number, default=BATCH_SIZE, help=f"sentences per batch (default: {BATCH_SIZE})")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--quantize", choices=["int8"], help="int8 dynamic quantization (with --backend onnx)")
    p.add_argument("--min-confidence", type=_probability, help="mark sentences under this score uncertain, 0 to 1 (default: the model's)")
    p.add_argument("--id-field", default="id", help="article id field in JSON/JSONL/CSV")
    p.add_argument("--title-field", default="title", help="title field in JSON/JSONL/CSV")
    p.add_argument("--text-field", default="text", help="text field in JSON/JSONL/CSV")
    p.add_argument("--threads", type=_whole_number, help="CPU threads for inference")
    p.add_argument("--device", default=DEFAULT_DEVICE, metavar="DEVICE",
                   help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (default: %(default)s)")
    p.add_argument("--dtype", choices=DTYPES, default=DEFAULT_DTYPE,
                   help="auto: bfloat16/float16 on a GPU that supports it, float32 on the CPU (default: %(default)s)")
    p.add_argument("--max-bytes", type=_whole_number, default=MAX_ARTICLE_BYTES,
                   help=f"skip (and record) article files larger than this (default: {MAX_ARTICLE_BYTES})")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process; ray: a Ray cluster, -o is a folder of Parquet files (needs newsstance[ray])")
    p.add_argument("--address", help="with --engine ray: auto (a running cluster) or ray://HOST:PORT; default: a local Ray instance")
    p.add_argument("--workers", type=_whole_number, default=1, help="with --engine ray: model actors (default: 1)")
    p.set_defaults(func=_predict)

    p = sub.add_parser("audit", help="rank likely label errors in a config's training data (cleanlab, out-of-fold)")
    p.add_argument("config", help="YAML config whose training rows are audited, e.g. configs/default.yaml")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="audit folder (fold models, label_issues.csv)")
    p.add_argument("--folds", type=int, default=5, help="folds by article (default: 5)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. training.epochs=2.0")
    p.add_argument("--overwrite", action="store_true", help="run again over a finished audit")
    p.set_defaults(func=_audit)

    p = sub.add_parser("compare", help="several runs' metrics, CIs and calibration side by side")
    p.add_argument("runs", nargs="+", help="model folders with an evaluation/ report")
    p.add_argument("--out", help="also write the Markdown table to this file")
    p.set_defaults(func=_compare)

    from newsstance.serve.settings import TOKEN_ENV, ServeSettings as S  # defaults live there only

    p = sub.add_parser("serve", help="an HTTP API over a model, with dynamic batching (needs newsstance[serve])")
    p.add_argument("--model", help="model folder (default: $NEWSSTANCE_MODEL, else models/default)")
    p.add_argument("--host", help=f"address to listen on (default: {S.host}, this machine only)")
    p.add_argument("--port", type=int, help=f"port (default: {S.port}; 0: any free port)")
    p.add_argument("--backend", choices=["torch", "onnx"], help=f"default: {S.backend}")
    p.add_argument("--quantize", choices=["int8"], help="int8 dynamic quantization (with --backend onnx)")
    p.add_argument("--threads", type=_whole_number, help="CPU threads for inference")
    p.add_argument("--max-batch", type=_whole_number, help=f"sentences per model batch, at most (default: {S.max_batch})")
    p.add_argument("--max-wait-ms", type=float,
                   help=f"how long a queued sentence waits for others to batch with, at most (default: {S.max_wait_ms:g})")
    p.add_argument("--workers", type=_whole_number, help=f"inference threads (default: {S.workers})")
    p.add_argument("--max-queue", type=_whole_number,
                   help=f"requests waiting for the model; more get 503 + Retry-After (default: {S.max_queue})")
    p.add_argument("--max-body-bytes", type=_whole_number, help=f"request body size (default: {S.max_body_bytes})")
    p.add_argument("--max-texts", type=_whole_number, help=f"texts per /v1/classify request (default: {S.max_texts})")
    p.add_argument("--max-text-chars", type=_whole_number, help=f"characters per text (default: {S.max_text_chars})")
    p.add_argument("--max-article-chars", type=_whole_number,
                   help=f"characters per /v1/analyze article (default: {S.max_article_chars})")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (repeatable; default: CORS off)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.epilog = f"Set {TOKEN_ENV} to require `Authorization: Bearer TOKEN` on every endpoint but /healthz."
    p.set_defaults(func=_serve)

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
    p.add_argument("--id-field", default="id", help="article id field in JSON/JSONL/CSV")
    p.add_argument("--title-field", default="title", help="title field in JSON/JSONL/CSV")
    p.add_argument("--text-field", default="text", help="text field in JSON/JSONL/CSV")
    p.set_defaults(func=_annotate_select)
    p = annotate.add_parser("import", help="a Label Studio export or a filled task file -> a sentence table for training")
    p.add_argument("export", help="Label Studio JSON export, or the .jsonl/.csv/.json from `annotate select` with labels filled")
    p.add_argument("-o", "--output", required=True, help="sentence table: .jsonl, .csv or .parquet")
    p.add_argument("--articles", nargs="+", metavar="PATH", help="the article files or folders, to check offsets (default: each task's path)")
    p.add_argument("--skip-unlabelled", action="store_true", help="leave out tasks without a label instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace an existing table")
    p.add_argument("--id-field", default="id", help="article id field in JSON/JSONL/CSV articles")
    p.add_argument("--title-field", default="title", help="title field in JSON/JSONL/CSV articles")
    p.add_argument("--text-field", default="text", help="text field in JSON/JSONL/CSV articles")
    p.set_defaults(func=_annotate_import)
    add_model_commands(sub, _whole_number)
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


if __name__ == "__main__":
    sys.exit(main())
