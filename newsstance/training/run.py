"""`train(cfg)`: read the data, fine-tune with the Trainer, calibrate, evaluate, and leave a
self-describing model folder. Reads top-down: prepare, fit, save, evaluate, describe.

One process or several: under `torchrun --nproc_per_node=N -m newsstance train CONFIG` (or
`accelerate launch`) the Trainer runs PyTorch DDP, each process training on its shard of every
batch. `training.batch_size` is the batch of one step over all processes, so N processes take
the same steps, schedule and epochs as one. Every process checks the output folder; only the
main one (rank 0) changes it: it clears it for --overwrite, writes run.yaml, the checkpoints,
the model, the calibration, the evaluation report, the model card and the run's records, while
the others wait at a barrier and then return."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from newsstance.config import Config
from newsstance.data.context import contexts, tokenize
from newsstance.data.soft import gold_rows, soft_mask
from newsstance.data.splits import load_splits
from newsstance.labels import LABEL2ID, LABELS
from newsstance.files import write_atomic
from newsstance.files import write_json_atomic as write_json
from newsstance.training.distill import check_teacher, distill_loss, label_rows, prepare_train
from newsstance.training.distill import describe as describe_distill
from newsstance.training.output import CHECKPOINTS, check_output, latest_checkpoint
from newsstance.training.processes import barrier, per_process_batch, wait_group, world_size
from newsstance.training.provenance import data_record, versions

logger = logging.getLogger(__name__)

def encode(frame: pd.DataFrame, tokenizer, cfg: Config):
    """A tokenized `datasets.Dataset` with labels and a `length` column for length grouping."""
    from datasets import Dataset

    encoded = tokenize(tokenizer, list(frame["text"]), contexts(frame, cfg.model.context), cfg.model.max_length)
    columns = {k: encoded[k] for k in encoded.keys()}
    columns["labels"] = label_rows(frame)  # gold ids, or gold-or-soft rows (distill.py)
    columns["length"] = [len(ids) for ids in encoded["input_ids"]]
    return Dataset.from_dict(columns)


def _loss_function(cfg: Config, train: pd.DataFrame):
    """Weighted cross-entropy for class_weights, the distillation loss when the training rows
    include soft ones, or None for the model's own loss."""
    weights = cfg.training.class_weights
    distill = cfg.training.distill if soft_mask(train).any() else None
    if weights == "none":
        return (distill_loss(None, distill.alpha, distill.temperature) if distill else None), None
    import torch

    gold = gold_rows(train)  # class balance of the gold labels; soft rows carry no count
    if weights == "balanced":
        counts = gold["label"].value_counts()
        vector = [len(gold) / (len(LABELS) * counts.get(l, 1)) for l in LABELS]
    else:
        vector = [weights.get(l, 1.0) for l in LABELS]
    tensor = torch.tensor(vector, dtype=torch.float32)
    if distill:
        return distill_loss(tensor, distill.alpha, distill.temperature), dict(zip(LABELS, vector))

    def loss(outputs, labels, num_items_in_batch=None):
        # the weights go where the logits are (a GPU in training); the loss is taken in float32,
        # also when mixed precision gives bf16/fp16 logits
        logits = outputs.logits.float()
        return torch.nn.functional.cross_entropy(logits, labels, weight=tensor.to(logits.device))

    return loss, dict(zip(LABELS, vector))


def _training_arguments(cfg: Config, out: Path, device, precision: str, processes: int = 1):
    from transformers import TrainingArguments

    from newsstance.training.selection import selection_metric

    t = cfg.training
    metric = t.metric_for_best_model
    return TrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=per_process_batch(cfg, processes),
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
        # the device newsstance.devices resolved: a GPU when there is one (each process takes
        # its own under torchrun), else the CPU, where processes talk through gloo
        use_cpu=device.type == "cpu",
        ddp_backend="gloo" if device.type == "cpu" and processes > 1 else None,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        # the Trainer would multiply a custom loss by the number of processes, expecting it to be
        # summed over tokens; ours is a per-batch mean, which DDP's gradient averaging already fits
        average_tokens_across_devices=False,
        dataloader_num_workers=0,
    )


