"""Sending an article: images, draft, publish job or mass send, following, finding and retracting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from channels.base import (
    OutcomeUnknown,
    Payload,
    PermanentChannelError,
    RateLimited,
    Receipt,
    TransientChannelError,
)
from channels.wechat import media
from channels.wechat.content import rewrite_images

if TYPE_CHECKING:
    from channels.wechat.adapter import WechatChannel

PUBLISH_FAILURES: dict[int, tuple[str, str]] = {
    2: ("原创校验未通过", "the originality (原创) check failed"),
    3: ("发布失败", "publishing failed"),
    4: ("平台审核未通过", "the platform review rejected it"),
    5: ("发布成功后文章已被全部删除", "after publishing, every article was deleted"),
    6: ("发布成功后文章已被系统封禁", "after publishing, the system banned the articles"),
}
MASS_WAIT_SECONDS = 60.0  # 45066: the same clientmsgid again only after a minute
MASS_TRIES = 3
UNCONFIRMED_AFTER = timedelta(minutes=30)  # a lost submit reply not found by then: ask a person
SEARCH_PAGES = 5


class Publisher:
    """The publishing I/O of one WeChat channel."""

    def __init__(self, channel: WechatChannel) -> None:
        self.channel = channel
        self.api = channel.api
        self.journal = channel.journal

    # ------------------------------------------------------------------ send

    def send(self, payload: Payload, key: str) -> Receipt:
        """Publish (routine) or mass-send (urgent); resumes from what the journal recorded."""
        data = payload.data
        record = self.journal.load(key)
        if record.get("publish_id"):
            return self._pending_publish(record)
        if record.get("msg_id"):
            return self._pending_mass(record)
        if data.get("urgent") and not record.get("fell_back"):
            return self._mass(payload, key, record)
        if record.get("submit_sent") and record.get("media_id") \
                and not self._draft_exists(str(record["media_id"])):
            return self._after_lost_submit(payload, key, record)
        media_id = self._draft(payload, key, record)
        return self._submit(key, media_id, record)

    def _draft_exists(self, media_id: str) -> bool:
        try:
            self.api.call("draft/get", {"media_id": media_id})
        except PermanentChannelError as exc:
            if exc.code == "40007":
                return False
            raise
        return True

    def _draft(self, payload: Payload, key: str, record: dict[str, Any]) -> str:
        media_id = record.get("media_id")
        if media_id and self._draft_exists(str(media_id)):
            return str(media_id)
        data = payload.data
        timeout = self.channel.settings.timeout_seconds
        session = self.channel.context.session
        cover = media.to_upload(media.load(str(data["cover"]), session, timeout), "cover.jpg",
                                media.COVER_MAX_BYTES)
        thumb = self.api.call("material/add_material", files={"media": cover},
                              params={"type": "image"})
        urls: dict[str, str] = {}
        for src, where in dict(data.get("images") or {}).items():
            upload = media.to_upload(media.load(str(where), session, timeout), str(src))
            urls[str(src)] = str(self.api.call("media/uploadimg", files={"media": upload})["url"])
        article = {
            "title": data["title"], "author": data.get("author") or "",
            "digest": data.get("digest") or "",
            "content": rewrite_images(str(data["content"]), urls),
            "content_source_url": data.get("content_source_url") or "",
            "thumb_media_id": thumb["media_id"],
            "need_open_comment": 0, "only_fans_can_comment": 0,
        }
        media_id = str(self.api.call("draft/add", {"articles": [article]})["media_id"])
        self.journal.update(key, media_id=media_id, title=data["title"],
                            drafted_at=self.channel.now().isoformat())
        return media_id

    def _submit(self, key: str, media_id: str, record: dict[str, Any],
                note: dict[str, str] | None = None) -> Receipt:
        self.journal.update(key, submit_sent=True, submitted_at=self.channel.now().isoformat())
        reply = self.api.call("freepublish/submit", {"media_id": media_id})
        publish_id = str(reply["publish_id"])
        record = self.journal.update(key, publish_id=publish_id, **(note or {}))
        return self._pending_publish(record)

    @staticmethod
    def _pending_publish(record: dict[str, Any]) -> Receipt:
        details = {"mode": "publish", "publish_id": str(record["publish_id"]),
                   "title": record.get("title")}
        for name in ("fallback_zh", "fallback_en"):
            if record.get(name):
                details[name] = record[name]
        return Receipt(remote_id=f"publish:{record['publish_id']}", pending=True, details=details)

    def _after_lost_submit(self, payload: Payload, key: str, record: dict[str, Any]) -> Receipt:
        """The submit left, its reply was lost and the draft is gone: it was published."""
        found = self.search(str(payload.data["title"]), _since(record, "submitted_at"))
        if found is not None:
            return found
        submitted = datetime.fromisoformat(str(record.get("submitted_at")))
        if self.channel.now() - submitted > UNCONFIRMED_AFTER:
            raise OutcomeUnknown(
                "发布请求已提交但找不到结果 / the publish request left but no result can be found",
                code="publish_unconfirmed",
                explanation_zh="发布请求已提交但回复丢失，且在已发布列表中找不到，请在公众平台核对",
                explanation_en="the publish request left, its reply was lost and the article "
                               "is not in the published list; check on the platform")
        raise TransientChannelError(
            "发布结果待确认 / waiting to see the publish result", code="publish_unconfirmed",
            retry_after=60.0, explanation_zh="发布请求的回复丢失，稍后在已发布列表中核对",
            explanation_en="the publish reply was lost; checking the published list later")

    # ------------------------------------------------------------------ mass send

    def _mass(self, payload: Payload, key: str, record: dict[str, Any]) -> Receipt:
        client_id = key[:32]
        if not client_id.isascii():
            raise PermanentChannelError("clientmsgid must be ASCII", code="45067")
        if record.get("mass_sent") and record.get("media_id"):
            media_id = str(record["media_id"])  # resend the same draft id; dedupe answers
        else:
            media_id = self._draft(payload, key, record)
        body = {"filter": {"is_to_all": True}, "mpnews": {"media_id": media_id},
                "msgtype": "mpnews", "send_ignore_reprint": 0, "clientmsgid": client_id}
        self.journal.update(key, mass_sent=True, media_id=media_id)
        for attempt in range(MASS_TRIES):
            try:
                reply = self.api.call("message/mass/sendall", body, on_error=_already_sent)
            except RateLimited as exc:
                if exc.code != "45066" or attempt == MASS_TRIES - 1:
                    raise
                self.channel.context.sleep(MASS_WAIT_SECONDS)
                continue
            except PermanentChannelError as exc:
                if exc.code != "45028":
                    raise
                zh = "群发额度已用完，已改为发布（不推送给关注者）"
                en = "no mass-send quota left; published instead (followers are not notified)"
                self.journal.update(key, fell_back=True)
                return self._submit(key, media_id, record,
                                    {"fallback_zh": zh, "fallback_en": en})
            saved = self.journal.update(key, msg_id=str(reply["msg_id"]),
                                        msg_data_id=str(reply.get("msg_data_id") or ""),
                                        already_sent=bool(reply.get("already_sent")))
            return self._pending_mass(saved)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _pending_mass(record: dict[str, Any]) -> Receipt:
        details = {"mode": "mass", "msg_id": str(record["msg_id"]),
                   "msg_data_id": record.get("msg_data_id") or None,
                   "already_sent": bool(record.get("already_sent"))}
        return Receipt(remote_id=f"mass:{record['msg_id']}", pending=True, details=details)

    # ------------------------------------------------------------------ follow

    def status(self, receipt: Receipt) -> Receipt:
        """One look at a pending job: still pending, final, or a permanent error."""
        if not receipt.pending:
            return receipt
        details = dict(receipt.details)
        if details.get("mode") == "mass":
            reply = self.api.call("message/mass/get", {"msg_id": int(details["msg_id"])})
            state = str(reply.get("msg_status"))
            if state == "SENDING":
                return receipt
            if state == "SEND_SUCCESS":
                return Receipt(remote_id=f"mass:{details['msg_id']}", url=None,
                               published_at=self.channel.now(), details=details)
            raise PermanentChannelError(
                f"群发失败 ({state}) / the mass send ended as {state}", code=state,
                explanation_zh="群发未成功（可能被管理员拒绝或超时），请在公众平台查看",
                explanation_en="the mass send did not succeed (rejected or timed out); "
                               "check on the platform")
        reply = self.api.call("freepublish/get", {"publish_id": details["publish_id"]})
        outcome = int(reply.get("publish_status", 1))
        if outcome == 1:
            return receipt
        if outcome == 0:
            items = (reply.get("article_detail") or {}).get("item") or []
            url = str(items[0]["article_url"]) if items else None
            article_id = str(reply["article_id"])
            return Receipt(remote_id=article_id, url=url, published_at=self.channel.now(),
                           details={**details, "article_id": article_id, "index": 1})
        zh, en = PUBLISH_FAILURES.get(outcome, ("发布失败", "publishing failed"))
        failed = [int(i) for i in reply.get("fail_idx") or []]
        where_zh = f"（第 {'、'.join(map(str, failed))} 篇）" if failed else ""
        where_en = f" (article {', '.join(map(str, failed))})" if failed else ""
        raise PermanentChannelError(
            f"{zh}{where_zh} / {en}{where_en}", code=f"publish_status_{outcome}",
            explanation_zh=f"{zh}{where_zh}，请在公众平台查看原因",
            explanation_en=f"{en}{where_en}; see the reason on the platform")

    def follow(self, receipt: Receipt, budget_seconds: float) -> Receipt:
        """Poll ``status`` with doubling waits until final or the budget is spent."""
        wait, waited = 1.0, 0.0
        receipt = self.status(receipt)
        while receipt.pending:
            if waited >= budget_seconds:
                raise TransientChannelError(
                    "发布任务仍在处理中 / the publish job is still running",
                    code="still_pending", retry_after=60.0,
                    explanation_zh="发布任务仍在处理，稍后再核实",
                    explanation_en="the publish job is still running; checking again later")
            self.channel.context.sleep(wait)
            waited += wait
            wait = min(wait * 2, 30.0)
            receipt = self.status(receipt)
        return receipt

    # ------------------------------------------------------------------ find, retract

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """Did this delivery land? The journal's publish_id or msg_id, else the published list."""
        record = self.journal.load(key)
        budget = self.channel.settings.find_budget_seconds
        pending: Receipt | None = None
        if record.get("publish_id"):
            pending = self._pending_publish(record)
        elif record.get("msg_id"):
            pending = self._pending_mass(record)
        if pending is not None:
            try:
                return self.follow(pending, budget)
            except PermanentChannelError:
                # the job ended without publishing: forget it so a resend starts afresh
                self.journal.update(key, publish_id=None, msg_id=None, media_id=None,
                                    submit_sent=False, mass_sent=False)
                return None
        title = str(payload.data.get("title") or record.get("title") or "")
        return self.search(title, _since(record, "drafted_at") or _published_at(payload))

    def search(self, title: str, since: datetime | None) -> Receipt | None:
        """The newest published article with this title updated since ``since``."""
        floor = int((since - timedelta(hours=1)).timestamp()) if since else 0
        for page in range(SEARCH_PAGES):
            reply = self.api.call("freepublish/batchget",
                                  {"offset": page * 20, "count": 20, "no_content": 1})
            items = reply.get("item") or []
            for item in items:
                if int(item.get("update_time") or 0) < floor:
                    return None
                news = (item.get("content") or {}).get("news_item") or []
                for index, article in enumerate(news, start=1):
                    if article.get("title") == title and not article.get("is_deleted"):
                        return Receipt(remote_id=str(item["article_id"]),
                                       url=article.get("url"), published_at=self.channel.now(),
                                       details={"mode": "publish", "index": index,
                                                "article_id": str(item["article_id"]),
                                                "found_by": "batchget"})
            if len(items) < 20:
                return None
        return None

    def retract(self, receipt: Receipt) -> None:
        """Delete one published article (1-based index, never 0) or a mass send."""
        details = receipt.details
        if details.get("mode") == "mass":
            self.api.call("message/mass/delete",
                          {"msg_id": int(details["msg_id"]), "article_idx": 1})
            return
        index = int(details.get("index", 1))
        if index < 1:
            raise PermanentChannelError(
                "撤回序号须从 1 开始 / the retract index must be 1 or more", code="index",
                explanation_zh="序号 0 会删除全部文章，已拒绝",
                explanation_en="index 0 would delete every article; refused")
        self.api.call("freepublish/delete",
                      {"article_id": str(details.get("article_id") or receipt.remote_id),
                       "index": index})


def _already_sent(errcode: int, reply: dict[str, Any]) -> dict[str, Any] | None:
    """45065: this clientmsgid was sent in the last 24 hours; its msg_id is the result."""
    if errcode == 45065 and reply.get("msg_id"):
        return {"msg_id": reply["msg_id"], "already_sent": True}
    return None


def _since(record: dict[str, Any], name: str) -> datetime | None:
    value = record.get(name)
    return datetime.fromisoformat(str(value)) if value else None


def _published_at(payload: Payload) -> datetime | None:
    value = payload.data.get("published_at")
    return datetime.fromisoformat(str(value)) if value else None

