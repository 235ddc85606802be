"""The API served by uvicorn in a thread of the bot process, on a socket bound beforehand."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from publisher.logs import get_logger

log = get_logger("publisher.web")
START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0


class WebUnavailable(Exception):
    """The API cannot listen where configured (port busy, address unknown, no permission)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(f"HTTP 接口无法在 {host}:{port} 监听（{reason}）；可用 --web-port 换端口或 "
                         f"--no-web 关闭 / the HTTP API cannot listen on {host}:{port} ({reason}); "
                         "choose another port with --web-port, or turn it off with --no-web")


@dataclass
class WebServer:
    """A running API server; ``stop`` ends it within a bounded time."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def stop(self, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> None:
        """Ask the server to finish its requests and stop; wait at most ``timeout_seconds``."""
        self.server.should_exit = True
        self.thread.join(timeout_seconds)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(1.0)
            log.warning("web.stop_timed_out", url=self.url)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise WebUnavailable(host, port, exc.strerror or str(exc)) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WebUnavailable(host, port, exc.strerror or str(exc)) from None
    return sock


def serve(api: FastAPI, host: str, port: int, *, trusted_proxies: Sequence[str] = (),
          start_timeout_seconds: float = START_TIMEOUT_SECONDS) -> WebServer:
    """Listen on ``host:port`` (0: any free port) and serve ``api`` in a daemon thread.

    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from ``trusted_proxies``
    (addresses or networks, config ``web.trusted_proxies``); by default from nobody, loopback
    included (uvicorn's own default trusts loopback, so any local caller could pose as any
    address). Binding happens here, so a busy port raises ``WebUnavailable`` at once instead of
    dying quietly inside the thread.
    """
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    proxies = [item.strip() for item in trusted_proxies if item.strip()]
    config = uvicorn.Config(api, host=host, port=actual, log_config=None, lifespan="off",
                            timeout_graceful_shutdown=5, server_header=False,
                            proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [])
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="web-api",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_seconds
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(STOP_TIMEOUT_SECONDS)
            sock.close()
            raise WebUnavailable(host, actual, "the server did not start")
        time.sleep(0.01)
    running = WebServer(server, thread, host, actual)
    log.info("web.started", url=running.url)
    return running
