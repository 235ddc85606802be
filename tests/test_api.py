"""The HTTP API: urgent posts with API tokens, served by real uvicorn on loopback and by `run`."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from publisher.app import App
from publisher.clock import ManualClock
from publisher.store.models import ApiToken, AuditEvent, Delivery, Incident
from publisher.web import token as tokens
from publisher.web.api import create_app
from publisher.web.server import WebUnavailable, serve
from tests.support.api import POST, TIMEOUT_SECONDS, Api, api_counts
from tests.support.net import free_port
from tests.support.project import ROOT
from tests.support.rows import every_cell

PUBLISHER = str(Path(sys.executable).parent / "publisher")


# --------------------------------------------------------------------------- fixtures


# --------------------------------------------------------------------------- tokens


def test_token_is_stored_only_as_its_hash(urgent_app: App) -> None:
    """A new token starts with pub_, only its SHA-256 is stored, and verify finds it by hash."""
    token = tokens.create(urgent_app, "duty-desk", "urgent", actor="staff:li")
    assert token.startswith("pub_") and len(token) > 40
    with urgent_app.store.read() as session:
        row = session.execute(select(ApiToken)).scalar_one()
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in every_cell(urgent_app)
    info = tokens.verify(urgent_app, token)
    assert info is not None and info.actor == "api:duty-desk" and info.role == "urgent"
    assert tokens.verify(urgent_app, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_token_last_used_is_recorded(urgent_app: App, clock: ManualClock) -> None:
    """Verifying a token records when it was last used, at most once a minute."""
    token = tokens.create(urgent_app, "duty-desk", "urgent", actor="staff:li")
    first = clock.now()
    tokens.verify(urgent_app, token)
    clock.advance(seconds=10)
    tokens.verify(urgent_app, token)
    assert tokens.list_tokens(urgent_app)[0].last_used_at == first
    clock.advance(minutes=2)
    tokens.verify(urgent_app, token)
    assert tokens.list_tokens(urgent_app)[0].last_used_at == clock.now()


@pytest.mark.parametrize(("name", "role", "message"), [
    ("Duty Desk", "urgent", "invalid"), ("desk", "owner", "unknown role"),
    ("x" * 65, "urgent", "invalid")])
def test_bad_token_requests_are_refused(urgent_app: App, name: str, role: str,
                                        message: str) -> None:
    """A bad name or an unknown role is refused, naming the problem, and nothing is stored."""
    with pytest.raises(tokens.TokenError, match=message):
        tokens.create(urgent_app, name, role, actor="staff:li")
    assert tokens.list_tokens(urgent_app) == []


def test_name_is_taken_and_revoke_is_once(urgent_app: App) -> None:
    """A name cannot be used twice, even after revocation, and a token is revoked only once."""
    tokens.create(urgent_app, "duty-desk", "urgent", actor="staff:li")
    with pytest.raises(tokens.TokenError, match="exists"):
        tokens.create(urgent_app, "duty-desk", "admin", actor="staff:li")
    tokens.revoke(urgent_app, "duty-desk", actor="staff:li")
    with pytest.raises(tokens.TokenError, match="was revoked"):
        tokens.revoke(urgent_app, "duty-desk", actor="staff:li")
    with pytest.raises(tokens.TokenError, match="no token named"):
        tokens.revoke(urgent_app, "nobody", actor="staff:li")


def test_roles_allow_what_they_say() -> None:
    """urgent may post and read incidents, viewer may only read, admin may do anything."""
    assert tokens.allows("urgent", tokens.URGENT_POST)
    assert tokens.allows("urgent", tokens.INCIDENT_READ)
    assert not tokens.allows("viewer", tokens.URGENT_POST)
    assert tokens.allows("admin", "anything.at.all")
    assert not tokens.allows("nobody", tokens.INCIDENT_READ)


# --------------------------------------------------------------------------- the API


def test_urgent_post_opens_incident_on_priority_lane(api: Api) -> None:
    """A good post with an urgent-role token answers 201 with the incident, records pending
    deliveries on the priority lane, audits the token's name as actor and wakes the dispatcher."""
    response = api.post(POST)
    assert response.status_code == 201, response.text
    body = response.json()
    key = body["incident"]
    assert body["channels"] == ["mem-a", "mem-b"] and body["skipped"] == []
    assert body["release"].startswith("urgent@")
    assert response.headers["Location"] == body["links"]["incident"] == f"/api/incidents/{key}"
    assert api.wakes == [1]
    with api.app.store.read() as session:
        deliveries = list(session.execute(select(Delivery)).scalars())
        events = list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())
        incident = session.execute(select(Incident)).scalar_one()
    assert sorted(d.channel for d in deliveries) == ["mem-a", "mem-b"]
    assert all(d.state == "pending" and d.urgent for d in deliveries)
    assert incident.opened_by == "api:desk-urgent"
    posted = [e for e in events if e.action in ("incident.opened", "release.created")]
    assert len(posted) == 2 and {e.actor for e in posted} == {"api:desk-urgent"}
    timeline = api.get(f"/api/incidents/{key}", role="viewer")
    assert timeline.status_code == 200, timeline.text
    shown = timeline.json()
    assert shown["incident"]["opened_by"] == "api:desk-urgent"
    assert {s["actor"] for s in shown["steps"]} == {"api:desk-urgent"}
    assert [(s["channel"], s["state"], s["to_public_seconds"]) for s in shown["steps"]] == [
        ("mem-a", "pending", None), ("mem-b", "pending", None)]


