"""Load test of `newsstance serve` on loopback, against in-process batched `classify()`.

    python benchmarks/serve_load.py [--model models/default] [--requests 2000] [--concurrency 1 8 32]
                                    [--time-limit 60] [--texts-per-request 1] [--backend torch] [--max-batch 64]
                                    [--max-wait-ms 5] [--workers 1]

Starts `newsstance serve` as a subprocess on a free loopback port, then at each concurrency
level C runs C clients that each send one request at a time (`--texts-per-request` news
sentences per request, one by default: the case dynamic batching is for) until `--requests`
requests are answered or `--time-limit` seconds pass, whichever comes first. Reports sentences/s,
p50/p95/p99 request latency, errors, and the mean model batch size (from /metrics). Then, with the
server stopped, times in-process `classify()` on the same sentences in batches of `--max-batch`
and prints each level's throughput as a share of it. The clients run in this process and share
the CPU with the server, as they would on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from predict_throughput import news_sentences  # noqa: E402  (the same sentences as the throughput benchmark)

START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "newsstance", "serve", "--model", args.model, "--port", str(port),
               "--backend", args.backend, "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms),
               "--workers", str(args.workers), "--max-queue", str(max(args.concurrency) * 2)]
    if args.quantize:
        command += ["--quantize", args.quantize]
    if args.threads:
        command += ["--threads", str(args.threads)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}:\n{proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server was not ready after {START_TIMEOUT_S} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def batch_stats(url: str) -> tuple[float, float, float]:
    """(batches, sentences, model seconds) so far, from the server's batch histograms."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return tuple(float(re.search(rf"^newsstance_{name} (\S+)$", text, re.M).group(1))
                 for name in ("batch_size_count", "batch_size_sum", "batch_duration_seconds_sum"))


class Connection:
    """A minimal HTTP/1.1 keep-alive client: on a 2-core machine the load generator shares the CPU
    with the server, and httpx's async client costs several times more per request than this."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, path: str, payload) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = json.dumps(payload).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def load(port: int, payloads: list[list[str]], concurrency: int, time_limit: float) -> dict:
    """`concurrency` clients send the payloads in turn, one request each at a time."""
    latencies: list[float] = []
    errors: dict[int | str, int] = {}
    sentences = 0
    next_index = 0
    deadline = time.monotonic() + time_limit

    async def client():
        nonlocal next_index, sentences
        connection = Connection("127.0.0.1", port)
        while next_index < len(payloads) and time.monotonic() < deadline:
            texts = payloads[next_index]
            next_index += 1
            started = time.perf_counter()
            try:
                status = await connection.post("/v1/classify", {"texts": texts})
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                status = type(exc).__name__
                await connection.close()
            if status == 200:
                latencies.append(time.perf_counter() - started)
                sentences += len(texts)
            else:
                errors[status] = errors.get(status, 0) + 1
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {"requests": len(latencies), "sentences": sentences, "seconds": wall, "sentences_per_s": sentences / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "errors": errors}


def in_process(args, sentences: list[str]) -> float:
    """Sentences/s of batched classify() on the same sentences, same backend, in this process
    (sorted by length over all of them, as classify() does)."""
    from newsstance import classify
    from newsstance.prediction.onnx_backend import load_backend

    # torch's default threads, whatever --threads the server got: the best in-process figure
    classifier = load_backend(args.model, args.backend, args.quantize, None)
    classify(sentences[:args.max_batch], model=classifier, batch_size=args.max_batch)  # warm-up
    started = time.perf_counter()
    classify(sentences, model=classifier, batch_size=args.max_batch)
    return len(sentences) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level, at most")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per concurrency level, at most")
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    parser.add_argument("--quantize", choices=["int8"])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if min(args.requests, args.texts_per_request, *args.concurrency) < 1 or args.time_limit <= 0:
        parser.error("--requests, --texts-per-request and --concurrency need whole numbers >= 1, --time-limit > 0")

    n = args.requests * args.texts_per_request
    pool = news_sentences(n)
    sentences = (pool * (n // len(pool) + 1))[:n]
    payloads = [sentences[i:i + args.texts_per_request] for i in range(0, n, args.texts_per_request)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"serving {args.model} ({args.backend}{'-' + args.quantize if args.quantize else ''}, max batch "
          f"{args.max_batch}, max wait {args.max_wait_ms:g} ms, {args.workers} worker(s)) on {url}; {len(payloads)} "
          f"requests of {args.texts_per_request} sentence(s) per level, {args.time_limit:g} s at most per level")
    proc = start_server(args, port)
    results = {}
    try:
        asyncio.run(load(port, payloads[:min(len(payloads), 50)], min(8, max(args.concurrency)), args.time_limit))  # warm-up
        for concurrency in args.concurrency:
            before = batch_stats(url)
            results[concurrency] = asyncio.run(load(port, payloads, concurrency, args.time_limit))
            after = batch_stats(url)
            batches = after[0] - before[0]
            results[concurrency]["mean_batch"] = (after[1] - before[1]) / batches if batches else float("nan")
            results[concurrency]["model_busy"] = (after[2] - before[2]) / results[concurrency]["seconds"]
    finally:
        stop_server(proc)
    reference = in_process(args, sentences)

    print(f"\nin-process classify(), batches of {args.max_batch}: {reference:.1f} sentences/s ({len(sentences)} sentences)\n")
    print("| clients | requests | sentences/s | x in-process | p50 ms | p95 ms | p99 ms | mean batch | model busy | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for concurrency, r in results.items():
        errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "0"
        print(f"| {concurrency} | {r['requests']} | {r['sentences_per_s']:.1f} | {r['sentences_per_s'] / reference:.2f} | "
              f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['mean_batch']:.1f} | {r['model_busy']:.0%} | {errors} |")
    cut = [c for c, r in results.items() if r["requests"] + sum(r["errors"].values()) < len(payloads)]
    if cut:
        print(f"\n(the time limit cut the levels with {', '.join(map(str, cut))} clients short)")


if __name__ == "__main__":
    main()
