"""A fault proxy on loopback: between the bot and an emulator, it holds, drops, resets or fails requests.

Point a channel's ``base_url`` at ``proxy.url`` instead of the emulator's; every request is
forwarded unchanged unless a rule matches it. The faults are the ones a real network and a
busy remote produce, injected between the two processes, never by patching our code:

- ``delay``: hold the request ``seconds`` before forwarding it (a busy remote, or a slow
  link: the client's timeout fires while the request is still on its way), then forward it
  and answer if the client still listens;
- ``late_answer``: forward at once, hold the answer ``seconds`` (the remote acted; the
  answer comes after the client's timeout);
- ``drop``: forward, then close without answering (the remote acted; the answer is lost);
- ``reset``: reset the connection without forwarding (nothing reached the remote);
- ``error``: answer ``status`` without forwarding (a gateway error).

A request whose client went away before its whole body arrived (a bot killed mid-send) is
never forwarded, as a real proxy would not; ``seen`` notes it as ``truncated``.

Rules are used up in order: each matches a method and a path pattern, ``times`` times
(0 = for ever), with probability ``chance`` (for campaigns: a seeded ``random.Random``); a
request a rule's chance spared is offered to the next matching rule.
Tests call ``serve(upstream)`` and ``proxy.state.add(Rule(...))``; another process can run
``python -m tests.support.fault_proxy UPSTREAM [PORT]`` and ``POST /_fault_proxy/rules``
a JSON list of rules, and ``GET /_fault_proxy/state`` reads what it did.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from channels.loopback import Loopback, start

FAULTS = ("delay", "late_answer", "drop", "reset", "error")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "host", "content-length"}
CONTROL = "/_fault_proxy/"
TRUNCATED = "truncated"  # not a fault: the client closed before its whole body arrived
UPSTREAM_TIMEOUT_SECONDS = 120.0


@dataclass
class Rule:
    """One fault for the requests it matches (see the module's docstring)."""

    fault: str
    method: str = ""  # "" = any
    path: str = ""  # a regular expression searched in the path (no query); "" = any
    times: int = 1  # 0 = every matching request
    seconds: float = 0.0  # delay, late_answer
    status: int = 502  # error
    chance: float = 1.0  # of a matching request being hit

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {FAULTS}")
        re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or self.method.upper() == method) and \
            re.search(self.path, path) is not None


@dataclass
class Seen:
    """One request as the proxy handled it."""

    method: str
    path: str
    fault: str | None
    at: float
    forwarded: bool = False  # the upstream received it (and answered or closed)


@dataclass
class ProxyState:
    """The rules still to apply and every request seen, shared with the handler threads."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def add(self, *rules: Rule) -> None:
        """Queue rules, applied after those already queued."""
        with self.lock:
            self.rules.extend(rules)

    def take(self, method: str, path: str) -> Rule | None:
        """The first rule matching this request (used up by it), or None."""
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    if rule.chance < 1.0 and self.rng.random() >= rule.chance:
                        continue  # this one spared it; a later rule may still hit it
                    if rule.times > 0:
                        rule.times -= 1
                        if rule.times == 0:
                            self.rules.remove(rule)
                    return rule
        return None

    def note(self, seen: Seen) -> None:
        with self.changed:
            self.seen.append(seen)
            self.changed.notify_all()

    def mark_forwarded(self, seen: Seen) -> None:
        with self.changed:
            seen.forwarded = True
            self.changed.notify_all()

    def wait(self, fault: str, *, forwarded: bool = True, count: int = 1,
             timeout: float = 30.0) -> bool:
        """Wait until ``count`` requests hit by ``fault`` (reached the upstream, when
        ``forwarded``); False on timeout."""
        def done() -> bool:
            hits = [s for s in self.seen if s.fault == fault and (s.forwarded or not forwarded)]
            return len(hits) >= count
        with self.changed:
            return self.changed.wait_for(done, timeout=timeout)

    def hits(self, fault: str) -> int:
        with self.lock:
            return sum(1 for s in self.seen if s.fault == fault)


class Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # keep-alive without the ~40 ms delayed-ACK stall
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: ``state.seen`` is the record."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = urlsplit(self.path).path
        if len(body) < length:  # the client went away mid-request: nothing is forwarded
            self.server.state.note(Seen(method, path, TRUNCATED, time.monotonic()))
            self.close_connection = True
            return
        if path.startswith(CONTROL):
            self._control(method, path, body)
            return
        state = self.server.state
        rule = state.take(method, path)
        seen = Seen(method, path, rule.fault if rule else None, time.monotonic())
        state.note(seen)
        if rule is not None and rule.fault == "reset":
            self._reset()
            return
        if rule is not None and rule.fault == "error":
            self._answer(rule.status, {"Content-Type": "text/plain"}, b"fault proxy: error")
            return
        if rule is not None and rule.fault == "delay":
            time.sleep(rule.seconds)
        try:
            status, headers, data = self._forward(method, body)
        except (OSError, http.client.HTTPException):  # the upstream closed without answering
            state.mark_forwarded(seen)
            self.close_connection = True
            return
        state.mark_forwarded(seen)
        if rule is not None and rule.fault == "drop":
            self.close_connection = True  # the upstream acted; its answer is lost
            return
        if rule is not None and rule.fault == "late_answer":
            time.sleep(rule.seconds)
        self._answer(status, headers, data)

    def _forward(self, method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        target = urlsplit(self.server.state.upstream)
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port,
                                                timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = target.netloc
            if body or method in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            connection.request(method, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            answer = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
            return response.status, answer, data
        finally:
            connection.close()

    def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up waiting: it never sees this answer
            self.close_connection = True

    def _reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), not a clean FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _control(self, method: str, path: str, body: bytes) -> None:
        state = self.server.state
        if path == CONTROL + "rules" and method == "POST":
            try:
                rules = [Rule(**item) for item in json.loads(body or b"[]")]
            except (TypeError, ValueError) as exc:
                self._answer(400, {"Content-Type": "text/plain"}, str(exc).encode())
                return
            state.add(*rules)
        with state.lock:
            report = {"rules": [asdict(r) for r in state.rules],
                      "seen": [asdict(s) for s in state.seen]}
        self._answer(200, {"Content-Type": "application/json"}, json.dumps(report).encode())


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: ProxyState) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state


class FaultProxy(Loopback[Server]):
    """A running proxy: ``url`` (the upstream's root through the proxy), ``state``, ``stop()``."""

    @property
    def state(self) -> ProxyState:
        return self.server.state

    @property
    def url(self) -> str:
        path = urlsplit(self.state.upstream).path
        return self.origin + (path or "/")


def serve(upstream: str, port: int = 0, *, seed: int = 0) -> FaultProxy:
    """Start a proxy to ``upstream`` (an emulator's URL) on 127.0.0.1 in a background thread."""
    server = Server(port, ProxyState(upstream=upstream, rng=random.Random(seed)))
    return FaultProxy(server, start(server, "fault-proxy"))


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.support.fault_proxy UPSTREAM [PORT]``: print the URL, serve until killed."""
    args = sys.argv[1:] if argv is None else argv
    proxy = serve(args[0], int(args[1]) if len(args) > 1 else 0)
    print(proxy.url, flush=True)
    try:
        proxy.thread.join()
    except KeyboardInterrupt:
        proxy.stop()


if __name__ == "__main__":
    main()
