"""A tiny loopback HTTP server for looking at a built portal site."""

from __future__ import annotations

import functools
import ipaddress
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import unquote

POLL_SECONDS = 0.05  # how soon stop() is noticed


class SiteRequestHandler(SimpleHTTPRequestHandler):
    """Serves the site's files with the right types; hides the bot's own ``_``/``.`` files."""

    disable_nagle_algorithm = True  # keep-alive without the ~40 ms delayed-ACK stall
    protocol_version = "HTTP/1.1"
    extensions_map: ClassVar[dict[str, str]] = {  # type: ignore[misc]
        **SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html; charset=utf-8",
        ".atom": "application/atom+xml; charset=utf-8",
        ".xml": "application/xml; charset=utf-8",
        ".json": "application/json",
    }

    def translate_path(self, path: str) -> str:
        clean = unquote(path.split("?", 1)[0].split("#", 1)[0])
        if any(part.startswith(("_", ".")) for part in clean.split("/") if part):
            return str(Path(self.directory) / ".missing")  # a name that never exists
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and demos read the site, not the access log."""


@dataclass
class ServerHandle:
    """A running sandbox server: its ``url`` and how to ``stop`` it."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    _stopped: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server.server_address[0])
        return f"http://{host}:{self.port}/"

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(site_dir: Path, port: int, host: str = "127.0.0.1") -> ServerHandle:
    """Serve ``site_dir`` on loopback in a background thread; port 0 picks a free port."""
    if not ipaddress.IPv4Address(host).is_loopback:
        raise ValueError(f"沙箱只监听本机地址 / the sandbox listens on loopback only, not {host!r}")
    handler = functools.partial(SiteRequestHandler, directory=str(site_dir))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=functools.partial(server.serve_forever, poll_interval=POLL_SECONDS),
        name=f"portal-sandbox-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return ServerHandle(server, thread)
