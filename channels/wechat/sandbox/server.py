"""The emulator's HTTP side: routes ``/cgi-bin/…`` to the account, with injected faults."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.wechat.sandbox.common import Reply
from channels.wechat.sandbox.state import Account

Route = Callable[[Account, dict[str, str], dict[str, Any], dict[str, Any]], dict[str, Any]]


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """The parts of a multipart body: name -> bytes (files) or text, plus ``<name>.filename``."""
    boundary = ""
    for piece in content_type.split(";"):
        name, _, value = piece.strip().partition("=")
        if name == "boundary":
            boundary = value.strip('"')
    parts: dict[str, Any] = {}
    if not boundary:
        return parts
    for chunk in raw.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        disposition = next((line for line in head.decode("utf-8", "replace").split("\r\n")
                            if line.lower().startswith("content-disposition")), "")
        fields = dict(p.strip().partition("=")[::2] for p in disposition.split(";")[1:])
        name = fields.get("name", "").strip('"')
        if "filename" in fields:
            parts[name] = data
            parts[f"{name}.filename"] = fields["filename"].strip('"')
        else:
            parts[name] = data.decode("utf-8", "replace")
    return parts


def _authed(route: Route) -> Route:
    def wrapped(acc: Account, query: dict[str, str], body: dict[str, Any],
                files: dict[str, Any]) -> dict[str, Any]:
        acc.check_token(query.get("access_token"))
        return route(acc, query, body, files)
    return wrapped


def _media(files: dict[str, Any]) -> bytes:
    data = files.get("media")
    return data if isinstance(data, bytes) else b""


ROUTES: dict[str, Route] = {
    "token": lambda a, q, b, f: a.classic_token(q.get("appid"), q.get("secret")),
    "stable_token": lambda a, q, b, f: a.stable_token(
        b.get("appid"), b.get("secret"), bool(b.get("force_refresh"))),
    "material/add_material": _authed(lambda a, q, b, f: a.add_material(
        q.get("type", ""), _media(f), str(f.get("media.filename", "")))),
    "media/uploadimg": _authed(lambda a, q, b, f: a.upload_image(_media(f))),
    "draft/add": _authed(lambda a, q, b, f: a.draft_add(b)),
    "draft/get": _authed(lambda a, q, b, f: a.draft_get(str(b.get("media_id", "")))),
    "draft/delete": _authed(lambda a, q, b, f: a.draft_delete(str(b.get("media_id", "")))),
    "freepublish/submit": _authed(lambda a, q, b, f: a.submit(str(b.get("media_id", "")))),
    "freepublish/get": _authed(lambda a, q, b, f: a.publish_get(str(b.get("publish_id", "")))),
    "freepublish/delete": _authed(lambda a, q, b, f: a.publish_delete(
        str(b.get("article_id", "")), int(b.get("index") or 0))),
    "freepublish/batchget": _authed(lambda a, q, b, f: a.batchget(
        int(b.get("offset") or 0), int(b.get("count") or 0), bool(b.get("no_content")))),
    "message/mass/sendall": _authed(lambda a, q, b, f: a.sendall(b)),
    "message/mass/get": _authed(lambda a, q, b, f: a.mass_get(b.get("msg_id"))),
    "message/mass/delete": _authed(lambda a, q, b, f: a.mass_delete(
        b.get("msg_id"), int(b.get("article_idx") or 0))),
    "clear_quota": _authed(lambda a, q, b, f: a.clear_quota(b.get("appid"))),
}
POST_ONLY = {"stable_token"}
ARTICLE_FIELDS = ("title", "digest", "content", "content_source_url")  # /_sandbox/articles


class Handler(BaseHTTPRequestHandler):
    """One request: fault, then quota, then the route; errors as HTTP 200 with errcode."""

    disable_nagle_algorithm = True  # keep-alive without the ~40 ms delayed-ACK stall
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the account is the record (and URLs carry tokens)."""

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/_sandbox/stats":  # for drills: what the account holds
            acc = self.server.account
            with acc.lock:
                stats = {"published": len(acc.published()),
                     "live": sum(not a.get("is_deleted") for a in acc.published()),
                     "mass_sends": len(acc.mass_sends),
                         "drafts": len(acc.drafts), "jobs": len(acc.jobs),
                         "calls": dict(acc.calls)}
            self._reply(200, stats)
            return
        if self.path == "/_sandbox/articles":  # for drills: every article as the public got it
            acc = self.server.account
            with acc.lock:
                shown = [{"via": via, **{k: a.get(k) for k in ARTICLE_FIELDS}}
                         for via, items in [("publish", acc.published())]
                         + [("mass", m["articles"]) for m in acc.mass_sends] for a in items]
            self._reply(200, {"articles": shown})
            return
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        acc = self.server.account
        parts = urlsplit(self.path)
        api = parts.path.removeprefix("/cgi-bin/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with acc.lock:
            acc.request_log.append((acc.now(), api))
            latency = acc.latency_seconds
        if latency > 0:  # a slow network or remote, outside the lock: requests overlap
            time.sleep(latency)
        fault = acc.take_fault(api)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            with acc.lock:
                acc.calls[api] += 1
            self._reply(fault.status, {"message": "sandbox fault"})
            return
        route = ROUTES.get(api)
        with acc.lock:
            acc.calls[api] += 1
            try:
                if route is None:
                    raise acc.fail(48001, "api unauthorized")
                if method != "POST" and api in POST_ONLY:
                    raise acc.fail(43002, "require POST method")
                if fault is not None and fault.kind == "errcode":
                    raise acc.fail(fault.errcode, "sandbox fault")
                acc.count_quota(api)
                content_type = self.headers.get("Content-Type") or ""
                files: dict[str, Any] = {}
                body: dict[str, Any] = {}
                if content_type.startswith("multipart/form-data"):
                    files = _multipart(content_type, raw)
                elif raw:
                    try:
                        loaded = json.loads(raw.decode("utf-8"), strict=False)
                    except ValueError:
                        raise acc.fail(47001, "data format error") from None
                    body = loaded if isinstance(loaded, dict) else {}
                result = route(acc, query, body, files)
                acc.save()
            except Reply as reply:
                acc.errors[(api, reply.errcode)] += 1
                result = {"errcode": reply.errcode, "errmsg": reply.errmsg, **reply.extra}
        if fault is not None and fault.kind == "lost":
            self.close_connection = True  # handled, but the answer never leaves
            return
        self._reply(200, result)


class Server(ThreadingHTTPServer):
    """A threading HTTP server holding one account."""

    daemon_threads = True

    def __init__(self, port: int, account: Account, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), Handler)
        self.account = account
