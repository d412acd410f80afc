"""`train(cfg)`: read the data, fine-tune with the Trainer, calibrate, evaluate, and leave a
self-describing model folder. Reads top-down: prepare, fit, save, evaluate, describe."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from newsstance.config import Config
from newsstance.data.context import contexts, tokenize
from newsstance.data.splits import load_splits
from newsstance.errors import OutputExistsError
from newsstance.labels import LABEL2ID, LABELS
from newsstance.files import write_atomic
from newsstance.files import write_json_atomic as write_json
from newsstance.training.provenance import data_record, versions

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint in `out`, or None. The Trainer writes trainer_state.json
    last, so a checkpoint folder without it was cut off while saving and cannot be resumed."""
    found = [p for p in (out / CHECKPOINTS).glob("checkpoint-*")
             if p.name.rpartition("-")[2].isdigit() and (p / "trainer_state.json").is_file()]
    return max(found, key=lambda p: int(p.name.rpartition("-")[2]), default=None)


def _check_output(cfg: Config, out: Path, resume: bool, overwrite: bool) -> bool:
    """Refuse to mix runs in one folder or to lose an unfinished one. Returns whether the folder
    must be cleared, which the caller does only once the data has loaded: a bad data file costs
    no model.

    `overwrite` is the caller's explicit request (--overwrite on the command line) and replaces
    anything newsstance wrote. The config's `output.overwrite` is weaker: `resume` wins over it,
    and it never discards the checkpoints of an unfinished run (run.yaml, no metrics.json)."""
    run_file = out / "run.yaml"
    if resume and overwrite:
        raise OutputExistsError(f"{out}: --resume and --overwrite exclude each other: --resume continues the "
                                "unfinished run there, --overwrite discards it; pass one of them")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: output.dir is a file; point it at a folder")
    if not out.exists() or not any(out.iterdir()):
        if resume:
            raise OutputExistsError(f"{out}: nothing to resume; run without --resume to start training")
        return False
    if not run_file.exists():
        raise OutputExistsError(f"{out}: folder exists and is not a newsstance run (no run.yaml); choose another output.dir")
    if overwrite:
        return True
    same = yaml.safe_load(run_file.read_text(encoding="utf-8")) == cfg.to_dict()
    finished = (out / "metrics.json").exists()
    checkpoint = latest_checkpoint(out)
    if resume:
        if not same:
            raise OutputExistsError(f"{out}: holds a different run (its run.yaml differs from this config); --resume "
                                    "needs the config and --set options the run was started with")
        if finished:
            raise OutputExistsError(f"{out}: already holds this finished run, nothing to resume; pass --overwrite to train it again")
        if checkpoint is None:
            logger.info("%s: no checkpoint was saved before the interruption; training starts from the beginning", out)
        return False
    if not finished and checkpoint is not None:
        config = "this config" if same else "the config it was started with (its run.yaml)"
        raise OutputExistsError(f"{out}: holds an unfinished run with a checkpoint ({checkpoint.name}); pass --resume "
                                f"with {config} to continue it, or --overwrite on the command line to discard it")
    if cfg.output.overwrite:
        return True
    if not same:
        raise OutputExistsError(f"{out}: holds a different run (its run.yaml differs from this config); pass --overwrite to replace it or set output.dir")
    if finished:
        raise OutputExistsError(f"{out}: already holds this finished run; pass --overwrite to train it again")
    return True  # this config, stopped before its first checkpoint: nothing to lose, start again


def encode(frame: pd.DataFrame, tokenizer, cfg: Config):
    """A tokenized `datasets.Dataset` with labels and a `length` column for length grouping."""
    from datasets import Dataset

    encoded = tokenize(tokenizer, list(frame["text"]), contexts(frame, cfg.model.context), cfg.model.max_length)
    columns = {k: encoded[k] for k in encoded.keys()}
    columns["labels"] = [LABEL2ID[l] for l in frame["label"]]
    columns["length"] = [len(ids) for ids in encoded["input_ids"]]
    return Dataset.from_dict(columns)


def _loss_function(cfg: Config, train: pd.DataFrame):
    """Weighted cross-entropy for class_weights, or None for the model's own loss."""
    weights = cfg.training.class_weights
    if weights == "none":
        return None, None
    import torch

    if weights == "balanced":
        counts = train["label"].value_counts()
        vector = [len(train) / (len(LABELS) * counts.get(l, 1)) for l in LABELS]
    else:
        vector = [weights.get(l, 1.0) for l in LABELS]
    tensor = torch.tensor(vector, dtype=torch.float32)

    def loss(outputs, labels, num_items_in_batch=None):
        return torch.nn.functional.cross_entropy(outputs.logits, labels, weight=tensor)

    return loss, dict(zip(LABELS, vector))


def _training_arguments(cfg: Config, out: Path):
    from transformers import TrainingArguments

    from newsstance.training.selection import selection_metric

    t = cfg.training
    metric = t.metric_for_best_model
    return TrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,  # transformers 5: a fraction < 1 means a share of the steps
        lr_scheduler_type=t.lr_scheduler,
        seed=t.seed,
        data_seed=t.seed,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        eval_strategy=t.eval_strategy,
        eval_steps=t.eval_steps,
        save_strategy=t.eval_strategy,
        save_steps=t.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=selection_metric(metric),  # the mean over training.select_on (selection.py)
        greater_is_better=metric != "loss",
        logging_steps=t.logging_steps,
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
    )


