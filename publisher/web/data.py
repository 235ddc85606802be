"""``/api/data/{definition}/{period}/{table}``: upstream systems push a period's data file (PUT),
read back what is stored (GET) or take it out (DELETE); same checks as the console."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from publisher.intake import preview as period_preview
from publisher.intake import slot as slots
from publisher.intake import store
from publisher.intake.slot import IntakeRefused
from publisher.logs import get_logger
from publisher.source import DataProblem
from publisher.web import role
from publisher.web.auth import current_app, require
from publisher.web.error import ApiError, ErrorBody, Problem
from publisher.web.token import TokenInfo

log = get_logger("publisher.web")
router = APIRouter(prefix="/api/data", tags=["data"])
PATH = "/{definition}/{period}/{table}"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": words} for status, words in (
        (401, "缺少或无效的令牌 / missing or invalid token"),
        (403, "令牌无权处理此发布定义的数据 / the token may not act on this definition's data"),
        (404, "没有这个发布定义、期间或数据表 / no such definition, period or table"),
        (409, "本期发布已创建，数据不能再更改 / the period's release was created"),
        (413, "文件过大 / the file is too large"),
        (415, "文件格式不被此表接受 / a format this table does not take"),
        (422, "数据文件有问题，逐条列出（行、列、值）/ the file has problems, each with its row, "
              "column and value"))}


def problem_of(found: DataProblem, table: str) -> Problem:
    """The API's problem for one problem of a data file."""
    return Problem(field=table, message=found.text, row=found.row, column=found.column,
                   value=found.value)


def api_error(exc: IntakeRefused, table: str | None = None) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message_zh, exc.message_en,
                    problems=[problem_of(p, table or "") for p in exc.problems])


def _admit(caller: TokenInfo, definition: str) -> None:
    if not caller.covers(definition):
        log.warning("api.data_forbidden", token_name=caller.name, definition=definition[:100])
        raise ApiError(403, "forbidden", f"令牌 {caller.name} 无权处理发布定义 {definition[:100]} 的数据",
                       f"token {caller.name} may not act on the data of definition "
                       f"{definition[:100]}")


