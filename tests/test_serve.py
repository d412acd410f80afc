"""`newsstance serve`: a real server on loopback (uvicorn in a thread, one subprocess), httpx clients."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest

from newsstance import __version__, analyze_article, classify
from newsstance.errors import NewsstanceError
from newsstance.labels import LABELS
from newsstance.prediction.classifier import Classifier
from newsstance.serve.app import create_app
from newsstance.serve.batcher import Batcher, QueueFull
from newsstance.serve.server import running
from newsstance.serve.settings import ServeSettings

from conftest import ROOT

TEXTS = ["The ministry said it would appeal the ruling.", "Critics called the plan unworkable and costly.",
         "The bridge opened in 1932.", "\"We will not back down,\" the mayor said."]
ARTICLE = ("Court blocks new emission rules\n\nA federal court on Tuesday blocked the rules. The ministry said it would "
           "appeal. Environmental groups doubted the appeal would succeed, calling it \"a waste of time\".")
WAIT = 60  # seconds: an upper bound for anything below to happen, never a timing assertion


@pytest.fixture(scope="module")
def clf(tiny_model) -> Classifier:
    return Classifier.load(tiny_model)


def settings(model, **changes) -> ServeSettings:
    return ServeSettings(model=model, **changes)


@pytest.fixture(scope="module")
def server(clf):
    """One server for the read-only tests, with small limits to test against."""
    app = create_app(settings(clf.path, max_texts=5, max_text_chars=300, max_article_chars=2_000, max_body_bytes=200_000),
                     classifier=clf)
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT) as client:
        yield client


class Gated(Classifier):
    """The tiny model, but each batch waits until the test opens the gate (and says it started)."""

    def __init__(self, base: Classifier):
        super().__init__(base.model, base.tokenizer, base.settings, base.path)
        self.gate, self.entered = threading.Event(), threading.Event()

    def probabilities(self, texts, contexts=None, batch_size=64):
        self.entered.set()
        assert self.gate.wait(WAIT)
        return super().probabilities(texts, contexts, batch_size)


class Broken(Classifier):
    def __init__(self, base: Classifier):
        super().__init__(base.model, base.tokenizer, base.settings, base.path)

    def probabilities(self, texts, contexts=None, batch_size=64):
        raise RuntimeError("CUDA out of memory (simulated)")


def metric(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{name}{{{want}}} not in metrics"
    return float(found.group(1))


def wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# --- endpoints ---------------------------------------------------------------------------------

def test_classify_equals_classify(server, clf):
    context = [None, TEXTS[0], TEXTS[1], TEXTS[2]]
    r = server.post("/v1/classify", json={"texts": TEXTS, "context": context})
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    want = classify(TEXTS, context=context, model=clf)
    assert len(got) == len(TEXTS)
    for g, w in zip(got, want):
        assert g["label"] == w.label
        assert g["score"] == pytest.approx(w.score, abs=1e-5)
        assert set(g["scores"]) == set(LABELS)
        for label in LABELS:
            assert g["scores"][label] == pytest.approx(w.scores[label], abs=1e-5)
        threshold = clf.settings.min_confidence
        assert g["uncertain"] == (threshold is not None and w.score < threshold)
    assert r.headers["x-request-id"]


def test_analyze_equals_analyze_article(server, clf):
    r = server.post("/v1/analyze", json={"text": ARTICLE.split("\n\n", 1)[1], "title": "Court blocks new emission rules"})
    assert r.status_code == 200, r.text
    got = r.json()
    want = analyze_article(ARTICLE.split("\n\n", 1)[1], "Court blocks new emission rules", model=clf).to_dict()
    assert [(s["start"], s["end"], s["text"], s["label"], s["uncertain"]) for s in got["sentences"]] == \
        [(s["start"], s["end"], s["text"], s["label"], s["uncertain"]) for s in want["sentences"]]
    for g, w in zip(got["sentences"], want["sentences"]):
        assert g["scores"] == pytest.approx(w["scores"], abs=2e-5)
    assert got["summary"] == pytest.approx(want["summary"], abs=2e-4)
    assert len(got["sentences"]) >= 4


def test_model_healthz_docs_and_metrics(server, clf):
    model = server.get("/v1/model").json()
    assert model["labels"] == list(LABELS) and model["version"] == __version__ and model["backend"] == "torch"
    assert model["min_confidence"] == clf.settings.min_confidence
    assert model["context"] == {"previous_sentence": True, "headline": False}
    assert model["training_data"]["splits"]["train"]["rows"] > 0
    assert set(model["training_data"]["splits"]["train"]["labels"]) <= set(LABELS)
    assert model["limits"]["max_texts"] == 5
    assert server.get("/healthz").json()["status"] == "ok"
    assert "swagger" in server.get("/docs").text.lower()
    assert "/v1/classify" in server.get("/openapi.json").json()["paths"]

    server.post("/v1/classify", json={"texts": TEXTS[:1]})
    r = server.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert metric(r.text, "newsstance_requests_total", endpoint="/v1/classify", status="200") >= 1
    assert metric(r.text, "newsstance_batch_size_count") >= 1
    assert metric(r.text, "newsstance_request_duration_seconds_count", endpoint="/v1/classify") >= 1
    assert metric(r.text, "newsstance_ready") == 1
    assert "newsstance_errors_total" in r.text


# --- bad requests: 4xx JSON naming the field, never a 500 ---------------------------------------

BAD = [
    ("/v1/classify", b'{"texts": ["a", ', 400, "invalid_json", "body"),
    ("/v1/classify", b"[" * 100_000, 400, "invalid_json", "body"),
    ("/v1/classify", '{"texts": ["caf\u00e9"]}'.encode("latin-1"), 400, "invalid_json", "body"),
    ("/v1/classify", b'{"texts": ["fine", "a\\ud800b"]}', 422, "invalid_text", "texts[1]"),
    ("/v1/classify", {"texts": "one string"}, 422, "invalid_request", "texts"),
    ("/v1/classify", {"texts": ["fine", 7]}, 422, "invalid_request", "texts[1]"),
    ("/v1/classify", {"texts": ["fine", "   "]}, 422, "empty_text", "texts[1]"),
    ("/v1/classify", {"texts": []}, 422, "invalid_request", "texts"),
    ("/v1/classify", {}, 422, "invalid_request", "texts"),
    ("/v1/classify", [1, 2], 422, "invalid_request", "body"),
    ("/v1/classify", {"texts": ["a"] * 6}, 413, "too_many_texts", "texts"),
    ("/v1/classify", {"texts": ["fine", "x" * 301]}, 413, "text_too_long", "texts[1]"),
    ("/v1/classify", {"texts": ["a", "b"], "context": ["only one"]}, 422, "invalid_request", "context"),
    ("/v1/classify", {"texts": ["a"], "context": [3]}, 422, "invalid_request", "context[0]"),
    ("/v1/classify", {"texts": ["a"], "contxt": ["b"]}, 422, "invalid_request", "contxt"),
    ("/v1/classify", {"texts": ["a"] * 5, "padding": "x" * 200_000}, 413, "body_too_large", "body"),
    ("/v1/analyze", {"text": " \n "}, 422, "empty_text", "text"),
    ("/v1/analyze", {"text": "A sentence. " * 200}, 413, "text_too_long", "text"),
    ("/v1/analyze", {"text": "A sentence.", "title": "T" * 301}, 413, "text_too_long", "title"),
    ("/v1/analyze", {"text": "A sentence.", "title": 5}, 422, "invalid_request", "title"),
]


@pytest.mark.parametrize("path, body, status, error, field", BAD, ids=[f"{b[3]}-{b[4]}" for b in BAD])
def test_bad_requests_get_a_json_4xx_naming_the_field(server, path, body, status, error, field):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = server.post(path, content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    got = r.json()
    assert got["error"] == error and got["field"] == field
    assert got["detail"].startswith(field), got["detail"]


def test_unknown_field_suggests_the_right_one_and_unknown_path_is_json_404(server):
    r = server.post("/v1/classify", json={"text": ["a"]})
    assert r.status_code == 422 and "text: unknown field; did you mean 'texts'?" in r.json()["detail"]
    assert "texts: Field required" in r.json()["detail"]
    r = server.get("/v2/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = server.get("/v1/classify")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    metrics = server.get("/metrics").text
    assert metric(metrics, "newsstance_requests_total", endpoint="other", status="404") >= 1
    assert metric(metrics, "newsstance_errors_total", error="not_found") >= 1


@pytest.mark.parametrize("headers", [{}, {"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}])
def test_a_body_not_sent_as_json_is_a_415(server, headers):
    r = server.post("/v1/classify", content=json.dumps({"texts": TEXTS}).encode(), headers=headers)
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    assert r.json()["detail"].startswith("Content-Type: expected application/json")


def test_body_larger_than_the_limit_without_content_length_is_refused(server):
    def chunks():  # chunked transfer: no Content-Length to check up front
        for _ in range(201):
            yield b" " * 1000

    r = server.post("/v1/classify", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"


# --- model failures, readiness, token, CORS -----------------------------------------------------

def test_model_error_is_a_500_with_a_logged_request_id(clf, caplog):
    with running(create_app(settings(clf.path), classifier=Broken(clf))) as url, caplog.at_level(logging.ERROR):
        r = httpx.post(f"{url}/v1/classify", json={"texts": TEXTS}, timeout=WAIT)
        assert r.status_code == 500
        body = r.json()
        assert body["error"] == "model_error" and body["request_id"] == r.headers["x-request-id"]
        assert any(body["request_id"] in rec.getMessage() and rec.exc_info for rec in caplog.records)
        r = httpx.post(f"{url}/v1/analyze", json={"text": ARTICLE}, timeout=WAIT)
        assert r.status_code == 500 and r.json()["error"] == "model_error"
        assert httpx.get(f"{url}/healthz").status_code == 200  # the server lives on


def test_healthz_is_503_until_the_model_is_loaded(clf):
    release = threading.Event()

    def slow_loader(_settings):
        assert release.wait(WAIT)
        return clf

    with running(create_app(settings(clf.path), loader=slow_loader)) as url:
        r = httpx.get(f"{url}/healthz")
        assert r.status_code == 503 and r.json()["status"] == "loading" and r.headers["retry-after"]
        r = httpx.post(f"{url}/v1/classify", json={"texts": TEXTS})
        assert r.status_code == 503 and r.json()["error"] == "not_ready"
        release.set()
        wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200)
        assert httpx.post(f"{url}/v1/classify", json={"texts": TEXTS}, timeout=WAIT).status_code == 200


def test_failed_model_load_is_reported_by_healthz(clf):
    def failing_loader(_settings):
        raise NewsstanceError("models/x: no such model folder")

    with running(create_app(settings(clf.path), loader=failing_loader)) as url:
        wait_until(lambda: httpx.get(f"{url}/healthz").json()["status"] != "loading")
        r = httpx.get(f"{url}/healthz")
        assert r.status_code == 503 and "no such model folder" in r.json()["detail"]
        assert httpx.post(f"{url}/v1/classify", json={"texts": TEXTS}).json()["error"] == "model_load_failed"


def test_token_is_required_everywhere_but_healthz(clf):
    with running(create_app(settings(clf.path, token="s3cret-token"), classifier=clf)) as url:
        for path in ("/v1/model", "/metrics", "/docs"):
            r = httpx.get(url + path)
            assert r.status_code == 401 and r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
            assert httpx.get(url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = httpx.post(f"{url}/v1/classify", json={"texts": TEXTS}, headers={"Authorization": "Bearer s3cret-token-x"})
        assert r.status_code == 401 and "wrong bearer token" in r.json()["detail"]
        assert httpx.get(f"{url}/healthz").status_code == 200
        ok = {"Authorization": "Bearer s3cret-token"}
        assert httpx.get(f"{url}/v1/model", headers=ok).status_code == 200
        assert httpx.post(f"{url}/v1/classify", json={"texts": TEXTS}, headers=ok, timeout=WAIT).status_code == 200


def test_cors_is_off_by_default_and_on_for_the_given_origins(server, clf):
    preflight = {"Origin": "https://cms.example.org", "Access-Control-Request-Method": "POST"}
    r = server.options("/v1/classify", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    app = create_app(settings(clf.path, cors_origins=["https://cms.example.org"], token="t"), classifier=clf)
    with running(app) as url:
        r = httpx.options(f"{url}/v1/classify", headers=preflight)  # a preflight carries no token
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://cms.example.org"
        r = httpx.options(f"{url}/v1/classify", headers={**preflight, "Origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"


# --- the queue: bounded, and batched ------------------------------------------------------------

def test_full_queue_answers_503_with_retry_after(clf):
    gated = Gated(clf)
    app = create_app(settings(clf.path, max_queue=1, max_wait_ms=0, retry_after_s=3), classifier=gated)
    with running(app) as url, httpx.Client(base_url=url, timeout=WAIT) as client:
        batcher = app.state.service.batcher
        results = {}
        first = threading.Thread(target=lambda: results.update(a=client.post("/v1/classify", json={"texts": TEXTS[:1]})))
        first.start()
        assert gated.entered.wait(WAIT)  # the worker holds the first request
        second = threading.Thread(target=lambda: results.update(b=client.post("/v1/classify", json={"texts": TEXTS[1:2]})))
        second.start()
        wait_until(lambda: batcher.pending == 1)  # the second waits in the queue, which is now full
        r = client.post("/v1/classify", json={"texts": TEXTS[2:3]})
        assert r.status_code == 503 and r.json()["error"] == "queue_full" and r.headers["retry-after"] == "3"
        r = client.post("/v1/analyze", json={"text": ARTICLE})
        assert r.status_code == 503 and r.json()["error"] == "queue_full"
        gated.gate.set()
        first.join(WAIT), second.join(WAIT)
        assert results["a"].status_code == 200 and results["b"].status_code == 200
        assert metric(client.get("/metrics").text, "newsstance_errors_total", error="queue_full") == 2


def test_queued_requests_run_together_in_one_batch(clf):
    """While the worker is busy, 7 single-sentence requests queue up; the next batch takes them all."""
    gated = Gated(clf)
    app = create_app(settings(clf.path, max_wait_ms=0), classifier=gated)
    with running(app) as url:
        batcher = app.state.service.batcher

        async def fire():
            async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
                first = asyncio.create_task(client.post("/v1/classify", json={"texts": [TEXTS[0]]}))
                while not gated.entered.is_set():
                    await asyncio.sleep(0.01)
                rest = [asyncio.create_task(client.post("/v1/classify", json={"texts": [f"Sentence number {i}."]}))
                        for i in range(7)]
                while batcher.pending < 7:
                    await asyncio.sleep(0.01)
                gated.gate.set()
                return await asyncio.gather(first, *rest)

        answers = asyncio.run(fire())
        assert [r.status_code for r in answers] == [200] * 8
        metrics = httpx.get(f"{url}/metrics").text
        assert metric(metrics, "newsstance_batch_size_count") == 2
        assert metric(metrics, "newsstance_batch_size_sum") == 8
        assert metric(metrics, "newsstance_batch_size_bucket", le="4.0") == 1  # the first, alone
        want = classify([f"Sentence number {i}." for i in range(7)], model=clf)
        for answer, w in zip(answers[1:], want):
            assert answer.json()["predictions"][0]["score"] == pytest.approx(w.score, abs=1e-5)


def test_concurrent_requests_are_batched_within_max_wait(clf):
    """No gate: 16 concurrent requests with a long max-wait share batches (the histogram sees one > 1)."""
    app = create_app(settings(clf.path, max_wait_ms=2_000, max_batch=16), classifier=clf)
    with running(app) as url:
        async def fire():
            async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
                return await asyncio.gather(*(client.post("/v1/classify", json={"texts": [t]}) for t in TEXTS * 4))

        assert [r.status_code for r in asyncio.run(fire())] == [200] * 16
        metrics = httpx.get(f"{url}/metrics").text
        batches, alone = metric(metrics, "newsstance_batch_size_count"), metric(metrics, "newsstance_batch_size_bucket", le="1.0")
        assert metric(metrics, "newsstance_batch_size_sum") == 16
        assert batches - alone >= 1 and batches < 16


def test_several_workers_give_the_same_results(clf):
    app = create_app(settings(clf.path, workers=3, max_batch=2, max_wait_ms=20), classifier=clf)
    texts = [f"{t} ({i})" for i in range(3) for t in TEXTS]
    with running(app) as url:
        async def fire():
            async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
                return await asyncio.gather(*(client.post("/v1/classify", json={"texts": [t]}) for t in texts))

        answers = asyncio.run(fire())
    for answer, want in zip(answers, classify(texts, model=clf)):
        assert answer.status_code == 200
        assert answer.json()["predictions"][0]["score"] == pytest.approx(want.score, abs=1e-5)


def test_batcher_splits_a_large_request_and_keeps_the_order():
    seen = []

    def predict(texts, contexts):
        seen.append(len(texts))
        return np.array([[float(t), 0.0, 0.0] for t in texts], dtype=np.float32)

    batcher = Batcher(predict, max_batch=4, max_wait=0.0, max_queue=2).start()
    try:
        probs = batcher.submit([str(i) for i in range(10)]).result(WAIT)
        assert probs[:, 0].tolist() == list(range(10)) and seen == [4, 4, 2]
    finally:
        batcher.close()


def test_batcher_refuses_more_than_max_queue():
    batcher = Batcher(lambda t, c: np.zeros((len(t), 3)), max_batch=4, max_wait=0.0, max_queue=2)  # not started
    batcher.submit(["a"]), batcher.submit(["b"])
    with pytest.raises(QueueFull, match="the limit is 2"):
        batcher.submit(["c"])
    batcher.close()


# --- settings and the command line --------------------------------------------------------------

def test_settings_report_every_problem_at_once():
    with pytest.raises(NewsstanceError) as exc:
        ServeSettings(port=70000, max_batch=0, max_wait_ms=float("nan"), quantize="int8", cors_origins=["cms.org"],
                      token=" ")
    message = str(exc.value)
    for part in ("--port: expected a whole number from 0 to 65535, got 70000", "--max-batch: expected a whole number",
                 "--max-wait-ms: expected milliseconds", "--quantize int8 runs on the ONNX backend",
                 "--cors-origin: expected an origin", "NEWSSTANCE_API_TOKEN is set but empty"):
        assert part in message
    assert ServeSettings().host == "127.0.0.1" and ServeSettings().loopback
    assert not ServeSettings(host="0.0.0.0").loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bound_socket_turns_nagle_off():
    """Without TCP_NODELAY every keep-alive request waited ~40 ms for a delayed ACK."""
    from newsstance.serve.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()


def test_cli_import_and_parser_stay_free_of_the_server_packages():
    code = ("import sys, newsstance.cli as c; c.build_parser().parse_args(['serve', '--port', '9000']); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'prometheus_client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=WAIT)
    assert out.stdout.strip() == "[]", out.stderr


def test_cli_refuses_bad_options_a_bad_model_and_a_busy_port(tiny_model, tmp_path, capsys):
    from newsstance.cli import main

    assert main(["serve", "--model", str(tiny_model), "--port", "70000", "--max-wait-ms", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--port: expected a whole number from 0 to 65535" in err and "--max-wait-ms: expected" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        # the model folder is checked before the port is bound: its message comes first
        assert main(["serve", "--model", str(tmp_path / "nope"), "--port", port]) == 2
        assert "no such model folder" in capsys.readouterr().err
        assert main(["serve", "--model", str(tiny_model), "--port", port]) == 2
        assert f"--port {port}: already in use" in capsys.readouterr().err


def test_newsstance_serve_starts_answers_and_stops_cleanly(tiny_model):
    port = _free_port()
    env = {**os.environ, "NEWSSTANCE_API_TOKEN": "tok"}
    proc = subprocess.Popen([sys.executable, "-m", "newsstance", "serve", "--model", str(tiny_model), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def up():
            assert proc.poll() is None, proc.stderr.read()
            try:
                return httpx.get(f"{url}/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up)
        r = httpx.post(f"{url}/v1/classify", json={"texts": TEXTS}, headers={"Authorization": "Bearer tok"}, timeout=WAIT)
        assert r.status_code == 200 and len(r.json()["predictions"]) == len(TEXTS)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
        assert "serving" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
