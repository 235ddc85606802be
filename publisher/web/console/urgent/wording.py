"""The urgent pages' words in Chinese and English, added to the console's catalogue."""

from __future__ import annotations

from publisher.severity import LEVELS, label_en
from publisher.web.console.i18n import register

WORDS: dict[str, tuple[str, str]] = {
    # the content checks (publisher/scan) of a step
    "checks.findings": ("内容检查发现 {count} 处问题：", "The content checks found {count} "
                        "thing(s):"),
    "checks.override_needed": (
        "含“禁止发布”或“须审核”的问题，须由另一位审核人对本预览确认放行后才能发布（也可修改内容后重新预览）。"
        "请审核人打开：", "Findings that block or need review stop this post until a second "
        "person with the approver role overrides this very preview (or change the text and "
        "preview again). The approver opens:"),
    "checks.override.title": ("放行内容检查问题", "Override the content checks"),
    "checks.override.help": (
        "仅限审核人。放行后，由发布人（不能是您本人）按同一预览确认发布；放行与发布均记入审计日志。",
        "Approvers only. Once overridden, the poster (not you) confirms the same preview; the "
        "override and its use are audited."),
    "checks.override.fingerprint": ("预览编号", "Preview fingerprint"),
    "checks.override.reason": ("放行理由", "Why it may go out"),
    "checks.override.submit": ("确认放行", "Override"),
    "checks.override.done": ("已放行；发布人可按原预览确认发布。", "Overridden: the poster may now "
                             "confirm the previewed post."),
    # composing the first report
    "urgent.compose.title": ("紧急发布", "Urgent post"),
    "urgent.compose.lead": ("快报事实、慎报原因。先预览各渠道将发布的内容，确认后立即发布。",
                            "Facts fast, causes carefully. Preview what each channel will "
                            "publish, then confirm to publish at once."),
    "urgent.not_configured": ("配置文件中没有 urgent 部分，无法发布紧急信息。", "The config has no "
                              "urgent section, so no urgent post can be made."),
    "urgent.field.title": ("标题", "Headline"),
    "urgent.field.facts": ("已核实的事实", "Verified facts"),
    "urgent.field.area": ("地点或范围", "Where"),
    "urgent.field.event_at": ("事件发生时间（可选，用于年度报告的首报时效）", "When it happened "
                              "(optional; for the annual report's time to first report)"),
    "urgent.field.severity": ("事件等级", "Grade"),
    "urgent.field.instruction": ("公众提示（可选）", "What people should do (optional)"),
    "urgent.field.channels": ("发布渠道", "Channels"),
    "urgent.field.status": ("发布性质", "Kind of post"),
    "urgent.field.correction": ("更正内容（可选，填写即为更正）", "What was wrong and what changed "
                                "(optional; makes this a correction)"),
    "urgent.field.reason": ("撤回原因", "Why it is withdrawn"),
    "urgent.field.update_facts": ("最新情况", "What is new"),
    "urgent.field.update_title": ("标题（可选，默认沿用事件标题）", "Headline (optional; default: "
                                  "the incident's)"),
    "urgent.field.update_severity": ("事件等级（可选）", "Grade (optional)"),
    "urgent.severity.unchanged": ("不变", "unchanged"),
    "urgent.severity.choose": ("请选择", "Choose…"),
    "urgent.severity.hint": ("按《突发事件应对法》分级（特别重大、重大、较大、一般）；尚未定级或不分级的"
                             "事件选“未定级”。CAP 严重程度按配置换算。", "The grade under the Emergency "
                             "Response Law; choose “not graded” while the grade is not set or for "
                             "events that are not graded. The CAP severity follows from the "
                             "configuration."),
    **{f"urgent.severity.{level}": (level, label_en(level)) for level in LEVELS},
    "urgent.status.Actual": ("正式发布", "Actual (public)"),
    "urgent.status.Exercise": ("演练（Exercise）", "Drill (Exercise)"),
    "urgent.status.Test": ("测试（Test）", "Test"),
    "urgent.status.drill_hint": ("演练和测试只发往各渠道的模拟器，标题标注【演练】，不会到达公众。",
                                 "Drills and tests go only to each channel's emulator, marked "
                                 "【演练】; nothing reaches the public."),
    "urgent.drill.banner": ("演练：本次发布只发往模拟器，不会到达公众。", "DRILL: this goes only to "
                            "the emulators and never reaches the public."),
    "urgent.drill.tag": ("演练", "drill"),
    "urgent.channel.disabled": ("未启用", "disabled"),
    "urgent.picture_hint": ("配图请使用命令行（publisher urgent --picture）或 HTTP 接口。",
                            "To attach a picture, use the command line (publisher urgent "
                            "--picture) or the HTTP API."),
    "urgent.button.preview": ("预览", "Preview"),
    "urgent.button.publish": ("立即发布", "Publish now"),
    "urgent.button.back": ("返回修改", "Back to edit"),
    "urgent.previews.title": ("各渠道预览", "Each channel's message"),
    "urgent.previews.empty": ("填写标题、事实和地点后点击“预览”，这里显示各渠道将发布的内容和字数。",
                              "Fill in the headline, the facts and the place and press "
                              "Preview: what each channel will publish shows here, with its "
                              "length."),
    "urgent.previews.pending": ("请先填写必填项。", "Fill in the required fields first."),
    "urgent.previews.status_ok": ("预览已更新：{count} 个渠道均可发布。", "Previews updated: all "
                                  "{count} channels can publish."),
    "urgent.previews.status_problems": ("预览已更新：有 {count} 处问题。", "Previews updated: "
                                        "{count} problems."),
    "urgent.previews.status_pending": ("请先填写必填项。", "Fill in the required fields first."),
    "urgent.problem.preview": ("{channel} 预览", "{channel} preview"),
    "urgent.confirm.actions": ("发布操作", "Publish or go back"),
    "urgent.problems": ("未能预览或发布，请处理以下问题：", "Not previewed or published; please fix "
                        "these problems:"),
    "urgent.problem.required": ("请填写{field}。", "{field} is required."),
    "urgent.problem.choose": ("请选择{field}。", "{field}: choose one."),
    "urgent.problem.too_long": ("{field}最多 {max} 字。", "{field} takes at most {max} "
                                "characters."),
    "urgent.problem.invalid": ("{field}无效。", "{field} is not valid."),
    "urgent.problem.duplicate": ("{field}重复选择了：{names}。", "{field}: listed more than once: "
                                                             "{names}."),
    "urgent.problem.hidden": ("{field}第 {position} 个字符是不可见的控制字符 {code}（可能使内容显示得"
                              "与审定的不同），请删除。", "{field}: character {position} is {code}, "
                              "an invisible or direction-changing character that can make the "
                              "text read differently from what was approved; remove it."),
    "urgent.problem.no_channel": ("请至少选择一个渠道。", "Choose at least one channel."),
    "urgent.problem.field": ("字段", "field"),
    "urgent.problem.limit": ("限制", "limit"),
    "urgent.skipped": ("渠道 {name} 未启用，将跳过。", "Channel {name} is disabled and is skipped."),
    "urgent.measure.weibo_status": ("微博正文（含链接）", "Post (link included)"),
    "urgent.measure.comment": ("微博评论", "Comment"),
    "urgent.measure.title": ("标题", "Title"),
    "urgent.measure.digest": ("摘要", "Digest"),
    "urgent.measure.content": ("正文", "Content"),
    "urgent.measure.body": ("正文", "Body"),
    "urgent.unit.chars": ("字", "characters"),
    "urgent.unit.weibo_chars": ("字（微博计数：英文和数字算半字，链接算 10 字）", "characters (Weibo "
                                "count: ASCII counts half, a link 10)"),
    "urgent.unit.bytes": ("字节", "bytes"),
    "urgent.kind.portal": ("门户网站", "web portal"),
    "urgent.kind.wordpress": ("门户网站（WordPress）", "web portal (WordPress)"),
    "urgent.kind.wechat": ("微信公众号", "WeChat account"),
    "urgent.kind.weibo": ("政务微博", "Weibo account"),
    "urgent.kind.webhook": ("内部系统", "internal system"),
    "urgent.kind.memory": ("测试渠道", "test channel"),
    "urgent.kind.gazette": ("政府公报", "gazette"),
    "urgent.confirm.title": ("确认发布", "Confirm and publish"),
    "urgent.confirm.lead": ("以下是各渠道将发布的内容。核对无误后点击“立即发布”。", "This is what each "
                            "channel will publish. Check it, then press Publish now."),
    "urgent.confirm.outdated": ("未发布：{reason}。以下是现在将发布的内容，请核对后再次确认。",
                                "Not published: {reason}. This is what would be published now; "
                                "check it and confirm again."),
    "urgent.confirm.update": ("确认续报", "Confirm the update"),
    "urgent.confirm.correction": ("确认更正", "Confirm the correction"),
    "urgent.confirm.withdrawal": ("确认撤回", "Confirm the withdrawal"),
    # incidents
    "urgent.incidents.title": ("突发事件", "Incidents"),
    "urgent.incidents.empty": ("还没有事件。", "No incidents yet."),
    "urgent.incidents.new": ("发布紧急信息", "New urgent post"),
    "urgent.incident.key": ("事件编号", "Incident"),
    "urgent.incident.opened_at": ("首报时间", "Opened"),
    "urgent.incident.opened_by": ("首报人", "Opened by"),
    "urgent.incident.status": ("状态", "Status"),
    "urgent.incident.status.open": ("进行中", "open"),
    "urgent.incident.status.withdrawn": ("已撤回", "withdrawn"),
    "urgent.banner.going": ("紧急信息已提交，正在发往各渠道（已发布 {published}/{total}）。",
                            "Accepted; going out on every channel ({published} of {total} "
                            "published)."),
    "urgent.banner.done": ("已发往全部渠道（{total}/{total} 已发布）。", "Published on every "
                           "channel ({total} of {total})."),
    "urgent.banner.problem": ("未能发往全部渠道：{channels}。请查看下方各渠道的说明并处理。", "Not "
                              "published on every channel: {channels}. See each channel's "
                              "detail below."),
    "urgent.banner.item": ("{channel}（{state}）", "{channel} ({state})"),
    "urgent.banner.separator": ("、", ", "),
    "urgent.board.title": ("各渠道状态", "Status on each channel"),
    "urgent.board.channel": ("渠道", "Channel"),
    "urgent.board.action": ("操作", "Action"),
    "urgent.board.state": ("状态", "State"),
    "urgent.board.accepted": ("受理用时", "To accepted"),
    "urgent.board.public": ("公开用时", "To public"),
    "urgent.board.link": ("链接", "Link"),
    "urgent.board.detail": ("说明", "Detail"),
    "urgent.board.open_link": ("查看", "Open"),
    "urgent.new_window": ("（在新窗口打开）", " (opens in a new window)"),
    "urgent.board.refresh": ("刷新", "Refresh"),
    "urgent.board.live": ("状态实时更新中", "Updating live"),
    "urgent.board.stale": ("状态暂时无法更新，请刷新页面。", "The status cannot be updated just now; "
                           "refresh the page."),
    "urgent.board.new_steps": ("有新的发布步骤，请刷新页面查看。", "There are new steps; refresh the "
                               "page to see them."),
    "urgent.board.summary": ("{published}/{total} 已发布", "{published} of {total} published"),
    "urgent.state.pending": ("待发送", "pending"),
    "urgent.state.sending": ("发送中", "sending"),
    "urgent.state.retry_wait": ("等待重试", "waiting to retry"),
    "urgent.state.published": ("已发布", "published"),
    "urgent.state.failed": ("失败", "failed"),
    "urgent.state.unknown": ("待人工核实", "unknown: a person decides"),
    "urgent.state.retracted": ("已撤回", "retracted"),
    "urgent.state.queued": ("排队中", "queued"),
    "urgent.step.report": ("首报", "First report"),
    "urgent.step.update": ("续报", "Update"),
    "urgent.step.correction": ("更正", "Correction"),
    "urgent.step.withdrawal": ("撤回", "Withdrawal"),
    "urgent.delivery.send": ("发布", "post"),
    "urgent.delivery.follow_up": ("跟帖", "follow-up"),
    "urgent.delivery.retract": ("撤回", "retract"),
    "urgent.timeline.title": ("时间线", "Timeline"),
    "urgent.next.title": ("后续发布", "Next step"),
    "urgent.next.update": ("续报或更正", "Update or correction"),
    "urgent.next.update_hint": ("续报挂在各渠道首报之下（微博评论、门户时间线），不支持的渠道发新稿。",
                                "An update follows each channel's first report where the channel "
                                "takes one (a Weibo comment, the portal's timeline), and is a new "
                                "post elsewhere."),
    "urgent.next.cancel": ("撤回事件", "Withdraw the incident"),
    "urgent.next.cancel_hint": ("撤回后：未发出的投递停止，已发布的在允许的渠道撤回，其余渠道发布撤回"
                                "声明；事件不再接受后续发布。", "Deliveries not yet sent stop, "
                                "published posts are retracted where the channel allows and a "
                                "withdrawal notice goes out elsewhere; the incident takes no "
                                "further steps."),
    "urgent.next.closed": ("事件已撤回，不再接受后续发布。", "The incident was withdrawn; it takes no "
                           "further steps."),
}

register(WORDS)
