"""The FastAPI app: /v1/classify, /v1/analyze, /v1/model, /healthz, /metrics, docs at /docs.

    app = create_app(ServeSettings(model="models/default"))        # loads the model in the background
    app = create_app(settings, classifier=Classifier.load(...))    # or serves one already loaded

Sentences go through one `Batcher` (dynamic batching, inference in its worker threads, never on
the event loop). Bad input gets a 4xx JSON error naming the field, never a 500; a failure of the
model gets a 500 with a request id under which it is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from contextlib import asynccontextmanager
from typing import Callable, Sequence

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsstance import __version__
from newsstance.defaults import BATCH_SIZE
from newsstance.labels import DESCRIPTIONS, LABELS
from newsstance.prediction.analysis import analyze_article
from newsstance.prediction.classifier import Classifier, Prediction
from newsstance.serve.batcher import Batcher, BatcherClosed, QueueFull
from newsstance.serve.metrics import CONTENT_TYPE, Metrics
from newsstance.serve.middleware import LimitBody, Observe, RequireToken
from newsstance.serve.responses import ApiError, error_response
from newsstance.serve.schemas import AnalyzeRequest, AnalyzeResponse, ClassifyRequest, ClassifyResponse, ErrorOut
from newsstance.serve.settings import ServeSettings
from newsstance.serve.validation import check_text, check_texts, validation_error

logger = logging.getLogger("newsstance.serve")

Loader = Callable[[ServeSettings], Classifier]
ERRORS = {status: {"model": ErrorOut} for status in (400, 401, 413, 415, 422, 500, 503)}


def load_classifier(settings: ServeSettings) -> Classifier:
    from newsstance.prediction.onnx_backend import load_backend

    return load_backend(settings.model, settings.backend, settings.quantize, settings.threads)


class _Batched(Classifier):
    """The served classifier with its probabilities computed through the batcher. A subclass
    rather than a wrapper because `analyze_article` takes a Classifier instance."""

    def __init__(self, base: Classifier, batcher: Batcher):
        super().__init__(base.model, base.tokenizer, base.settings, base.path)
        self.batcher = batcher

    def probabilities(self, texts, contexts=None, batch_size: int = BATCH_SIZE) -> np.ndarray:
        return self.batcher.submit(list(texts), contexts).result()


def per_worker(classifier: Classifier, max_batch: int, workers: int):
    """The batcher's predict function. With several workers each thread gets its own shallow copy
    of the classifier with its own tokenizer (a fast tokenizer is not safe to share between
    threads, and the ONNX int8 path switches sessions on its instance); the weights are shared."""
    import copy

    local = threading.local()

    def predict(texts, contexts):
        clf = getattr(local, "classifier", None)
        if clf is None:
            clf = classifier
            if workers > 1:
                clf = copy.copy(classifier)
                clf.tokenizer = copy.deepcopy(classifier.tokenizer)
            local.classifier = clf
        return clf.probabilities(texts, contexts, batch_size=max_batch)

    return predict


class Service:
    """What the endpoints share: settings, metrics, and (once loaded) the model and its batcher."""

    def __init__(self, settings: ServeSettings, metrics: Metrics):
        self.settings, self.metrics = settings, metrics
        self.classifier: Classifier | None = None
        self.batcher: Batcher | None = None
        self.batched: _Batched | None = None
        self.load_error: str | None = None
        self.model_info: dict = {}

    def attach(self, classifier: Classifier) -> None:
        s = self.settings
        batcher = Batcher(per_worker(classifier, s.max_batch, s.workers), max_batch=s.max_batch,
                          max_wait=s.max_wait_ms / 1000, max_queue=s.max_queue, workers=s.workers,
                          on_batch=self.metrics.observe_batch).start()
        self.model_info = describe_model(classifier, s)
        self.metrics.info.info({"version": __version__, "model": classifier.path.name, "backend": self.model_info["backend"]})
        self.metrics.watch_queue(lambda: batcher.pending)
        self.classifier, self.batched = classifier, _Batched(classifier, batcher)
        self.batcher = batcher  # last: the endpoints serve once it is set
        self.metrics.ready.set(1)
        logger.info("model %s loaded (%s backend); ready", classifier.path, self.model_info["backend"])

    def load(self, loader: Loader) -> None:
        try:
            self.attach(loader(self.settings))
        except Exception as exc:  # reported by /healthz; the server stays up to say so
            logger.exception("cannot load the model")
            self.load_error = str(exc)

    def require_model(self) -> None:
        if self.batcher is None:
            if self.load_error is not None:
                raise ApiError(503, "model_load_failed", f"the model could not be loaded: {self.load_error}")
            raise ApiError(503, "not_ready", "the model is still loading; retry shortly (GET /healthz says when it is ready)",
                           headers=self._retry())

    def _retry(self) -> dict[str, str]:
        return {"Retry-After": str(self.settings.retry_after_s)}

    async def probabilities(self, request: Request, texts: Sequence[str], contexts) -> np.ndarray:
        """The texts' probabilities through the batcher, with queue and model errors as answers."""
        try:
            return await asyncio.wrap_future(self.batcher.submit(texts, contexts))
        except Exception as exc:
            raise self.failure(request, exc) from None

    def failure(self, request: Request, exc: Exception) -> ApiError:
        if isinstance(exc, QueueFull):
            return ApiError(503, "queue_full", f"the server is busy: {exc}; retry after "
                            f"{self.settings.retry_after_s} s", headers=self._retry())
        if isinstance(exc, BatcherClosed):
            return ApiError(503, "shutting_down", "the server is shutting down; retry on another instance",
                            headers=self._retry())
        request_id = request.state.request_id
        logger.error("request %s: the model failed", request_id, exc_info=exc)
        return ApiError(500, "model_error", f"the model failed on this request; it is logged as request {request_id}",
                        request_id=request_id)