def test_incident_shows_when_the_event_happened(api: Api) -> None:
    """The event time given with the first report comes back from GET /api/incidents/{key} as
    the same instant (null when none was given), for the annual report's first-report times."""
    happened = "2026-12-02T09:40:00+08:00"
    with_time = api.post({**POST, "event_at": happened})
    assert with_time.status_code == 201, with_time.text
    without = api.post({**POST, "title": "某隧道发生火灾"})
    assert without.status_code == 201, without.text
    shown = api.get(f"/api/incidents/{with_time.json()['incident']}", role="viewer").json()
    assert datetime.fromisoformat(shown["incident"]["event_at"]) == \
        datetime.fromisoformat(happened)
    bare = api.get(f"/api/incidents/{without.json()['incident']}", role="viewer").json()
    assert bare["incident"]["event_at"] is None


def test_admin_may_post_too(api: Api) -> None:
    """An admin-role token may post an urgent message; its name is the actor."""
    response = api.post(POST, role="admin")
    assert response.status_code == 201, response.text
    with api.app.store.read() as session:
        assert session.execute(select(Incident.opened_by)).scalar_one() == "api:desk-admin"


BIG = {**POST, "facts": "某" * 3_000_000}  # 9 MB of UTF-8: over the 8 MiB limit of a post

BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("missing fields", {"json": {"title": "某事"}}, 422, "invalid_request"),
    ("wrong types", {"json": {**POST, "severity": 5, "channels": "mem-a", "title": ["x"]}}, 422,
     "invalid_request"),
    ("unknown field", {"json": {**POST, "cause": "未经核实的原因"}}, 422, "invalid_request"),
    ("not an object", {"json": [POST]}, 422, "invalid_request"),
    ("oversized by Content-Length", {"json": BIG}, 413, "payload_too_large"),
    ("oversized while reading", {"chunks": [json.dumps(BIG).encode()],
                                 "headers": {"Content-Type": "application/json"}},
     413, "payload_too_large"),
    ("malformed JSON", {"data": b'{"title": "x", ', "headers": {"Content-Type":
                                                                "application/json"}},
     400, "malformed_json"),
    ("not UTF-8", {"data": json.dumps(POST, ensure_ascii=False).encode("gb18030"),
                   "headers": {"Content-Type": "application/json"}}, 400, "malformed_json"),
    ("wrong content type", {"data": json.dumps(POST).encode(),
                            "headers": {"Content-Type": "text/plain"}}, 415,
     "unsupported_media_type"),
    ("no content type", {"data": json.dumps(POST).encode()}, 415, "unsupported_media_type"),
    ("missing token", {"json": POST, "role": None}, 401, "unauthorized"),
    ("wrong token", {"json": POST, "role": None,
                     "headers": {"Authorization": "Bearer pub_not-a-real-token"}},
     401, "unauthorized"),
    ("not a bearer token", {"json": POST, "role": None,
                            "headers": {"Authorization": "Basic dXNlcjpwYXNz"}},
     401, "unauthorized"),
    ("role may not post", {"json": POST, "role": "viewer"}, 403, "forbidden"),
    ("unknown channel", {"json": {**POST, "channels": ["mem-a", "nope"]}}, 422,
     "urgent_rejected"),
    ("over a channel limit", {"json": {**POST, "title": "某" * 80}}, 422, "urgent_rejected"),
    ("an ID number in the facts (content checks)",
     {"json": {**POST, "facts": "伤者身份证310101199001011234。"}}, 422, "content_blocked"),
]


