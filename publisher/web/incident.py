"""The incident routes of the API: a first report, updates, corrections, withdrawal, the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from publisher.app import App
from publisher.logs import get_logger
from publisher.urgent import (
    IncidentClosed,
    IncidentNotFound,
    UrgentCancel,
    UrgentOutcome,
    UrgentPost,
    UrgentRejected,
    UrgentUpdate,
    cancel_incident,
    open_incident,
    timeline,
    update_incident,
)
from publisher.urgent.screen import ContentBlocked
from publisher.web.auth import current_app, require
from publisher.web.body import MAX_PICTURE_BODY_BYTES, json_body, request_body
from publisher.web.error import ApiError, ErrorBody, Problem
from publisher.web.token import (
    INCIDENT_READ,
    URGENT_CANCEL,
    URGENT_POST,
    URGENT_UPDATE,
    TokenInfo,
)

log = get_logger("publisher.web")
router = APIRouter(prefix="/api", tags=["incidents"])


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("缺少、无效或已吊销的令牌 / missing, invalid or revoked token"),
    403: _error("令牌的角色无权执行 / the token's role may not do this"),
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("JSON 格式错误 / malformed JSON"),
    413: _error("请求体过大（首报连配图 8 MiB，其余 64 KiB）/ body too large (a first report "
                "with its picture 8 MiB, other calls 64 KiB)"),
    415: _error("不是 application/json / not application/json"),
    422: _error("字段缺失或无效，或渠道拒收内容；未发布任何内容 / missing or invalid fields, or "
                "a channel refuses the content; nothing was published"),
}

URGENT_EXAMPLES = {
    "first_report": {
        "summary": "首报 / a first report",
        "value": {"title": "某高架桥发生垮塌", "area": "某区某高架桥", "severity": "较大",
                  "facts": "今日9时40分，某高架桥一段桥面垮塌，现场已封闭，伤亡情况正在核实。",
                  "instruction": "请绕行某路、某路。"},
    },
    "drill": {
        "summary": "演练，只发门户 / a drill, on the portal only",
        "value": {"title": "防汛应急演练", "facts": "本市开展防汛应急演练。", "area": "全市",
                  "severity": "一般", "status": "Exercise", "channels": ["portal-main"]},
    },
}


class UrgentAccepted(BaseModel):
    """An urgent post accepted: its incident, its release and where each channel stands."""

    incident: str = Field(description="事件编号 / incident key",
                          examples=["incident-20261202-094512"])
    release: str = Field(description="发布编号 / release key")
    channels: list[str] = Field(description="将投递的渠道 / channels it goes to")
    skipped: list[str] = Field(description="未启用而跳过的渠道 / disabled channels skipped")
    links: dict[str, str] = Field(description="incident: 时间线地址 / the timeline's path")


class IncidentView(BaseModel):
    """An incident: the thread of an emergency's urgent posts."""

    key: str
    title: str
    area: str
    severity: str
    status: str
    drill: bool
    opened_at: datetime
    opened_by: str
    event_at: datetime | None = Field(
        description="事件发生时间（未记录为空）/ when it happened (null: not recorded)")


class StepView(BaseModel):
    """One delivery of one release of the incident, with its times from the post."""

    release: str
    msg_type: str = Field(description="CAP: Alert | Update | Cancel")
    channel: str
    state: str
    url: str | None
    to_accepted_seconds: float | None = Field(description="渠道受理用时 / seconds to accepted")
    to_public_seconds: float | None = Field(description="公开链接用时 / seconds to public URL")
    detail: str
    step: str = Field(description="首报/续报/更正/撤回 / report | update | correction | withdrawal")
    action: str = Field(description="send | follow_up | retract")
    actor: str = Field(description="谁触发 / who triggered the step")
    at: str = Field(description="触发时间 / when the step was triggered (ISO 8601)")


class IncidentTimeline(BaseModel):
    """An incident and every delivery of its releases, oldest first."""

    incident: IncidentView
    steps: list[StepView]


def incident_path(key: str) -> str:
    """The API path of an incident's timeline."""
    return f"/api/incidents/{key}"


