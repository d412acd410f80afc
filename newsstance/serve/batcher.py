"""Dynamic batching: sentences from concurrent requests run through the model together.

Requests put their sentences in one bounded queue and get a `concurrent.futures.Future` for
their probabilities. Worker threads (one by default) take the oldest sentences, up to
`max_batch` of them, as soon as that many are queued or the oldest has waited `max_wait`
seconds, whichever comes first (the rule of text-embeddings-inference): one request alone
waits at most `max_wait`, many requests share a forward pass. A request larger than a batch is
split across batches and answered when its last piece is done. The queue holds at most
`max_queue` requests; `submit` refuses more with `QueueFull` instead of growing without limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from newsstance.labels import LABELS

logger = logging.getLogger(__name__)

Predict = Callable[[list[str], list], np.ndarray]  # (texts, contexts) -> probabilities, shape (n, labels)


class QueueFull(Exception):
    """The queue holds `max_queue` requests already; try again shortly."""


class BatcherClosed(Exception):
    """The service is shutting down."""


@dataclass(eq=False)
class _Job:
    texts: Sequence[str]
    contexts: Sequence
    future: Future
    enqueued: float
    probs: np.ndarray
    taken: int = 0  # sentences handed to a worker
    done: int = 0  # sentences with results
    failed: bool = False


@dataclass
class _Piece:
    job: _Job
    start: int
    end: int


@dataclass
class Batcher:
    """A bounded queue of requests served in batches by `workers` threads calling `predict`."""

    predict: Predict
    max_batch: int
    max_wait: float  # seconds
    max_queue: int
    workers: int = 1
    on_batch: Callable[[int, float], None] | None = None  # (sentences, seconds) after each batch
    _queue: deque = field(default_factory=deque, init=False)
    _queued: int = field(default=0, init=False)  # sentences in the queue not yet taken
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)
    _threads: list = field(default_factory=list, init=False)
    _closed: bool = field(default=False, init=False)

    def start(self) -> "Batcher":
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"newsstance-batcher-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    @property
    def pending(self) -> int:
        """Requests in the queue (a request partly taken by a worker still counts)."""
        return len(self._queue)

    @property
    def full(self) -> bool:
        return len(self._queue) >= self.max_queue

    def submit(self, texts: Sequence[str], contexts: Sequence | None = None) -> Future:
        """Queue the texts; the future gets their probabilities in order, or the model's error."""
        future: Future = Future()
        contexts = list(contexts) if contexts is not None else [None] * len(texts)
        if not len(texts):
            future.set_result(np.zeros((0, len(LABELS)), dtype=np.float32))
            return future
        job = _Job(texts, contexts, future, time.monotonic(), np.empty((len(texts), len(LABELS)), dtype=np.float32))
        with self._cond:
            if self._closed:
                raise BatcherClosed("the service is shutting down")
            if len(self._queue) >= self.max_queue:
                raise QueueFull(f"{len(self._queue)} requests are waiting for the model (the limit is {self.max_queue})")
            self._queue.append(job)
            self._queued += len(texts)
            self._cond.notify_all()
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers after their current batch; queued requests fail with BatcherClosed."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._queued = 0
            self._cond.notify_all()
        for job in left:
            self._fail(job, BatcherClosed("the service is shutting down"))
        for thread in self._threads:
            thread.join(timeout)

    def _take(self) -> list[_Piece] | None:
        """The next batch: waits for work, then for `max_batch` sentences or the deadline."""
        with self._cond:
            while True:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return None
                deadline = self._queue[0].enqueued + self.max_wait
                while self._queue and self._queued < self.max_batch and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._closed:
                    return None
                pieces = self._pop(self.max_batch)
                if pieces:
                    return pieces

    def _pop(self, room: int) -> list[_Piece]:
        pieces = []
        while self._queue and room:
            job = self._queue[0]
            # a request whose client went away before any of it ran is dropped
            if job.taken == 0 and not job.future.set_running_or_notify_cancel():
                self._queue.popleft()
                self._queued -= len(job.texts)
                continue
            n = min(room, len(job.texts) - job.taken)
            pieces.append(_Piece(job, job.taken, job.taken + n))
            job.taken += n
            room -= n
            self._queued -= n
            if job.taken == len(job.texts):
                self._queue.popleft()
        return pieces

    def _work(self) -> None:
        while True:
            pieces = self._take()
            if pieces is None:
                return
            texts = [t for p in pieces for t in p.job.texts[p.start:p.end]]
            contexts = [c for p in pieces for c in p.job.contexts[p.start:p.end]]
            started = time.perf_counter()
            try:
                probs = self.predict(texts, contexts)
            except Exception as exc:  # the requests in this batch get the error; the worker goes on
                for piece in pieces:
                    self._fail(piece.job, exc)
                continue
            if self.on_batch is not None:
                self.on_batch(len(texts), time.perf_counter() - started)
            offset = 0
            for piece in pieces:
                n = piece.end - piece.start
                piece.job.probs[piece.start:piece.end] = probs[offset:offset + n]
                offset += n
                with self._cond:
                    piece.job.done += n
                    finished = piece.job.done == len(piece.job.texts) and not piece.job.failed
                if finished:
                    piece.job.future.set_result(piece.job.probs)

    def _fail(self, job: _Job, exc: BaseException) -> None:
        with self._cond:
            if job.failed or job.future.done():
                return
            job.failed = True
        job.future.set_exception(exc)
