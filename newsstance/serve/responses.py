"""Error responses: every one is JSON `{"error": CODE, "detail": MESSAGE, ...}` and is counted."""

from __future__ import annotations

from starlette.responses import JSONResponse

from newsstance.serve.metrics import Metrics


class ApiError(Exception):
    """An error answer: HTTP status, a short code, a message naming the field and the fix."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers, self.extra = status, code, detail, headers, extra


def error_response(metrics: Metrics, error: ApiError) -> JSONResponse:
    metrics.errors.labels(error.code).inc()
    return JSONResponse({"error": error.code, "detail": error.detail, **error.extra}, status_code=error.status,
                        headers=error.headers)
