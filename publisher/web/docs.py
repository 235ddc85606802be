"""``/docs``: Swagger UI for the API, its script and style served by the bot from a pinned package."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
# the Swagger UI and ReDoc builds fastapi-offline ships (pinned in pyproject.toml): served from
# here, nothing is fetched from a CDN, which intranets do not reach
ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"


def install(api: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` with its assets under ``/docs/assets``; no page refers to
    another origin (the favicon included; Swagger UI's online validator is off, so it does not
    send the schema's address to validator.swagger.io)."""
    api.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")

    @api.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", ""))
        return get_swagger_ui_html(
            openapi_url=f"{root}{api.openapi_url}", title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=None, swagger_ui_parameters={"validatorUrl": None})
