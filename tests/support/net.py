"""Loopback helpers: a free port to start a server on."""

from __future__ import annotations

import socket


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
