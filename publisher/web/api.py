"""The FastAPI application: the urgent-post API, its error shape, its OpenAPI schema, /healthz, /metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from publisher.app import App
from publisher.metrics import database_up
from publisher.version import VERSION
from publisher.web import console, data, docs, error, metrics
from publisher.web.body import BODY_MODELS
from publisher.web.gate import PasswordGate
from publisher.web.incident import router as incident_router

if TYPE_CHECKING:
    from publisher.dispatch import Dispatcher

TITLE = "政务信息发布机器人 API / gov-publisher API"
DESCRIPTION = """\
紧急信息的 HTTP 接口：用 API 令牌（`Authorization: Bearer pub_…`，由 `publisher tokens add`
创建）发布事件首报，查看事件时间线。任何错误都以同一 JSON 形状返回，且不发布、不记录任何内容。

The HTTP API for urgent posts: with an API token (`Authorization: Bearer pub_…`, made by
`publisher tokens add`) post the first report of an incident and follow its timeline. Every
error answers in one JSON shape (`error`, `message_zh`, `message_en`, `problems`) and
publishes and records nothing.
"""


class PublisherApi(FastAPI):
    """FastAPI with the request-body models of ``json_body`` routes in its OpenAPI components."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in BODY_MODELS.items():
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components.setdefault(name, body)
            self.openapi_schema = schema
        return self.openapi_schema


def create_app(app: App, *, wake: Callable[[], None] | None = None,
               dispatcher: Dispatcher | None = None) -> FastAPI:
    """The API over ``app``; ``wake`` is called after an urgent post is recorded (the running
    dispatcher then sends it at once); ``dispatcher``, the daemon's own, lets the console show
    its open circuits (without it they show as unknown) and retry by hand through one."""
    web = app.loaded.config.web
    # FastAPI's own /docs and /redoc load their scripts from a public CDN: off; ``docs`` serves
    # Swagger UI from the package instead (web.api_docs)
    api = PublisherApi(title=TITLE, description=DESCRIPTION, version=VERSION, docs_url=None,
                       redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    api.state.publisher = app
    api.state.wake = wake
    api.state.dispatcher = dispatcher
    api.state.password_gate = PasswordGate(web.password_checks, web.password_queue)
    error.install(api)
    api.include_router(incident_router)
    api.include_router(data.router)
    metrics.install(api, app)
    console.install(api)  # the staff console's pages (sessions; the API stays bearer-only)
    if web.api_docs:
        docs.install(api)

    @api.get("/healthz", tags=["health"], summary="存活检查 / Liveness (no token needed)",
             responses={503: {"description": "数据库不可用 / the database does not answer"}})
    def healthz() -> JSONResponse:
        up = database_up(app.store)
        return JSONResponse({"status": "ok" if up else "unavailable",
                             "database": "ok" if up else "unreachable"},
                            status_code=200 if up else 503)

    # outermost: a request naming another host (DNS rebinding, a forged Host) answers 400
    # before any route or page sees it
    api.add_middleware(TrustedHostMiddleware, allowed_hosts=web.host_names(), www_redirect=False)
    return api
