"""`newsstance train`, `validate-config`, `init-config`, `evaluate`, `audit` and `compare`: a model's
life from a YAML config to its evaluation report."""

from __future__ import annotations

import json
import os
import sys

from newsstance.cli.options import add_device_options


def _train(args) -> int:
    from newsstance.config import load_config
    from newsstance.training.run import train

    cfg = load_config(args.config, args.set)
    try:
        out = train(cfg, resume=args.resume, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(_train_interrupted(args, cfg), file=sys.stderr)
        return 130
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

    from newsstance.training.output import latest_checkpoint

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


def add_commands(sub) -> None:
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
    add_device_options(p)
    p.set_defaults(func=_evaluate)

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
