"""The processes of a multi-process run (torchrun, `accelerate launch`): how many, each one's
share of a batch, and the points where they wait for each other."""

from __future__ import annotations

import os
from datetime import timedelta

from newsstance.config import Config
from newsstance.errors import ConfigError

# how long the other processes wait for the main one to save, calibrate and evaluate; longer
# than the process group's own timeout (30 min), which a large evaluation can outlast
WAIT_FOR_MAIN = timedelta(hours=24)


def world_size() -> int:
    """How many processes train together: torchrun and `accelerate launch` set WORLD_SIZE in
    each one; a plain `newsstance train` is one process."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def per_process_batch(cfg: Config, processes: int) -> int:
    """training.batch_size is one step's batch over all processes; each takes an equal share."""
    size = cfg.training.batch_size
    if size % processes:
        raise ConfigError([f"training.batch_size: expected a multiple of the {processes} processes (it is the "
                           f"batch of one step over all of them, split evenly), got {size}; set it to "
                           f"{max(processes, size - size % processes)} or {size - size % processes + processes}"])
    return size // processes


def barrier(group=None) -> None:
    """Wait until every process of a multi-process run is here; nothing in a single process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier(group=group)


def wait_group():
    """A CPU (gloo) group with a long timeout for the processes that wait while the main one
    finishes the run: on GPUs they then wait on the CPU, not inside a NCCL timeout. None in a
    single process. Every process must call this at the same point."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    return dist.new_group(backend="gloo", timeout=WAIT_FOR_MAIN)
