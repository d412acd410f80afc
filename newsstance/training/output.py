"""The run folder a training writes: its checks before training (never mix two runs in one
folder, never lose an unfinished one) and its checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from newsstance.config import Config
from newsstance.errors import OutputExistsError

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint in `out`, or None. The Trainer writes trainer_state.json
    last, so a checkpoint folder without it was cut off while saving and cannot be resumed."""
    found = [p for p in (out / CHECKPOINTS).glob("checkpoint-*")
             if p.name.rpartition("-")[2].isdigit() and (p / "trainer_state.json").is_file()]
    return max(found, key=lambda p: int(p.name.rpartition("-")[2]), default=None)


def check_output(cfg: Config, out: Path, resume: bool, overwrite: bool) -> bool:
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
