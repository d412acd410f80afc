"""The service's settings: one typed object, validated once, every problem reported together.

No fastapi or uvicorn here: the CLI builds a `ServeSettings` from its options (and the token
from $NEWSSTANCE_API_TOKEN) and every bad number is reported before anything is loaded or bound.
"""

from __future__ import annotations

import ipaddress
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from newsstance.defaults import BATCH_SIZE
from newsstance.errors import NewsstanceError

TOKEN_ENV = "NEWSSTANCE_API_TOKEN"  # the bearer token clients must send (unset: no token)
BACKENDS = ("torch", "onnx")
QUANTIZATIONS = ("int8",)
MAX_WAIT_MS_LIMIT = 60_000.0  # a batch never waits a minute for company


@dataclass(frozen=True)
class ServeSettings:
    """How `newsstance serve` runs; every field has a `--dashed-name` option."""

    model: Union[str, Path, None] = None  # model folder (None: $NEWSSTANCE_MODEL, else models/default)
    host: str = "127.0.0.1"  # loopback only unless told otherwise
    port: int = 8000  # 0: any free port (the log says which)
    backend: str = "torch"  # torch or onnx
    quantize: str | None = None  # int8 (onnx backend only)
    threads: int | None = None  # CPU threads for inference (None: the runtime's default)
    max_batch: int = BATCH_SIZE  # sentences run through the model together, at most
    max_wait_ms: float = 5.0  # how long the oldest queued sentence waits for company, at most
    workers: int = 1  # inference threads pulling batches from the queue
    max_queue: int = 256  # requests waiting for the model; more get 503 + Retry-After
    max_body_bytes: int = 2 * 1024 * 1024  # request body size; larger get 413
    max_texts: int = 256  # texts in one /v1/classify request
    max_text_chars: int = 5_000  # characters in one text (or context, headline) of /v1/classify
    max_article_chars: int = 200_000  # characters in the text of one /v1/analyze request
    retry_after_s: int = 1  # the Retry-After header sent with 503
    token: str | None = None  # bearer token required on every endpoint but /healthz
    cors_origins: tuple[str, ...] = ()  # origins allowed by CORS (empty: CORS off)

    def __post_init__(self):
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        problems = self.problems()
        if problems:
            raise NewsstanceError("invalid serve settings:\n  " + "\n  ".join(problems))

    def problems(self) -> list[str]:
        """Every invalid setting, each as `--option: expected X, got Y`."""
        found: list[str] = []

        def whole(name: str, low: int, high: int | None = None) -> None:
            value = getattr(self, name)
            valid = not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= low \
                and (high is None or value <= high)
            if not valid:
                span = f"from {low} to {high}" if high is not None else f"of at least {low}"
                found.append(f"{_option(name)}: expected a whole number {span}, got {value!r}")

        whole("port", 0, 65535)
        for name in ("max_batch", "workers", "max_queue", "max_body_bytes", "max_texts", "max_text_chars",
                     "max_article_chars", "retry_after_s"):
            whole(name, 1)
        if self.threads is not None:
            whole("threads", 1)
        wait = self.max_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, numbers.Real) or not (
                math.isfinite(wait) and 0 <= wait <= MAX_WAIT_MS_LIMIT):
            found.append(f"{_option('max_wait_ms')}: expected milliseconds from 0 to {MAX_WAIT_MS_LIMIT:g}, got {wait!r}")
        if self.backend not in BACKENDS:
            found.append(f"--backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.quantize is not None and self.quantize not in QUANTIZATIONS:
            found.append(f"--quantize: expected one of {', '.join(QUANTIZATIONS)}, got {self.quantize!r}")
        elif self.quantize and self.backend != "onnx":
            found.append("--quantize int8 runs on the ONNX backend: add --backend onnx")
        if not isinstance(self.host, str) or not self.host.strip():
            found.append(f"--host: expected an address such as 127.0.0.1, got {self.host!r}")
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            found.append(f"${TOKEN_ENV} is set but empty; unset it to serve without a token, or set a token")
        for origin in self.cors_origins:
            if not isinstance(origin, str) or not (origin == "*" or origin.startswith(("http://", "https://"))):
                found.append(f"--cors-origin: expected an origin such as https://cms.example.org (or *), got {origin!r}")
        return found

    @property
    def loopback(self) -> bool:
        """Whether the server is reachable from this machine only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")
