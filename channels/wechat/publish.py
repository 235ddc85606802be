"""Sending an article: images, draft, publish job or mass send, following, finding and retracting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from channels.base import (
    Payload,
    PermanentChannelError,
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
# 45066: the same clientmsgid again only after a minute; then 45065 answers with the earlier
# send's msg_id, so a lost mass-send answer settles by resending after this long
MASS_WAIT_SECONDS = 60.0
SEARCH_PAGES = 5
SEARCH_MARGIN = timedelta(hours=1)  # the published list is searched from this long before


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
        if record.get("submit_sent"):  # a submit left and its answer was lost
            found = self.search(payload, record)
            if found is not None:
                return found
            self._settled(record)
        media_id = self._draft(payload, key, record)
        return self._submit(key, media_id, record)

    def settle_seconds(self, payload: Payload, key: str) -> float:
        """How long a lost answer takes to settle: a minute for a mass send (the clientmsgid
        then answers with the earlier send), the ``settle_seconds`` setting for a publish job
        (it must have had time to appear in the published list)."""
        if payload.data.get("urgent") and not self.journal.load(key).get("fell_back"):
            return MASS_WAIT_SECONDS
        return self.channel.settings.settle_seconds

    def _settled(self, record: dict[str, Any]) -> None:
        """Refuse to submit again before a lost submit could have shown in the published list
        (whether the platform keeps the draft after a submit is unconfirmed, so a draft still
        there proves nothing); the core's reconcile waits this out before calling send."""
        submitted = _since(record, "submitted_at")
        if submitted is None:
            return
        left = (submitted - self.channel.now()).total_seconds() + \
            self.channel.settings.settle_seconds
        if left > 0:
            raise TransientChannelError(
                "发布结果待确认 / waiting to see the publish result", code="publish_unconfirmed",
                retry_after=left, explanation_zh="发布请求的回复丢失，稍后在已发布列表中核对后再决定是否重发",
                explanation_en="the publish reply was lost; the published list is checked "
                               "before any resend")

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
        hosts = tuple(self.channel.settings.image_hosts)
        cover = media.to_upload(media.load(str(data["cover"]), session, timeout, hosts),
                                "cover.jpg", media.COVER_MAX_BYTES)
        thumb = self.api.call("material/add_material", files={"media": cover},
                              params={"type": "image"})
        urls: dict[str, str] = {}
        for src, where in dict(data.get("images") or {}).items():
            upload = media.to_upload(media.load(str(where), session, timeout, hosts), str(src))
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
        thumbs = [*self.journal.load(key).get("thumbs", []), str(thumb["media_id"])]
        self.journal.update(key, media_id=media_id, title=data["title"], thumbs=thumbs,
                            drafted_at=self.channel.now().isoformat())
        return media_id

    def _submit(self, key: str, media_id: str, record: dict[str, Any],
                note: dict[str, str] | None = None) -> Receipt:
        self.journal.update(key, submit_sent=True, submitted_at=self.channel.now().isoformat())
        reply = self.api.call("freepublish/submit", {"media_id": media_id}, once=True)
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
        try:  # 45066 (the same clientmsgid within a minute) waits in retry_wait, not in a worker
            reply = self.api.call("message/mass/sendall", body, on_error=_already_sent,
                                  once=True)
        except PermanentChannelError as exc:
            if exc.code != "45028":
                raise
            zh = "群发额度已用完，已改为发布（不推送给关注者）"
            en = "no mass-send quota left; published instead (followers are not notified)"
            self.journal.update(key, fell_back=True)
            return self._submit(key, media_id, record, {"fallback_zh": zh, "fallback_en": en})
        saved = self.journal.update(key, msg_id=str(reply["msg_id"]),
                                    msg_data_id=str(reply.get("msg_data_id") or ""),
                                    already_sent=bool(reply.get("already_sent")))
        return self._pending_mass(saved)

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
        """Did this delivery land? The journal's publish_id or msg_id, else the published list.

        A mass send whose answer was lost is not looked for (None): resending it with the same
        clientmsgid is answered with the earlier send (45065)."""
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
        if payload.data.get("urgent") and record.get("mass_sent") and not record.get("fell_back"):
            return None
        return self.search(payload, record)

    def search(self, payload: Payload, record: dict[str, Any]) -> Receipt | None:
        """This delivery's article in the published list (freepublish/batchget), newest first,
        back to an hour before it was submitted (or drafted). It is this delivery's when its
        cover is one uploaded for this delivery (``thumb_media_id``), or when its title and
        阅读原文 link (or, without a link, its title) are this payload's."""
        since = _since(record, "submitted_at") or _since(record, "drafted_at") or \
            _published_at(payload)
        floor = int((since - SEARCH_MARGIN).timestamp()) if since else 0
        for page in range(SEARCH_PAGES):
            reply = self.api.call("freepublish/batchget",
                                  {"offset": page * 20, "count": 20, "no_content": 1})
            items = reply.get("item") or []
            for item in items:
                if int(item.get("update_time") or 0) < floor:
                    return None
                news = (item.get("content") or {}).get("news_item") or []
                for index, article in enumerate(news, start=1):
                    if _ours(article, payload, record) and not article.get("is_deleted"):
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


def _ours(article: dict[str, Any], payload: Payload, record: dict[str, Any]) -> bool:
    """Whether a published article is this delivery's (see ``Publisher.search``)."""
    if article.get("thumb_media_id") and article.get("thumb_media_id") in record.get("thumbs", []):
        return True
    title = payload.data.get("title") or record.get("title")
    source = payload.data.get("content_source_url") or ""
    return bool(title) and article.get("title") == title and \
        (not source or article.get("content_source_url") == source)


def _since(record: dict[str, Any], name: str) -> datetime | None:
    value = record.get(name)
    return datetime.fromisoformat(str(value)) if value else None


def _published_at(payload: Payload) -> datetime | None:
    value = payload.data.get("published_at")
    return datetime.fromisoformat(str(value)) if value else None

