"""The emulated Weibo platform's state and rules (weibo.md checklist), apart from its HTTP server."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from channels.sandbox_file import load_state, save_state
from channels.weibo.errors import TABLE
from channels.weibo.text import Counter, host_under, link_host, links

BEIJING = timezone(timedelta(hours=8))
MAX_PICTURE_BYTES = 5 * 1024 * 1024
_TOPIC = re.compile(r"#[^#\s]+#")
_NOT_WORDS = re.compile(r"[\s\W_]+", re.UNICODE)


class ApiError(Exception):
    """A refusal the emulator answers with ``{error, error_code, request}`` and an HTTP status."""

    def __init__(self, code: int, text: str | None = None, status: int | None = None,
                 *, code_as_text: bool = False) -> None:
        super().__init__(code)
        self.code: int | str = str(code) if code_as_text else code
        self.text = text or (TABLE[code].name if code in TABLE else "error")
        self.status = status or status_for(code)

    @property
    def number(self) -> int:
        """The code as a number."""
        return int(self.code)


def status_for(code: int) -> int:
    """The HTTP status the emulator uses for a code (403 for permissions, 401 for tokens)."""
    if code == 10014:
        return 403
    if code in (21301, 21314, 21315, 21316, 21317, 21319, 21327, 21332):
        return 401
    if code in (10001, 10002, 10003, 10009, 10011):
        return 500
    return 400


@dataclass(frozen=True)
class Fault:
    """An injected fault: answer the next matching call with ``code`` (or a bare ``status``).

    ``path`` limits it to one endpoint (``/2/statuses/share.json``); ``after_accept`` applies
    the request first and then answers with the fault, or with no answer at all when
    ``drop`` (a connection cut after the post landed).
    """

    code: int | None = None
    status: int | None = None
    path: str | None = None
    after_accept: bool = False
    drop: bool = False
    code_as_text: bool = False  # send ``"error_code": "20016"`` as old docs show

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``20016``, ``"20016"`` (code as text), ``http:503``, ``drop``, ``accept+drop``,
        each optionally ``@/2/statuses/share.json`` for one endpoint."""
        spec, _, path = text.partition("@")
        after = spec.startswith("accept+")
        spec = spec.removeprefix("accept+")
        if spec.startswith('"') and spec.endswith('"'):
            return cls(code=int(spec.strip('"')), path=path or None, after_accept=after,
                       code_as_text=True)
        if spec == "drop":
            return cls(path=path or None, after_accept=after, drop=True)
        if spec.startswith("http:"):
            return cls(status=int(spec[5:]), path=path or None, after_accept=after)
        return cls(code=int(spec), path=path or None, after_accept=after)


@dataclass
class Token:
    """An issued access token."""

    value: str
    uid: str
    created_at: datetime
    expires_at: datetime
    revoked: bool = False
    scope: str = ""


@dataclass
class PlatformConfig:
    """The emulator's knobs; UNCONFIRMED behaviours of weibo.md are switches here."""

    safe_domain: str = "127.0.0.1"
    app_key: str = "1234567890"
    app_secret: str = "sandbox-secret"  # noqa: S105 - the emulator's own fake app
    redirect_uri: str = "http://127.0.0.1/weibo/callback"
    token_lifetime_seconds: float = 5 * 365 * 86400.0  # a developer's own grant lasts 5 years
    posts_per_hour: int = 30  # 10024 beyond this
    calls_per_hour: int = 1000  # 10023 beyond this
    burst_seconds: float = 0.0  # 20016 when two posts come closer than this (0: off)
    https_as_link: bool = False  # how the 140 counter treats https:// links
    limit: int = 140
    require_rip: bool = True  # the current share page says rip is required
    destroy_allowed: bool = True  # whether ordinary apps may delete (10014 when not)
    timeline_allowed: bool = True  # whether user_timeline answers (10014 when not)
    # UNCONFIRMED: an SDK tested against the live API (2021) says user_timeline returns only
    # the newest 5 posts to ordinary apps (10 through the official mobile SDK). None: every
    # post can be paged to; a number: only that many newest are visible (total_number still
    # counts them all)
    timeline_visible: int | None = None
    round_ids: bool = True  # ``id`` rounded as in the doc sample, so clients must key on idstr
    expiry_spelling: str = "expire_in"  # get_token_info; the 2012 wiki spells it expires_in
    latency_seconds: float = 0.0  # every request waits this long before it is handled
    # UNCONFIRMED: how long Weibo refuses a repeated text (20019 same, 20017 similar). None:
    # for ever; 0: never (a resend then makes a second post)
    repeat_window_seconds: float | None = None
    # UNCONFIRMED: how Weibo judges "similar" (20017). None: the same words once links, spaces
    # and punctuation are dropped; a number: the same first N of those characters
    similar_prefix: int | None = None