@pytest.mark.parametrize(("case", "request_kwargs", "status", "code"), BAD_REQUESTS,
                         ids=[case[0] for case in BAD_REQUESTS])
def test_bad_request_publishes_nothing(api: Api, case: str, request_kwargs: dict[str, Any],
                                       status: int, code: str) -> None:
    """Each kind of bad request gets its status and the uniform bilingual error body, and no
    incident, release or delivery is recorded and the dispatcher is not woken."""
    kwargs = dict(request_kwargs)
    body = kwargs.pop("json", None)
    role = kwargs.pop("role", "urgent")
    if "chunks" in kwargs:  # a generator body: sent chunked, with no Content-Length
        kwargs["data"] = iter(kwargs.pop("chunks"))
    response = api.post(body, role=role, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] == code
    assert error["message_zh"] and error["message_en"]
    assert set(error) == {"error", "message_zh", "message_en", "problems"}
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="publisher"')
    assert api_counts(api.app) == (0, 0, 0)
    assert api.wakes == []


def test_post_with_a_picture(api: Api) -> None:
    """A first report may carry a Base64 picture: it is kept for every attempt and travels
    as the deliveries' attachment; bytes that are not the declared type answer 422."""
    jpeg = (ROOT / "templates" / "_layouts" / "wechat-cover.jpg").read_bytes()
    picture = {"name": "现场.jpg", "content_type": "image/jpeg",
               "data_base64": base64.b64encode(jpeg).decode()}
    response = api.post({**POST, "picture": picture})
    assert response.status_code == 201, response.text
    key = response.json()["incident"]
    stored = api.app.loaded.resolve("var/urgent") / key / "现场.jpg"
    assert stored.read_bytes() == jpeg
    before = api_counts(api.app)
    wrong = api.post({**POST, "picture": {**picture, "content_type": "image/png"}})
    assert wrong.status_code == 422 and "image/png" in wrong.text
    assert api_counts(api.app) == before


def test_validation_lists_each_field(api: Api) -> None:
    """A 422 for invalid fields names every bad field, in Chinese and English."""
    response = api.post({**POST, "severity": 5, "channels": "mem-a", "facts": None,
                          "area": ""})
    problems = {p["field"]: p["message"] for p in response.json()["problems"]}
    assert set(problems) == {"severity", "channels", "facts", "area"}
    assert " / " in problems["area"] and "不能为空" in problems["area"]


def test_old_severity_words_get_a_clear_error(api: Api) -> None:
    """An API client still sending a CAP word as the severity, or none, is refused with 422 on
    the severity field, naming the grades (and the one its word used to mean); nothing is
    recorded."""
    before = api_counts(api.app)
    old = api.post({**POST, "severity": "Severe"})
    assert old.status_code == 422
    (problem,) = old.json()["problems"]
    assert problem["field"] == "severity"
    assert "特别重大、重大、较大、一般" in problem["message"] and "e.g. 重大" in problem["message"]
    missing = api.post({k: v for k, v in POST.items() if k != "severity"})
    assert missing.status_code == 422
    assert [p["field"] for p in missing.json()["problems"]] == ["severity"]
    assert api_counts(api.app) == before


def test_channel_limit_problem_names_the_channel(api: Api) -> None:
    """A post over a channel's limit is refused with the channel and the field in its problems."""
    response = api.post({**POST, "title": "某" * 80})
    assert response.status_code == 422
    assert any("mem-a" in p["message"] and "title" in p["message"]
               for p in response.json()["problems"])


def test_revoked_token_is_refused(api: Api) -> None:
    """Once revoked, a token is refused with 401 for posting and for reading."""
    tokens.revoke(api.app, "desk-urgent", actor="staff:li")
    response = api.post(POST)
    assert response.status_code == 401
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert api.get("/api/incidents/incident-x").status_code == 401
    assert api_counts(api.app) == (0, 0, 0)


def test_unknown_incident_is_404(api: Api) -> None:
    """Reading an incident that does not exist answers 404 in the uniform shape."""
    response = api.get("/api/incidents/incident-19700101-000000")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def _step(api: Api, path: str, body: Any, *, role: str = "urgent") -> requests.Response:
    return requests.post(api.url(path), json=body, timeout=TIMEOUT_SECONDS,
                         headers={"Authorization": f"Bearer {api.tokens[role]}"})


def test_updates_corrections_and_withdrawal_through_the_api(api: Api) -> None:
    """An update, a correction and a withdrawal each answer 201 with their CAP type, are
    recorded against the incident with the token's name, wake the dispatcher, and a step
    after the withdrawal answers 409 recording nothing."""
    key = api.post(POST).json()["incident"]
    api.app.store.engine.dispose()  # nothing cached between steps
    update = _step(api, f"/api/incidents/{key}/updates", {"facts": "已有3人送医。"})
    assert update.status_code == 201, update.text
    assert update.json()["msg_type"] == "Update"
    correction = _step(api, f"/api/incidents/{key}/updates",
                       {"facts": "共2人送医。", "correction": "此前“3人”有误"})
    assert correction.status_code == 201, correction.text
    cancel = _step(api, f"/api/incidents/{key}/cancel", {"reason": "信息有误"})
    assert cancel.status_code == 201, cancel.text
    assert cancel.json()["msg_type"] == "Cancel"
    assert api.wakes == [1, 1, 1, 1]
    before = api_counts(api.app)
    late = _step(api, f"/api/incidents/{key}/updates", {"facts": "x"})
    assert late.status_code == 409 and late.json()["error"] == "withdrawn"
    assert api_counts(api.app) == before
    shown = api.get(f"/api/incidents/{key}").json()
    assert shown["incident"]["status"] == "withdrawn"
    assert [s["step"] for s in shown["steps"]] == ["report", "report", "update", "update",
                                                   "correction", "correction"]
    # nothing was published yet, so the withdrawal stopped every delivery instead
    assert {s["state"] for s in shown["steps"]} == {"failed"}
    with api.app.store.read() as session:
        actions = [(e.action, e.actor) for e in session.execute(select(AuditEvent)).scalars()
                   if e.action.startswith("incident.")]
    assert actions == [("incident.opened", "api:desk-urgent"),
                       ("incident.updated", "api:desk-urgent"),
                       ("incident.corrected", "api:desk-urgent"),
                       ("incident.withdrawn", "api:desk-urgent")]


@pytest.mark.parametrize(("path", "body", "role", "status"), [
    ("/api/incidents/{key}/updates", {"facts": "x"}, "viewer", 403),
    ("/api/incidents/{key}/cancel", {"reason": "x"}, "viewer", 403),
    ("/api/incidents/incident-19700101-000000/updates", {"facts": "x"}, "urgent", 404),
    ("/api/incidents/{key}/updates", {"fact": "typo"}, "urgent", 422),
    ("/api/incidents/{key}/cancel", {}, "urgent", 422),
    ("/api/incidents/{key}/updates", {"facts": "x", "correction": ""}, "urgent", 422),
])
def test_bad_steps_publish_nothing(api: Api, path: str, body: dict[str, Any], role: str,
                                   status: int) -> None:
    """A later step refused for its token, its incident or its body records nothing."""
    key = api.post(POST).json()["incident"]
    before = api_counts(api.app)
    response = _step(api, path.format(key=key), body, role=role)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "message_zh", "message_en", "problems"}
    assert api_counts(api.app) == before


def test_healthz_needs_no_token(api: Api) -> None:
    """/healthz answers ok, the database included, without a token."""
    response = requests.get(api.url("/healthz"), timeout=TIMEOUT_SECONDS)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_openapi_documents_the_urgent_request(api: Api) -> None:
    """/openapi.json lists POST /api/urgent with the UrgentPost schema and examples; /docs serves."""
    schema = requests.get(api.url("/openapi.json"), timeout=TIMEOUT_SECONDS).json()
    assert schema["info"]["version"] and "API" in schema["info"]["title"]
    operation = schema["paths"]["/api/urgent"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/UrgentPost"}
    assert "first_report" in content["examples"]
    urgent = schema["components"]["schemas"]["UrgentPost"]
    assert {"title", "facts", "area", "severity", "instruction", "channels", "status"} <= set(
        urgent["properties"])
    assert set(urgent["required"]) == {"title", "facts", "area", "severity"}
    assert urgent["properties"]["severity"]["enum"] == ["特别重大", "重大", "较大", "一般", "未定级"]
    assert {"201", "401", "403", "413", "415", "422"} <= set(operation["responses"])
    assert "/api/incidents/{key}" in schema["paths"]
    docs = requests.get(api.url("/docs"), timeout=TIMEOUT_SECONDS)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_token_appears_in_no_log_row_or_audit_event(api: Api, log_stream: io.StringIO) -> None:
    """Across a post, a read, a refusal and a revocation, the token is in no log line, no
    database row and no audit event; the log still says which token acted, by name."""
    token = api.tokens["urgent"]
    assert api.post(POST).status_code == 201
    with api.app.store.read() as session:
        incident_key = session.execute(select(Incident.key)).scalar_one()
    assert api.get(f"/api/incidents/{incident_key}").status_code == 200
    assert api.post(POST, role="viewer").status_code == 403
    tokens.revoke(api.app, "desk-urgent", actor="staff:li")
    assert api.post(POST).status_code == 401
    time.sleep(0.2)  # let the server thread write its access lines
    output = log_stream.getvalue()
    assert "api.urgent_posted" in output and "desk-urgent" in output
    assert "/api/urgent" in output  # uvicorn's access lines were captured too
    assert token not in output and token[4:] not in output
    assert token not in every_cell(api.app)
    with api.app.store.read() as session:
        details = [json.dumps(e.details, ensure_ascii=False) + e.actor + e.subject
                   for e in session.execute(select(AuditEvent)).scalars()]
    assert details and not any(token in d or token[4:] in d for d in details)


def test_busy_port_is_refused_at_once(urgent_app: App) -> None:
    """Serving on a port already in use raises WebUnavailable naming the port, without hanging."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(WebUnavailable) as info:
            serve(create_app(urgent_app), "127.0.0.1", port, start_timeout_seconds=5)
    assert str(port) in str(info.value) and "--web-port" in str(info.value)


# --------------------------------------------------------------------------- the CLI


def _cli(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PUBLISHER, *args, "--config", str(config)], env=env, text=True,
                          capture_output=True, check=False, timeout=120, cwd=config.parent)


@pytest.mark.slow
def test_tokens_cli_adds_lists_and_revokes(project: Path, database_url: str) -> None:
    """`publisher tokens add` prints the token once with a warning and stores its hash; `list`
    shows names, roles and revocation but never the token; `revoke` refuses it from then on; each
    add and revoke is audited with the staff actor and without the token."""
    env = {**os.environ, "PUBLISHER_DATABASE_URL": database_url, "PUBLISHER_ACTOR": "staff:wang"}
    env.pop("PUBLISHER_CONFIG", None)
    config = project / "schedules.yaml"
    added = _cli(config, env, "tokens", "add", "duty-desk", "--role", "urgent")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("pub_") and "\n" not in token
    assert "只显示这一次" in added.stderr and "shown only this once" in added.stderr
    bad_role = _cli(config, env, "tokens", "add", "other", "--role", "owner")
    assert bad_role.returncode == 2 and "unknown role" in bad_role.stderr
    listed = _cli(config, env, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith("duty-desk")]
    assert row.split()[1] == "urgent" and row.split()[-1] == "-"  # not revoked
    assert token not in listed.stdout and token[4:12] not in listed.stdout
    revoked = _cli(config, env, "tokens", "revoke", "duty-desk")
    assert revoked.returncode == 0, revoked.stderr
    (row,) = [line for line in _cli(config, env, "tokens", "list").stdout.splitlines()
              if line.startswith("duty-desk")]
    assert row.split()[-1] != "-"
    exported = _cli(config, env, "audit", "export")
    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(e["action"], e["actor"], e["subject"]) for e in events] == [
        ("api_token.created", "staff:wang", "api_token:duty-desk"),
        ("api_token.revoked", "staff:wang", "api_token:duty-desk")]
    assert token not in exported.stdout
    assert _cli(config, env, "audit", "verify").returncode == 0
    for result in (added, listed, revoked, exported):
        assert token not in result.stderr


# --------------------------------------------------------------------------- publisher run

RUN_CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
defaults: {{urgent_workers: 2}}
columns: {{emergency: 突发事件}}
channels:
  portal-main:
    kind: portal
    settings: {{site_name: 测试门户, site_dir: site, base_url: "http://127.0.0.1:1/"}}
  mem-a:
    kind: memory
    settings: {{}}
releases: {{}}
urgent:
  issuing_organ: 某市人民政府新闻办公室
  organ_code: "MB0000999"
  subject_category: 综合政务
  column: emergency
  channels: [portal-main, mem-a]
  sender: www.example.gov.cn
web: {{host: 127.0.0.1, port: {port}}}
"""


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _run_project(root: Path, config_port: int) -> Path:
    (root / "templates" / "_urgent").mkdir(parents=True)
    for name in ("portal.html.j2", "memory.txt.j2"):
        shutil.copy(ROOT / "templates" / "_urgent" / name, root / "templates" / "_urgent" / name)
    config = root / "schedules.yaml"
    config.write_text(RUN_CONFIG.format(port=config_port), encoding="utf-8")
    return config


@pytest.mark.slow
def test_run_serves_the_api_end_to_end(tmp_path: Path) -> None:
    """`publisher run --sandbox --web-port PORT` answers /healthz and takes an urgent post from
    a CLI-made token through to published portal and memory deliveries, then stops cleanly."""
    config = _run_project(tmp_path, 1)  # the config's port is overridden by --web-port
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
           "PUBLISHER_ACTOR": "staff:wang"}
    env.pop("PUBLISHER_CONFIG", None)
    added = _cli(config, env, "tokens", "add", "duty-desk", "--role", "urgent")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    bot = subprocess.Popen(
        [PUBLISHER, "run", "--config", str(config), "--sandbox", "--no-serve", "--web-port",
         str(port), "--poll-seconds", "60", "--json-logs"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=tmp_path)

    def healthy() -> bool:
        assert bot.poll() is None, log.read_text(encoding="utf-8")
        try:
            return bool(requests.get(f"{base}/healthz", timeout=2).json()["status"] == "ok")
        except requests.ConnectionError:
            return False

    try:
        _wait(healthy, 60, "/healthz")
        auth = {"Authorization": f"Bearer {token}"}
        posted = requests.post(f"{base}/api/urgent", json=POST, headers=auth, timeout=30)
        assert posted.status_code == 201, posted.text
        location = posted.headers["Location"]
        steps: list[dict[str, Any]] = []

        def published() -> bool:
            steps[:] = requests.get(base + location, headers=auth, timeout=10).json()["steps"]
            return bool(steps) and all(s["state"] == "published" for s in steps)

        # the poll is 60 s: delivering well inside it shows the post woke the dispatcher
        _wait(published, 20, "the portal and memory deliveries to publish")
        assert sorted(s["channel"] for s in steps) == ["mem-a", "portal-main"]
        portal = next(s for s in steps if s["channel"] == "portal-main")
        assert portal["url"] and portal["to_public_seconds"] is not None
        assert list((tmp_path / "site" / "emergency").glob("*.html"))
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            code = bot.wait(30)
        finally:
            if bot.poll() is None:
                bot.kill()
    assert code == 0, log.read_text(encoding="utf-8")
    output = log.read_text(encoding="utf-8")
    assert f"HTTP API at http://127.0.0.1:{port}/" in output
    assert token not in output


@pytest.mark.slow
def test_run_exits_when_the_web_port_is_busy(tmp_path: Path) -> None:
    """`publisher run` whose API port is taken exits 4 at once with a clear bilingual message."""
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    env.pop("PUBLISHER_CONFIG", None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = _run_project(tmp_path, taken.getsockname()[1])
        result = subprocess.run([PUBLISHER, "run", "--config", str(config), "--no-serve"],
                                env=env, text=True, capture_output=True, check=False,
                                timeout=60, cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "HTTP 接口无法" in result.stderr and "cannot listen" in result.stderr
