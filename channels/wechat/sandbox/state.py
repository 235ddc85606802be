"""The emulated account: tokens, media, drafts, publish jobs, mass sends, quotas and faults."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from channels.sandbox_file import load_state, save_state
from channels.wechat.sandbox.common import DAY, Reply, rid, urlsafe
from channels.wechat.sandbox.mass import MassSend

OVERLAP_SECONDS = 300.0  # an old token stays valid this long after a new one
TOKEN_SECONDS = 7200


@dataclass
class Fault:
    """An injected fault for the next matching request.

    ``kind``: ``errcode`` (answer ``errcode``), ``status`` (HTTP ``status``), ``slow`` (wait
    ``seconds`` then answer), ``drop`` (close without handling), ``lost`` (handle, then close
    without answering: a reply lost to a timeout). ``api`` limits it to one API ("" = any).
    """

    kind: str
    api: str = ""
    errcode: int = -1
    status: int = 503
    seconds: float = 0.0
    times: int = 1


@dataclass
class Job:
    """An asynchronous publish job."""

    publish_id: str
    media_id: str
    articles: list[dict[str, Any]]
    submitted_at: float
    polls_left: int
    final_status: int = 0
    fail_idx: list[int] = field(default_factory=list)
    status: int = 1
    article_id: str | None = None


@dataclass
class Account(MassSend):
    """Everything the emulated WeChat account holds; every method runs under ``lock``."""

    app_id: str = "wx0000000000000000"
    app_secret: str = "sandbox-app-secret"  # noqa: S105
    clock: Callable[[], float] = time.time
    publish_polls: int = 1  # gets answering "publishing" before a job ends
    publish_seconds: float = 5.0  # ...or this long after submit, whichever comes first
    publish_script: list[tuple[int, list[int]]] = field(default_factory=list)  # (status, fail_idx)
    mass_status_polls: int = 0  # mass/get answers SENDING this many times
    mass_quota_per_day: int = 1
    daily_limit: int = 100_000  # per API
    force_per_day: int = 20
    latency_seconds: float = 0.0  # every request waits this long before it is handled
    # whether a successful freepublish/submit removes the draft is unconfirmed (wechat.md §9
    # says remove it): True keeps it, as a platform that does not consume drafts would
    submit_keeps_draft: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)
    calls: Counter[str] = field(default_factory=Counter)
    request_log: list[tuple[float, str]] = field(default_factory=list)  # (arrival, api), in order
    errors: Counter[tuple[str, int]] = field(default_factory=Counter)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> valid until
    classic_current: str | None = None
    stable_current: str | None = None
    force_times: list[float] = field(default_factory=list)
    materials: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    drafts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)  # article_id -> record
    mass_sends: list[dict[str, Any]] = field(default_factory=list)
    client_ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    quota_day: int = -1
    quota_used: Counter[str] = field(default_factory=Counter)
    clears: int = 0
    last_id: int = 100_000_000  # ids (publish, msg, msg_data) count up from here
    # with a file, what the account holds (tokens, media, drafts, jobs, articles, mass sends)
    # is saved there after each request and read back at start: a restart forgets nothing
    state_file: Path | None = None

    # ------------------------------------------------------------------ on disk

    def save(self) -> None:
        """Write the account's holdings to ``state_file`` (nothing without one)."""
        if self.state_file is None:
            return
        with self.lock:
            data = {"last_id": self.last_id, "tokens": self.tokens,
                    "classic_current": self.classic_current,
                    "stable_current": self.stable_current, "materials": self.materials,
                    "images": self.images, "drafts": self.drafts,
                    "jobs": [asdict(job) for job in self.jobs.values()],
                    "articles": self.articles, "mass_sends": self.mass_sends,
                    "client_ids": self.client_ids}
            save_state(self.state_file, data)

    def load(self) -> None:
        """Read what ``state_file`` holds (nothing when it is missing)."""
        data = load_state(self.state_file)
        if data is None:
            return
        with self.lock:
            self.last_id = int(data["last_id"])
            self.tokens = {str(k): float(v) for k, v in data["tokens"].items()}
            self.classic_current = data.get("classic_current")
            self.stable_current = data.get("stable_current")
            self.materials, self.images = data["materials"], data["images"]
            self.drafts = data["drafts"]
            self.jobs = {str(raw["publish_id"]): Job(**raw) for raw in data["jobs"]}
            self.articles, self.mass_sends = data["articles"], data["mass_sends"]
            self.client_ids = data["client_ids"]

    # ------------------------------------------------------------------ helpers

    def now(self) -> float:
        return self.clock()

    def errmsg(self, text: str) -> str:
        """WeChat's shape: English text then ``rid: …``."""
        return f"{text} rid: {rid()}"

    def fail(self, errcode: int, text: str, **extra: Any) -> Reply:
        return Reply(errcode, self.errmsg(text), **extra)

    def next_id(self) -> int:
        with self.lock:
            self.last_id += 1
            return self.last_id

    def take_fault(self, api: str) -> Fault | None:
        """The next fault aimed at ``api`` (or at any API), used up as it fires."""
        with self.lock:
            for fault in self.faults:
                if fault.api in ("", api):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def inject(self, kind: str, api: str = "", **options: Any) -> None:
        """Queue a fault (see ``Fault``)."""
        with self.lock:
            self.faults.append(Fault(kind, api, **options))

    def count_quota(self, api: str) -> None:
        """Per-API daily counters; over the limit is 45009."""
        day = int(self.now() // DAY)
        if day != self.quota_day:
            self.quota_day, self.quota_used = day, Counter()
        self.quota_used[api] += 1
        if self.quota_used[api] > self.daily_limit:
            raise self.fail(45009, "reach max api daily quota limit")

    # ------------------------------------------------------------------ tokens

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(96)
        self.tokens[token] = self.now() + TOKEN_SECONDS
        return token

    def _credentials(self, appid: str | None, secret: str | None) -> None:
        if not appid:
            raise self.fail(41002, "appid missing")
        if not secret:
            raise self.fail(41004, "appsecret missing")
        if appid != self.app_id:
            raise self.fail(40013, "invalid appid")
        if secret != self.app_secret:
            raise self.fail(40125, "invalid appsecret")

    def classic_token(self, appid: str | None, secret: str | None) -> dict[str, Any]:
        """``/cgi-bin/token``: a new token each call; the previous one lives 300 s more."""
        self._credentials(appid, secret)
        if self.classic_current in self.tokens:
            old = self.classic_current
            self.tokens[old] = min(self.tokens[old], self.now() + OVERLAP_SECONDS)
        self.classic_current = self._new_token()
        return {"access_token": self.classic_current, "expires_in": TOKEN_SECONDS}

    def stable_token(self, appid: str | None, secret: str | None, force: bool) -> dict[str, Any]:
        """``/cgi-bin/stable_token``: the same token until 5 minutes before expiry, or forced."""
        self._credentials(appid, secret)
        now = self.now()
        current = self.stable_current
        if force:
            self.force_times = [t for t in self.force_times if now - t < DAY]
            if len(self.force_times) >= self.force_per_day:
                raise self.fail(45009, "reach max api daily quota limit (force_refresh)")
            if self.force_times and now - self.force_times[-1] < 30:
                raise self.fail(45011, "api minute-quota reach limit (force_refresh 30s)")
            self.force_times.append(now)
        remaining = self.tokens.get(current, 0.0) - now if current else 0.0
        if force or current is None or remaining <= OVERLAP_SECONDS:
            if current in self.tokens and force:
                self.tokens.pop(current, None)
            self.stable_current = current = self._new_token()
            remaining = TOKEN_SECONDS
        return {"access_token": current, "expires_in": int(remaining)}

    def check_token(self, token: str | None) -> None:
        """41001 missing, 42001 expired, 40001 unknown."""
        if not token:
            raise self.fail(41001, "access_token missing")
        until = self.tokens.get(token)
        if until is None:
            raise self.fail(40001, "invalid credential, access_token is invalid or not latest")
        if until <= self.now():
            raise self.fail(42001, "access_token expired")

    def expire_tokens(self) -> None:
        """Make every token expired now (a token running out in the middle of a release)."""
        with self.lock:
            now = self.now()
            for token in self.tokens:
                self.tokens[token] = min(self.tokens[token], now)

    # ------------------------------------------------------------------ media

    def add_material(self, kind: str, data: bytes, filename: str) -> dict[str, Any]:
        image_type = _image_type(data)
        if kind == "thumb":
            if image_type != "jpeg":
                raise self.fail(40005, "invalid file type")
            if len(data) > 64 * 1024:
                raise self.fail(40009, "invalid image size")
        elif kind == "image":
            if image_type is None:
                raise self.fail(40005, "invalid file type")
            if len(data) > 10 * 1024 * 1024:
                raise self.fail(40009, "invalid image size")
        else:
            raise self.fail(40004, "invalid media type")
        media_id = urlsafe(43)
        url = f"http://mmbiz.qpic.cn/sandbox/{media_id}/0"
        self.materials[media_id] = {"type": kind, "url": url, "bytes": len(data),
                                    "filename": filename}
        return {"media_id": media_id, "url": url, "item": []}

    def upload_image(self, data: bytes) -> dict[str, Any]:
        if _image_type(data) not in ("jpeg", "png"):
            raise self.fail(40005, "invalid file type")
        if len(data) >= 1024 * 1024:
            raise self.fail(40009, "invalid image size")
        url = f"http://mmbiz.qpic.cn/sandbox_img/{urlsafe(40)}/0?wx_fmt=png"
        self.images.append(url)
        return {"url": url, "errcode": 0, "errmsg": "ok"}

    # ------------------------------------------------------------------ drafts

    def draft_add(self, body: dict[str, Any]) -> dict[str, Any]:
        articles = body.get("articles")
        if not isinstance(articles, list) or not articles:
            raise self.fail(44003, "empty news data")
        if len(articles) > 8:
            raise self.fail(45008, "article size out of limit")
        for article in articles:
            if not isinstance(article, dict) or not article.get("title") \
                    or not article.get("content"):
                raise self.fail(44003, "empty news data")
            if len(str(article["title"])) > 32:
                raise self.fail(45003, "title size out of limit")
            if len(str(article.get("author") or "")) > 16:
                raise self.fail(45110, "author size out of limit")
            if len(str(article.get("digest") or "").encode("utf-8")) > 120:
                raise self.fail(45004, "description size out of limit")
            content = str(article["content"])
            if len(content) >= 20_000 or len(content.encode("utf-8")) >= 1_000_000:
                raise self.fail(45166, "invalid content")
            if len(str(article.get("content_source_url") or "").encode()) > 1024:
                raise self.fail(41039, "invalid content_source_url")
            if article.get("article_type", "news") == "news" \
                    and article.get("thumb_media_id") not in self.materials:
                raise self.fail(40007, "invalid media_id")
        media_id = urlsafe(64)
        self.drafts[media_id] = [dict(a) for a in articles]
        return {"media_id": media_id}

    def draft_get(self, media_id: str) -> dict[str, Any]:
        if media_id not in self.drafts:
            raise self.fail(40007, "invalid media_id")
        return {"news_item": [{**a, "url": f"http://mp.weixin.qq.com/s?preview={media_id[:8]}"}
                              for a in self.drafts[media_id]]}

    def draft_delete(self, media_id: str) -> dict[str, Any]:
        if self.drafts.pop(media_id, None) is None:
            raise self.fail(40007, "invalid media_id")
        return {"errcode": 0, "errmsg": "ok"}

    # ------------------------------------------------------------------ publishing

    def submit(self, media_id: str) -> dict[str, Any]:
        articles = self.drafts.get(media_id) if self.submit_keeps_draft else \
            self.drafts.pop(media_id, None)
        if articles is None:
            raise self.fail(40007, "invalid media_id")
        articles = [dict(a) for a in articles]
        publish_id = str(self.next_id())
        status, fail_idx = self.publish_script.pop(0) if self.publish_script else (0, [])
        self.jobs[publish_id] = Job(publish_id, media_id, articles, self.now(),
                                    self.publish_polls, status, fail_idx)
        return {"errcode": 0, "errmsg": "ok", "publish_id": publish_id,
                "msg_data_id": str(self.next_id())}

    def publish_get(self, publish_id: str) -> dict[str, Any]:
        job = self.jobs.get(str(publish_id))
        if job is None:
            raise self.fail(53502, "invalid publish_id")
        self._tick()
        if job.status == 1:
            if job.polls_left > 0:
                job.polls_left -= 1
            else:
                self._finish(job)
        reply: dict[str, Any] = {"publish_id": job.publish_id, "publish_status": job.status,
                                 "fail_idx": job.fail_idx if job.status in (2, 4) else []}
        if job.article_id is not None:
            record = self.articles[job.article_id]
            if record["deleted_all"] and job.status == 0:
                reply["publish_status"] = 5
            reply["article_id"] = job.article_id
            reply["article_detail"] = {"count": len(record["items"]), "item": [
                {"idx": i + 1, "article_url": item["url"]} for i, item in enumerate(record["items"])
            ]}
        return reply

    def _tick(self) -> None:
        """Jobs running longer than ``publish_seconds`` end now."""
        for job in self.jobs.values():
            if job.status == 1 and self.now() - job.submitted_at >= self.publish_seconds:
                self._finish(job)

    def _finish(self, job: Job) -> None:
        job.status = job.final_status
        if job.status != 0:
            return
        job.article_id = urlsafe(43)
        items = [{**a, "url": f"https://mp.weixin.qq.com/s?__biz=sandbox&mid={job.publish_id}"
                               f"&idx={i + 1}&sn={urlsafe(16)}", "is_deleted": False}
                 for i, a in enumerate(job.articles)]
        self.articles[job.article_id] = {"items": items, "update_time": int(self.now()),
                                         "publish_id": job.publish_id, "deleted_all": False}

    def publish_delete(self, article_id: str, index: int) -> dict[str, Any]:
        record = self.articles.get(article_id)
        if record is None:
            raise self.fail(53600, "invalid article_id")
        if index == 0:
            for item in record["items"]:
                item["is_deleted"] = True
        elif 1 <= index <= len(record["items"]):
            record["items"][index - 1]["is_deleted"] = True
        else:
            raise self.fail(40114, "invalid index")
        record["deleted_all"] = all(item["is_deleted"] for item in record["items"])
        return {"errcode": 0, "errmsg": "ok"}

    def batchget(self, offset: int, count: int, no_content: bool) -> dict[str, Any]:
        if not 1 <= count <= 20:
            raise self.fail(40097, "invalid args")
        self._tick()
        ordered = sorted(self.articles.items(), key=lambda kv: -kv[1]["update_time"])
        live = [(k, v) for k, v in ordered if not v["deleted_all"]]
        page = live[offset:offset + count]
        return {"total_count": len(live), "item_count": len(page), "item": [
            {"article_id": k, "update_time": v["update_time"], "content": {"news_item": [
                {key: val for key, val in item.items() if not (no_content and key == "content")}
                for item in v["items"]]}} for k, v in page]}

    def clear_quota(self, appid: str | None) -> dict[str, Any]:
        if appid != self.app_id:
            raise self.fail(40013, "invalid appid")
        if self.clears >= 10:
            raise self.fail(48006, "forbid to clear quota because of reaching the limit")
        self.clears += 1
        self.quota_used = Counter()
        return {"errcode": 0, "errmsg": "ok"}

    # ------------------------------------------------------------------ for tests

    def published(self) -> list[dict[str, Any]]:
        """Every article ever published (deleted ones included), to count duplicates."""
        with self.lock:
            return [item for record in self.articles.values() for item in record["items"]]


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return None
