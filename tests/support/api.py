"""The HTTP API under test: the urgent App's API on a free loopback port with one token per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import select

from publisher.app import App
from publisher.store.models import Delivery, Incident, Release
from publisher.web import token as tokens
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve

TIMEOUT_SECONDS = 30
POST = {"title": "某高架桥发生垮塌", "facts": "今日9时40分，某高架桥一段桥面垮塌，现场已封闭。",
        "area": "某区某高架桥", "severity": "较大", "instruction": "请绕行。"}


@dataclass
class Api:
    """A running API server over the test App, the wakes it made, and tokens of each role."""

    app: App
    server: WebServer
    wakes: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.server.url.rstrip("/") + path

    def post(self, body: Any = None, *, role: str | None = "urgent", **kwargs: Any
             ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers.setdefault("Authorization", f"Bearer {self.tokens[role]}")
        if body is not None:
            kwargs["json"] = body
        return requests.post(self.url("/api/urgent"), headers=headers, timeout=TIMEOUT_SECONDS,
                             **kwargs)

    def get(self, path: str, *, role: str | None = "urgent") -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return requests.get(self.url(path), headers=headers, timeout=TIMEOUT_SECONDS)


@pytest.fixture
def api(urgent_app: App) -> Iterator[Api]:
    """The API on 127.0.0.1 (a free port) in a thread, with one token per role; stopped after."""
    wakes: list[int] = []
    server = serve(create_app(urgent_app, wake=lambda: wakes.append(1)), "127.0.0.1", 0)
    running = Api(urgent_app, server, wakes)
    for role in tokens.ROLES:
        running.tokens[role] = tokens.create(
            urgent_app, f"desk-{role}", role, actor="staff:li",
            definitions=("weekly",) if role == "supplier" else ())
    try:
        yield running
    finally:
        server.stop()
    assert not server.thread.is_alive()


def api_counts(app: App) -> tuple[int, int, int]:
    """The numbers of incidents, releases and deliveries stored."""
    with app.store.read() as session:
        return (len(session.execute(select(Incident.id)).all()),
                len(session.execute(select(Release.id)).all()),
                len(session.execute(select(Delivery.id)).all()))


def api_routes(api: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, path parameters filled with 1. Included routers
    stay nested in this FastAPI (``effective_route_contexts``); plain routes are listed as is."""
    found: set[tuple[str, str]] = set()
    for route in api.routes:
        leaves = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") \
            else [route]
        for leaf in leaves:
            path, methods = getattr(leaf, "path", None), getattr(leaf, "methods", None)
            if path and methods:
                found |= {(method, fill_path(path)) for method in methods}
    return sorted(found)


def fill_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)