def refusal(exc: UrgentRejected) -> ApiError:
    """The answer to a step the core refused: 404 for an unknown incident, else 422 listing
    every problem (nothing was recorded or sent either way)."""
    if isinstance(exc, IncidentNotFound):
        return ApiError(404, "not_found", f"没有事件 {exc.key}", f"no incident {exc.key}")
    if isinstance(exc, IncidentClosed):
        return ApiError(409, "withdrawn", f"事件 {exc.key} 已撤回", f"incident {exc.key} was "
                        "withdrawn; open a new one")
    if isinstance(exc, ContentBlocked):  # the API posts without a preview: none to override
        return ApiError(422, "content_blocked", "内容检查发现须处理的问题，紧急信息未发布",
                        "the content checks stopped the urgent post",
                        problems=[Problem(message=p) for p in exc.problems])
    return ApiError(422, "urgent_rejected", "紧急信息未发布", "urgent post not published",
                    problems=[Problem(message=p) for p in exc.problems])


def current_wake(request: Request) -> Callable[[], None] | None:
    """What wakes the dispatcher of ``publisher run`` (None when nothing dispatches here)."""
    wake: Callable[[], None] | None = request.app.state.wake
    return wake


AppDep = Annotated[App, Depends(current_app)]


@router.post(
    "/urgent", status_code=201, response_model=UrgentAccepted, name="post_urgent",
    summary="发布紧急信息首报 / Post the first report of an incident",
    description="快报事实、慎报原因。每个渠道先准备好再记录，任一渠道拒收则不发布任何内容；"
                "通过后投递进入优先通道，立即发送。\n\nFacts fast, causes carefully. Every "
                "channel is prepared before anything is recorded; if one refuses the content "
                "nothing is published. Accepted posts go on the priority lane and are sent at "
                "once. Needs a token whose role may `urgent.post` (urgent, admin).",
    responses={**AUTH_ERRORS, **BODY_ERRORS},
    openapi_extra=request_body(UrgentPost, URGENT_EXAMPLES),
)
def post_urgent(
    request: Request,
    response: Response,
    app: AppDep,
    caller: Annotated[TokenInfo, Depends(require(URGENT_POST))],
    post: Annotated[UrgentPost, Depends(json_body(UrgentPost, MAX_PICTURE_BODY_BYTES))],
) -> UrgentAccepted:
    try:
        outcome = open_incident(app, post, actor=caller.actor)
    except UrgentRejected as exc:
        log.warning("api.urgent_rejected", token_name=caller.name, problems=exc.problems)
        raise refusal(exc) from None
    wake = current_wake(request)
    if wake is not None:
        wake()
    log.info("api.urgent_posted", token_name=caller.name, incident=outcome.incident_key,
             release_id=outcome.release_id, channels=list(outcome.channels))
    response.headers["Location"] = incident_path(outcome.incident_key)
    return UrgentAccepted(incident=outcome.incident_key, release=outcome.release_key,
                          channels=list(outcome.channels), skipped=list(outcome.skipped),
                          links={"incident": incident_path(outcome.incident_key)})


UPDATE_EXAMPLES = {
    "update": {"summary": "续报 / an update",
               "value": {"facts": "截至10时，已有5人送医救治，伤情正在核实。"}},
    "correction": {"summary": "更正 / a correction",
                   "value": {"facts": "截至11时，共4人送医救治，均无生命危险。",
                             "correction": "此前“5人送医”有误，应为4人"}},
}
CANCEL_EXAMPLES = {"withdrawal": {"summary": "撤回 / a withdrawal",
                                  "value": {"reason": "经核实，该信息有误，予以撤回。"}}}
STEP_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _error("没有此事件 / no such incident"),
    409: _error("事件已撤回 / the incident was withdrawn"),
}


class StepAccepted(BaseModel):
    """A later step of an incident accepted: its release and channels."""

    incident: str
    release: str
    msg_type: str = Field(description="CAP: Update | Cancel")
    channels: list[str]
    skipped: list[str]
    links: dict[str, str]


def _accepted(request: Request, response: Response, caller: TokenInfo,
              outcome: UrgentOutcome) -> StepAccepted:
    wake = current_wake(request)
    if wake is not None:
        wake()
    log.info("api.incident_step", token_name=caller.name, incident=outcome.incident_key,
             msg_type=outcome.msg_type, release_id=outcome.release_id)
    response.headers["Location"] = incident_path(outcome.incident_key)
    return StepAccepted(incident=outcome.incident_key, release=outcome.release_key,
                        msg_type=outcome.msg_type, channels=list(outcome.channels),
                        skipped=list(outcome.skipped),
                        links={"incident": incident_path(outcome.incident_key)})


