"""Urgent posts in the console: compose, preview, confirm; incidents with their live board and next steps."""

from __future__ import annotations

from publisher.web.console.urgent import wording  # noqa: F401  (registers the pages' words)
from publisher.web.console.urgent.board import router as board_router
from publisher.web.console.urgent.compose import router as compose_router
from publisher.web.console.urgent.override import router as override_router

ROUTERS = (compose_router, override_router, board_router)
