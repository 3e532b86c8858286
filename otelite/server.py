"""The composition root: store -> ingest -> receivers, plus the API app.

`Otelite.serve()` runs both servers in this process until SIGINT/SIGTERM, then stops
taking requests, lets in-flight exports commit, and flushes ingest before exit.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading
import time
from collections.abc import Callable
from functools import partial

import uvicorn

from otelite.api.app import create_app
from otelite.api.events import Broadcaster
from otelite.auth import Authenticator
from otelite.collector.grpc_receiver import create_grpc_server
from otelite.collector.http_receiver import otlp_http_routes
from otelite.collector.ingest import Ingest, Workers
from otelite.collector.pipeline import Preparer
from otelite.config import Config
from otelite.retention import Retention
from otelite.store import open_store

# How long in-flight gRPC exports get to finish on shutdown.
GRPC_GRACE_SECONDS = 30


def preparer_for(config: Config) -> Preparer:
    return Preparer(config.default_project, config.limits.max_spans_per_request, config.limits.value_limits())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Otelite:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = open_store(config.store, synchronous=config.synchronous)
        limits = config.limits
        # Live updates: after each commit, ingest tells the page's event streams.
        self.broadcaster = Broadcaster()
        # Ingest: worker processes that decode and commit, each on its own connection to
        # the SQLite file (their commits take turns on a lock file beside it), or all of
        # it on one thread here: ClickHouse (chdb is one process's engine), an in-memory
        # database, `writer.processes: 0`.
        settings = config.writer
        workers = None
        if settings.processes > 0 and (path := config.sqlite_path) is not None:
            opener = partial(open_store, config.store, synchronous=config.synchronous)
            workers = Workers(settings.processes, opener, f"{path}-ingest.lock")
        self.ingest = Ingest(preparer_for(config), self.store, settings.max_queue_bytes, workers)
        self.ingest.add_listener(self.broadcaster.publish_rows)
        self.authenticator = Authenticator(config.users, config.ingest_tokens)
        self.grpc_server, self.grpc_port = create_grpc_server(
            self.ingest,
            _address(config.host, config.grpc_port),
            limits.max_request_bytes,
            authenticator=self.authenticator,
        )
        self.http_socket = _bind(config.host, config.http_port)
        self.http_port: int = self.http_socket.getsockname()[1]
        self.app = create_app(
            self.store,
            otlp_http_routes(self.ingest, limits.max_request_bytes),
            self.broadcaster,
            authenticator=self.authenticator,
            max_body_bytes=limits.max_request_bytes,
        )
        self.retention = Retention(
            self.store,
            retention_days=config.retention_days,
            max_db_mb=config.max_db_mb,
            interval_seconds=config.retention_interval_seconds,
        )
        self.http_server = _HttpServer(
            uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=GRPC_GRACE_SECONDS),
            on_shutdown=self.broadcaster.close,
        )
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def http_url(self) -> str:
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        return f"http://{host}:{self.http_port}"

    def serve(self) -> None:
        """Run in the foreground until SIGINT or SIGTERM; flush before returning."""
        # These handlers cover the moments uvicorn's own are not installed: a signal
        # during startup (before uvicorn takes over) must still stop us, so it asks
        # uvicorn to exit as soon as it starts (found by tests/test_crash_safety.py);
        # and uvicorn re-raises the signal it caught once it has stopped, which lands
        # here too, so our own flush below still runs.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._exit_soon)
        self.grpc_server.start()
        self.retention.start()
        print(
            f"otelite: OTLP/gRPC on {self.config.host}:{self.grpc_port}, "
            f"OTLP/HTTP and API on {self.http_url}, database {self.config.store_label}",
            flush=True,
        )
        try:
            self.http_server.run(sockets=[self.http_socket])
        finally:
            self.shutdown()
        print("otelite: stopped, every accepted span is written", flush=True)

    def _exit_soon(self, signum: int, frame: object) -> None:
        self.http_server.should_exit = True

    def start(self) -> None:
        """Serve from a background thread (tests, embedding); `stop()` ends it."""
        self.grpc_server.start()
        self.retention.start()
        self._thread = threading.Thread(
            target=self.http_server.run, kwargs={"sockets": [self.http_socket]}, name="otelite-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.http_server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.http_server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self.shutdown()

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.retention.stop()
        self.grpc_server.stop(GRPC_GRACE_SECONDS).wait()
        self.ingest.close()
        self.store.close()
        self.http_socket.close()


class _HttpServer(uvicorn.Server):
    """uvicorn, ending the open event streams when it shuts down: otherwise it would wait
    the whole graceful-shutdown timeout for those never-ending responses."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Replies go out in several writes (headers, body); without NODELAY, Nagle holds the
    # last one until the client's delayed ACK (40 ms on Linux) on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock
