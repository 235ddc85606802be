"""The emulator's request handler: WordPress REST routes for posts, categories and users/me."""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.wordpress.sandbox.state import (
    API,
    MEDIA_TYPES,
    SLOW,
    STATUSES,
    TRASHED_SUFFIX,
    WordPressState,
    fault_ok,
)
from channels.wordpress.sandbox.state import error as _error
from channels.wordpress.sandbox.state import invalid as _invalid


class Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # keep-alive without the ~40 ms delayed-ACK stall
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the state is the record."""

    # ------------------------------------------------------------------ plumbing

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _user(self) -> tuple[str | None, tuple[int, dict[str, Any]] | None]:
        """The logged-in user, or an error for bad credentials; (None, None) if anonymous."""
        header = self.headers.get("Authorization", "")
        if not header:
            return None, None
        scheme, _, encoded = header.partition(" ")
        try:
            username, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username, password = "", ""
        state = self.server.state
        # As the real WordPress 6.1 does: a wrong user name or Application Password is no
        # login at all, so the request goes on as an anonymous visitor's (users/me answers
        # 401 rest_not_logged_in; a lookup of drafts 400 rest_forbidden_status).
        if scheme.lower() != "basic" or state.users.get(username) != password.replace(" ", ""):
            return None, None
        return username, None

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        upload = method == "POST" and parts.path.rstrip("/") == f"{API}/media"
        raw = b""
        if upload:  # the file itself is the body, named by Content-Disposition
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = {} if upload else self._body() if method in ("POST", "PUT", "PATCH") else {}
        if parts.path.startswith("/_sandbox/"):
            self._reply(*self._control(method, parts.path, body))
            return
        create = method == "POST" and parts.path.rstrip("/") == f"{API}/posts"
        with state.lock:
            fault = state.faults.pop(0) if state.faults else None
            if isinstance(fault, str) and fault.startswith(SLOW) and not create:
                state.faults.insert(0, fault)  # it waits for the next create
                fault = None
            delay = state.delay_seconds
        if isinstance(fault, str) and fault.startswith(SLOW):
            delay += float(fault.removeprefix(SLOW))
        if delay > 0:  # a busy site: the request is in flight, and others overtake it
            time.sleep(delay)
        if isinstance(fault, int):
            self._reply(*_error(fault, "sandbox_fault", f"injected fault {fault}"),
                        headers={"Retry-After": "1"} if fault in (429, 503) else None)
            return
        user, auth_error = self._user()
        if auth_error is not None:
            self._reply(*auth_error)
            return
        if body is None:
            self._reply(*_error(400, "rest_invalid_json", "Invalid JSON body passed."))
            return
        headers: dict[str, str] = {}
        with state.lock:
            if upload:
                status, reply = self._upload(raw, user, headers)
            else:
                status, reply = self._route(method, parts.path.rstrip("/"), query, body, user,
                                            headers)
            if method != "GET" and 200 <= status < 300:
                state.save()
        if fault in ("drop", "hold") and "/posts/" in headers.get("Location", ""):
            if fault == "hold":  # the sender waits until it is killed or the emulator stops
                state.holding.set()
                state.released.wait()
            self.close_connection = True  # the post exists, but no answer ever comes
            return
        if fault in ("drop", "hold"):
            with state.lock:
                state.faults.insert(0, fault)
        self._reply(status, reply, headers)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ routes

    def _control(self, method: str, path: str, body: dict[str, Any] | None
                 ) -> tuple[int, Any]:
        """The drill's own routes: queue faults, read counts."""
        state = self.server.state
        with state.lock:
            if path == "/_sandbox/faults" and method == "POST" and body is not None:
                faults = body.get("faults", [])
                if not isinstance(faults, list) or not all(map(fault_ok, faults)):
                    return _invalid("faults", "faults is a list of statuses, drop, hold "
                                              "or slow:SECONDS.")
                state.faults.extend(faults)
                return 200, {"faults": list(state.faults)}
            if path == "/_sandbox/state" and method == "GET":
                return 200, {"creates": state.creates, "posts": len(state.posts),
                             "slugs": sorted(p["slug"] for p in state.posts.values())}
        return _error(404, "rest_no_route", "No route was found matching the URL and method.")

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any],
               user: str | None, headers: dict[str, str]) -> tuple[int, Any]:
        if path in ("/wp-json", ""):
            return 200, {"name": "WordPress sandbox", "namespaces": ["wp/v2"]}
        if path == f"{API}/users/me" and method == "GET":
            if user is None:
                return _error(401, "rest_not_logged_in", "You are not currently logged in.")
            return 200, {"id": 1, "name": user, "slug": user}
        if path == f"{API}/posts" and method == "GET":
            return self._list_posts(query, user)
        if path == f"{API}/posts" and method == "POST":
            return self._create_post(body, user, headers)
        if path.startswith(f"{API}/posts/"):
            tail = path.removeprefix(f"{API}/posts/")
            if not tail.isdigit():
                return _error(404, "rest_no_route", "No route was found matching the URL.")
            return self._one_post(method, int(tail), query, body, user)
        if path == f"{API}/media" and method == "GET":
            if user is None and query.get("context") == "edit":
                return _error(401, "rest_forbidden_context",
                              "Sorry, you are not allowed to edit posts in this post type.")
            terms = query.get("search", "").lower().split()
            return 200, [self._shown_media(m, query.get("context", "view"))
                         for m in sorted(self.server.state.media.values(), key=lambda m: -m["id"])
                         if all(term in m["title"].lower() for term in terms)]
        if path == f"{API}/categories":
            return self._categories(method, query, body, user, headers)
        return _error(404, "rest_no_route", "No route was found matching the URL and method.")

    def _may_write(self, user: str | None, action: str) -> tuple[int, dict[str, Any]] | None:
        if user is None:  # rest_authorization_required_code(): 401 if not logged in ...
            return _error(401, f"rest_cannot_{action}", "Sorry, you are not allowed to do that.")
        if user not in self.server.state.editors:  # ... 403 if logged in
            return _error(403, f"rest_cannot_{action}", "Sorry, you are not allowed to do that.")
        return None

    def _shown(self, post: dict[str, Any], context: str) -> dict[str, Any]:
        shown = {k: post[k] for k in ("id", "slug", "status", "link", "date_gmt", "modified_gmt",
                                      "categories", "type")}
        for name in ("title", "content", "excerpt"):
            shown[name] = {"rendered": post[name]}
            if context == "edit":
                shown[name]["raw"] = post[name]
        shown["guid"] = {"rendered": f"{self._root()}?p={post['id']}"}
        shown["_links"] = {"self": [{"href": f"{self._root()}wp-json/wp/v2/posts/{post['id']}"}]}
        return shown

    def _root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def _list_posts(self, query: dict[str, str], user: str | None) -> tuple[int, Any]:
        statuses = query.get("status", "publish").split(",")
        if user is None and statuses != ["publish"]:
            return _invalid("status", "Status is forbidden.", code="rest_forbidden_status",
                            status=401)
        context = query.get("context", "view")
        if user is None and context == "edit":
            return _error(401, "rest_forbidden_context",
                          "Sorry, you are not allowed to edit posts in this post type.")
        slugs = set(query["slug"].split(",")) if "slug" in query else None
        terms = query.get("search", "").lower().split()
        per_page = int(query.get("per_page", "10")) if query.get("per_page", "10").isdigit() else 0
        if not 1 <= per_page <= 100:
            return _invalid("per_page", "per_page must be between 1 (inclusive) and 100 "
                                        "(inclusive)")
        found = [p for p in sorted(self.server.state.posts.values(), key=lambda p: -p["id"])
                 if p["status"] in statuses and (slugs is None or p["slug"] in slugs)
                 and all(_matches(p, term) for term in terms)]
        return 200, [self._shown(p, context) for p in found[:per_page]]

    def _check_fields(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        state = self.server.state
        if "status" in body and body["status"] not in STATUSES:
            return _invalid("status", f"status is not one of {', '.join(STATUSES)}.")
        for name in ("title", "content", "excerpt"):
            value = body.get(name, "")
            if isinstance(value, dict):
                value = value.get("raw", "")
            if not isinstance(value, str):
                return _invalid(name, f"{name} is not of type string,object.")
        categories = body.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, int) for c in categories):
            return _invalid("categories", "categories[0] is not of type integer.")
        # WordPress 6.1 drops a category id it does not know and creates the post anyway
        body["categories"] = [c for c in categories if c in state.categories]
        slug = body.get("slug", "")
        if not isinstance(slug, str):
            return _invalid("slug", "slug is not of type string.")
        return None

    def _apply(self, post: dict[str, Any], body: dict[str, Any]) -> None:
        for name in ("title", "content", "excerpt"):
            if name in body:
                value = body[name]
                post[name] = value.get("raw", "") if isinstance(value, dict) else value
        for name in ("status", "categories"):
            if name in body:
                post[name] = body[name]
        if body.get("slug"):
            post["slug"] = self._unique_slug(str(body["slug"]), post["id"])
        post["link"] = f"{self._root()}{post['slug']}/"
        post["modified_gmt"] = datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()

    def _unique_slug(self, slug: str, post_id: int) -> str:
        state = self.server.state
        taken = {p["slug"] for p in state.posts.values() if p["id"] != post_id}
        if state.trash_renames_slug:
            for other in state.posts.values():  # a trashed post gives its slug up
                if other["slug"] == slug and other["status"] == "trash":
                    other["slug"] = slug + TRASHED_SUFFIX
                    taken.discard(slug)
        candidate, number = slug, 2
        while candidate in taken:
            candidate, number = f"{slug}-{number}", number + 1
        return candidate

    def _create_post(self, body: dict[str, Any], user: str | None,
                     headers: dict[str, str]) -> tuple[int, Any]:
        refused = self._may_write(user, "create")
        if refused:
            return refused
        if "id" in body:
            return _error(400, "rest_post_exists", "Cannot create existing post.")
        invalid = self._check_fields(body)
        if invalid:
            return invalid
        if not any(_text(body.get(name)) for name in ("title", "content", "excerpt")):
            return _error(400, "empty_content", "Content, title, and excerpt are empty.")
        state = self.server.state
        now = datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()
        post: dict[str, Any] = {"id": state.take_id(), "slug": "", "status": "draft",
                                "title": "", "content": "", "excerpt": "", "categories": [],
                                "date_gmt": now, "type": "post"}
        self._apply(post, body)
        if not post["slug"]:
            post["slug"] = self._unique_slug(str(post["id"]), post["id"])
        state.posts[post["id"]] = post
        state.creates += 1
        headers["Location"] = f"{self._root()}wp-json/wp/v2/posts/{post['id']}"
        return 201, self._shown(post, "edit")

    def _one_post(self, method: str, post_id: int, query: dict[str, str], body: dict[str, Any],
                  user: str | None) -> tuple[int, Any]:
        state = self.server.state
        post = state.posts.get(post_id)
        if post is None:
            return _error(404, "rest_post_invalid_id", "Invalid post ID.")
        if method == "GET":
            if post["status"] != "publish" and user is None:
                return _error(401, "rest_forbidden", "Sorry, you are not allowed to do that.")
            return 200, self._shown(post, query.get("context", "view"))
        if method in ("POST", "PUT", "PATCH"):
            refused = self._may_write(user, "edit")
            invalid = refused or self._check_fields(body)
            if invalid:
                return invalid
            self._apply(post, body)
            return 200, self._shown(post, "edit")
        if method == "DELETE":
            refused = self._may_write(user, "delete")
            if refused:
                return refused
            if query.get("force") in ("true", "1"):
                del state.posts[post_id]
                return 200, {"deleted": True, "previous": self._shown(post, "edit")}
            if not state.trash_enabled:
                return _error(501, "rest_trash_not_supported",
                              "The post does not support trashing. Set 'force=true' to delete.")
            if post["status"] == "trash":
                return _error(410, "rest_already_trashed", "The post has already been deleted.")
            post["status"] = "trash"
            if state.trash_renames_slug:
                post["slug"] += TRASHED_SUFFIX
            return 200, self._shown(post, "edit")
        return _error(404, "rest_no_route", "No route was found matching the URL and method.")

    def _shown_media(self, item: dict[str, Any], context: str) -> dict[str, Any]:
        shown = {k: item[k] for k in ("id", "slug", "date_gmt", "mime_type", "media_type",
                                      "source_url")}
        shown["title"] = {"rendered": item["title"], **({"raw": item["title"]}
                                                       if context == "edit" else {})}
        shown["status"], shown["type"] = "inherit", "attachment"
        return shown

    def _upload(self, data: bytes, user: str | None, headers: dict[str, str]
                ) -> tuple[int, Any]:
        """``POST /media``: the file as the body, as WordPress takes it (upload_files)."""
        refused = self._may_write(user, "create")
        if refused:
            return refused
        disposition = self.headers.get("Content-Disposition", "")
        name = disposition.partition("filename=")[2].strip().strip('"')
        if not data:
            return _error(400, "rest_upload_no_data", "No data supplied.")
        if not name:
            return _error(400, "rest_upload_no_content_disposition",
                          "No Content-Disposition supplied.")
        content_type = self.headers.get("Content-Type", "")
        if not data.startswith(MEDIA_TYPES.get(content_type, b"\0")):  # checked by content
            return _error(500, "rest_upload_sideload_error",
                          "Sorry, you are not allowed to upload this file type.")
        state = self.server.state
        stem = name.rsplit(".", 1)[0]
        taken = {m["slug"] for m in state.media.values()}
        slug, number = stem.lower(), 2
        while slug in taken:
            slug, number = f"{stem.lower()}-{number}", number + 1
        item_id = state.take_id()
        item = {"id": item_id, "slug": slug, "title": stem, "mime_type": content_type,
                "media_type": "image", "size": len(data),
                "date_gmt": datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat(),
                "source_url": f"{self._root()}wp-content/uploads/{slug}.{name.rsplit('.', 1)[-1]}"}
        state.media[item_id] = item
        headers["Location"] = f"{self._root()}wp-json/wp/v2/media/{item_id}"
        return 201, self._shown_media(item, "edit")

    def _categories(self, method: str, query: dict[str, str], body: dict[str, Any],
                    user: str | None, headers: dict[str, str]) -> tuple[int, Any]:
        state = self.server.state
        if method == "GET":
            wanted = query.get("slug")
            return 200, [c for c in state.categories.values()
                         if wanted is None or c["slug"] in wanted.split(",")]
        if method != "POST":
            return _error(404, "rest_no_route", "No route was found matching the URL and method.")
        refused = self._may_write(user, "create")
        if refused:
            return refused
        name, slug = body.get("name"), body.get("slug") or body.get("name")
        if not isinstance(name, str) or not name:
            return _invalid("name", "name is not of type string.")
        existing = next((c for c in state.categories.values() if c["slug"] == slug), None)
        if existing is not None:
            return _error(400, "term_exists", "A term with the name provided already exists "
                          "with this parent.", term_id=existing["id"])
        term_id = state.take_id()
        category = {"id": term_id, "name": name, "slug": slug, "taxonomy": "category"}
        state.categories[term_id] = category
        headers["Location"] = f"{self._root()}wp-json/wp/v2/categories/{category['id']}"
        return 201, category


def _text(value: object) -> str:
    """A field's text, given as a string or as ``{"raw": ...}``."""
    if isinstance(value, dict):
        value = value.get("raw", "")
    return value if isinstance(value, str) else ""


def _matches(post: dict[str, Any], term: str) -> bool:
    """WP_Query's search: each term in the title, excerpt or raw content (LIKE %term%)."""
    return any(term in str(post[name]).lower() for name in ("title", "excerpt", "content"))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: WordPressState, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), Handler)
        self.state = state