@router.post(
    "/incidents/{key}/updates", status_code=201, response_model=StepAccepted,
    name="post_update", summary="续报或更正 / Post an update or a correction",
    description="续报挂在各渠道首报之下（微博评论、门户时间线），不支持的渠道发新稿（微信新文章并"
                "链接此前各篇）；带 correction 即为更正。\n\nAn update follows each channel's "
                "first report where the channel takes one (a Weibo comment, a portal timeline "
                "entry) and is a new post elsewhere (a WeChat article linking the earlier "
                "ones); with `correction` it is a correction saying what changed. Needs "
                "`urgent.update` (urgent, admin).",
    responses={**AUTH_ERRORS, **BODY_ERRORS, **STEP_ERRORS},
    openapi_extra=request_body(UrgentUpdate, UPDATE_EXAMPLES),
)
def post_update(
    key: str,
    request: Request,
    response: Response,
    app: AppDep,
    caller: Annotated[TokenInfo, Depends(require(URGENT_UPDATE))],
    body: Annotated[UrgentUpdate, Depends(json_body(UrgentUpdate))],
) -> StepAccepted:
    try:
        outcome = update_incident(app, key, body, actor=caller.actor)
    except UrgentRejected as exc:
        log.warning("api.update_rejected", token_name=caller.name, problems=exc.problems)
        raise refusal(exc) from None
    return _accepted(request, response, caller, outcome)


@router.post(
    "/incidents/{key}/cancel", status_code=201, response_model=StepAccepted,
    name="cancel_incident", summary="撤回事件 / Withdraw an incident",
    description="未发出的投递停止；已发布的在允许撤回的渠道撤回，不允许的渠道发撤回声明；事件不再"
                "接受后续。\n\nDeliveries not yet sent are stopped; published posts are "
                "retracted where the channel allows and a withdrawal notice is posted where it "
                "does not; the incident takes no further steps. Needs `urgent.cancel` "
                "(urgent, admin).",
    responses={**AUTH_ERRORS, **BODY_ERRORS, **STEP_ERRORS},
    openapi_extra=request_body(UrgentCancel, CANCEL_EXAMPLES),
)
def post_cancel(
    key: str,
    request: Request,
    response: Response,
    app: AppDep,
    caller: Annotated[TokenInfo, Depends(require(URGENT_CANCEL))],
    body: Annotated[UrgentCancel, Depends(json_body(UrgentCancel))],
) -> StepAccepted:
    try:
        outcome = cancel_incident(app, key, body, actor=caller.actor)
    except UrgentRejected as exc:
        log.warning("api.cancel_rejected", token_name=caller.name, problems=exc.problems)
        raise refusal(exc) from None
    return _accepted(request, response, caller, outcome)


@router.get(
    "/incidents/{key}", response_model=IncidentTimeline, name="get_incident",
    summary="事件时间线 / An incident's timeline",
    description="事件及其每条发布在各渠道的状态、链接和用时。\n\nThe incident and, for every "
                "release of it and every channel, the state, the public URL and the seconds "
                "to accepted and to public. Needs `incident.read` (viewer, urgent, admin).",
    responses={**AUTH_ERRORS, 404: _error("没有此事件 / no such incident")},
)
def get_incident(
    key: str,
    app: AppDep,
    _caller: Annotated[TokenInfo, Depends(require(INCIDENT_READ))],
) -> IncidentTimeline:
    try:
        incident, steps = timeline(app, key)
    except KeyError:
        raise ApiError(404, "not_found", f"没有事件 {key}", f"no incident {key}") from None
    return IncidentTimeline(
        incident=IncidentView(key=incident.key, title=incident.title, area=incident.area,
                              severity=incident.severity, status=incident.status,
                              drill=incident.drill, opened_at=incident.opened_at,
                              opened_by=incident.opened_by, event_at=incident.event_at),
        steps=[StepView(release=s.release_key, msg_type=s.msg_type, channel=s.channel,
                        state=s.state, url=s.url, to_accepted_seconds=s.to_accepted_seconds,
                        to_public_seconds=s.to_public_seconds, detail=s.detail, step=s.step,
                        action=s.action, actor=s.actor, at=s.at)
               for s in steps])
