"""``/data``: a definition's data for a period: the tables it needs, templates, upload, problems by
cell, and each channel's message exactly as it would go out; suppliers see only their own."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from publisher.app import App
from publisher.config import ReleaseDefinition
from publisher.intake import preflight, store
from publisher.intake import preview as period_preview
from publisher.intake import slot as slots
from publisher.intake.slot import IntakeRefused, unsupported
from publisher.intake.template import csv_template, sheet_name, xlsx_template
from publisher.logs import get_logger
from publisher.outcome import of_releases
from publisher.period import Period, period_of
from publisher.source import DataProblem
from publisher.store.models import Release
from publisher.web import role
from publisher.web import session as sessions
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console import preview
from publisher.web.console.deliveries import PREVIEW_HEADERS
from publisher.web.console.deps import (
    CSRF_FIELD,
    CsrfRefused,
    FormUnreadable,
    PageForbidden,
    SignInRequired,
    check_csrf,
    page_router,
    render,
    require_page,
    signed_in,
)
from publisher.web.console.i18n import language, register

log = get_logger("publisher.web")
router = page_router()
upload_router = APIRouter(include_in_schema=False)  # multipart: its CSRF check reads that form
PATH = "/data"
RELEASES_SHOWN = 10
FORM_OVERHEAD_BYTES = 64 * 1024  # the fields and multipart framing around the file
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

register({
    "nav.data": ("数据报送", "Data"),
    "role.supplier": ("数据报送", "data supplier"),
    "permission.data.read": ("查看数据与预览", "see data and previews"),
    "permission.data.upload": ("上传数据", "upload data"),
    "data.title": ("数据报送", "Data"),
    "data.help": ("每个发布定义每期需要的数据表。上传后立即按发布时的同一规则检查，有问题逐格列出；"
                  "通过的文件存入收件箱，发布时读取。", "The tables each definition needs per "
                  "period. An upload is checked at once by the rules the release uses, every "
                  "problem named by cell; a valid file goes into the inbox, where the release "
                  "reads it."),
    "data.none": ("没有您可报送数据的发布定义。", "There is no definition whose data you may "
                  "supply."),
    "data.period": ("期间", "Period"),
    "data.due": ("发布时间", "Due"),
    "data.tables": ("数据表", "Tables"),
    "data.open": ("打开", "Open"),
    "data.manual": ("手动发布", "manual"),
    "data.page_title": ("{definition}：{period}的数据", "{definition}: data for {period}"),
    "data.previous": ("上一期", "Previous period"),
    "data.next": ("下一期", "Next period"),
    "data.current": ("当前期", "Current period"),
    "data.preflight": ("发布前检查", "Pre-flight check"),
    "data.preflight_at": ("将于 {at}（发布前 {hours} 小时）检查数据是否齐全有效", "The data is "
                          "checked at {at} ({hours} h before the run)"),
    "data.preflight_ready": ("{at} 检查：数据齐全有效", "checked {at}: the data is ready"),
    "data.preflight_not_ready": ("{at} 检查：数据未就绪，已通知", "checked {at}: the data was not "
                                 "ready; alerted"),
    "data.preflight_none": ("未设置发布前检查（data_due_hours）", "No pre-flight check "
                            "(data_due_hours) is set"),
    "data.locked": ("本期发布 {release_key} 已创建，数据不能再更改。", "The release "
                    "{release_key} of this period was created: its data can no longer change."),
    "data.table": ("数据表 {name}", "Table {name}"),
    "data.shares": ("与 {names} 同一文件（各表一个工作表）", "one file with {names} (a sheet "
                    "each)"),
    "data.sheet": ("工作表", "Sheet"),
    "data.path": ("收件箱路径", "Inbox path"),
    "data.state": ("状态", "State"),
    "data.arrived": ("已到达", "arrived"),
    "data.missing": ("尚未到达", "not arrived yet"),
    "data.file": ("文件", "File"),
    "data.sha256": ("SHA-256", "SHA-256"),
    "data.size": ("大小", "Size"),
    "data.rows": ("行数", "Rows"),
    "data.uploaded_by": ("上传者", "Uploaded by"),
    "data.uploaded_at": ("上传时间", "Uploaded at"),
    "data.from_inbox": ("经收件箱放入（共享文件夹、SFTP 等）", "put into the inbox by other means "
                        "(shared folder, SFTP)"),
    "data.columns": ("应有的列", "Expected columns"),
    "data.col.header": ("列名", "Header"),
    "data.col.aliases": ("也可写作", "Also accepted"),
    "data.col.type": ("类型", "Type"),
    "data.col.required": ("必填", "Required"),
    "data.type.text": ("文本", "text"),
    "data.type.int": ("整数", "whole number"),
    "data.type.number": ("数值", "number"),
    "data.type.date": ("日期", "date"),
    "data.yes": ("是", "yes"),
    "data.no": ("否（可空）", "no (may be empty)"),
    "data.templates": ("模板", "Templates"),
    "data.template_xlsx": ("下载 XLSX 模板", "Download the XLSX template"),
    "data.template_csv": ("下载 CSV 模板", "Download the CSV template"),
    "data.template_all": ("下载全部数据表的 XLSX 模板（每表一个工作表）", "Download one XLSX "
                          "template for every table (a sheet each)"),
    "data.upload": ("上传文件", "Upload a file"),
    "data.upload_label": ("{name} 的数据文件（CSV、XLSX 或 JSON）", "Data file for {name} (CSV, "
                          "XLSX or JSON)"),
    "data.upload_submit": ("上传并检查", "Upload and check"),
    "data.accepts": ("接受：{formats}；最大 {mib} MiB", "Takes: {formats}; at most {mib} MiB"),
    "data.remove": ("撤下此文件", "Take this file out"),
    "data.versions": ("历次文件", "Earlier files"),
    "data.version.replaced": ("已替换", "replaced"),
    "data.version.removed": ("已撤下", "removed"),
    "data.ended": ("{by} 于 {at}", "by {by} at {at}"),
    "data.kept": ("留存于", "kept at"),
    "data.file_problems": ("此文件有 {count} 处问题，发布时会被暂停：", "This file has {count} "
                           "problem(s); the release would be held:"),
    "data.problems": ("文件未保存：{table} 有 {count} 处问题", "Not stored: {table} has {count} "
                      "problem(s)"),
    "data.problem.row": ("行", "Row"),
    "data.problem.column": ("列", "Column"),
    "data.problem.value": ("值", "Value"),
    "data.problem.message": ("问题", "Problem"),
    "data.done.created": ("已保存 {table} 的文件。", "The file of {table} was stored."),
    "data.done.replaced": ("已替换 {table} 的文件，原文件已留存。", "The file of {table} was "
                           "replaced; the earlier one is kept."),
    "data.done.unchanged": ("{table} 的文件与已存的相同，未作更改。", "The file of {table} is the "
                            "one already stored: nothing changed."),
    "data.done.removed": ("已撤下 {table} 的文件（已留存）。", "The file of {table} was taken out "
                          "(it is kept)."),
    "data.refused": ("未保存：{reason}", "Not stored: {reason}"),
    "data.preview": ("各渠道预览（与发布时完全一致）", "Each channel's message, exactly as it "
                     "will go out"),
    "data.preview_key": ("按 {release_key} 生成，索引号为下一个可用号", "rendered as "
                         "{release_key}, with the next free index number"),
    "data.preview_problems": ("以当前数据，这一期的发布会被暂停：", "With the data as it is, this "
                              "period's release would be held:"),
    "data.releases": ("本定义的发布结果", "Outcomes of this definition's releases"),
    "data.no_releases": ("还没有发布。", "No release yet."),
    "data.public": ("公开地址", "Public address"),
})


# --------------------------------------------------------------------------- who may see what


def _definition(request: Request, account: Account, definition_id: str) -> ReleaseDefinition:
    """The definition, if it reads data (404) and the account may act on it (403)."""
    app = current_app(request)
    definition = app.loaded.config.releases.get(definition_id)
    if definition is None or definition.source is None:
        raise HTTPException(404)
    if not account.covers(definition_id):
        log.warning("console.data_forbidden", account=account.name, definition=definition_id)
        raise PageForbidden(role.DATA_READ)
    return definition


def _period(request: Request, definition_id: str, key: str) -> Period:
    try:
        return slots.period_for(current_app(request), definition_id, key)
    except IntakeRefused:
        raise HTTPException(404) from None


def _page_path(definition_id: str, period: Period) -> str:
    return f"{PATH}/{quote(definition_id)}/{quote(period.key)}"


# --------------------------------------------------------------------------- the list


@router.get(PATH, response_class=HTMLResponse)
def data_index(request: Request,
               account: Annotated[Account, Depends(require_page(role.DATA_READ))]
               ) -> HTMLResponse:
    app = current_app(request)
    now = app.clock.now()
    items = []
    for definition_id, definition in sorted(app.loaded.config.releases.items()):
        if definition.source is None or not account.covers(definition_id):
            continue
        period = slots.current_period(app, definition_id, now)
        items.append({"id": definition_id, "period": period,
                      "due": slots.due_for(app, definition_id, period),
                      "path": _page_path(definition_id, period),
                      "tables": [(s.table, store.current(app, s) is not None)
                                 for s in slots.slots(app, definition_id, period)]})
    return render(request, "data_index.html.j2", {"items": items})


@router.get(PATH + "/{definition_id}", response_class=HTMLResponse)
def data_current(request: Request, definition_id: str,
                 account: Annotated[Account, Depends(require_page(role.DATA_READ))]
                 ) -> Response:
    _definition(request, account, definition_id)
    app = current_app(request)
    period = slots.current_period(app, definition_id, app.clock.now())
    return RedirectResponse(_page_path(definition_id, period), status_code=303)


# --------------------------------------------------------------------------- templates


@router.get(PATH + "/{definition_id}/template.xlsx")
def template_workbook(request: Request, definition_id: str,
                      account: Annotated[Account, Depends(require_page(role.DATA_READ))]
                      ) -> Response:
    """One workbook with a sheet for every table of the definition."""
    definition = _definition(request, account, definition_id)
    assert definition.source is not None
    data = xlsx_template(definition, current_app(request).loaded.config.schemas,
                         list(definition.source.tables))
    return _download(data, XLSX_TYPE, f"{definition_id}-template.xlsx")


@router.get(PATH + "/{definition_id}/template/{file_name}")
def template_file(request: Request, definition_id: str, file_name: str,
                  account: Annotated[Account, Depends(require_page(role.DATA_READ))]
                  ) -> Response:
    """``TABLE.xlsx`` (its sheet, its headers) or ``TABLE.csv`` (its header row)."""
    definition = _definition(request, account, definition_id)
    assert definition.source is not None
    table, _, suffix = file_name.rpartition(".")
    if table not in definition.source.tables or suffix not in ("xlsx", "csv"):
        raise HTTPException(404)
    schemas = current_app(request).loaded.config.schemas
    if suffix == "csv":
        schema = schemas[definition.source.tables[table].table_schema]
        return _download(csv_template(schema), "text/csv; charset=utf-8",
                         f"{definition_id}-{table}.csv")
    return _download(xlsx_template(definition, schemas, [table]), XLSX_TYPE,
                     f"{definition_id}-{table}.xlsx")


def _download(data: bytes, media_type: str, name: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


# --------------------------------------------------------------------------- the page


def _table_facts(app: App, definition: ReleaseDefinition, slot: slots.Slot, lang: str
                 ) -> dict[str, Any]:
    files = store.files(app, slot)
    return {"slot": slot, "stored": store.current(app, slot), "several": len(files) > 1,
            "problems": _problem_rows(store.verify(app, slot), lang),
            "sheet": sheet_name(definition, slot.table) if "xlsx" in slot.accepts() else None,
            "versions": [row for row in store.history(app, slot) if row.state != "current"],
            "formats": "、".join(slots.FORMATS[f] for f in slot.accepts())}


def _releases(app: App, definition_id: str) -> list[dict[str, Any]]:
    with app.store.read() as session:
        rows = list(session.execute(
            select(Release).where(Release.definition_id == definition_id)
            .order_by(Release.due_at.desc(), Release.id.desc()).limit(RELEASES_SHOWN)).scalars())
        outcomes = of_releases(session, rows)
        from publisher.store.models import Delivery

        urls: dict[int, list[tuple[str, str]]] = {}
        for delivery in session.execute(select(Delivery).where(
                Delivery.release_id.in_([r.id for r in rows]),
                Delivery.state == "published")).scalars():
            url = (delivery.receipt or {}).get("url")
            if url:
                urls.setdefault(delivery.release_id, []).append((delivery.channel, str(url)))
    return [{"row": r, "outcome": outcomes[r.id], "urls": sorted(urls.get(r.id, [])),
             "problems": [str(p) for p in (r.hold_reason or {}).get("problems") or []]}
            for r in rows]


def _data_page(request: Request, account: Account, definition_id: str, period_key: str, *,
               done: str | None = None, done_table: str = "",
               refusal: IntakeRefused | None = None, refused_table: str = "",
               status_code: int = 200) -> HTMLResponse:
    definition = _definition(request, account, definition_id)
    period = _period(request, definition_id, period_key)
    app = current_app(request)
    assert definition.source is not None
    lang = language(request)
    tables = [_table_facts(app, definition, s, lang)
              for s in slots.slots(app, definition_id, period)]
    shown = period_preview.prepare(app, definition_id, period)
    previews = [preview.of_payload(app, name, payload) for name, payload in shown.payloads.items()]
    due = slots.due_for(app, definition_id, period)
    hours = definition.data_due_hours
    locked = store.locked_by(app, tables[0]["slot"]) if tables else None
    return render(request, "data.html.j2", {
        "definition_id": definition_id, "definition": definition, "period": period,
        "page_path": _page_path(definition_id, period),
        "previous_path": _page_path(definition_id, period_of(period.start, period.unit, -1)),
        "next_path": _page_path(definition_id, period_of(period.start, period.unit, 1)),
        "current_path": _page_path(definition_id, slots.current_period(app, definition_id,
                                                                       app.clock.now())),
        "due": due, "check_at": preflight.check_time(due, hours) if due and hours else None,
        "checked": preflight.last(app, shown.key) if due else None,
        "hours": f"{hours:g}" if hours else None, "locked": locked, "tables": tables,
        "preview": shown, "previews": previews, "releases": _releases(app, definition_id),
        "may_upload": account.may(role.DATA_UPLOAD) and locked is None,
        "max_mib": f"{app.loaded.config.intake.max_file_mib:g}",
        "done": done, "done_table": done_table, "refused_table": refused_table,
        "refusal": None if refusal is None else (
            refusal.message_en if lang == "en" else refusal.message_zh),
        "problems": _problem_rows(refusal.problems if refusal else [], lang)},
        status_code=status_code)


def _problem_rows(problems: list[DataProblem], lang: str) -> list[dict[str, Any]]:
    rows = []
    for found in problems:
        message = (found.message_en if lang == "en" else found.message_zh) or found.text
        label = (found.row_label_en if lang == "en" else found.row_label_zh) or ""
        rows.append({"row": label, "column": found.column or "", "value": found.value,
                     "message": message})
    return rows


DONE = (store.CREATED, store.REPLACED, store.UNCHANGED, "removed")


@router.get(PATH + "/{definition_id}/{period_key}", response_class=HTMLResponse)
def data_page(request: Request, definition_id: str, period_key: str,
              account: Annotated[Account, Depends(require_page(role.DATA_READ))]
              ) -> HTMLResponse:
    done = request.query_params.get("done")
    return _data_page(request, account, definition_id, period_key,
                      done=done if done in DONE else None,
                      done_table=request.query_params.get("table", "")[:100])


@router.get(PATH + "/{definition_id}/{period_key}/preview/{channel}", response_class=HTMLResponse)
def data_preview(request: Request, definition_id: str, period_key: str, channel: str,
                 account: Annotated[Account, Depends(require_page(role.DATA_READ))]
                 ) -> HTMLResponse:
    """One channel's message body as a whole document, for the page's sandboxed frame."""
    _definition(request, account, definition_id)
    app = current_app(request)
    shown = period_preview.prepare(app, definition_id, _period(request, definition_id, period_key))
    payload = shown.payloads.get(channel)
    document = preview.of_payload(app, channel, payload).document if payload else None
    if document is None:
        raise HTTPException(404)
    return HTMLResponse(document, headers=PREVIEW_HEADERS)


# --------------------------------------------------------------------------- changing


async def _upload_form(request: Request) -> FormData:
    """The upload's multipart form, if its ``csrf_token`` is its session's (as ``check_csrf``
    does for urlencoded forms): sign-in, size and CSRF come before anything is read as data."""
    found = signed_in(request)
    if found is None:
        raise SignInRequired("/")
    if not found.account.may(role.DATA_UPLOAD):  # refused before the body is read
        raise PageForbidden(role.DATA_UPLOAD)
    limit = current_app(request).loaded.config.intake.max_file_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise FormUnreadable(413)
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise FormUnreadable(415)
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=limit)
    except Exception:  # a malformed multipart body, or a part past the limit
        raise FormUnreadable(413 if media == "multipart/form-data" else 415) from None
    given = form.get(CSRF_FIELD)
    if not sessions.csrf_matches(found.csrf_token, given if isinstance(given, str) else None):
        log.warning("console.csrf_refused", account=found.account.name, path=request.url.path)
        raise CsrfRefused
    return form


@upload_router.post(PATH + "/{definition_id}/{period_key}/{table}", response_class=HTMLResponse)
async def upload(request: Request, definition_id: str, period_key: str, table: str,
                 form: Annotated[FormData, Depends(_upload_form)]) -> Response:
    account = require_page(role.DATA_UPLOAD)(request)
    _definition(request, account, definition_id)
    app = current_app(request)
    chosen = form.get("file")
    try:
        slot = slots.slot(app, definition_id, period_key, table)
        if not isinstance(chosen, UploadFile) or not chosen.filename:
            raise IntakeRefused(422, "no_file", "请选择要上传的文件", "choose a file to upload")
        data = await chosen.read(app.loaded.config.intake.max_file_bytes + 1)
        if len(data) > app.loaded.config.intake.max_file_bytes:
            raise store.too_large(app.loaded.config.intake.max_file_bytes)
        kind = slots.detect_format(chosen.content_type, chosen.filename, data)
        if kind is None:
            raise unsupported(chosen.filename)
        done = store.put(app, slot, data, kind, actor=account.actor)
    except IntakeRefused as exc:
        if exc.code in ("not_found", "bad_period", "unknown_table"):
            raise HTTPException(404) from None
        return _data_page(request, account, definition_id, period_key, refusal=exc,
                          refused_table=table, status_code=exc.status)
    finally:
        await form.close()
    return RedirectResponse(f"{_page_path(definition_id, slot.period)}?done={done.outcome}"
                            f"&table={quote(table)}", status_code=303)


@router.post(PATH + "/{definition_id}/{period_key}/{table}/remove", response_class=HTMLResponse)
def remove(request: Request, definition_id: str, period_key: str, table: str,
           account: Annotated[Account, Depends(require_page(role.DATA_UPLOAD))],
           _form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    _definition(request, account, definition_id)
    app = current_app(request)
    try:
        slot = slots.slot(app, definition_id, period_key, table)
        store.remove(app, slot, actor=account.actor)
    except IntakeRefused as exc:
        if exc.code in ("not_found", "bad_period", "unknown_table"):
            raise HTTPException(404) from None
        return _data_page(request, account, definition_id, period_key, refusal=exc,
                          refused_table=table, status_code=exc.status)
    return RedirectResponse(f"{_page_path(definition_id, slot.period)}?done=removed"
                            f"&table={quote(table)}", status_code=303)
