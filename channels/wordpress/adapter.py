"""The ``wordpress`` kind: posts over the REST API, each carrying its delivery's owner mark."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import requests
from pydantic import Field, SecretStr, field_validator

from channels.base import (
    Channel,
    ChannelContext,
    ChannelSettings,
    ConfigurationError,
    Message,
    Payload,
    Receipt,
)
from channels.network import may_have_landed
from channels.wordpress.content import (
    KIND,
    PostSpec,
    WordPressLimits,
    owner_of,
    prepare_post,
)
from channels.wordpress.errors import classify, conflict, network_error, not_wordpress, scrub

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Every status a post can have, so a lookup also sees drafts and trashed posts.
ALL_STATUSES = "publish,future,draft,pending,private,trash"
TRASH = "trash"
TRASHED_SUFFIX = "__trashed"
SLUG_COPIES = 9  # wp_unique_post_slug names copies <slug>-2, <slug>-3 …: look this far by slug
PER_PAGE = 100  # the REST API's largest page


class WordPressSettings(ChannelSettings):
    """One WordPress site and the account that publishes to it."""

    base_url: str  # the site root, e.g. https://www.example.gov.cn/ (REST under wp-json/)
    username: str = Field(min_length=1, max_length=60)
    application_password: SecretStr  # made under Users → Edit User; sent as HTTP Basic
    status: Literal["publish", "draft", "pending", "private"] = "publish"
    timeout_seconds: float = Field(default=15.0, gt=0)
    # a create whose answer was lost may still be running on the site (PHP's
    # max_execution_time is 30 s by default, plus queueing): the post is looked for again
    # only after this, before any second create
    settle_seconds: float = Field(default=60.0, ge=0, le=86_400)

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


def slug_variants(slug: str) -> list[str]:
    """The slugs a post made for ``slug`` can have: its copies' ``-N`` and trashed forms."""
    names = [slug, *(f"{slug}-{n}" for n in range(2, SLUG_COPIES + 1))]
    return [form for name in names for form in (name, name + TRASHED_SUFFIX)]


