"""The ``weibo`` kind: posts through 2/statuses/share.json with the release's portal link."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr

from channels.base import (
    AlreadyPublished,
    Channel,
    ChannelContext,
    ChannelError,
    ChannelSettings,
    ConfigurationError,
    ContentRejected,
    Message,
    NotSupported,
    OutcomeUnknown,
    Payload,
    PermanentChannelError,
    RateLimited,
    Receipt,
    TransientChannelError,
    idempotency_key,
)
from channels.weibo import errors
from channels.weibo.api import Api, Refused, error_of
from channels.weibo.limiter import HourlyLimiter, WindowFull, limiter_for
from channels.weibo.mark import PLACEHOLDER, mark_for, with_mark
from channels.weibo.settings import WeiboLimits, WeiboSettings
from channels.weibo.text import Counter, host_under, link_host, links

__all__ = ["CACHE_KEY_PREFIX", "KIND", "WeiboChannel", "WeiboLimits", "WeiboSettings"]

KIND = "weibo"
PICTURE_TYPES = {"image/jpeg": "jpg", "image/gif": "gif", "image/png": "png"}
URGENT_WINDOW_WAIT_SECONDS = 600.0  # an urgent post keeps its place at the head this long
CACHE_KEY_PREFIX = "weibo:"  # token_cache key of an account: "weibo:<channel name>"
_TOPIC = re.compile(r"#[^#\s]+#")
PAGE_SIZE = 100  # user_timeline's largest page
MAX_PAGES = 50  # a search reads at most this many pages before it gives up (cannot tell)
CLOCK_SKEW = timedelta(minutes=10)  # a search starts this long before the first send


SANDBOX_TOKEN = "2.00sandbox-service-token"  # noqa: S105 - the sandbox service's own token

class WeiboChannel(Channel[WeiboSettings]):
    """A Weibo account: share.json posts, comments as follow-ups, destroy.json to retract."""

    kind: ClassVar[str] = KIND
    platform_zh: ClassVar[str] = "政务微博"
    platform_en: ClassVar[str] = "government Weibo"
    limits: ClassVar[WeiboLimits] = WeiboLimits()
    settings_model: ClassVar[type[ChannelSettings]] = WeiboSettings
    body_format: ClassVar[str] = "text"
    template_ext: ClassVar[str] = "txt"

    def __init__(self, name: str, settings: WeiboSettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        self.counter = Counter(limit=settings.limit, https_as_link=settings.https_counts_as_link)
        self.api = Api(context.session, settings.base_url, settings.timeout_seconds)
        self.limiter: HourlyLimiter = limiter_for(name, settings.base_url,
                                                  settings.posts_per_hour, context.send_log)

    emulated: ClassVar[bool] = True

    @classmethod
    def start_sandbox(cls, settings: ChannelSettings, *, port: int = 0, host: str = "127.0.0.1",
                      state_file: Path | None = None
                      ) -> tuple[ChannelSettings, Callable[[], None]]:
        """Run the loopback emulator (safe domain and hourly cap from the settings) and post
        there; with a state file (the sandbox service) the token is a fixed one, so every
        process using the service holds it."""
        from channels.weibo.platform import PlatformConfig
        from channels.weibo.sandbox import serve

        assert isinstance(settings, WeiboSettings)
        config = PlatformConfig(safe_domain=settings.domain,
                                posts_per_hour=settings.posts_per_hour,
                                https_as_link=settings.https_counts_as_link, limit=settings.limit)
        emulator = serve(port, config=config, state_file=state_file, host=host)
        if state_file is None:
            token = emulator.platform.issue_token()
            updated = settings.model_copy(update={"base_url": emulator.url,
                                                  "access_token": SecretStr(token.value)})
            return updated, emulator.stop
        emulator.platform.issue_token(value=SANDBOX_TOKEN)
        return cls.sandbox_settings(settings, emulator.url), emulator.stop

    @classmethod
    def sandbox_settings(cls, settings: ChannelSettings, url: str) -> ChannelSettings:
        return settings.model_copy(update={"base_url": url,
                                           "access_token": SecretStr(SANDBOX_TOKEN)})

    # ------------------------------------------------------------------ prepare

    def link_for(self, message: Message) -> str:
        """The release's portal page: ``<link_base_url><column>/<slug>.html``."""
        column, slug = message.metadata.get("column"), message.metadata.get("slug")
        for field_name, value in (("column", column), ("slug", slug)):
            if not value:
                raise ContentRejected(
                    f"缺少元数据 {field_name}，无法生成门户链接 / metadata {field_name} is missing, "
                    "so the portal link cannot be built", field=f"metadata.{field_name}",
                    limit="required")
        return f"{self.settings.link_base_url}{column}/{slug}.html"

    def prepare(self, message: Message) -> Payload:
        """Pure: the status text (the template's text plus the portal link) within the limit."""
        text = "\n".join(line.strip() for line in message.body.strip().splitlines()
                         if line.strip())
        if not text:
            raise ContentRejected("微博正文为空 / the post text is empty", field="status",
                                  limit="non-empty")
        if _TOPIC.search(text):
            raise ContentRejected("分享接口不允许 #话题词# / share.json refuses #topic# words",
                                  field="status", limit="no #topic#")
        link = self.link_for(message)
        if not any(host_under(link_host(found), self.settings.domain) for found in links(text)):
            text = f"{text} {link}"
        over = self.counter.over_by(f"{text} {PLACEHOLDER}")
        if over:
            raise ContentRejected(
                f"微博正文超出 {over} 字（上限 {self.counter.limit} 字，含链接和发布编号）/ the post "
                f"is {over} characters over the {self.counter.limit} limit (link and the "
                "delivery's mark included)",
                field="status", limit=f"{self.counter.limit} characters (Weibo count)")
        # the mark of the delivery this payload is for (send puts the mark of its own key)
        text = with_mark(text, idempotency_key(message.release_key, self.name))
        data: dict[str, Any] = {"status": text, "link": link, "urgent": message.urgent,
                                "release": message.release_key}
        picture = self._picture(message)
        if picture:
            data["picture"] = picture
        return Payload(kind=KIND, data=data)

    def prepare_follow_up(self, message: Message) -> Payload:
        """Pure: a comment under the original post (an update): at most 140 characters, no
        link added (the original carries it)."""
        text = "\n".join(line.strip() for line in message.body.strip().splitlines()
                         if line.strip())
        if not text:
            raise ContentRejected("评论为空 / the comment is empty", field="comment",
                                  limit="non-empty")
        counter = Counter(limit=self.limits.comment_max_chars,
                          https_as_link=self.settings.https_counts_as_link)
        over = counter.over_by(text)
        if over:
            raise ContentRejected(
                f"微博评论超出 {over} 字（上限 {counter.limit} 字）/ the comment is {over} "
                f"characters over the {counter.limit} limit", field="comment",
                limit=f"{counter.limit} characters (Weibo count)")
        return Payload(kind=KIND, data={"status": text, "comment": True,
                                        "urgent": message.urgent,
                                        "release": message.release_key})

    def _picture(self, message: Message) -> dict[str, str] | None:
        images = [a for a in message.attachments if a.content_type in PICTURE_TYPES]
        if not images:
            return None
        image = images[0]
        try:
            size = image.path.stat().st_size
        except OSError:
            raise ContentRejected(f"配图文件不存在 / the picture {image.name} cannot be read",
                                  field="pic", limit="readable file") from None
        if size > self.limits.picture_max_bytes:
            raise ContentRejected(f"配图超过 5 MB / the picture {image.name} is over 5 MB",
                                  field="pic", limit="5 MB")
        return {"name": image.name, "content_type": image.content_type, "path": str(image.path)}

    # ------------------------------------------------------------------ send

    def send(self, payload: Payload, key: str) -> Receipt:
        """Wait for the account's hourly window, then share the text ending with this
        delivery's mark. A lost answer is an unknown outcome (the core finds the post by its
        mark before any resend); a duplicate-content answer is "already published" only when
        this delivery's own post is found, else a refusal staff must see."""
        status = with_mark(str(payload.data["status"]), key)
        form = {"access_token": self._token(), "status": status, "rip": self.settings.rip}
        files = self._files(payload)
        urgent = bool(payload.data.get("urgent"))
        patience = self.settings.window_wait_seconds
        try:
            self.limiter.acquire(urgent=urgent, clock=self.context.clock, sleep=self.context.sleep,
                                 max_wait_seconds=max(patience, URGENT_WINDOW_WAIT_SECONDS)
                                 if urgent else patience, key=key)
        except WindowFull as full:
            raise RateLimited(
                f"本小时发帖已达 {self.limiter.per_hour} 条 / the account's {self.limiter.per_hour} "
                "posts this hour are used", retry_after=full.seconds, code="window_full",
                explanation_zh=f"本账号每小时最多发 {self.limiter.per_hour} 条，约 "
                               f"{full.seconds / 60:.0f} 分钟后自动重发",
                explanation_en=f"the account may post {self.limiter.per_hour} an hour; it is "
                               f"sent again in about {full.seconds / 60:.0f} minutes") from None
        operation = "posting (2/statuses/share.json)"
        try:
            body = self.api.post("2/statuses/share.json", form, operation=operation, files=files,
                                 once=True)
        except Refused as refused:
            code = refused.reply.code
            if code in errors.SUCCESS_CODES:
                return self._accepted_slowly(refused.reply.remote_message)
            if code in errors.DUPLICATE_CODES:
                raise self._duplicate(key, refused) from None
            raise error_of(refused, operation) from None
        return self._receipt(body)

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """This delivery's post on the account's timeline, found by its mark, reading back
        from the newest post to just before the delivery's first send; None when it is not
        there. Where a lost answer left two copies, the first is kept and the others are
        deleted (the receipt's ``duplicates``). NotSupported when the timeline cannot show
        that far back (or cannot be read at all): a person must look."""
        ours = self._ours(key)
        if not ours:
            return None
        return self._receipt(ours[0], removed=self._remove(ours[1:]))

    def follow_up(self, receipt: Receipt, payload: Payload) -> Receipt:
        """Comment on the original post (2/comments/create.json) with the payload's text."""
        original = self._remote_id(receipt, "追加评论", "comment on")
        text = str(payload.data["status"])
        form = {"access_token": self._token(), "id": original, "comment": text,
                "comment_ori": "0", "rip": self.settings.rip}
        operation = "commenting (2/comments/create.json)"
        try:
            body = self.api.post("2/comments/create.json", form, operation=operation)
        except Refused as refused:
            if refused.reply.code in errors.DUPLICATE_CODES:
                raise AlreadyPublished(
                    "该评论此前已发布 / this comment was already posted",
                    receipt=Receipt(remote_id="", url=receipt.url,
                                    details={"comment_on": original,
                                             "duplicate_code": refused.reply.code}),
                    code=str(refused.reply.code), remote_message=refused.reply.remote_message,
                ) from None
            raise error_of(refused, operation) from None
        return Receipt(remote_id=str(body.get("idstr") or body.get("id") or ""), url=receipt.url,
                       published_at=_parse_time(body.get("created_at")),
                       details={"comment_on": original})

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        """Delete the post (2/statuses/destroy.json); where Weibo refuses, say remove it by hand."""
        original = self._remote_id(receipt, "删除", "delete")
        operation = "deleting (2/statuses/destroy.json)"
        try:
            self.api.post("2/statuses/destroy.json",
                          {"access_token": self._token(), "id": original}, operation=operation)
        except Refused as refused:
            code = refused.reply.code
            if code == errors.ALREADY_GONE:
                return
            error = error_of(refused, operation)
            if error.retryable or isinstance(error, errors.AuthorisationGone):
                raise error from None
            raise PermanentChannelError(
                f"微博拒绝删除第 {original} 条微博，请登录微博手动删除 / Weibo refused to delete "
                f"post {original}: remove it by hand", code=error.code,
                remote_message=refused.reply.remote_message,
                explanation_zh=f"微博平台拒绝删除（{error.explanation_zh}），请登录微博后台手动删除该条微博",
                explanation_en=f"Weibo refused the delete ({error.explanation_en}); "
                               "remove the post by hand in the Weibo account") from None

    def check(self) -> list[str]:
        """Probe the token with oauth2/get_token_info; warn ahead of its expiry."""
        try:
            token = self._token()
        except ConfigurationError as exc:
            return [str(exc)]
        try:
            info = self.api.post("oauth2/get_token_info", {"access_token": token},
                                 operation="checking the token (oauth2/get_token_info)")
        except Refused as refused:
            error = error_of(refused, "checking the token")
            return [f"{error.explanation_zh} / {error.explanation_en}"]
        except ChannelError as exc:  # network trouble: reported, not raised
            return [f"{exc.explanation_zh} / {exc.explanation_en}"]
        left = _seconds_left(info)
        if left is None:
            return ["微博令牌信息缺少有效期 / the token info carries no expire_in"]
        if left <= 0:
            return [f"{errors.REAUTHORISE_ZH} / {errors.REAUTHORISE_EN}"]
        if left < self.settings.expiry_warning_days * 86400:
            when = (self.context.clock() + timedelta(seconds=left)).astimezone(self.context.zone)
            return [f"微博授权将于 {left // 86400} 天后（{when:%Y-%m-%d %H:%M}）到期，请提前重新授权此账号 / "
                    f"the Weibo authorisation expires in {left // 86400} days ({when:%Y-%m-%d %H:%M}); "
                    "re-authorise this account before then"]
        return []

    # ------------------------------------------------------------------ helpers

    def _token(self) -> str:
        cache = self.context.token_cache
        if cache is not None and not self.context.sandbox:  # drills use the emulator's token
            found = cache.get(CACHE_KEY_PREFIX + self.name)
            if found is not None and found[1] > self.context.clock():
                return found[0]
        if self.settings.access_token is not None:
            return self.settings.access_token.get_secret_value()
        raise ConfigurationError(
            f"微博账号 {self.name} 尚未授权 / Weibo account {self.name} has no token: run "
            f"publisher weibo authorize {self.name}", code="no_token",
            explanation_zh=errors.REAUTHORISE_ZH, explanation_en=errors.REAUTHORISE_EN)

    def _files(self, payload: Payload) -> dict[str, tuple[str, bytes, str]] | None:
        picture = payload.data.get("picture")
        if not isinstance(picture, dict):
            return None
        try:
            content = Path(str(picture["path"])).read_bytes()
        except OSError:
            raise ContentRejected(f"配图文件无法读取 / the picture {picture.get('name')} cannot be "
                                  "read", field="pic", limit="readable file") from None
        return {"pic": (str(picture["name"]), content, str(picture["content_type"]))}

    def _remote_id(self, receipt: Receipt, action_zh: str, action_en: str) -> str:
        if receipt.remote_id:
            return receipt.remote_id
        raise PermanentChannelError(
            f"原微博 ID 未知，无法{action_zh}，请在微博后台人工处理 / the post id is unknown, so "
            f"the bot cannot {action_en} it: handle it by hand in the Weibo account",
            code="no_remote_id")

    def _receipt(self, body: dict[str, Any],
                 removed: list[dict[str, Any]] | None = None) -> Receipt:
        idstr = str(body.get("idstr") or "")
        if not idstr:
            raise PermanentChannelError(
                "微博返回成功但没有 idstr / Weibo answered success without an idstr",
                code="no_idstr", explanation_zh="微博返回内容异常，请在微博后台核实是否已发布",
                explanation_en="Weibo's answer is malformed; check in the account whether it "
                               "was posted")
        user = body.get("user")
        uid = str(user.get("idstr") or user.get("id") or "") if isinstance(user, dict) else ""
        details: dict[str, Any] = {"mid": str(body.get("mid") or idstr), "uid": uid}
        if removed:
            details["duplicates"] = removed
        return Receipt(remote_id=idstr, url=f"https://m.weibo.cn/status/{idstr}",
                       published_at=_parse_time(body.get("created_at")), details=details)

    def _accepted_slowly(self, remote: str) -> Receipt:
        return Receipt(remote_id="", details={
            "code": 20032, "remote_message": remote,
            "note_zh": "微博已受理，服务器较慢，1-2 分钟后可见；未返回微博 ID，评论和删除需人工处理",
            "note_en": "Weibo accepted it and shows it in 1-2 minutes; no post id came back, so "
                       "comments and deletes must be done by hand"})

    def _duplicate(self, key: str, refused: Refused) -> ChannelError:
        """Weibo says the text repeats an earlier post: already published only when a post
        carrying this delivery's own mark is there; when none is, the new post was refused and
        staff must change its wording; when the timeline cannot tell, the outcome is unknown
        (the core asks ``find`` again, then a person)."""
        code = refused.reply.code
        rule = errors.rule_for(code)
        said_zh = rule.explanation_zh if rule else "内容重复"
        said_en = rule.explanation_en if rule else "repeated content"
        try:
            ours = self._ours(key)
        except ChannelError as exc:
            return OutcomeUnknown(
                f"微博提示内容重复 {code}，但无法在本账号时间线上核实是否为本条所发 / Weibo reports "
                f"repeated content {code}, and the timeline cannot tell whether this delivery "
                f"posted it: {exc}", code=str(code), remote_message=refused.reply.remote_message,
                explanation_zh=f"微博提示：{said_zh}；时间线上暂未能核实本条是否已发布，稍后再核实，"
                               "仍无法确认时请人工核对",
                explanation_en=f"Weibo says: {said_en}; whether this post went out cannot be "
                               "checked on the timeline yet; checked again later, then a person "
                               "decides")
        if ours:
            return AlreadyPublished(
                f"微博提示内容重复 {code}：本条此前已发布 / Weibo reports repeated content {code}: "
                "this delivery's post is already there",
                receipt=self._receipt(ours[0], removed=self._remove(ours[1:])), code=str(code),
                remote_message=refused.reply.remote_message,
                explanation_zh=f"微博提示：{said_zh}；时间线上已找到带本条发布编号的微博，按已发布处理",
                explanation_en=f"Weibo says: {said_en}; the post carrying this delivery's mark "
                               "is on the timeline, so it is published")
        return ContentRejected(
            f"微博拒绝发布：与本账号此前的微博内容重复或相似（{code}），本条未发布 / Weibo refused the "
            f"post as repeating an earlier one ({code}); it was NOT published",
            field="status", limit="not the same as or similar to an earlier post",
            code=str(code), remote_message=refused.reply.remote_message,
            explanation_zh=f"微博拒绝发布（{code}，{said_zh}）。本条未发布，公众看不到；"
                           "请修改文字（如写明时间、地点）后重新发布",
            explanation_en=f"Weibo refused it ({code}: {said_en}). This post was NOT published and the "
                           "public cannot see it; change the wording (say when and where) and "
                           "publish again")

    def _ours(self, key: str) -> list[dict[str, Any]]:
        """This delivery's live posts (its mark in the text), oldest first.

        Reads the own timeline newest first, 100 posts a page (``max_id`` below the oldest
        seen), until a post older than the delivery's first send (less CLOCK_SKEW), or the
        end of the timeline. Without a recorded first send, to the end. NotSupported when
        the timeline ends before either while hiding posts (``total_number`` says more exist),
        or cannot be read at all, and nothing of this delivery was seen."""
        if not self.settings.lookup_duplicates:
            raise NotSupported(
                "weibo lookups are turned off (lookup_duplicates: false)",
                explanation_zh="本渠道已关闭时间线核对（lookup_duplicates: false），"
                               "无法确认是否已发布，需人工核对",
                explanation_en="timeline lookups are off for this channel (lookup_duplicates: "
                               "false); a person must check whether it was posted")
        mark = mark_for(key)
        first = self.limiter.log.first(self.limiter.account, key)
        floor = first - CLOCK_SKEW if first is not None else None
        found: dict[int, dict[str, Any]] = {}
        seen, max_id = 0, None
        for _page in range(MAX_PAGES):
            params = {"access_token": self._token(), "count": str(PAGE_SIZE), "trim_user": "1"}
            if max_id is not None:
                params["max_id"] = str(max_id)
            statuses, total = self._timeline(params)
            ids = []
            reached = False
            for status in statuses:
                idstr = str(status.get("idstr") or "")
                if not idstr.isdigit():
                    continue
                ids.append(int(idstr))
                if mark in str(status.get("text", "")):  # anywhere: Weibo may append to it
                    found[int(idstr)] = status
                at = _parse_time(status.get("created_at"))
                reached = reached or (floor is not None and at is not None and at < floor)
            seen += len(statuses)
            if reached:
                break
            if len(statuses) < PAGE_SIZE or not ids:  # the end, as far as the timeline shows
                if total is not None and seen < total and not found:
                    raise self._cannot_see(seen, total)
                break
            max_id = min(ids) - 1
        else:
            if not found:
                raise self._cannot_see(seen, None)
        return [found[number] for number in sorted(found)]

    def _timeline(self, params: dict[str, str]) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the own timeline and ``total_number``; NotSupported when Weibo refuses
        to show it (e.g. 10014), the channel error when the read failed otherwise."""
        try:
            body = self.api.get("2/statuses/user_timeline.json", params,
                                operation="reading the own timeline (2/statuses/user_timeline)")
        except Refused as refused:
            error = error_of(refused, "reading the own timeline")
            if error.retryable or isinstance(error, errors.AuthorisationGone):
                raise error from None
            raise NotSupported(
                f"微博时间线无法读取 {error.code} / the Weibo timeline cannot be read: {error}",
                code=error.code, remote_message=refused.reply.remote_message,
                explanation_zh=f"无法读取本账号时间线（{error.explanation_zh}），无法确认是否已发布，需人工核对",
                explanation_en=f"the account's timeline cannot be read ({error.explanation_en}); "
                               "a person must check whether it was posted") from None
        statuses = body.get("statuses")
        if not isinstance(statuses, list):
            raise TransientChannelError(
                "微博时间线返回内容异常 / the Weibo timeline answer has no statuses list",
                code="timeline_malformed")
        total = body.get("total_number")
        return ([item for item in statuses if isinstance(item, dict)],
                total if isinstance(total, int) and not isinstance(total, bool) else None)

    def _cannot_see(self, seen: int, total: int | None) -> NotSupported:
        more = f"（共 {total} 条）" if total is not None else ""
        more_en = f" of {total}" if total is not None else ""
        return NotSupported(
            f"微博时间线只显示最近 {seen} 条{more}，看不到本条首次发送之时 / the Weibo timeline "
            f"shows only the newest {seen}{more_en} posts, not back to this delivery's first send",
            code="timeline_too_short",
            explanation_zh=f"本账号时间线只能看到最近 {seen} 条微博，无法确认本条是否已发布；"
                           "请登录微博后台查找正文末尾带本条发布编号的微博，再决定是否重发",
            explanation_en=f"only the newest {seen} posts of the account can be seen, so whether "
                           "this one went out cannot be told; look in the Weibo account for a "
                           "post ending with this delivery's mark before resending")

    def _remove(self, copies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delete extra copies of one delivery's post; what was removed, for ``duplicates``
        (a copy Weibo refuses to delete is listed as ``delete_refused``: remove it by hand)."""
        removed = []
        for copy in copies:
            idstr = str(copy.get("idstr"))
            status = "deleted"
            try:
                self.api.post("2/statuses/destroy.json",
                              {"access_token": self._token(), "id": idstr},
                              operation="deleting a duplicate (2/statuses/destroy.json)")
            except Refused as refused:
                if refused.reply.code != errors.ALREADY_GONE:
                    status = "delete_refused"
            removed.append({"remote_id": idstr, "url": f"https://m.weibo.cn/status/{idstr}",
                            "status": status})
        return removed


def _seconds_left(info: dict[str, Any]) -> int | None:
    """``expire_in`` (live spelling) or ``expires_in`` (2012 wiki), as seconds."""
    for name in ("expire_in", "expires_in"):
        value = info.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return None
