"""``GET /metrics`` on the bot's HTTP app: Prometheus text of publisher/metrics.py's registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.exposition import choose_encoder

from publisher.metrics import registry

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

    from publisher.app import App


def install(api: FastAPI, app: App) -> None:
    """Serve ``GET /metrics`` (Prometheus text, or OpenMetrics when asked); no token needed.

    A plain Starlette route (run in the thread pool: the scrape queries the database), outside
    the OpenAPI schema, which documents the API for callers with tokens.
    """
    from starlette.responses import Response

    exposed = registry(app)

    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(exposed), headers={"Content-Type": content_type})

    api.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
