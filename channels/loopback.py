"""A loopback HTTP server in a background thread: the frame every emulator and preview shares."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Generic, Self, TypeVar

ServerT = TypeVar("ServerT", bound=ThreadingHTTPServer)
POLL_SECONDS = 0.05  # how soon stop() is noticed


@dataclass
class Loopback(Generic[ServerT]):
    """A running server: its ``url``, and ``stop()`` (safe to call twice; also a context)."""

    server: ServerT
    thread: threading.Thread
    _stopped: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def origin(self) -> str:
        host = self.server.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    @property
    def url(self) -> str:
        return self.origin

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start(server: ServerT, name: str) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread named ``name``; returns the thread."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                              name=name, daemon=True)
    thread.start()
    return thread
