"""A loopback Weibo emulator: share, comments, destroy, timeline and OAuth2 over real HTTP."""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from channels.loopback import Loopback, start
from channels.weibo.platform import ApiError, Fault, Platform, PlatformConfig, Token

_POSTING = {"/2/statuses/share.json", "/2/statuses/destroy.json", "/2/comments/create.json"}


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # keep-alive without the ~40 ms delayed-ACK stall
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the platform state is the record."""

    # ------------------------------------------------------------------ plumbing

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, path: str, error: ApiError) -> None:
        if path.startswith("/oauth2/"):
            self._reply(error.status, {"error": error.text, "error_code": error.code,
                                       "error_description": error.text})
        else:
            self._reply(error.status, {"error": error.text, "error_code": error.code,
                                       "request": path})

    def _drop(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        self.connection.close()

    def _read(self) -> tuple[dict[str, str], bytes | None, bool]:
        """Form fields (query merged in), the picture if any, and whether it was multipart."""
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            form, picture = _multipart(content_type, raw)
            return {**query, **form}, picture, True
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return {**query, **form}, None, False

    def _token_value(self, form: dict[str, str]) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.startswith("OAuth2 "):
            return header[len("OAuth2 "):].strip()
        return form.get("access_token")

    # ------------------------------------------------------------------ verbs

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        platform = self.server.platform
        path = urlsplit(self.path).path
        form, picture, multipart = self._read()
        if platform.config.latency_seconds > 0:  # a slow network or remote, outside the lock
            time.sleep(platform.config.latency_seconds)
        fault = platform.take_fault(path)
        if fault is not None and not fault.after_accept:
            self._fault(path, fault)
            return
        try:
            with platform.lock:
                status, body = self._route(method, path, form, picture, multipart)
                if method == "POST":
                    platform.save()
        except ApiError as error:
            if fault is not None:
                self._fault(path, fault)
            else:
                self._error(path, error)
            return
        if fault is not None:
            self._fault(path, fault)
            return
        if status == 302:
            self.send_response(302)
            self.send_header("Location", body["location"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._reply(status, body)

    def _fault(self, path: str, fault: Fault) -> None:
        if fault.drop:
            self._drop()
        elif fault.code is not None:
            self._error(path, ApiError(fault.code, code_as_text=fault.code_as_text))
        else:
            self._reply(fault.status or 500, {"error": "fault", "error_code": "",
                                              "request": path})

    def _route(self, method: str, path: str, form: dict[str, str], picture: bytes | None,
               multipart: bool) -> tuple[int, dict[str, Any]]:
        platform = self.server.platform
        if path == "/oauth2/authorize":
            return 302, {"location": platform.authorize(form)}
        if path == "/oauth2/access_token" and method == "POST":
            return 200, platform.access_token(form)
        if path == "/oauth2/get_token_info" and method == "POST":
            return 200, platform.token_info(self._token_value(form))
        if path == "/2/statuses/update.json" or path == "/2/statuses/upload.json":
            raise ApiError(10014, "Insufficient app permissions!")
        if path == "/_sandbox/faults" and method == "POST":  # tests reach a drill's emulator
            specs = [spec for spec in form.get("faults", "").split(",") if spec]
            with platform.lock:
                platform.faults.extend(Fault.parse(spec) for spec in specs)
            return 200, {"queued": len(specs)}
        if path == "/_sandbox/posts":
            return 200, {"posts": [{**p, "at": p["at"].isoformat()} for p in platform.posts],
                         "comments": [{**c, "at": c["at"].isoformat()}
                                      for c in platform.comments]}
        handlers: dict[str, Callable[[Token], dict[str, Any]]] = {
            "/2/statuses/share.json": lambda t: platform.share(t, form, picture, multipart),
            "/2/statuses/destroy.json": lambda t: platform.destroy(t, form.get("id", "")),
            "/2/comments/create.json": lambda t: platform.comment(t, form),
            "/2/statuses/user_timeline.json":
                lambda t: platform.timeline(t, form),
        }
        handler = handlers.get(path)
        if handler is None:
            raise ApiError(10020, "api not found!", 404)
        if (path in _POSTING) != (method == "POST"):
            raise ApiError(10021, "HTTP method is not suported for this request!", 405)
        token = platform.authenticate(self._token_value(form))
        platform.count_call(token, path)
        return 200, handler(token)


def _multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], bytes | None]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    form: dict[str, str] = {}
    picture: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        if name == "pic":
            picture = payload
        else:
            form[name] = payload.decode("utf-8", "replace")
    return form, picture


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, platform: Platform, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _Handler)
        self.platform = platform


class Emulator(Loopback["_Server"]):
    """A running emulator: ``url``, its ``platform`` state, and ``stop()``."""

    @property
    def platform(self) -> Platform:
        return self.server.platform

    def fail_next(self, *faults: Fault | str) -> None:
        """Queue faults (``Fault`` values or their text form, see ``Fault.parse``)."""
        with self.platform.lock:
            self.platform.faults.extend(f if isinstance(f, Fault) else Fault.parse(f)
                                        for f in faults)

    def count(self, text: str) -> int:
        """How many posts carry exactly ``text`` (deleted ones included)."""
        with self.platform.lock:
            return sum(1 for post in self.platform.posts if post["text"] == text)


def serve(port: int = 0, config: PlatformConfig | None = None,
          clock: Callable[[], datetime] | None = None, state_file: Path | None = None,
          host: str = "127.0.0.1") -> Emulator:
    """Start an emulator on ``host`` (port 0 = any free port) in a background thread; with
    ``state_file``, what it holds is read from there and every change saved there."""
    platform = Platform(config or PlatformConfig(), state_file=state_file)
    platform.load()
    if clock is not None:
        platform.clock = clock
    server = _Server(port, platform, host)
    return Emulator(server, start(server, "weibo-sandbox"))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m channels.weibo.sandbox``: run an emulator in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m channels.weibo.sandbox",
                                     description="微博接口模拟器 / Weibo API emulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--safe-domain", default="127.0.0.1")
    parser.add_argument("--token", help="an access token to accept (default: a new one)")
    parser.add_argument("--posts-per-hour", type=int, default=30)
    parser.add_argument("--burst-seconds", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="wait this long before handling each request")
    parser.add_argument("--no-destroy", action="store_true", help="refuse deletes with 10014")
    parser.add_argument("--repeat-window-seconds", type=float, default=None,
                        help="refuse a repeated text only this long (default: for ever)")
    parser.add_argument("--timeline-visible", type=int, default=None,
                        help="user_timeline shows only this many newest posts (default: all)")
    parser.add_argument("--state", type=Path, default=None,
                        help="keep posts and tokens in this JSON file (kept across restarts)")
    parser.add_argument("--fault", action="append", default=[],
                        help="queue a fault: 20016, http:503, drop, accept+drop, 21327@/path")
    args = parser.parse_args(argv)
    config = PlatformConfig(safe_domain=args.safe_domain, posts_per_hour=args.posts_per_hour,
                            burst_seconds=args.burst_seconds, destroy_allowed=not args.no_destroy,
                            latency_seconds=args.latency_ms / 1000,
                            repeat_window_seconds=args.repeat_window_seconds,
                            timeline_visible=args.timeline_visible)
    emulator = serve(args.port, config, state_file=args.state)
    token = emulator.platform.issue_token(value=args.token)
    emulator.fail_next(*args.fault)
    print(json.dumps({"url": emulator.url, "access_token": token.value,
                      "app_key": config.app_key, "redirect_uri": config.redirect_uri}),
          flush=True)
    try:
        emulator.thread.join()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