def _title(item: dict[str, Any]) -> str:
    title = item.get("title")
    if isinstance(title, dict):
        title = title.get("raw", title.get("rendered"))
    return title if isinstance(title, str) else ""


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
    platform_zh: ClassVar[str] = "政府网站"
    platform_en: ClassVar[str] = "government website"
    limits: ClassVar[WordPressLimits] = WordPressLimits()
    settings_model: ClassVar[type[ChannelSettings]] = WordPressSettings
    body_format: ClassVar[str] = "html"
    template_ext: ClassVar[str] = "html"
    retract_notice: ClassVar[bool] = True  # a trashed post answers 404: the notice is a post

    def __init__(self, name: str, settings: WordPressSettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        self.api = f"{settings.base_url}wp-json/wp/v2"
        self._categories: dict[str, int] = {}

    emulated: ClassVar[bool] = True

    @classmethod
    def start_sandbox(cls, settings: ChannelSettings, *, port: int = 0, host: str = "127.0.0.1",
                      state_file: Path | None = None
                      ) -> tuple[ChannelSettings, Callable[[], None]]:
        """Run the loopback WordPress emulator, accepting these credentials, and post there."""
        from channels.wordpress.sandbox import WordPressState, serve

        assert isinstance(settings, WordPressSettings)
        emulator = serve(port, WordPressState(state_file=state_file), host=host)
        emulator.state.add_user(settings.username,
                                settings.application_password.get_secret_value())
        return cls.sandbox_settings(settings, emulator.url), emulator.stop

    @classmethod
    def sandbox_settings(cls, settings: ChannelSettings, url: str) -> ChannelSettings:
        return settings.model_copy(update={"base_url": url})

    # ------------------------------------------------------------------ contract

    def prepare(self, message: Message) -> Payload:
        """Pure: the portal's rules (metadata, 索引号, slug), no attachments."""
        return Payload(kind=KIND, data=prepare_post(message, self.limits))

    def send(self, payload: Payload, key: str) -> Receipt:
        """Update this delivery's own post (found by its owner mark under any slug; extra
        copies are trashed), else create it (201 + Location). A create whose answer is lost
        is an unknown outcome: the core looks for the post before any second create."""
        spec = PostSpec.from_payload(payload)
        ours, holder = self._posts_of(key, spec.slug)
        live = [p for p in ours if p.get("status") != TRASH]
        if ours and not live:
            raise conflict("withdrawn", f"文章 {spec.slug} 已撤回（在回收站），不能重新发布",
                           f"post {spec.slug} was withdrawn (in the trash); publish under a "
                           "new slug", spec.slug)
        fields = {
            "title": spec.title,
            "content": spec.content_for(key, self._upload(spec, key)),
            "excerpt": spec.excerpt,
            "slug": spec.slug,
            "status": self.settings.status,
            "categories": [self._category(spec.column, spec.column_name)],
        }
        if not live:
            if holder is not None:
                raise conflict("slug_taken", f"页面标识 {spec.slug} 已被网站上的另一篇文章占用",
                               f"slug {spec.slug} already belongs to another post on the site",
                               scrub(f"{spec.slug} (post {holder.get('id')})", self._secrets()))
            response = self._call("POST", "/posts", json=fields, once=True)
            created = self._json(response)
            return self._receipt(created, location=response.headers.get("Location"))
        removed = self._trash(live[1:])
        updated = self._json(self._call("POST", f"/posts/{int(live[0]['id'])}", json=fields))
        return self._receipt(updated, removed=removed)

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """The post this delivery made, under any slug, trashed ones included. Where a lost
        answer left two live copies, the first made is kept and the others are trashed; the
        receipt names them (``duplicates``)."""
        spec = PostSpec.from_payload(payload)
        ours, _holder = self._posts_of(key, spec.slug)
        live = [p for p in ours if p.get("status") != TRASH]
        if not live:
            return self._receipt(ours[0]) if ours else None
        return self._receipt(live[0], removed=self._trash(live[1:]))

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        """Move the post to the trash (a post already there counts as retracted), and every
        other live copy carrying the same delivery's mark with it."""
        path = f"/posts/{int(receipt.remote_id)}"
        response = self._call("DELETE", path, accept=(410,))
        post = self._json(response) if response.status_code != 410 else \
            self._json(self._call("GET", path, params={"context": "edit"}))
        key = owner_of(self._raw_content(post)) if isinstance(post, dict) else None
        if key is not None:
            ours, _holder = self._posts_of(key, str(receipt.details.get("slug") or ""))
            self._trash([p for p in ours if p.get("status") != TRASH])

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

    def _call(self, method: str, path: str, *, accept: tuple[int, ...] = (), once: bool = False,
              headers_extra: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        """One request; ``once``: repeating it could make a second post (a create), so an
        answer lost after it left is an unknown outcome, not a plain retry."""
        auth = (self.settings.username, self.settings.application_password.get_secret_value())
        try:
            response = self.context.session.request(
                method, self.api + path, auth=auth, timeout=self.settings.timeout_seconds,
                headers={"Accept": "application/json", **(headers_extra or {})},
                allow_redirects=False, **kw)
        except requests.RequestException as exc:
            raise network_error(exc, unknown=once and may_have_landed(exc)) from None
        if 200 <= response.status_code < 300 or response.status_code in accept:
            return response
        if once and response.status_code == 504:  # a gateway gave up; WordPress may still run it
            raise network_error(requests.Timeout("504 Gateway Timeout"), unknown=True)
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

    def _posts(self, **params: str | int) -> list[dict[str, Any]]:
        """``GET /posts`` in every status, raw content included."""
        found = self._json(self._call("GET", "/posts", params={
            **params, "status": ALL_STATUSES, "context": "edit", "per_page": PER_PAGE}))
        if not isinstance(found, list):
            raise not_wordpress(200, self._secrets(), "posts lookup did not return a list")
        return [p for p in found if isinstance(p, dict) and "id" in p]

    def _posts_of(self, key: str, slug: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """This delivery's posts (its owner mark in the content) under any slug, in any status,
        the one holding ``slug`` first, then oldest first; and another's post holding ``slug``.

        Two lookups: by the slug and its copies' forms (``-2`` …, ``__trashed``), and by the
        mark through WordPress's search (title, excerpt and raw content), which also finds a
        copy renamed beyond those forms."""
        by_slug = self._posts(slug=",".join(slug_variants(slug))) if slug else []
        by_mark = self._posts(search=key)
        posts = {int(p["id"]): p for p in [*by_slug, *by_mark]}
        ours = sorted((p for p in posts.values() if owner_of(self._raw_content(p)) == key),
                      key=lambda p: (p.get("slug") != slug, int(p["id"])))
        holder = next((p for p in by_slug if p.get("slug") == slug
                       and owner_of(self._raw_content(p)) != key), None)
        return ours, holder

    def _upload(self, spec: PostSpec, key: str) -> dict[str, str]:
        """Each picture in the media library (``POST /media``), by name: its address. A
        picture is uploaded as ``gp-<key>-<n>.<ext>`` and looked for by that title first, so
        a retried send reuses the upload instead of adding a second copy."""
        sources: dict[str, str] = {}
        for index, (name, content_type, path) in enumerate(spec.pictures):
            title = f"gp-{key[:16]}-{index}"
            found = self._json(self._call("GET", "/media", params={
                "search": title, "context": "edit", "per_page": PER_PAGE}))
            match = next((m for m in found if isinstance(m, dict) and _title(m) == title),
                         None) if isinstance(found, list) else None
            if match is None:
                try:
                    data = Path(path).read_bytes()
                except OSError as exc:
                    raise ConfigurationError(
                        f"图片文件不可读 / picture unreadable: {name}: {exc.strerror}",
                        code="picture_missing") from None
                suffix = Path(name).suffix.lower() or ".jpg"
                match = self._json(self._call("POST", "/media", data=data, headers_extra={
                    "Content-Type": content_type,
                    "Content-Disposition": f'attachment; filename="{title}{suffix}"'}))
            url = match.get("source_url") if isinstance(match, dict) else None
            if not isinstance(url, str) or not url:
                raise not_wordpress(200, self._secrets(), "media without source_url")
            sources[name] = url
        return sources

    def _trash(self, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Move each post to the trash; what was removed, for the receipt's ``duplicates``."""
        removed = []
        for post in posts:
            self._call("DELETE", f"/posts/{int(post['id'])}", accept=(410,))
            link = post.get("link")
            removed.append({"remote_id": str(post["id"]), "slug": post.get("slug"),
                            "url": link if isinstance(link, str) else None, "status": TRASH})
        return removed

    @staticmethod
    def _raw_content(post: dict[str, Any]) -> str:
        content = post.get("content")
        raw = content.get("raw") if isinstance(content, dict) else None
        return raw if isinstance(raw, str) else ""

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

    def _receipt(self, post: Any, location: str | None = None,
                 removed: list[dict[str, Any]] | None = None) -> Receipt:
        if not isinstance(post, dict) or "id" not in post:
            raise not_wordpress(200, self._secrets(), "post without id")
        details: dict[str, Any] = {"slug": post.get("slug"), "status": post.get("status")}
        if location:
            details["location"] = location
        if removed:
            details["duplicates"] = removed
        link = post.get("link")
        return Receipt(remote_id=str(post["id"]), url=link if isinstance(link, str) else None,
                       published_at=_published_at(post), details=details)
