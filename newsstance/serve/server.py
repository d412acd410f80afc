"""Running the app under uvicorn: `serve` for the CLI, `running` for tests and benchmarks.

`serve` checks everything a user can get wrong before it serves: the settings, the model
folder (before the port is bound), the port (bound here, so "in use" is one clear message),
then loads the model and hands uvicorn the bound socket.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from newsstance.errors import NewsstanceError
from newsstance.serve.settings import TOKEN_ENV, ServeSettings

logger = logging.getLogger("newsstance.serve")

GRACEFUL_SHUTDOWN_S = 10  # Ctrl-C: in-flight requests get this long to finish


def require_extra() -> None:
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "prometheus_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise NewsstanceError(f"`newsstance serve` needs {', '.join(missing)}: pip install \"newsstance[serve]\"")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or one message saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             proto=socket.IPPROTO_TCP)[0]
    except socket.gaierror as exc:
        raise NewsstanceError(f"--host {host}: not an address of this machine ({exc.strerror}); use 127.0.0.1 "
                              "(this machine only) or 0.0.0.0 (every interface)") from None
    # proto=IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they
    # are TCP, and with Nagle on, every keep-alive request waits ~40 ms for a delayed ACK
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(2048)
        return sock
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise NewsstanceError(f"--port {port}: already in use on {host}; stop the other server or choose "
                                  "another --port") from None
        if exc.errno == errno.EACCES:
            raise NewsstanceError(f"--port {port}: permission denied (ports under 1024 need privileges); choose "
                                  "--port 1024 or above") from None
        raise NewsstanceError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None


def _config(app, access_log: bool):
    import uvicorn

    # log_config=None: uvicorn's loggers go to the handlers the CLI set up, in its format
    return uvicorn.Config(app, log_config=None, access_log=access_log, lifespan="on",
                          timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)


def _terminate(signum, frame):
    raise SystemExit(0)


def serve(settings: ServeSettings, access_log: bool = False) -> None:
    """Load the model and serve until Ctrl-C or SIGTERM (both shut down gracefully)."""
    require_extra()
    import uvicorn

    from newsstance.models.folder import read_settings
    from newsstance.prediction.classifier import resolve_model_dir
    from newsstance.serve.app import create_app, load_classifier

    read_settings(resolve_model_dir(settings.model))  # a bad model folder fails before the port is taken
    sock = bind(settings.host, settings.port)
    try:
        classifier = load_classifier(settings)
        app = create_app(settings, classifier)
        host, port = sock.getsockname()[:2]
        if not settings.loopback and settings.token is None:
            logger.warning("listening on %s without a token: anyone who can reach this machine can use the API; "
                           "set %s", host, TOKEN_ENV)
        logger.info("serving %s on http://%s:%d (docs: /docs, health: /healthz, metrics: /metrics); Ctrl-C stops",
                    classifier.path, host if ":" not in host else f"[{host}]", port)
        previous = None
        if threading.current_thread() is threading.main_thread():
            # uvicorn shuts down gracefully on SIGTERM, then re-raises it: exit 0 then, as after Ctrl-C
            previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            uvicorn.Server(_config(app, access_log)).run(sockets=[sock])
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    finally:
        sock.close()


@contextmanager
def running(app, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 60.0) -> Iterator[str]:
    """Serve `app` from a background thread; yields its base URL, stops it on exit."""
    import uvicorn

    sock = bind(host, port)
    server = uvicorn.Server(_config(app, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="newsstance-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the server did not start (see the log above)")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(GRACEFUL_SHUTDOWN_S + 5)
        sock.close()
