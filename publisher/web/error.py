"""Errors of the HTTP API: one JSON shape for every 4xx and 5xx, zh-CN first, then English."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from publisher.logs import get_logger

log = get_logger("publisher.web")


class Problem(BaseModel):
    """One thing wrong with a request: the field it concerns (if any) and what is wrong."""

    field: str | None = Field(None, description="字段 / the field, dotted (`channels.1`)")
    message: str = Field(description="问题（中文 / English）/ what is wrong, zh-CN then English")
    # a data file's bad cell (PUT /api/data/…): where it is and what it holds
    row: int | None = Field(None, description="行号（JSON：第几条）/ the row in the file (JSON: "
                                              "the item)")
    column: str | None = Field(None, description="列名，如文件所写 / the column, as the file "
                                                 "writes it")
    value: str | None = Field(None, description="单元格的值 / the value found in the cell")


CELL_KEYS = ("row", "column", "value")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str = Field(description="机器可读代码 / machine-readable code", examples=["unauthorized"])
    message_zh: str
    message_en: str
    problems: list[Problem] = Field(default_factory=list)


class ApiError(Exception):
    """An error answer: status, code, the message in both languages, and the problems."""

    def __init__(self, status: int, code: str, message_zh: str, message_en: str, *,
                 problems: Sequence[Problem] = (), headers: Mapping[str, str] | None = None
                 ) -> None:
        self.status, self.code = status, code
        self.message_zh, self.message_en = message_zh, message_en
        self.problems = list(problems)
        self.headers = dict(headers or {})
        super().__init__(f"{status} {code}: {message_zh} / {message_en}")


def respond(status: int, code: str, message_zh: str, message_en: str,
            problems: Sequence[Problem] = (), headers: Mapping[str, str] | None = None
            ) -> JSONResponse:
    """The uniform error response."""
    body = ErrorBody(error=code, message_zh=message_zh, message_en=message_en,
                     problems=list(problems))
    shown = body.model_dump()
    for problem in shown["problems"]:  # a cell's place only where there is one
        for key in CELL_KEYS:
            if problem[key] is None:
                del problem[key]
    return JSONResponse(shown, status_code=status, headers=dict(headers or {}))


# pydantic error types, said in Chinese (the English is pydantic's own message)
_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不接受此字段",
    "string_type": "应为文本",
    "string_too_short": "不能为空或过短",
    "string_too_long": "过长",
    "literal_error": "取值不在允许范围内",
    "list_type": "应为列表",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "int_parsing": "应为整数",
    "value_error": "取值无效",
}
_LOCATIONS = ("body", "path", "query", "header", "cookie")


def validation_problems(errors: Sequence[Any]) -> list[Problem]:
    """One problem per field from pydantic's (or FastAPI's) error list."""
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in _LOCATIONS and len(loc) > 1:
            loc = loc[1:]
        zh = _ZH.get(str(error.get("type")), "取值无效")
        problems.append(Problem(field=".".join(loc) or None,
                                message=f"{zh} / {error.get('msg', 'invalid value')}"))
    return problems


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return respond(exc.status, exc.code, exc.message_zh, exc.message_en, exc.problems, exc.headers)


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return respond(422, "invalid_request", "请求内容不符合要求，未发布任何内容",
                   "the request is invalid; nothing was published", validation_problems(exc.errors()))


_HTTP = {
    404: ("not_found", "没有这个地址", "no such resource"),
    405: ("method_not_allowed", "不支持此方法", "method not allowed"),
}


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, zh, en = _HTTP.get(exc.status_code, ("http_error", "请求无法处理", str(exc.detail)))
    return respond(exc.status_code, code, zh, en, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # the traceback is logged (redacted) by the server; the answer never carries exception text
    log.error("api.unexpected_error", path=request.url.path, error_type=type(exc).__name__)
    return respond(500, "internal_error", "服务内部错误，请查看日志", "internal error; see the logs")


def install(api: FastAPI) -> None:
    """Send every error through the uniform shape."""
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(RequestValidationError, _invalid)
    api.add_exception_handler(StarletteHTTPException, _http)
    api.add_exception_handler(Exception, _unexpected)
