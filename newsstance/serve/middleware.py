"""ASGI middleware, outermost first: `Observe` (request id, metrics, last-resort 500),
`RequireToken` (bearer token), `LimitBody` (request body size). Plain ASGI, so nothing is
buffered or copied beyond what each one needs."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from typing import Iterable

from starlette.datastructures import Headers

from newsstance.serve.metrics import Metrics
from newsstance.serve.responses import ApiError, error_response

logger = logging.getLogger("newsstance.serve")


class Observe:
    """Gives each request an id (`X-Request-ID`, and `request.state.request_id`), counts it by
    endpoint and status, times it, and turns an unexpected exception into a logged 500."""

    def __init__(self, app, metrics: Metrics, endpoints: Iterable[str]):
        self.app, self.metrics, self.endpoints = app, metrics, frozenset(endpoints)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status, responded = 500, False

        async def send_with_id(message):
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("request %s (%s %s) failed", request_id, scope["method"], scope["path"])
            if not responded:
                error = ApiError(500, "internal_error", f"the server failed on this request; it is logged as request "
                                 f"{request_id}", request_id=request_id)
                await error_response(self.metrics, error)(scope, receive, send_with_id)
        finally:
            # unknown paths share one label: a scan of random URLs must not grow the metrics
            endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
            self.metrics.observe_request(endpoint, status, time.perf_counter() - started)


class RequireToken:
    """`Authorization: Bearer TOKEN` on every path but `open_paths`, compared in constant time."""

    def __init__(self, app, token: str, metrics: Metrics, open_paths: Iterable[str] = ("/healthz",)):
        self.app, self.token, self.metrics, self.open = app, token.encode(), metrics, frozenset(open_paths)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.open:
            return await self.app(scope, receive, send)
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            problem = "no bearer token; send the header `Authorization: Bearer TOKEN`"
        elif not hmac.compare_digest(given.strip().encode(), self.token):
            problem = "wrong bearer token; send the token the server was started with ($NEWSSTANCE_API_TOKEN)"
        else:
            return await self.app(scope, receive, send)
        error = ApiError(401, "unauthorized", problem, headers={"WWW-Authenticate": "Bearer"})
        await error_response(self.metrics, error)(scope, receive, send)


class LimitBody:
    """Refuses a body over `limit` bytes with 413, by its Content-Length or, when it has none
    (chunked), as it arrives; the body is read here once and handed on."""

    def __init__(self, app, limit: int, metrics: Metrics):
        self.app, self.limit, self.metrics = app, limit, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                error = ApiError(400, "invalid_request", f"Content-Length: expected a number of bytes, got {declared!r}")
                return await error_response(self.metrics, error)(scope, receive, send)
            if int(declared) > self.limit:
                return await self._too_large(int(declared), scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await self._too_large(size, scope, receive, send, at_least=True)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the client to go away

        await self.app(scope, replay, send)

    async def _too_large(self, size: int, scope, receive, send, at_least: bool = False):
        error = ApiError(413, "body_too_large", f"body: {'more than ' if at_least else ''}{size:,} bytes; the limit is "
                         f"{self.limit:,} (--max-body-bytes); send fewer or shorter texts per request",
                         field="body", headers={"Connection": "close"})
        await error_response(self.metrics, error)(scope, receive, send)
