"""``GET /``: the overview: upcoming releases, releases held or waiting, each channel's health."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher import overview as facts
from publisher.intake import preflight
from publisher.scan import freshness
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.deps import PageForbidden, page_router, render, require_page
from publisher.web.console.i18n import register
from publisher.web.console.show import open_circuits

router = page_router()

register({
    "overview.upcoming": ("即将发布", "Upcoming releases"),
    "overview.not_ready": ("数据未就绪的发布", "Runs whose data is not ready"),
    "overview.not_ready_help": ("发布前检查（data_due_hours）发现以下发布的数据缺失或有误；到发布时间"
                                "仍未就绪将被暂停，不会只发一部分。", "The pre-flight check "
                                "(data_due_hours) found these runs' data missing or invalid; "
                                "still so at the due time, a run is held, never sent in part."),
    "overview.checked_at": ("检查时间", "Checked"),
    "overview.data_page": ("数据页", "Data page"),
    "overview.no_upcoming": ("没有按计划发布的定义。", "No definition runs on a schedule."),
    "overview.render_at": ("{at} 生成待审稿", "rendered for review at {at}"),
    "overview.needs_review": ("需审核", "needs review"),
    "overview.attention": ("待处理的发布", "Releases that need a person"),
    "overview.no_attention": ("没有暂停、待审核或被驳回的发布。", "No release is held, awaiting "
                              "approval or rejected."),
    "overview.overdue": ("已过发布时间", "past its due time"),
    "overview.approve_before": ("须由创建者以外的审核人在 {at} 前批准", "another approver than its "
                                "author must approve it before {at}"),
    "overview.recent": ("最近的发布", "Recent releases"),
    "overview.no_recent": ("还没有发布。", "No release yet."),
    "overview.channels": ("渠道状态", "Channel health"),
    "overview.last_success": ("最近成功", "Last published"),
    "overview.failed_24h": ("24 小时内失败", "Failed in 24 h"),
    "overview.retrying": ("等待重试", "Retrying"),
    "overview.circuit": ("熔断", "Circuit"),
    "overview.circuit_open": ("已熔断，至 {until}", "open until {until}"),
    "overview.circuit_closed": ("正常", "closed"),
    "overview.window": ("发布窗口", "Posting window"),
    "overview.window_use": ("近一小时 {used} / {limit}", "{used} of {limit} in the last hour"),
    "overview.credential": ("凭据", "Credentials"),
    "overview.credential_expires": ("{at} 到期", "expires {at}"),
    "overview.credential_expired": ("已于 {at} 过期", "expired {at}"),
    "overview.disabled": ("已停用", "disabled"),
    "overview.never": ("从未", "never"),
    "overview.trigger": ("立即发布…", "Trigger a release…"),
    "overview.your_account": ("您的账号与权限", "Your account and rights"),
    "overview.nodes": ("集群节点", "Cluster nodes"),
    "overview.node": ("节点", "Node"),
    "overview.role": ("角色", "Role"),
    "overview.last_beat": ("最后心跳", "Last heartbeat"),
    "overview.node_up": ("在线", "up"),
    "overview.node_down": ("失联", "not beating"),
    "overview.role_scheduler": ("调度器", "scheduler"),
    "overview.role_standby": ("待命", "standby"),
    "overview.role_silent": ("失联", "silent"),
    "overview.role_stopped": ("已停止", "stopped"),
    "col.definition": ("发布定义", "Definition"),
    "col.due": ("发布时间", "Due"),
    "col.channels": ("渠道", "Channels"),
    "col.reason": ("原因", "Reason"),
    "col.author": ("创建者", "Created by"),
    "col.deliveries": ("投递", "Deliveries"),
    "col.kind": ("类型", "Kind"),
    "col.outcome_release": ("结果", "Outcome"),
    "overview.freshness": ("更新情况（僵尸号、栏目不更新）", "Freshness (accounts and columns "
                           "left without a post)"),
    "overview.freshness_row": ("{age} 天 / 上限 {limit} 天", "{age} of {limit} days"),
    "freshness.channel": ("账号", "account"),
    "freshness.column": ("栏目", "column"),
    "freshness.ok": ("正常", "fresh"),
    "freshness.soon": ("即将超期", "stale soon"),
    "freshness.stale": ("已超期", "stale"),
    "freshness.never": ("从未发布", "never published"),
})


@router.get("/", response_class=HTMLResponse)
def overview(request: Request,
             account: Annotated[Account, Depends(require_page())]) -> Response:
    if not account.may(role.LOG_READ):  # a supplier's home is its data pages
        if account.may(role.DATA_READ):
            return RedirectResponse("/data", status_code=303)
        raise PageForbidden(role.LOG_READ)
    app = current_app(request)
    now = app.clock.now()
    allowed = [name for name in role.ALL_PERMISSIONS if account.may(name)]
    return render(request, "overview.html.j2", {
        "permissions": allowed, "upcoming": facts.upcoming(app, now),
        "attention": facts.attention(app, now), "recent": facts.recent(app),
        "health": facts.channels(app, now, open_circuits=open_circuits(request)),
        "freshness": freshness.ages(app, now),
        "not_ready": preflight.not_ready(app, now),
        "nodes": facts.nodes(app, now),
        "may_trigger": account.may(role.RELEASE_TRIGGER)})
