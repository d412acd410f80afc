"""What one `newsstance predict` run is asked to do (`PredictOptions`) and what it did (`RunStats`).

The options are checked here, once, whether they come from the command line or from Python:
a batch size of -1 would otherwise return uninitialised memory as probabilities.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from newsstance.defaults import BATCH_SIZE, MAX_ARTICLE_BYTES, OUTPUT_FORMATS
from newsstance.devices import DEFAULT_DEVICE, DEFAULT_DTYPE
from newsstance.errors import NewsstanceError
from newsstance.prediction.readers import Fields

BACKENDS = ("torch", "onnx")
QUANTIZATIONS = ("int8",)


class PredictInterrupted(NewsstanceError):
    """Ctrl-C (or SIGINT) during a run; the message says whether --resume can continue it."""

    exit_code = 130


@dataclass
class PredictOptions:
    paths: list[str]  # article files and folders
    output: str  # predictions file; every other run file is named after it
    model: str | None = None  # model folder (default: $NEWSSTANCE_MODEL, else models/default)
    format: str | None = None  # one of OUTPUT_FORMATS; default: from the output's extension, else jsonl
    summary: str | None = None  # per-article summary CSV
    html: str | None = None  # folder for the HTML report
    resume: bool = False  # continue the interrupted run that wrote `output`
    overwrite: bool = False  # replace existing outputs
    batch_size: int = BATCH_SIZE  # sentences per inference batch, >= 1
    backend: str = "torch"  # one of BACKENDS
    quantize: str | None = None  # "int8" (ONNX backend only)
    min_confidence: float | None = None  # in [0, 1]; default: the model's calibrated threshold
    fields: Fields = field(default_factory=Fields)
    max_bytes: int = MAX_ARTICLE_BYTES  # larger article files are recorded and skipped, >= 1
    threads: int | None = None  # CPU threads for inference, >= 1; default: the library's
    device: str = DEFAULT_DEVICE  # auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (newsstance.devices)
    dtype: str = DEFAULT_DTYPE  # auto (half precision on a GPU that supports it, else float32), float32, float16, bfloat16

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise one NewsstanceError naming every bad option (run again by `run_predict`, since
        options can be changed after they are built)."""
        problems = []
        if isinstance(self.paths, (str, Path)) or not self.paths:
            problems.append(f"paths: expected a list of article files or folders, got {self.paths!r}")
        if not self.output or not isinstance(self.output, (str, Path)):
            problems.append(f"output: expected a file path, got {self.output!r}")
        if self.format is not None and self.format not in OUTPUT_FORMATS:
            problems.append(f"format: expected one of {', '.join(OUTPUT_FORMATS)}, got {self.format!r}")
        for name in ("batch_size", "max_bytes", "threads"):
            value = getattr(self, name)
            if name == "threads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                problems.append(f"{name}: expected a whole number >= 1, got {value!r}")
        value = self.min_confidence
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or math.isnan(value) or not 0 <= value <= 1):
            problems.append(f"min_confidence: expected a number from 0 to 1, got {value!r}")
        if self.backend not in BACKENDS:
            problems.append(f"backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.quantize is not None and self.quantize not in QUANTIZATIONS:
            problems.append(f"quantize: expected one of {', '.join(QUANTIZATIONS)}, got {self.quantize!r}")
        if not problems:  # an unknown or absent device fails here, before any output is touched
            from newsstance.devices import resolve_device, resolve_dtype

            try:
                resolve_dtype(self.dtype, resolve_device(self.device))
            except NewsstanceError as exc:
                problems.append(str(exc))
        if self.resume and self.overwrite:
            problems.append("resume and overwrite exclude each other: --resume continues the interrupted run, "
                            "--overwrite starts again")
        if not problems and self.format:
            suffix = Path(self.output).suffix.lstrip(".").lower()
            if suffix in OUTPUT_FORMATS and suffix != self.format:
                problems.append(f"format: the output {self.output} is named .{suffix} but --format is {self.format}; "
                                f"name the file .{self.format} or drop --format")
        if problems:
            raise NewsstanceError("invalid predict options:\n  " + "\n  ".join(problems))

    @property
    def output_format(self) -> str:
        """--format, else the output's extension when it is a format, else jsonl."""
        if self.format:
            return self.format
        suffix = Path(self.output).suffix.lstrip(".").lower()
        return suffix if suffix in OUTPUT_FORMATS else "jsonl"


@dataclass
class RunStats:
    articles: int = 0
    sentences: int = 0
    errors: int = 0
    skipped_unsupported: int = 0
    excluded_outputs: int = 0  # files skipped because they are newsstance's own outputs
    duplicates: int = 0  # inputs listed twice (a symlink, a file given directly and through its folder)
    unreadable: int = 0  # folders or files that could not be listed
    resumed_articles: int = 0
    cache_hits: int = 0
    agreement_with_torch_fp32: float | None = None