def train(cfg: Config, resume: bool = False, overwrite: bool = False, callbacks: Sequence = (),
          splits: dict[str, pd.DataFrame] | None = None, data_note: str | None = None) -> Path:
    """Fine-tune per `cfg`; returns the model folder.

    resume: continue the unfinished run in `output.dir` from its last checkpoint (wins over
    `output.overwrite`). overwrite: replace whatever run is there, even an unfinished one
    (--overwrite on the command line). callbacks: extra `TrainerCallback`s. splits: the sets
    already read (and changed, e.g. one fold of a cross-validation), with `data_note` saying how
    they differ from the config's data; it is recorded in data.json."""
    import torch
    from transformers import DataCollatorWithPadding, Trainer, set_seed

    from newsstance.evaluation.calibration import calibrate
    from newsstance.evaluation.render import write_report
    from newsstance.evaluation.report import evaluate_frames
    from newsstance.models.base import build_model, load_tokenizer
    from newsstance.models.folder import ModelSettings, attach_settings
    from newsstance.prediction import Classifier
    from newsstance.training.model_card import write_model_card
    from newsstance.training.selection import MeanOfSetsSelection

    started = time.time()
    out = Path(cfg.output.dir)
    clear = _check_output(cfg, out, resume, overwrite)
    if cfg.training.threads:
        torch.set_num_threads(cfg.training.threads)

    # prepare: data first, so a bad file fails before any model work
    if splits is None:
        splits = load_splits(cfg.data)
    elif data_note is None:
        raise ValueError("train(splits=...) needs a data_note saying how the rows differ from the config's data")
    logger.info("data: %s", {k: len(v) for k, v in splits.items()})
    tokenizer = load_tokenizer(cfg.model)
    set_seed(cfg.training.seed)  # before the classification head is created
    model = build_model(cfg.model, tokenizer)
    train_ds = encode(splits["train"], tokenizer, cfg)
    select_ds = {name: encode(splits[name], tokenizer, cfg) for name in cfg.select_on}
    loss_function, class_weights = _loss_function(cfg, splits["train"])

    if clear:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "run.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    # fit
    t = cfg.training
    callbacks = [MeanOfSetsSelection(cfg.select_on, t.metric_for_best_model, t.metric_for_best_model != "loss",
                                     t.early_stopping_patience), *callbacks]
    from newsstance.evaluation.metrics import trainer_metrics

    trainer = Trainer(
        model=model, args=_training_arguments(cfg, out), train_dataset=train_ds, eval_dataset=select_ds,
        processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=trainer_metrics, callbacks=callbacks, compute_loss_func=loss_function,
    )
    if loss_function is not None:
        # our loss is a per-micro-batch weighted mean: let the Trainer divide by the accumulation steps
        trainer.loss_is_scaled_for_ga = False
    checkpoint_dir = out / CHECKPOINTS
    checkpoint = latest_checkpoint(out) if resume else None
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    trainer_eval = trainer.evaluate()

    # save the best model with its inference settings
    settings = ModelSettings(context=cfg.model.context.model_dump(), max_length=cfg.model.max_length)
    attach_settings(trainer.model.config, settings)
    trainer.model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)

    # calibrate on validation and fold 1/T into the classification head (so a plain transformers
    # pipeline or ONNX gives the calibrated scores too), then evaluate every split through the
    # inference path
    from newsstance.models.folder import save_calibration

    classifier = Classifier.load(out)
    pooled = pd.concat([splits[name] for name in cfg.fit_on], ignore_index=True)  # calibration.fit_on
    pooled_logits = classifier.logits(list(pooled["text"]), classifier.contexts(len(pooled), list(pooled["previous"]), list(pooled["headline"])))
    calibration = calibrate(pooled_logits, np.array([LABEL2ID[l] for l in pooled["label"]]))
    calibration["fit_on"] = list(cfg.fit_on)
    classifier.settings = save_calibration(out, classifier.model, calibration["temperature"], calibration["min_confidence"])
    eval_frames = {name: frame for name, frame in splits.items() if name != "train" and len(frame)}
    results = evaluate_frames(classifier, eval_frames, splits["train"], cfg.evaluation.baselines,
                              cfg.evaluation.batch_size, cfg.training.seed)
    write_report(results, out / "evaluation", out.name, cfg.evaluation.confusion_matrix_png)

    # describe
    elapsed = time.time() - started
    write_json(out / "data.json", {**data_record(cfg, splits), **({"note": data_note} if data_note else {})})
    write_json(out / "environment.json", {
        "versions": versions(), "seed": cfg.training.seed, "class_weights": class_weights,
        "train_seconds": round(elapsed, 1), "epochs_run": trainer.state.epoch,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "selected_on": {"sets": list(cfg.select_on), "metric": cfg.training.metric_for_best_model,
                        "best_mean": trainer.state.best_metric},
    })
    write_model_card(out, cfg, results, calibration, splits)
    write_json(out / "metrics.json", {
        "headline": {s: r["systems"]["model"]["macro_f1"] for s, r in results.items()},
        "splits": {s: {k: v for k, v in r["systems"]["model"].items()} for s, r in results.items()},
        "baselines": {s: {k: v["macro_f1"] for k, v in r["systems"].items() if k != "model"} for s, r in results.items()},
        "ece": {s: r["calibration"]["ece"] for s, r in results.items()},
        "calibration": calibration, "trainer_validation": trainer_eval,
    })
    if not cfg.output.keep_checkpoints:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    logger.info("model written to %s in %.0f s", out, elapsed)
    return out
