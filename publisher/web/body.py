"""JSON request bodies: type and size checked, then parsed, then validated, in that order."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from publisher.web.error import ApiError

MAX_BODY_BYTES = 64 * 1024
MAX_PICTURE_BODY_BYTES = 8 * 1024 * 1024  # a 5 MB picture in Base64, with the text
M = TypeVar("M", bound=BaseModel)

# models read by json_body, added to the OpenAPI components (see api.PublisherApi.openapi)
BODY_MODELS: dict[str, type[BaseModel]] = {}


def _too_large(limit_bytes: int) -> ApiError:
    limit = limit_bytes // 1024
    return ApiError(413, "payload_too_large", f"请求体超过 {limit} KiB，未发布任何内容",
                    f"the request body exceeds {limit} KiB; nothing was published")


def _check_type(request: Request) -> None:
    header = request.headers.get("content-type", "")
    media, _, params = header.partition(";")
    media = media.strip().lower()
    charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in params.split(";")
                    if p.strip().lower().startswith("charset=")), "utf-8")
    if not (media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))) \
            or charset not in ("utf-8", "utf8"):
        raise ApiError(415, "unsupported_media_type",
                       f"请以 application/json（UTF-8）发送，收到的是 {header or '无类型'}",
                       f"send application/json (UTF-8); got {header or 'no content type'}")


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's JSON value: 415 for another type, 413 past ``limit``, 400 if malformed."""
    _check_type(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks).decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        where = f"（第 {exc.lineno} 行第 {exc.colno} 列）" if isinstance(exc, json.JSONDecodeError) \
            else ""
        where_en = f" (line {exc.lineno}, column {exc.colno})" \
            if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(400, "malformed_json", f"请求体不是有效的 UTF-8 JSON{where}",
                       f"the request body is not valid UTF-8 JSON{where_en}") from None


def json_body(model: type[M], limit: int = MAX_BODY_BYTES) -> Callable[[Request], Awaitable[M]]:
    """A dependency reading the body as ``model`` (after the dependencies declared before it,
    so authentication comes first); invalid fields answer 422 naming each one. Validation
    runs in a worker thread: a picture's check must not hold the event loop."""
    BODY_MODELS[model.__name__] = model

    async def parse(request: Request) -> M:
        data = await read_json(request, limit)
        try:
            return await run_in_threadpool(model.model_validate, data)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None

    return parse


def request_body(model: type[BaseModel], examples: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a ``json_body(model)`` request with its examples."""
    BODY_MODELS[model.__name__] = model
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"},
        "examples": examples}}}}
