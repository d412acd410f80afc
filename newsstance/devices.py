"""Where a model runs and in what precision: one device option for inference and training.

    resolve_device("auto")             # CUDA, else Apple MPS, else CPU
    resolve_device("cuda:1")           # that GPU, or a NewsstanceError saying why not
    resolve_dtype("auto", device)      # bfloat16/float16 on a GPU that supports it, float32 on CPU
    training_precision("auto", device) # "bf16" | "fp16" | "fp32", for the Trainer's flags

Every choice is made here from torch's own availability checks (`torch.cuda.is_available`,
`torch.backends.mps.is_available`, `torch.cuda.is_bf16_supported`), so tests can patch them and
check the choice on a CPU-only machine. torch is imported on first use, not at import.
"""

from __future__ import annotations

import re
from typing import Union

from newsstance.errors import ConfigError, NewsstanceError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")  # what --device accepts (N: a GPU index)
DTYPES = ("auto", "float32", "float16", "bfloat16")  # what --dtype accepts
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # training.precision
DEFAULT_DEVICE = "auto"  # the default of Classifier.load, classify(), predict and evaluate
DEFAULT_DTYPE = "auto"

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")

__all__ = ["DEFAULT_DEVICE", "DEFAULT_DTYPE", "DEVICES", "DTYPES", "PRECISIONS", "resolve_device", "resolve_dtype", "training_precision"]


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps_available() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def _bf16_on_cuda() -> bool:
    import torch

    return torch.cuda.is_bf16_supported()


def resolve_device(device: Union[str, "torch.device", None] = "auto") -> "torch.device":  # noqa: F821
    """`auto` (or None) picks CUDA, then MPS, then the CPU; `cpu`, `cuda`, `cuda:N` and `mps`
    are checked, and one that this machine does not have is a NewsstanceError naming it."""
    import torch

    if isinstance(device, torch.device):  # e.g. a Trainer's: cpu:0 under torch.distributed, cuda:1
        device = device.type if device.type in ("cpu", "mps") else str(device)
    if device is None:
        device = "auto"
    found = _DEVICE.match(device.strip().lower()) if isinstance(device, str) else None
    if found is None or (found.group(2) is not None and found.group(1) != "cuda"):
        raise NewsstanceError(f"device: expected one of {', '.join(DEVICES)} (N: a GPU index such as cuda:1), "
                              f"got {device!r}")
    kind, index = found.group(1), found.group(2)
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")  # the current GPU (cuda:0 unless torch.cuda.set_device said otherwise)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "mps":
        if not _mps_available():
            raise NewsstanceError("device 'mps': Apple's Metal (MPS) backend is not available on this machine "
                                  "(it needs an Apple-silicon Mac and a torch built with MPS); use --device cpu, "
                                  "or --device auto to take the best device present")
        return torch.device("mps")
    count = _cuda_count()
    name = f"cuda:{index}" if index is not None else "cuda"
    if count == 0:
        build = "this torch was built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise NewsstanceError(f"device '{name}': CUDA is not available here ({build}; torch {torch.__version__}); "
                              "use --device cpu, or --device auto to take the best device present, or install a "
                              "CUDA build of torch on a machine with an NVIDIA GPU")
    if index is None:
        return torch.device("cuda")
    if int(index) >= count:
        raise NewsstanceError(f"device '{name}': this machine has {count} CUDA GPU(s), numbered cuda:0 to "
                              f"cuda:{count - 1} (after CUDA_VISIBLE_DEVICES); pick one of those")
    return torch.device("cuda", int(index))


def resolve_dtype(dtype: Union[str, "torch.dtype", None], device: "torch.device") -> "torch.dtype":  # noqa: F821
    """The inference dtype on `device`. `auto`: bfloat16 on a CUDA GPU that supports it, else
    float16 on CUDA and MPS, float32 on the CPU (half precision on a CPU is slower, not faster).
    An explicit half precision the device cannot run is a NewsstanceError."""
    import torch

    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).removeprefix("torch.")
    if dtype is None:
        dtype = "auto"
    if dtype not in DTYPES:
        raise NewsstanceError(f"dtype: expected one of {', '.join(DTYPES)}, got {dtype!r}")
    kind = torch.device(device).type
    if dtype == "auto":
        if kind == "cuda":
            return torch.bfloat16 if _bf16_on_cuda() else torch.float16
        return torch.float16 if kind == "mps" else torch.float32
    if dtype == "float32":
        return torch.float32
    if kind == "cpu":
        raise NewsstanceError(f"dtype {dtype}: half precision runs on a GPU, and this model runs on the CPU; "
                              "use --dtype float32 (or auto), or --device cuda / mps on a machine with a GPU")
    if dtype == "bfloat16" and kind == "mps":
        raise NewsstanceError("dtype bfloat16: not supported on MPS here; use --dtype float16 (or auto)")
    if dtype == "bfloat16" and not _bf16_on_cuda():
        raise NewsstanceError(f"dtype bfloat16: the GPU {device} does not support bfloat16 (it needs compute "
                              "capability 8.0 or newer); use --dtype float16 (or auto)")
    return getattr(torch, dtype)


def training_precision(precision: str, device: "torch.device", source: str = "training.precision") -> str:  # noqa: F821
    """`fp32`, `bf16` or `fp16` for the Trainer on `device` (the kind the run's processes use).

    auto: bf16 on a CUDA GPU that supports it, else fp16 on CUDA, fp32 elsewhere (CPU and MPS,
    where the Trainer's mixed precision gains little or is unsupported). An explicit bf16/fp16
    that the device cannot train in is a ConfigError naming `source`."""
    import torch

    if precision not in PRECISIONS:
        raise ConfigError([f"{source}: expected one of {', '.join(PRECISIONS)}, got {precision!r}"])
    kind = torch.device(device).type
    if precision == "auto":
        if kind != "cuda":
            return "fp32"
        return "bf16" if _bf16_on_cuda() else "fp16"
    if precision == "fp32":
        return "fp32"
    if kind != "cuda":
        raise ConfigError([f"{source}: expected a precision this machine can train in, got {precision} while "
                           f"training runs on {kind} (mixed precision needs a CUDA GPU); set it to auto or fp32, "
                           f"e.g. --set {source}=auto"])
    if precision == "bf16" and not _bf16_on_cuda():
        raise ConfigError([f"{source}: expected a precision this GPU supports, got bf16 but {device} has no "
                           f"bfloat16 (compute capability 8.0 or newer); use fp16 or auto, e.g. --set {source}=auto"])
    return precision