def train(cfg: Config, resume: bool = False, overwrite: bool = False, callbacks: Sequence = (),
          splits: dict[str, pd.DataFrame] | None = None, data_note: str | None = None) -> Path:
    """Fine-tune per `cfg`; returns the model folder.

    resume: continue the unfinished run in `output.dir` from its last checkpoint (wins over
    `output.overwrite`). overwrite: replace whatever run is there, even an unfinished one
    (--overwrite on the command line). callbacks: extra `TrainerCallback`s. splits: the sets
    already read (and changed, e.g. one fold of a cross-validation), with `data_note` saying how
    they differ from the config's data; it is recorded in data.json.

    Under torchrun every process calls this; only the main one writes, and every one returns the
    folder once the main one has finished it."""
    import torch
    from transformers import DataCollatorWithPadding, Trainer, set_seed

    from newsstance.devices import resolve_device, training_precision
    from newsstance.models.base import build_model, load_tokenizer
    from newsstance.training.selection import MeanOfSetsSelection

    started = time.time()
    out = Path(cfg.output.dir)
    clear = check_output(cfg, out, resume, overwrite)  # every process reads the folder; none writes yet
    processes = world_size()
    batch_share = per_process_batch(cfg, processes)
    # the kind of device every process trains on (`accelerate launch --cpu` asks for the CPU)
    device = resolve_device("cpu" if os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") else "auto")
    precision = training_precision(cfg.training.precision, device)
    if int(os.environ.get("RANK", "0")) != 0:
        logging.getLogger("newsstance").setLevel(logging.WARNING)  # the main process logs the run
    if cfg.training.threads:
        torch.set_num_threads(cfg.training.threads)

    # prepare: data first, so a bad file fails before any model work
    check_teacher(cfg)
    if splits is None:
        splits = load_splits(cfg.data)
    elif data_note is None:
        raise ValueError("train(splits=...) needs a data_note saying how the rows differ from the config's data")
    splits = {**splits, "train": prepare_train(splits["train"], cfg.training.distill)}
    logger.info("data: %s", {k: len(v) for k, v in splits.items()})
    tokenizer = load_tokenizer(cfg.model)
    set_seed(cfg.training.seed)  # before the classification head is created
    model = build_model(cfg.model, tokenizer)
    train_ds = encode(splits["train"], tokenizer, cfg)
    select_ds = {name: encode(splits[name], tokenizer, cfg) for name in cfg.select_on}
    loss_function, class_weights = _loss_function(cfg, splits["train"])

    args = _training_arguments(cfg, out, device, precision, processes)  # starts torch.distributed, if launched so
    main = args.process_index == 0
    logger.info("training on %s, %s, %d process(es) of %d sentences per step", args.device, precision,
                args.world_size, batch_share)
    barrier()  # every process has checked the folder before the main one changes it
    if main:
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
        model=model, args=args, train_dataset=train_ds, eval_dataset=select_ds,
        processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=trainer_metrics, callbacks=callbacks, compute_loss_func=loss_function,
    )
    if loss_function is not None:
        # our loss is a per-micro-batch weighted mean: let the Trainer divide by the accumulation steps
        trainer.loss_is_scaled_for_ga = False
    checkpoint = latest_checkpoint(out) if resume else None
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    trainer_eval = trainer.evaluate()  # every process takes part; each gets the gathered metrics

    wait = wait_group()
    if trainer.is_world_process_zero():
        _save_evaluate_describe(cfg, out, trainer, tokenizer, splits, trainer_eval, started, data_note, {
            "class_weights": class_weights, "world_size": args.world_size, "device": args.device.type,
            "precision": precision, "per_process_batch_size": batch_share,
            "distill": describe_distill(cfg, splits["train"]),
        })
    barrier(wait)  # the others return once the folder is complete
    return out


def _save_evaluate_describe(cfg: Config, out: Path, trainer, tokenizer, splits: dict[str, pd.DataFrame],
                            trainer_eval: dict, started: float, data_note: str | None, run_facts: dict) -> None:
    """The main process's part after training: save the best model, calibrate, evaluate every
    split, and write the records, the model card and metrics.json (last: it marks the run done)."""
    from newsstance.evaluation.calibration import calibrate
    from newsstance.evaluation.render import write_report
    from newsstance.evaluation.report import evaluate_frames
    from newsstance.models.folder import ModelSettings, attach_settings, save_calibration
    from newsstance.prediction import Classifier
    from newsstance.training.model_card import write_model_card

    # save the best model with its inference settings
    settings = ModelSettings(context=cfg.model.context.model_dump(), max_length=cfg.model.max_length)
    attach_settings(trainer.model.config, settings)
    trainer.model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)

    # calibrate on validation and fold 1/T into the classification head (so a plain transformers
    # pipeline or ONNX gives the calibrated scores too), then evaluate every split through the
    # inference path, on the training device in float32 (the weights are saved in float32)
    classifier = Classifier.load(out, device=trainer.args.device, dtype="float32")
    pooled = pd.concat([splits[name] for name in cfg.fit_on], ignore_index=True)  # calibration.fit_on
    pooled_logits = classifier.logits(list(pooled["text"]), classifier.contexts(len(pooled), list(pooled["previous"]), list(pooled["headline"])))
    calibration = calibrate(pooled_logits, np.array([LABEL2ID[l] for l in pooled["label"]]))
    calibration["fit_on"] = list(cfg.fit_on)
    classifier.settings = save_calibration(out, classifier.model, calibration["temperature"], calibration["min_confidence"])
    eval_frames = {name: frame for name, frame in splits.items() if name != "train" and len(frame)}
    results = evaluate_frames(classifier, eval_frames, gold_rows(splits["train"]), cfg.evaluation.baselines,
                              cfg.evaluation.batch_size, cfg.training.seed)
    write_report(results, out / "evaluation", out.name, cfg.evaluation.confusion_matrix_png)

    # describe
    elapsed = time.time() - started
    state = trainer.state
    write_json(out / "data.json", {**data_record(cfg, splits), **({"note": data_note} if data_note else {})})
    write_json(out / "environment.json", {
        "versions": versions(), "seed": cfg.training.seed, "class_weights": run_facts["class_weights"],
        "world_size": run_facts["world_size"], "device": run_facts["device"], "precision": run_facts["precision"],
        "per_process_batch_size": run_facts["per_process_batch_size"], "distill": run_facts["distill"],
        "train_seconds": round(elapsed, 1), "epochs_run": state.epoch,
        "best_checkpoint": state.best_model_checkpoint,
        "selected_on": {"sets": list(cfg.select_on), "metric": cfg.training.metric_for_best_model,
                        "best_mean": state.best_metric},
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
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    logger.info("model written to %s in %.0f s", out, elapsed)
