"""`newsstance serve`: an HTTP API over a model folder, with dynamic batching.

    settings  ServeSettings: every option, validated once (no fastapi needed)
    batcher   Batcher: the bounded queue whose worker threads run sentences in batches
    app       create_app(settings, classifier=None) -> FastAPI
    server    serve(settings) for the CLI; running(app) for tests and benchmarks

Needs the `serve` extra: pip install "newsstance[serve]". Importing this package loads none of it.
"""

from newsstance.serve.settings import TOKEN_ENV, ServeSettings

__all__ = ["ServeSettings", "TOKEN_ENV"]