def describe_model(classifier: Classifier, settings: ServeSettings) -> dict:
    """GET /v1/model: what a client needs to know about the model being served."""
    s = classifier.settings
    return {
        "labels": list(LABELS),
        "descriptions": DESCRIPTIONS,
        "version": __version__,
        "model": classifier.path.name,
        "backend": getattr(classifier, "variant", "torch"),
        "min_confidence": s.min_confidence,
        "temperature": s.temperature,
        "max_length": s.max_length,
        "context": {"previous_sentence": s.context_config.previous_sentence, "headline": s.context_config.headline},
        "training_data": training_summary(classifier.path),
        "limits": {"max_texts": settings.max_texts, "max_text_chars": settings.max_text_chars,
                   "max_article_chars": settings.max_article_chars, "max_body_bytes": settings.max_body_bytes,
                   "max_batch": settings.max_batch, "max_wait_ms": settings.max_wait_ms},
    }


def training_summary(folder) -> dict | None:
    """Base model and rows, articles and labels per split, from the folder's run.yaml and data.json
    (file paths and the training machine's folders are left out)."""
    import yaml

    from newsstance.data.splits import DATA_RECORD, RUN_CONFIG

    try:
        record = json.loads((folder / DATA_RECORD).read_text(encoding="utf-8"))
        run = yaml.safe_load((folder / RUN_CONFIG).read_text(encoding="utf-8")) if (folder / RUN_CONFIG).exists() else {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        logger.warning("%s: no training data summary (%s)", folder, exc)
        return None
    splits = {name: {k: split[k] for k in ("rows", "articles", "labels") if k in split}
              for name, split in (record.get("splits") or {}).items() if isinstance(split, dict)}
    return {"base_model": ((run or {}).get("model") or {}).get("name_or_path"), "splits": splits}


def predictions(probs: np.ndarray, min_confidence: float | None) -> list[dict]:
    out = []
    for row in probs:
        i = int(row.argmax())
        p = Prediction(LABELS[i], float(row[i]), {label: float(v) for label, v in zip(LABELS, row)})
        out.append({**p.to_dict(), "uncertain": min_confidence is not None and p.score < min_confidence})
    return out


def create_app(settings: ServeSettings, classifier: Classifier | None = None, loader: Loader = load_classifier) -> FastAPI:
    """The service for `settings`; with no `classifier`, `loader` loads one in the background at
    startup (GET /healthz answers 503 until it is ready)."""
    metrics = Metrics()
    service = Service(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if classifier is not None:
            service.attach(classifier)
        else:
            threading.Thread(target=service.load, args=(loader,), name="newsstance-load", daemon=True).start()
        try:
            yield
        finally:
            if service.batcher is not None:
                service.batcher.close()

    app = FastAPI(title="newsstance", version=__version__, lifespan=lifespan, responses=ERRORS,
                  description="Whose voice each sentence of a news article carries: official position, third-party "
                              "skepticism or neutral reporting. Send `Authorization: Bearer TOKEN` when the server "
                              "was started with $NEWSSTANCE_API_TOKEN.")
    app.state.service = service

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(metrics, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return error_response(metrics, validation_error(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400:  # FastAPI could not parse the body: not UTF-8, or nested too deeply
            return error_response(metrics, ApiError(400, "invalid_json", "body: cannot be read as JSON (it must be "
                                                    "UTF-8 and not nested too deeply)", field="body"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        detail = f"{request.method} {request.url.path}: {exc.detail}; see /docs for the endpoints"
        return error_response(metrics, ApiError(exc.status_code, code, detail, headers=exc.headers))

    @app.post("/v1/classify", response_model=ClassifyResponse, summary="Label sentences")
    async def classify(body: ClassifyRequest, request: Request):
        """Label each text; `context` (the previous sentence) and `headline` are optional lists as long as `texts`."""
        n = len(body.texts)
        if n == 0:
            raise ApiError(422, "invalid_request", "texts: empty list; give at least one sentence", field="texts")
        if n > settings.max_texts:
            raise ApiError(413, "too_many_texts", f"texts: {n:,} texts; the limit is {settings.max_texts:,} per request "
                           "(--max-texts); split them over several requests", field="texts")
        check_texts("texts", body.texts, settings.max_text_chars, "--max-text-chars")
        for name in ("context", "headline"):
            if getattr(body, name) is not None:
                check_texts(name, getattr(body, name), settings.max_text_chars, "--max-text-chars", n, required=False)
        service.require_model()
        clf = service.classifier
        probs = await service.probabilities(request, body.texts, clf.contexts(n, body.context, body.headline))
        return JSONResponse({"predictions": predictions(probs, clf.settings.min_confidence)})

    @app.post("/v1/analyze", response_model=AnalyzeResponse, summary="Split an article into sentences and label each")
    async def analyze(body: AnalyzeRequest, request: Request):
        """The same sentences, offsets and summary as `newsstance.analyze_article`."""
        check_text("text", body.text, settings.max_article_chars, "--max-article-chars")
        if body.title is not None:
            check_text("title", body.title, settings.max_text_chars, "--max-text-chars", required=False)
        service.require_model()
        if service.batcher.full:  # answer at once, before segmenting
            raise service.failure(request, QueueFull(f"{service.batcher.pending} requests are waiting for the model "
                                                     f"(the limit is {settings.max_queue})"))
        try:  # segmentation is CPU work too: a worker thread, whose sentences then go through the batcher
            result = await run_in_threadpool(analyze_article, body.text, body.title or None, service.batched)
        except Exception as exc:
            raise service.failure(request, exc) from None
        return JSONResponse(result.to_dict())

    @app.get("/v1/model", summary="The model being served")
    async def model():
        service.require_model()
        return JSONResponse(service.model_info)

    @app.get("/healthz", summary="200 once the model is loaded, 503 before (no token needed)")
    async def healthz():
        if service.batcher is not None:
            return JSONResponse({"status": "ok", "version": __version__})
        if service.load_error is not None:
            return JSONResponse({"status": "failed", "error": "model_load_failed", "detail": service.load_error},
                                status_code=503)
        return JSONResponse({"status": "loading", "error": "not_ready", "detail": "the model is loading"},
                            status_code=503, headers=service._retry())

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus():
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    # outermost last: Observe sees every answer, CORS answers preflights, then the token, then the body size
    endpoints = {route.path for route in app.routes}
    app.add_middleware(LimitBody, limit=settings.max_body_bytes, metrics=metrics)
    if settings.token is not None:
        app.add_middleware(RequireToken, token=settings.token.strip(), metrics=metrics)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(Observe, metrics=metrics, endpoints=endpoints)
    return app
