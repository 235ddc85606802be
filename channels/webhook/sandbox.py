"""A loopback webhook receiver: keeps every POST so tests and benchmarks can count duplicates."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from channels.loopback import Loopback, start
from channels.sandbox_file import load_state, save_state


@dataclass
class SinkState:
    """What the sink received; ``faults`` is a queue of HTTP statuses to answer next."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0  # wait after accepting, before answering (a slow remote)
    token: str | None = None  # when set, requests without ``Bearer <token>`` get 401
    lock: threading.Lock = field(default_factory=threading.Lock)
    # with a file, every POST and receipt is saved there and read back at start
    state_file: Path | None = None

    def save(self) -> None:
        """Write posts and receipts to ``state_file`` (call under the lock; nothing without one)."""
        if self.state_file is not None:
            save_state(self.state_file, {"posts": self.posts, "accepted": self.accepted})

    def load(self) -> None:
        """Read what ``state_file`` holds (nothing when it is missing)."""
        data = load_state(self.state_file)
        if data is not None:
            with self.lock:
                self.posts, self.accepted = list(data["posts"]), dict(data["accepted"])

    def count(self, key: str) -> int:
        """How many POSTs carried ``key`` (duplicates included)."""
        with self.lock:
            return sum(1 for post in self.posts if post.get("key") == key)


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # keep-alive without the ~40 ms delayed-ACK stall
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the state is the record."""

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
               ) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _refused(self) -> bool:
        """401 for a request without the configured bearer token (answered here)."""
        token = self.server.state.token
        if token is None or self.headers.get("Authorization") == f"Bearer {token}":
            return False
        self._reply(401, {"message": "unauthorised"})
        return True

    def do_GET(self) -> None:
        state = self.server.state
        if self.path.startswith("/deliveries/"):
            if self._refused():
                return
            key = unquote(self.path.removeprefix("/deliveries/"))
            with state.lock:
                found = state.accepted.get(key)
            if found is None:
                self._reply(404, {"message": "not found"})
            else:
                self._reply(200, found)
            return
        if self.path == "/_posts":  # for drills and tests: every POST, duplicates included
            with state.lock:
                self._reply(200, {"posts": list(state.posts)})
            return
        if self.path == "/_stats":
            with state.lock:
                self._reply(200, {"posts": len(state.posts), "accepted": len(state.accepted)})
            return
        self._reply(200, {"message": "webhook sandbox"})

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if len(raw) < length:  # the sender went away mid-request: nothing was received
            self.close_connection = True
            return
        if self._refused():
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._reply(400, {"message": "body is not JSON"})
            return
        key = self.headers.get("Idempotency-Key") or body.get("key")
        with state.lock:
            state.posts.append({"key": key, "title": body.get("title"),
                                "body": body.get("body")})
            fault = state.faults.pop(0) if state.faults else None
            if fault is None and key in state.accepted:
                self._reply(409, state.accepted[key])
                return
            if fault is None:
                number = len(state.accepted) + 1
                receipt = {"id": str(number), "url": f"http://sink.invalid/{number}",
                           "received_at": datetime.now(UTC).isoformat()}
                state.accepted[key] = receipt
            state.save()
            delay = state.delay_seconds
        if fault is None and delay > 0:
            time.sleep(delay)
        if fault is not None:
            # like a careless remote, echo the request line and auth header in the error
            self._reply(fault, {"message": f"fault for {self.path} auth="
                                           f"{self.headers.get('Authorization')}"},
                        {"Retry-After": "1"} if fault in (429, 503) else None)
            return
        self._reply(201, receipt)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: SinkState, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _Handler)
        self.state = state


class Sink(Loopback["_Server"]):
    """A running sink: ``url``, its ``state``, and ``stop()``."""

    @property
    def state(self) -> SinkState:
        return self.server.state


def serve(port: int = 0, token: str | None = None, state_file: Path | None = None,
          host: str = "127.0.0.1") -> Sink:
    """Start a sink on ``host`` (port 0 = any free port) in a background thread; with
    ``token``, it takes only requests carrying it (``Authorization: Bearer``); with
    ``state_file``, what it received is read from there and every POST saved there."""
    state = SinkState(token=token, state_file=state_file)
    state.load()
    server = _Server(port, state, host)
    return Sink(server, start(server, "webhook-sink"))


def main() -> None:
    """``python -m channels.webhook.sandbox [PORT [STATE_FILE]]``: run a sink in the foreground."""
    import sys

    sink = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0,
                 state_file=Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(sink.url, flush=True)
    try:
        sink.thread.join()
    except KeyboardInterrupt:
        sink.stop()


if __name__ == "__main__":
    main()