def stored_json(slot: slots.Slot, stored: store.Stored, **more: Any) -> dict[str, Any]:
    return {"definition": slot.definition_id, "period": slot.period.key, "table": slot.table,
            "path": stored.path, "sha256": stored.sha256, "size_bytes": stored.size_bytes,
            "format": stored.file_format, "rows": stored.rows,
            "uploaded_by": stored.uploaded_by, "uploaded_at": stored.uploaded_at.isoformat(),
            **more}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise api_error(store.too_large(limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise api_error(store.too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)


UPLOAD_BODY = {"requestBody": {"required": True, "content": {  # the file's bytes, as they are
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in ("text/csv", XLSX_MEDIA, "application/json")}}}


@router.put(PATH, summary="上传本期数据文件 / Put a period's data file",
            status_code=201, openapi_extra=UPLOAD_BODY,
            responses={200: {"description": "已替换或内容相同 / replaced, or the same content "
                                            "again"}, **ERRORS})
async def put_data(request: Request, definition: str, period: str, table: str,
                   caller: Annotated[TokenInfo, Depends(require(role.DATA_UPLOAD))]
                   ) -> JSONResponse:
    """以 CSV（UTF-8、带 BOM 或 GB18030）、XLSX 或 JSON 上传一张数据表本期的文件；用发布时的同一读取器
    立即检查，有问题则逐条列出（行、列、值）且不保存。相同内容再次上传不产生新版本。

    Send one table's file for the period as CSV (UTF-8, BOM or GB18030), XLSX or JSON (by
    ``Content-Type``, or ``?format=csv|xlsx|json``). It is checked at once with the reader the
    release uses; any problem answers 422 listing each with its row, column and value, and
    nothing is stored. The same bytes again change nothing (200, ``unchanged``).
    """
    _admit(caller, definition)
    app = current_app(request)
    try:
        slot = slots.slot(app, definition, period, table)
        data = await read_body(request, app.loaded.config.intake.max_file_bytes)
        given = request.query_params.get("format")
        kind = given if given in slots.FORMATS else slots.detect_format(
            request.headers.get("content-type"), None, data)
        if kind is None:
            raise IntakeRefused(415, "unsupported_format", "无法识别文件格式",
                                "cannot tell the file's format")
        done = store.put(app, slot, data, kind, actor=caller.actor)
    except IntakeRefused as exc:
        log.warning("api.data_refused", token_name=caller.name, definition=definition[:100],
                    code=exc.code, problems=len(exc.problems))
        raise api_error(exc, table[:100]) from None
    return JSONResponse(stored_json(slot, done.stored, outcome=done.outcome, kept=list(done.kept)),
                        status_code=201 if done.outcome == store.CREATED else 200)


@router.get("/{definition}/{period}", summary="本期数据是否就绪 / Whether a period's data is ready",
            responses={k: v for k, v in ERRORS.items() if k in (401, 403, 404)})
def get_period(request: Request, definition: str, period: str,
               caller: Annotated[TokenInfo, Depends(require(role.DATA_READ))]) -> JSONResponse:
    """本期各数据表的文件与问题，以及以当前数据这一期发布能否生成（或会因哪些问题暂停）。

    Each table's file for the period and its problems, and whether the period's release would
    be made from the data as it is (``ready``), or the problems that would hold it.
    """
    _admit(caller, definition)
    app = current_app(request)
    try:
        found = slots.period_for(app, definition, period)
    except IntakeRefused as exc:
        raise api_error(exc) from None
    tables = []
    for slot in slots.slots(app, definition, found):
        stored = store.current(app, slot)
        tables.append({"table": slot.table, "path": slot.resolved,
                       "stored": stored_json(slot, stored) if stored else None,
                       "problems": [problem_of(p, slot.table).model_dump(exclude_none=True)
                                    for p in store.verify(app, slot)]})
    shown = period_preview.prepare(app, definition, found)
    return JSONResponse({"definition": definition, "period": found.key, "release": shown.key,
                         "due_at": shown.due_at.isoformat(), "ready": shown.ready,
                         "problems": list(shown.problems), "tables": tables})


@router.get(PATH, summary="查看本期已存数据文件 / What is stored for a table",
            responses={k: v for k, v in ERRORS.items() if k in (401, 403, 404)})
def get_data(request: Request, definition: str, period: str, table: str,
             caller: Annotated[TokenInfo, Depends(require(role.DATA_READ))]) -> JSONResponse:
    """本期此表的文件：路径、SHA-256、大小、格式、由谁何时上传，以及历次版本。

    The table's file for the period: path, SHA-256, size, format, who handed it in and when
    (``inbox`` for a file that arrived by other means), and every earlier version.
    """
    _admit(caller, definition)
    app = current_app(request)
    try:
        slot = slots.slot(app, definition, period, table)
    except IntakeRefused as exc:
        raise api_error(exc) from None
    stored = store.current(app, slot)
    if stored is None:
        raise ApiError(404, "no_data", f"数据表 {table} 本期尚无文件",
                       f"table {table} has no file for this period yet")
    versions = [{"state": row.state, "sha256": row.sha256, "size_bytes": row.size_bytes,
                 "format": row.file_format, "uploaded_by": row.uploaded_by,
                 "uploaded_at": row.uploaded_at.isoformat(), "kept_path": row.kept_path,
                 "ended_by": row.ended_by,
                 "ended_at": row.ended_at.isoformat() if row.ended_at else None}
                for row in store.history(app, slot) if row.state != "current"]
    return JSONResponse(stored_json(slot, stored, versions=versions))


@router.delete(PATH, summary="撤下本期数据文件 / Take a table's file out",
               responses={k: v for k, v in ERRORS.items() if k in (401, 403, 404, 409)})
def delete_data(request: Request, definition: str, period: str, table: str,
                caller: Annotated[TokenInfo, Depends(require(role.DATA_UPLOAD))]
                ) -> JSONResponse:
    """把文件移出收件箱（留存为旧版本并记入审计）；本期发布创建后不能再撤下。

    Takes the file out of the inbox (kept as an earlier version, audited); refused once the
    period's release was created.
    """
    _admit(caller, definition)
    app = current_app(request)
    try:
        slot = slots.slot(app, definition, period, table)
        kept = store.remove(app, slot, actor=caller.actor)
    except IntakeRefused as exc:
        raise api_error(exc) from None
    return JSONResponse({"definition": definition, "period": slot.period.key, "table": table,
                         "outcome": "removed", "kept": list(kept)})
