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

    results = evaluate_model(args.model, args.data, args.out, split=args.split, slices=args.slices)
    if args.ablation:
        from pathlib import Path

        from newsstance.evaluation.compare import compare_runs

        report = Path(results["report_dir"]) / "report.md"
        table = compare_runs([Path(args.model)] + [Path(r) for r in args.ablation])
        with report.open("a", encoding="utf-8") as handle:
            handle.write("\n## Ablation\n\nThe same sets, scored by each run's own saved evaluation:\n\n" + table)
    for split, scores in results["splits"].items():
        n = scores.pop("n")
        print(f"{split} ({n} sentences): " + "  ".join(f"{system} {f1:.3f}" for system, f1 in scores.items()) + "  (macro-F1)")
    for name, reason in results["skipped"].items():
        print(f"{name}: skipped ({reason})")
    print(f"report: {results['report_dir']}/report.md")
    return 0


def _predict(args) -> int:
    from newsstance.prediction.batch import PredictOptions, run_predict
    from newsstance.prediction.readers import Fields

    options = PredictOptions(
        paths=args.paths, output=args.output, model=args.model, format=args.format, summary=args.summary,
        html=args.html, resume=args.resume, overwrite=args.overwrite, batch_size=args.batch_size,
        backend=args.backend, quantize=args.quantize, min_confidence=args.min_confidence,
        fields=Fields(id=args.id_field, title=args.title_field, text=args.text_field), threads=args.threads,
        max_bytes=args.max_bytes,
    )
    stats = run_predict(options)
    print(f"{stats.articles} articles, {stats.sentences} sentences -> {args.output}")
    if stats.resumed_articles:
        print(f"  ({stats.resumed_articles} articles were already done before --resume)")
    if stats.skipped_unsupported:
        print(f"  skipped {stats.skipped_unsupported} unsupported file(s)")
    if stats.errors:
        print(f"  {stats.errors} article(s) could not be read: see {args.output}.errors.jsonl")
    if stats.agreement_with_torch_fp32 is not None:
        print(f"  label agreement with the fp32 torch path: {stats.agreement_with_torch_fp32:.1%}")
    return 0


def _compare(args) -> int:
    from pathlib import Path

    from newsstance.evaluation.compare import compare_runs

    table = compare_runs([Path(r) for r in args.runs])
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
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
    p.add_argument("data", nargs="?", help="sentence table (JSONL, CSV, Parquet) or PolNeAR label file; default: every set in MODEL/run.yaml")
    p.add_argument("--split", help="evaluate only rows whose `split` column has this value")
    p.add_argument("--slices", nargs="+", metavar="COLUMN", help="slice by these columns (default: all metadata, quoted, position)")
    p.add_argument("--out", help="report folder (default: MODEL/evaluation[/DATA_NAME])")
    p.add_argument("--ablation", nargs="+", metavar="RUN", help="add a comparison with these runs (e.g. models/context) to the report")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="label every sentence of article files and folders")
    p.add_argument("paths", nargs="+", help="article files or folders (.txt .md .html .json .jsonl .csv)")
    p.add_argument("-o", "--output", required=True, help="predictions file (.jsonl, .csv or .parquet)")
    p.add_argument("--model", help="model folder (default: $NEWSSTANCE_MODEL, else models/default)")
    p.add_argument("--format", choices=["jsonl", "csv", "parquet"], help="default: from the output's extension")
    p.add_argument("--summary", help="per-article summary CSV")
    p.add_argument("--html", metavar="DIR", help="write a self-contained HTML report into DIR")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--quantize", choices=["int8"], help="int8 dynamic quantization (with --backend onnx)")
    p.add_argument("--min-confidence", type=float, help="mark sentences under this score uncertain (default: the model's)")
    p.add_argument("--id-field", default="id", help="article id field in JSON/JSONL/CSV")
    p.add_argument("--title-field", default="title", help="title field in JSON/JSONL/CSV")
    p.add_argument("--text-field", default="text", help="text field in JSON/JSONL/CSV")
    p.add_argument("--threads", type=int, help="CPU threads for inference")
    p.add_argument("--max-bytes", type=int, default=20 * 1024 * 1024, help="skip (and record) article files larger than this")
    p.set_defaults(func=_predict)

    p = sub.add_parser("compare", help="several runs' metrics, CIs and calibration side by side")
    p.add_argument("runs", nargs="+", help="model folders with an evaluation/ report")
    p.add_argument("--out", help="also write the Markdown table to this file")
    p.set_defaults(func=_compare)

    data = sub.add_parser("data", help="corpus and real-news data").add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("fetch", help="make a verified PolNeAR copy available")
    p.add_argument("dataset", choices=["polnear"])
    p.add_argument("--to", help="copy or download into this folder (default: a cache folder)")
    p.add_argument("--labels", default="data/external", help="folder with the PolNeAR labels and manifest")
    p.set_defaults(func=_data_fetch)
    p = data.add_parser("validate", help="check the corpus and label files: schema, offsets, leakage")
    p.add_argument("path", nargs="?", default="data", help="data folder (default: data)")
    p.set_defaults(func=_data_validate)
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
