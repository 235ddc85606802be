"""``/reports``: the annual report's figures and charts (inline SVG made here), each figure a
link to the rows it counts; the same report as XLSX, Word, CSV and JSON downloads."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import QueryParams

from publisher.app import App
from publisher.report.build import build_report, explain, rows_of
from publisher.report.figure import Report
from publisher.report.output import data, svg
from publisher.report.period import PeriodError, ReportPeriod, parse
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.deps import page_router, render, require_page
from publisher.web.console.i18n import language, register

router = page_router()
PATH = "/reports"
MAX_ROWS_SHOWN = 1000
MAX_ORGAN = 200
DOWNLOADS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}

register({
    "nav.reports": ("年度报告", "Annual report"),
    "permission.report.read": ("查看年度报告统计", "read the annual report's figures"),
    "reports.title": ("政府信息公开工作年度报告 · 统计", "Annual disclosure report · figures"),
    "reports.help": ("数字由发布记录统计，点击任一数字可查看其所计的记录。本系统无法得知的项目注明"
                     "“无法统计”，早期未记录的字段注明“未记录”。", "Figures are counted from the publishing "
                     "records; open any figure to see the rows it counts. What the bot cannot "
                     "know says so, and fields older records lack say 'not recorded'."),
    "reports.year": ("年度", "Year"),
    "reports.from": ("或起始日", "or from"),
    "reports.to": ("截止日（含）", "to (inclusive)"),
    "reports.organ": ("发布机构", "Issuing organ"),
    "reports.all_organs": ("全部", "all"),
    "reports.show": ("统计", "Show"),
    "reports.download": ("下载", "Download"),
    "reports.period": ("期间", "Period"),
    "reports.made_at": ("生成时间", "Made at"),
    "reports.database": ("数据库", "Database"),
    "reports.audit": ("审计链", "Audit chain"),
    "reports.audit_ok": ("完整，共 {count} 条记录", "intact, {count} events"),
    "reports.audit_broken": ("被破坏：{problem}", "broken: {problem}"),
    "reports.audit_unchecked": ("未核验", "not verified"),
    "reports.verify": ("核验审计链", "verify the chain"),
    "reports.charts": ("图表", "Charts"),
    "reports.chart_monthly": ("按月发布篇次（分渠道）", "Publications by month and channel"),
    "reports.chart_first": ("各事件首报用时（分钟，自事件发生起）", "Minutes from each event to "
                            "its first report"),
    "reports.no_incidents": ("本期没有突发事件。", "No incident in this period."),
    "reports.unknowable": ("本系统无法统计的项目", "What the bot cannot know"),
    "reports.source": ("请向{source}取得", "ask {source}"),
    "reports.notes": ("说明", "Notes"),
    "reports.bad_param": ("参数“{field}”无效：{problem}", "The parameter “{field}” is not "
                          "valid: {problem}"),
    "figure.title": ("指标 {id}", "Figure {id}"),
    "figure.value": ("数值", "Value"),
    "figure.status": ("类别", "Kind"),
    "figure.rows": ("所计记录：{count} 条（{table}）", "Rows counted: {count} ({table})"),
    "figure.more": ("仅显示前 {shown} 条；全部记录见 JSON 下载。", "Only the first {shown} are "
                    "shown; the JSON download has them all."),
    "figure.none": ("此项数字不对应具体记录。", "This figure counts no rows."),
    "figure.back": ("返回报告", "Back to the report"),
    "status.counted": ("计数", "count"), "status.measured": ("测量", "measured"),
    "status.derived": ("推算", "derived"), "status.not_recorded": ("未记录", "not recorded"),
    "status.unknown": ("无法统计", "unknown"), "status.draft": ("草稿，待人工核对", "draft, "
                                                               "to confirm"),
})


class BadParameter(Exception):
    """A query parameter the page cannot use; answered 400 naming it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


def _period(app: App, params: QueryParams) -> ReportPeriod:
    year_text = params.get("year") or None
    if year_text is not None and not year_text.isdigit():
        raise BadParameter("year", year_text[:20])
    try:
        return parse(app.loaded.zone, year=int(year_text) if year_text else None,
                     first=params.get("from") or None, last=params.get("to") or None,
                     today=app.clock.now().astimezone(app.loaded.zone).date())
    except PeriodError as exc:
        field = "year" if "--year" in str(exc) else "to" if "--to" in str(exc) else "from"
        raise BadParameter(field, str(exc)) from None


