"""`newsstance serve`: the HTTP API (newsstance.serve). The server packages are imported only when
it runs, so the parser stays free of them."""

from __future__ import annotations

import sys

from newsstance.cli.options import whole_number


def _serve(args) -> int:
    import os

    from newsstance.serve.server import serve
    from newsstance.serve.settings import TOKEN_ENV, ServeSettings

    names = ("model", "host", "port", "backend", "quantize", "threads", "max_batch", "max_wait_ms", "workers",
             "max_queue", "max_body_bytes", "max_texts", "max_text_chars", "max_article_chars")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    settings = ServeSettings(**given, token=os.environ.get(TOKEN_ENV), cors_origins=tuple(args.cors_origin))
    try:
        serve(settings, access_log=args.access_log)
    except KeyboardInterrupt:  # Ctrl-C after a graceful shutdown: a normal way to stop a server
        print("stopped", file=sys.stderr)
    return 0


def add_commands(sub) -> None:
    from newsstance.serve.settings import TOKEN_ENV, ServeSettings as S  # defaults live there only

    p = sub.add_parser("serve", help="an HTTP API over a model, with dynamic batching (needs newsstance[serve])")
    p.add_argument("--model", help="model folder (default: $NEWSSTANCE_MODEL, else models/default)")
    p.add_argument("--host", help=f"address to listen on (default: {S.host}, this machine only)")
    p.add_argument("--port", type=int, help=f"port (default: {S.port}; 0: any free port)")
    p.add_argument("--backend", choices=["torch", "onnx"], help=f"default: {S.backend}")
    p.add_argument("--quantize", choices=["int8"], help="int8 dynamic quantization (with --backend onnx)")
    p.add_argument("--threads", type=whole_number, help="CPU threads for inference")
    p.add_argument("--max-batch", type=whole_number, help=f"sentences per model batch, at most (default: {S.max_batch})")
    p.add_argument("--max-wait-ms", type=float,
                   help=f"how long a queued sentence waits for others to batch with, at most (default: {S.max_wait_ms:g})")
    p.add_argument("--workers", type=whole_number, help=f"inference threads (default: {S.workers})")
    p.add_argument("--max-queue", type=whole_number,
                   help=f"requests waiting for the model; more get 503 + Retry-After (default: {S.max_queue})")
    p.add_argument("--max-body-bytes", type=whole_number, help=f"request body size (default: {S.max_body_bytes})")
    p.add_argument("--max-texts", type=whole_number, help=f"texts per /v1/classify request (default: {S.max_texts})")
    p.add_argument("--max-text-chars", type=whole_number, help=f"characters per text (default: {S.max_text_chars})")
    p.add_argument("--max-article-chars", type=whole_number,
                   help=f"characters per /v1/analyze article (default: {S.max_article_chars})")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (repeatable; default: CORS off)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.epilog = f"Set {TOKEN_ENV} to require `Authorization: Bearer TOKEN` on every endpoint but /healthz."
    p.set_defaults(func=_serve)
