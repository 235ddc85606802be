"""The ``wordpress`` kind: posts and categories over the REST API, idempotent by slug."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import requests
from pydantic import Field, SecretStr, field_validator

from channels.base import (
    Channel,
    ChannelContext,
    ChannelSettings,
    Message,
    Payload,
    Receipt,
)
from channels.wordpress.content import (
    KIND,
    PostSpec,
    WordPressLimits,
    owner_of,
    prepare_post,
)
from channels.wordpress.errors import classify, conflict, network_error, not_wordpress, scrub

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Every status a post can have, so a lookup by slug also sees drafts and trashed posts.
ALL_STATUSES = "publish,future,draft,pending,private,trash"
TRASH = "trash"
TRASHED_SUFFIX = "__trashed"


class WordPressSettings(ChannelSettings):
    """One WordPress site and the account that publishes to it."""

    base_url: str  # the site root, e.g. https://www.example.gov.cn/ (REST under wp-json/)
    username: str = Field(min_length=1, max_length=60)
    application_password: SecretStr  # made under Users → Edit User; sent as HTTP Basic
    status: Literal["publish", "draft", "pending", "private"] = "publish"
    timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _https_root(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url 须为 http(s) 绝对地址 / base_url must be absolute: {value!r}")
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("应用密码只能经 https 发送 / the application password goes over "
                             f"https only (http only for loopback): {value!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"base_url 不能带查询或锚点 / no query or fragment: {value!r}")
        return value if value.endswith("/") else value + "/"


def _published_at(post: dict[str, Any]) -> datetime | None:
    stamp = post.get("date_gmt")
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class WordPressChannel(Channel[WordPressSettings]):
    """Publishes each release as a WordPress post in the category named by its column."""

    kind: ClassVar[str] = KIND
    limits: ClassVar[WordPressLimits] = WordPressLimits()
    settings_model: ClassVar[type[ChannelSettings]] = WordPressSettings
    body_format: ClassVar[str] = "html"
    template_ext: ClassVar[str] = "html"

    def __init__(self, name: str, settings: WordPressSettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        self.api = f"{settings.base_url}wp-json/wp/v2"
        self._categories: dict[str, int] = {}

    @classmethod
    def start_sandbox(cls, settings: ChannelSettings) -> tuple[ChannelSettings, Callable[[], None]]:
        """Run the loopback WordPress emulator, accepting these credentials, and post there."""
        from channels.wordpress.sandbox import serve

        assert isinstance(settings, WordPressSettings)
        emulator = serve()
        emulator.state.add_user(settings.username,
                                settings.application_password.get_secret_value())
        return settings.model_copy(update={"base_url": emulator.url}), emulator.stop

    # ------------------------------------------------------------------ contract

    def prepare(self, message: Message) -> Payload:
        """Pure: the portal's rules (metadata, 索引号, slug), no attachments."""
        return Payload(kind=KIND, data=prepare_post(message, self.limits))

    def send(self, payload: Payload, key: str) -> Receipt:
        """Look the slug up first; update our own post, else create it (201 + Location)."""
        spec = PostSpec.from_payload(payload)
        post = self._owned(self._lookup(spec.slug), spec.slug, key)
        if post is not None and post.get("status") == TRASH:
            raise conflict("withdrawn", f"文章 {spec.slug} 已撤回（在回收站），不能重新发布",
                           f"post {spec.slug} was withdrawn (in the trash); publish under a "
                           "new slug", spec.slug)
        fields = {
            "title": spec.title,
            "content": spec.content_for(key),
            "excerpt": spec.excerpt,
            "slug": spec.slug,
            "status": self.settings.status,
            "categories": [self._category(spec.column, spec.column_name)],
        }
        if post is None:
            response = self._call("POST", "/posts", json=fields)
            created = self._json(response)
            return self._receipt(created, location=response.headers.get("Location"))
        updated = self._json(self._call("POST", f"/posts/{int(post['id'])}", json=fields))
        return self._receipt(updated)

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """The post this delivery made, looked up by its slug (trashed ones included)."""
        spec = PostSpec.from_payload(payload)
        post = self._lookup(spec.slug)
        if post is None or owner_of(self._raw_content(post)) != key:
            return None
        return self._receipt(post)

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        """Move the post to the trash; a post already there counts as retracted."""
        response = self._call("DELETE", f"/posts/{int(receipt.remote_id)}", accept=(410,))
        if response.status_code != 410:
            self._json(response)

    def check(self) -> list[str]:
        """Log in as the account (``users/me``) and report what is wrong, if anything."""
        try:
            self._json(self._call("GET", "/users/me", params={"context": "edit"}))
        except Exception as exc:  # every ChannelError, reported as text
            return [f"WordPress 检查失败 / WordPress check failed: {exc}"]
        return []

    # ------------------------------------------------------------------ helpers

    def _secrets(self) -> list[str]:
        return [self.settings.application_password.get_secret_value()]

    def _call(self, method: str, path: str, *, accept: tuple[int, ...] = (),
              **kw: Any) -> requests.Response:
        auth = (self.settings.username, self.settings.application_password.get_secret_value())
        try:
            response = self.context.session.request(
                method, self.api + path, auth=auth, timeout=self.settings.timeout_seconds,
                headers={"Accept": "application/json"}, allow_redirects=False, **kw)
        except requests.RequestException as exc:
            raise network_error(exc) from None
        if 200 <= response.status_code < 300 or response.status_code in accept:
            return response
        if 300 <= response.status_code < 400:
            raise not_wordpress(response.status_code, self._secrets(),
                                f"redirect to {response.headers.get('Location', '')}")
        raise classify(response, self._secrets())

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise not_wordpress(response.status_code, self._secrets(),
                                response.text[:200]) from None

    def _lookup(self, slug: str) -> dict[str, Any] | None:
        """The post with this slug (or its trashed form) in any status, or None."""
        slugs = (slug, slug + TRASHED_SUFFIX)  # WordPress renames a trashed post's slug
        found = self._json(self._call("GET", "/posts", params={
            "slug": ",".join(slugs), "status": ALL_STATUSES, "context": "edit", "per_page": 10}))
        if not isinstance(found, list):
            raise not_wordpress(200, self._secrets(), "posts lookup did not return a list")
        posts = [p for p in found if isinstance(p, dict) and p.get("slug") in slugs]
        posts.sort(key=lambda p: p.get("slug") != slug)  # the live slug first
        return posts[0] if posts else None

    @staticmethod
    def _raw_content(post: dict[str, Any]) -> str:
        content = post.get("content")
        raw = content.get("raw") if isinstance(content, dict) else None
        return raw if isinstance(raw, str) else ""

    def _owned(self, post: dict[str, Any] | None, slug: str, key: str) -> dict[str, Any] | None:
        """The post when this delivery made it; refuses a slug someone else's post holds."""
        if post is None:
            return None
        owner = owner_of(self._raw_content(post))
        if owner != key:
            raise conflict("slug_taken", f"页面标识 {slug} 已被网站上的另一篇文章占用",
                           f"slug {slug} already belongs to another post on the site",
                           scrub(f"{slug} (post {post.get('id')})", self._secrets()))
        return post

    def _category(self, column: str, column_name: str) -> int:
        """The id of the category whose slug is the column id, made on first use."""
        if column in self._categories:
            return self._categories[column]
        found = self._json(self._call("GET", "/categories", params={"slug": column}))
        matches = [c for c in found if isinstance(c, dict) and c.get("slug") == column] \
            if isinstance(found, list) else []
        if matches:
            term_id = int(matches[0]["id"])
        else:
            response = self._call("POST", "/categories", accept=(400,),
                                  json={"name": column_name, "slug": column})
            made = self._json(response)
            if response.status_code == 400:  # made meanwhile by another worker: term_exists
                data = made.get("data") if isinstance(made, dict) else None
                if not (made.get("code") == "term_exists" and isinstance(data, dict)
                        and "term_id" in data):
                    raise classify(response, self._secrets())
                made = {"id": data["term_id"]}
            term_id = int(made["id"])
        self._categories[column] = term_id
        return term_id

    def _receipt(self, post: Any, location: str | None = None) -> Receipt:
        if not isinstance(post, dict) or "id" not in post:
            raise not_wordpress(200, self._secrets(), "post without id")
        details: dict[str, Any] = {"slug": post.get("slug"), "status": post.get("status")}
        if location:
            details["location"] = location
        link = post.get("link")
        return Receipt(remote_id=str(post["id"]), url=link if isinstance(link, str) else None,
                       published_at=_published_at(post), details=details)