@dataclass
class Platform:
    """Every token, post and comment of the emulated Weibo, guarded by one lock."""

    config: PlatformConfig = field(default_factory=PlatformConfig)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    tokens: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # authorisation code -> uid
    posts: list[dict[str, Any]] = field(default_factory=list)  # every accepted post, kept
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, uid, path)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # with a file, every change (a token, post, deletion or comment) is saved there and read
    # back at start, so a restarted emulator still knows what it published
    state_file: Path | None = None
    _serial: int = 0

    # ------------------------------------------------------------------ on disk

    def save(self) -> None:
        """Write tokens, posts and comments to ``state_file`` (nothing without one)."""
        if self.state_file is None:
            return
        with self.lock:
            data = {"serial": self._serial, "codes": dict(self.codes),
                    "tokens": [{**asdict(t), "created_at": t.created_at.isoformat(),
                                "expires_at": t.expires_at.isoformat()}
                               for t in self.tokens.values()],
                    "posts": [{**p, "at": p["at"].isoformat()} for p in self.posts],
                    "comments": [{**c, "at": c["at"].isoformat()} for c in self.comments]}
            save_state(self.state_file, data)

    def load(self) -> None:
        """Read what ``state_file`` holds (nothing when it is missing)."""
        data = load_state(self.state_file)
        if data is None:
            return
        with self.lock:
            self._serial = int(data["serial"])
            self.codes = dict(data.get("codes", {}))
            self.tokens = {}
            for raw in data["tokens"]:
                token = Token(**{**raw, "created_at": datetime.fromisoformat(raw["created_at"]),
                                 "expires_at": datetime.fromisoformat(raw["expires_at"])})
                self.tokens[token.value] = token
            self.posts = [{**p, "at": datetime.fromisoformat(p["at"])} for p in data["posts"]]
            self.comments = [{**c, "at": datetime.fromisoformat(c["at"])}
                             for c in data["comments"]]

    # ------------------------------------------------------------------ tokens

    def issue_token(self, uid: str = "5000000001", *, value: str | None = None,
                    lifetime_seconds: float | None = None) -> Token:
        """Grant a token to ``uid`` (as the OAuth2 flow would); returns it."""
        now = self.clock()
        lifetime = self.config.token_lifetime_seconds if lifetime_seconds is None \
            else lifetime_seconds
        token = Token(value or secrets.token_hex(16), uid, now, now + timedelta(seconds=lifetime))
        with self.lock:
            self.tokens[token.value] = token
            self.save()
        return token

    def revoke(self, value: str) -> None:
        """The user revoked the app's access: the token answers 21332 from now on."""
        with self.lock:
            self.tokens[value].revoked = True
            self.save()

    def authenticate(self, value: str | None) -> Token:
        """The live token for ``value``; 21327 when expired, 21332 when unknown or revoked."""
        token = self.tokens.get(value or "")
        if token is None or token.revoked:
            raise ApiError(21332, "invalid_access_token")
        if self.clock() >= token.expires_at:
            raise ApiError(21327, "expired_token")
        return token

    def count_call(self, token: Token, path: str) -> None:
        """Record a call; 10023 when the user is over the hourly call limit."""
        now = self.clock()
        hour_ago = now - timedelta(hours=1)
        used = sum(1 for at, uid, _ in self.calls if uid == token.uid and at > hour_ago)
        if used >= self.config.calls_per_hour:
            raise ApiError(10023, "User requests out of rate limit!", 403)
        self.calls.append((now, token.uid, path))

    def take_fault(self, path: str) -> Fault | None:
        """The next injected fault that applies to ``path``, removed from the queue."""
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault.path is None or fault.path == path:
                    return self.faults.pop(index)
        return None

    # ------------------------------------------------------------------ posts

    def share(self, token: Token, form: Mapping[str, str], picture: bytes | None,
              multipart: bool) -> dict[str, Any]:
        """Apply every share.json rule in the order the platform is seen to; store the post."""
        text = form.get("status", "")
        if self.config.require_rip and not form.get("rip"):
            raise ApiError(10016, "miss required parameter (rip), see doc for more info.")
        if multipart and picture is None:
            raise ApiError(20007, "does multipart has image?")
        if picture is not None:
            if len(picture) > MAX_PICTURE_BYTES:
                raise ApiError(20006, "image size too large.")
            if not picture.startswith((b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"\x89PNG")):
                raise ApiError(20005, "unsupported image type, only suport JPG, GIF, PNG!")
        if not text.strip():
            raise ApiError(20008, "content is null!")
        if not any(host_under(link_host(link), self.config.safe_domain) for link in links(text)):
            raise ApiError(10017, "text not find domain!")
        if _TOPIC.search(text):
            raise ApiError(10017, "parameter (status)'s value invalid, topic not allowed!")
        counter = Counter(limit=self.config.limit, https_as_link=self.config.https_as_link)
        if not counter.fits(text):
            raise ApiError(20012, "text too long, please input text less than 140 characters!")
        now = self.clock()
        window = self.config.repeat_window_seconds
        mine = [p for p in self.posts if p["uid"] == token.uid and not p["deleted"]
                and (window is None or (now - p["at"]).total_seconds() < window)]
        if any(p["text"] == text for p in mine):
            raise ApiError(20019, "repeat content!")
        if any(similar(p["text"], text, self.config.similar_prefix) for p in mine):
            raise ApiError(20017, "repeat content!")
        hour_ago = now - timedelta(hours=1)
        recent = [p for p in self.posts if p["uid"] == token.uid and p["at"] > hour_ago]
        if len(recent) >= self.config.posts_per_hour:
            raise ApiError(10024, "User requests for (statuses/share) out of rate limit!", 403)
        if self.config.burst_seconds and recent and \
                (now - max(p["at"] for p in recent)).total_seconds() < self.config.burst_seconds:
            raise ApiError(20016, "update weibo too fast!")
        post = {"idstr": self._next_id(), "uid": token.uid, "text": text, "at": now,
                "rip": form.get("rip"), "picture_bytes": len(picture) if picture else 0,
                "deleted": False}
        self.posts.append(post)
        return self.status_body(post)

    def timeline(self, token: Token, params: Mapping[str, str]) -> dict[str, Any]:
        """``2/statuses/user_timeline.json``: the user's own live posts, newest first, paged as
        the API documents: ``count`` per page (default 20, at most 100), ``page`` (from 1),
        ``since_id`` (only newer posts) and ``max_id`` (only posts up to this id); ``trim_user``
        leaves only the user's id. ``total_number`` counts every live post of the user.

        ``timeline_visible`` (UNCONFIRMED, see the config) hides all but the newest posts.
        """
        if not self.config.timeline_allowed:
            raise ApiError(10014, "Insufficient app permissions!")
        count, page = _number(params, "count", 20), _number(params, "page", 1)
        since_id, max_id = _number(params, "since_id", 0), _number(params, "max_id", 0)
        if count < 1 or page < 1:
            raise ApiError(10008, "param error, see doc for more info.")
        count = min(count, 100)
        mine = [p for p in self.posts if p["uid"] == token.uid and not p["deleted"]]
        newest_first = list(reversed(mine))
        if self.config.timeline_visible is not None:
            newest_first = newest_first[:self.config.timeline_visible]
        chosen = [p for p in newest_first if int(p["idstr"]) > since_id
                  and (not max_id or int(p["idstr"]) <= max_id)]
        window = chosen[(page - 1) * count:page * count]
        statuses = [self.status_body(p) for p in window]
        if params.get("trim_user") == "1":
            for status in statuses:
                status["user"] = {"id": status["user"]["id"]}
        return {"statuses": statuses, "total_number": len(mine)}

    def destroy(self, token: Token, status_id: str) -> dict[str, Any]:
        """Delete one of the user's posts: 20101 when missing, 20102 when not theirs."""
        if not self.config.destroy_allowed:
            raise ApiError(10014, "Insufficient app permissions!")
        post = self._post(status_id)
        if post["uid"] != token.uid:
            raise ApiError(20102, "not your own weibo!")
        post["deleted"] = True
        return self.status_body(post)

    def comment(self, token: Token, form: Mapping[str, str]) -> dict[str, Any]:
        """Comment on a live post; the same text as the post's previous comment is refused."""
        text, status_id = form.get("comment", ""), form.get("id", "")
        if self.config.require_rip and not form.get("rip"):
            raise ApiError(10016, "miss required parameter (rip), see doc for more info.")
        if not status_id:
            raise ApiError(10016, "miss required parameter (id), see doc for more info.")
        if not text.strip():
            raise ApiError(20008, "content is null!")
        if not Counter(limit=self.config.limit).fits(text):
            raise ApiError(20012, "text too long!")
        post = self._post(status_id)
        earlier = [c for c in self.comments if c["status_id"] == post["idstr"]]
        if earlier and earlier[-1]["text"] == text:
            raise ApiError(20019, "repeat content!")
        now = self.clock()
        comment = {"idstr": self._next_id(), "uid": token.uid, "text": text, "at": now,
                   "status_id": post["idstr"]}
        self.comments.append(comment)
        return {"created_at": _created_at(now), "id": int(comment["idstr"]),
                "idstr": comment["idstr"], "mid": comment["idstr"], "text": text,
                "source": "未通过审核应用", "user": {"idstr": token.uid},
                "status": self.status_body(post)}

    def status_body(self, post: Mapping[str, Any]) -> dict[str, Any]:
        """A status object as share.json returns it: ``id`` (rounded) and ``idstr`` both."""
        idstr = str(post["idstr"])
        number = int(idstr)
        return {
            "created_at": _created_at(post["at"]),
            "id": (number // 100000) * 100000 if self.config.round_ids else number,
            "idstr": idstr, "mid": idstr, "text": post["text"],
            "source": '<a href="http://app.weibo.com/t/feed/5B6hUc">未通过审核应用</a>',
            "favorited": False, "truncated": False, "in_reply_to_status_id": "",
            "in_reply_to_user_id": "", "in_reply_to_screen_name": "", "geo": None,
            "textLength": Counter().units(post["text"]), "isLongText": False,
            "visible": {"type": 0, "list_id": 0}, "pic_urls": [], "reposts_count": 0,
            "comments_count": sum(1 for c in self.comments if c["status_id"] == idstr),
            "attitudes_count": 0, "user": {"id": int(post["uid"]), "idstr": post["uid"]},
        }

    def live_posts(self, uid: str | None = None) -> list[dict[str, Any]]:
        """Posts not deleted (of ``uid`` when given)."""
        with self.lock:
            return [p for p in self.posts if not p["deleted"] and uid in (None, p["uid"])]

    def _post(self, status_id: str) -> dict[str, Any]:
        for post in self.posts:
            if post["idstr"] == status_id and not post["deleted"]:
                return post
        raise ApiError(20101, "target weibo does not exist!")

    def _next_id(self) -> str:
        self._serial += 1
        return str(4_900_000_000_002_730 + self._serial * 1_000_037)

    # ------------------------------------------------------------------ OAuth2

    def authorize(self, params: Mapping[str, str]) -> str:
        """The redirect target of ``oauth2/authorize``: the emulator consents for the user."""
        redirect = params.get("redirect_uri", "")
        state = params.get("state")
        suffix = f"&state={state}" if state else ""
        if params.get("client_id") != self.config.app_key:
            return f"{redirect}?error=invalid_client&error_code=21324{suffix}"
        if redirect != self.config.redirect_uri:
            return f"{self.config.redirect_uri}?error=redirect_uri_mismatch&error_code=21322{suffix}"
        code = secrets.token_hex(8)
        with self.lock:
            self.codes[code] = params.get("uid", "5000000001")
        return f"{redirect}?code={code}{suffix}"

    def access_token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """``oauth2/access_token`` for ``grant_type=authorization_code``."""
        if form.get("grant_type") != "authorization_code":
            raise ApiError(21328, "unsupported_grant_type")
        if form.get("client_id") != self.config.app_key or \
                form.get("client_secret") != self.config.app_secret:
            raise ApiError(21324, "invalid_client")
        if form.get("redirect_uri") != self.config.redirect_uri:
            raise ApiError(21322, "redirect_uri_mismatch")
        with self.lock:
            uid = self.codes.pop(form.get("code", ""), None)
        if uid is None:
            raise ApiError(21325, "invalid_grant")
        token = self.issue_token(uid)
        lifetime = int((token.expires_at - token.created_at).total_seconds())
        return {"access_token": token.value, "expires_in": lifetime,
                "remind_in": str(lifetime), "uid": uid, "isRealName": "true"}

    def token_info(self, value: str | None) -> dict[str, Any]:
        """``oauth2/get_token_info``: seconds left as ``expire_in`` (the live spelling)."""
        token = self.authenticate(value)
        left = int((token.expires_at - self.clock()).total_seconds())
        return {"uid": int(token.uid), "appkey": self.config.app_key, "scope": token.scope,
                "create_at": int(token.created_at.timestamp()),
                self.config.expiry_spelling: left}


def _number(params: Mapping[str, str], name: str, default: int) -> int:
    """An integer query parameter; 10008 (param error) when it is not one."""
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise ApiError(10008, f"param error, {name} must be an integer.") from None


def similar(earlier: str, text: str, prefix: int | None = None) -> bool:
    """Texts equal once links, spaces and punctuation are dropped (the 20017 rule here), or
    only their first ``prefix`` such characters when given."""
    def words(value: str) -> str:
        for link in links(value):
            value = value.replace(link, " ")
        kept = _NOT_WORDS.sub("", value)
        return kept[:prefix] if prefix is not None else kept
    return words(earlier) == words(text) and earlier != text


def _created_at(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%a %b %d %H:%M:%S %z %Y")