def _organ(params: QueryParams) -> str | None:
    organ = (params.get("organ") or "").strip()
    if len(organ) > MAX_ORGAN:
        raise BadParameter("organ", organ[:40])
    return organ or None


def _query(period: ReportPeriod, organ: str | None, **extra: str) -> str:
    items = {**period.query(), **({"organ": organ} if organ else {}), **extra}
    return urlencode(items)


def _organs(app: App) -> list[str]:
    config = app.loaded.config
    names = {d.issuing_organ for d in config.releases.values()}
    if config.urgent is not None:
        names.add(config.urgent.issuing_organ)
    return sorted(names)


def _bad(request: Request, exc: BadParameter) -> HTMLResponse:
    return render(request, "error.html.j2", {
        "title_key": "error.http.title", "body_key": "reports.bad_param",
        "params": {"field": exc.field, "problem": exc.problem}}, status_code=400)


@router.get(PATH, response_class=HTMLResponse)
def reports_page(request: Request,
                 _account: Annotated[Account, Depends(require_page(role.REPORT_READ))]
                 ) -> HTMLResponse:
    app = current_app(request)
    try:
        period, organ = _period(app, request.query_params), _organ(request.query_params)
    except BadParameter as exc:
        return _bad(request, exc)
    report = build_report(app, period, organ=organ,
                          verify=request.query_params.get("verify") == "1")

    def link(figure_id: str) -> str:
        return f"{PATH}/figure?{_query(period, organ, id=figure_id)}"

    charts = {"monthly": svg.monthly(report, link, title=_t(request, "reports.chart_monthly"))}
    if report.table("first_reports").rows:
        charts["first"] = svg.first_reports(report, link,
                                            app.loaded.config.report.first_report_target_minutes,
                                            title=_t(request, "reports.chart_first"))
    return render(request, "reports.html.j2", {
        "report": report, "link": link, "charts": charts, "organs": _organs(app),
        "organ": organ or "", "period": period, "query": _query(period, organ),
        "verify_url": f"{PATH}?{_query(period, organ, verify='1')}",
        "this_year": app.clock.now().astimezone(app.loaded.zone).year})


def _t(request: Request, key: str) -> str:
    from publisher.web.console.i18n import translator

    return translator(language(request))(key)


@router.get(PATH + "/figure", response_class=HTMLResponse)
def figure_page(request: Request,
                _account: Annotated[Account, Depends(require_page(role.REPORT_READ))]
                ) -> HTMLResponse:
    app = current_app(request)
    figure_id = request.query_params.get("id", "")
    try:
        period, organ = _period(app, request.query_params), _organ(request.query_params)
        try:
            report, figure = explain(app, period, figure_id, organ=organ)
        except KeyError as exc:
            raise BadParameter("id", str(exc.args[0])) from None
    except BadParameter as exc:
        return _bad(request, exc)
    lines = rows_of(app, figure, limit=MAX_ROWS_SHOWN)
    return render(request, "report_figure.html.j2", {
        "report": report, "figure": figure, "lines": lines, "row_path": _row_path(figure.rows_of),
        "more": len(figure.rows) > MAX_ROWS_SHOWN, "shown": MAX_ROWS_SHOWN,
        "back": f"{PATH}?{_query(period, organ)}"})


def _row_path(table: str) -> str | None:
    return {"releases": "/releases/", "deliveries": "/deliveries/"}.get(table)


@router.get(PATH + "/annual.{kind}")
def download(request: Request, kind: str,
             _account: Annotated[Account, Depends(require_page(role.REPORT_READ))]) -> Response:
    if kind not in DOWNLOADS:
        return _bad(request, BadParameter("format", kind[:10]))
    app = current_app(request)
    try:
        period, organ = _period(app, request.query_params), _organ(request.query_params)
    except BadParameter as exc:
        return _bad(request, exc)
    report = build_report(app, period, organ=organ)
    content = _content(app, report, kind)
    name = f"annual-report-{period.first:%Y%m%d}-{period.last:%Y%m%d}.{kind}"
    return Response(content, media_type=DOWNLOADS[kind],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _content(app: App, report: Report, kind: str) -> bytes:
    if kind == "xlsx":
        from publisher.report.output.xlsx import to_xlsx

        return to_xlsx(report)
    if kind == "docx":
        from publisher.report.output.docx import to_docx

        return to_docx(report, app.loaded.config.report.headings)
    if kind == "csv":
        return data.to_csv(report).encode("utf-8")
    document: dict[str, Any] = data.to_json(report)
    return json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")

