"""A tiny loopback HTTP server for looking at a built portal site."""

from __future__ import annotations

import functools
import ipaddress
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from channels.loopback import Loopback, start
from channels.portal.cap import CAP_DIR, CAP_MEDIA_TYPE


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

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        """CAP documents (``cap/<identifier>.xml``) go out as ``application/cap+xml``."""
        try:
            parts = Path(path).relative_to(self.directory).parts
        except ValueError:
            parts = ()
        if len(parts) == 2 and parts[0] == CAP_DIR and parts[1].endswith(".xml"):
            return CAP_MEDIA_TYPE
        return super().guess_type(path)

    def translate_path(self, path: str) -> str:
        clean = unquote(path.split("?", 1)[0].split("#", 1)[0])
        if any(part.startswith(("_", ".")) for part in clean.split("/") if part):
            return str(Path(self.directory) / ".missing")  # a name that never exists
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and demos read the site, not the access log."""


class ServerHandle(Loopback[ThreadingHTTPServer]):
    """A running sandbox server: its ``url`` (ending in ``/``) and how to ``stop`` it."""

    @property
    def url(self) -> str:
        return f"{self.origin}/"


def serve(site_dir: Path, port: int, host: str = "127.0.0.1") -> ServerHandle:
    """Serve ``site_dir`` on loopback in a background thread; port 0 picks a free port."""
    if not ipaddress.IPv4Address(host).is_loopback:
        raise ValueError(f"沙箱只监听本机地址 / the sandbox listens on loopback only, not {host!r}")
    handler = functools.partial(SiteRequestHandler, directory=str(site_dir))
    server = ThreadingHTTPServer((host, port), handler)
    return ServerHandle(server, start(server, f"portal-sandbox-{server.server_address[1]}"))
