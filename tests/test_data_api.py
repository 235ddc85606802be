"""The data API: a period's file pushed, checked with the release's reader, read back, replaced,
refused with every problem named, and never stored on a refusal; over real HTTP on loopback."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import select

from publisher import release
from publisher.app import App
from publisher.store.models import AuditEvent, DataFile
from publisher.web import token as tokens
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve
from tests.support.api import api_routes
from tests.support.project import with_other_definition

TIMEOUT_SECONDS = 30
WEEK = "/api/data/weekly/2026-W50/items"  # the test clock is in W49; W50 has no file yet
CSV = "text/csv; charset=utf-8"
GOOD = "项目,数量\n苹果,3\n梨,5\n".encode()


@dataclass
class DataApi:
    """A running API over the test App with an editor token and supplier tokens."""

    app: App
    server: WebServer
    api: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, data: bytes | None = None, *, who: str = "supplier",
             content_type: str = CSV) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Content-Type": content_type}
        return requests.request(method, self.server.url.rstrip("/") + path, data=data,
                                headers=headers, timeout=TIMEOUT_SECONDS)


@pytest.fixture
def data_api(app: App, project: Path) -> Iterator[DataApi]:
    """The API with a second definition (``other``), a supplier token for ``weekly``, one for
    ``other``, and an editor token."""
    with_other_definition(app, project)
    api = create_app(app)
    server = serve(api, "127.0.0.1", 0)
    running = DataApi(app, server, api)
    running.tokens["supplier"] = tokens.create(app, "bureau", "supplier", actor="staff:li",
                                               definitions=["weekly"])
    running.tokens["other"] = tokens.create(app, "other-bureau", "supplier", actor="staff:li",
                                            definitions=["other"])
    running.tokens["editor"] = tokens.create(app, "desk", "editor", actor="staff:li")
    running.tokens["viewer"] = tokens.create(app, "reader", "viewer", actor="staff:li")
    try:
        yield running
    finally:
        server.stop()


def _stored(app: App) -> list[Path]:
    inbox = app.data_dir
    return sorted(p.relative_to(inbox) for p in inbox.rglob("*") if p.is_file()
                  and not p.name.startswith("."))


def _audit(app: App, prefix: str = "data.") -> list[AuditEvent]:
    with app.store.read() as session:
        return [e for e in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
                if e.action.startswith(prefix)]


def _xlsx(rows: list[list[object]], sheet: str = "Sheet1") -> bytes:
    book = openpyxl.Workbook()
    worksheet = book.active
    assert worksheet is not None
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_upload_stores_in_the_inbox_and_reads_back_with_checksum_and_uploader(
        data_api: DataApi) -> None:
    """A valid CSV is stored at the inbox path of its period (201); GET returns its path,
    SHA-256, size, format, rows and the token that uploaded it; the upload is audited."""
    answer = data_api.call("PUT", WEEK, GOOD)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["outcome"] == "created" and body["path"] == "weekly/2026-W50.csv"
    assert (data_api.app.data_dir / "weekly" / "2026-W50.csv").read_bytes() == GOOD
    back = data_api.call("GET", WEEK).json()
    import hashlib

    assert back["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert back["uploaded_by"] == "api:bureau" and back["rows"] == 2
    assert back["size_bytes"] == len(GOOD) and back["format"] == "csv"
    events = _audit(data_api.app)
    assert [e.action for e in events] == ["data.created"]
    assert events[0].actor == "api:bureau" and events[0].subject == "data:weekly/2026-W50/items"


def test_same_content_again_changes_nothing(data_api: DataApi) -> None:
    """Putting the same bytes twice answers 200 ``unchanged`` the second time: no new version,
    no second audit event."""
    assert data_api.call("PUT", WEEK, GOOD).status_code == 201
    again = data_api.call("PUT", WEEK, GOOD)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    assert len(_audit(data_api.app)) == 1
    with data_api.app.store.read() as session:
        assert len(list(session.execute(select(DataFile)).scalars())) == 1


def test_replacing_keeps_the_earlier_version(data_api: DataApi) -> None:
    """A different file replaces the stored one (200 ``replaced``); the earlier file is kept
    under the inbox's .intake folder, listed by GET, and the replacement audited with who."""
    data_api.call("PUT", WEEK, GOOD)
    newer = "项目,数量\n苹果,4\n".encode("gb18030")
    answer = data_api.call("PUT", WEEK, newer, who="editor", content_type="text/csv")
    assert answer.status_code == 200 and answer.json()["outcome"] == "replaced"
    kept = answer.json()["kept"]
    assert len(kept) == 1 and (data_api.app.data_dir / kept[0]).read_bytes() == GOOD
    assert (data_api.app.data_dir / "weekly" / "2026-W50.csv").read_bytes() == newer
    back = data_api.call("GET", WEEK).json()
    assert back["uploaded_by"] == "api:desk" and back["rows"] == 1
    assert [v["state"] for v in back["versions"]] == ["replaced"]
    assert back["versions"][0]["uploaded_by"] == "api:bureau"
    assert back["versions"][0]["ended_by"] == "api:desk"
    assert [(e.action, e.actor) for e in _audit(data_api.app)] == [
        ("data.created", "api:bureau"), ("data.replaced", "api:desk")]


def test_bad_cells_are_named_by_row_column_and_value_and_nothing_is_stored(
        data_api: DataApi) -> None:
    """A GB18030 CSV with a bad number answers 422 listing the row, the column as written and
    the value, in Chinese with English; nothing is stored or audited."""
    bad = "项目,数量\n苹果,三个\n梨,5\n".encode("gb18030")
    answer = data_api.call("PUT", WEEK, bad)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_data" and "未保存" in body["message_zh"]
    [problem] = body["problems"]
    assert problem["row"] == 2 and problem["column"] == "数量" and problem["value"] == "三个"
    assert problem["field"] == "items"
    assert "不是整数" in problem["message"] and "not a whole number" in problem["message"]
    assert _stored(data_api.app) == [Path("weekly/2026-W49.csv")]
    assert _audit(data_api.app) == []


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/api/data/weekly/2026-W50/nothing", 404, "unknown_table"),
    ("/api/data/weekly/2026-13/items", 404, "bad_period"),
    ("/api/data/nowhere/2026-W50/items", 403, "forbidden"),  # not the supplier's
])
def test_wrong_names_are_refused_and_nothing_is_stored(data_api: DataApi, path: str,
                                                       status: int, code: str) -> None:
    """A table, period or definition that is not there (or not the token's) is refused with
    the error shape, and nothing is stored."""
    answer = data_api.call("PUT", path, GOOD)
    assert answer.status_code == status and answer.json()["error"] == code, answer.text
    assert _stored(data_api.app) == [Path("weekly/2026-W49.csv")]


def test_a_file_over_the_size_limit_is_refused_unread(data_api: DataApi, project: Path) -> None:
    """With ``intake.max_file_mib`` set, a larger body answers 413 and nothing is stored."""
    from publisher import config as config_module

    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "intake:\n  max_file_mib: 0.001\n",
                      encoding="utf-8")
    data_api.app.loaded = config_module.load(config)
    big = GOOD + "桃,1\n".encode() * 200
    answer = data_api.call("PUT", WEEK, big)
    assert answer.status_code == 413 and answer.json()["error"] == "payload_too_large"
    assert _stored(data_api.app) == [Path("weekly/2026-W49.csv")] and _audit(data_api.app) == []


def test_a_token_for_another_definition_is_refused(data_api: DataApi) -> None:
    """A supplier token named for ``other`` may neither put, read nor remove ``weekly``'s data
    (403), and a viewer token may read but not put; nothing is stored."""
    assert data_api.call("PUT", WEEK, GOOD, who="other").status_code == 403
    assert data_api.call("GET", "/api/data/weekly/2026-W49/items", who="other").status_code == 403
    assert data_api.call("DELETE", "/api/data/weekly/2026-W49/items",
                         who="other").status_code == 403
    assert data_api.call("PUT", WEEK, GOOD, who="viewer").status_code == 403
    assert data_api.call("GET", "/api/data/weekly/2026-W49/items", who="viewer").status_code == 200
    assert data_api.call("PUT", "/api/data/other/2026-W50/items", GOOD,
                         who="other").status_code == 201
    assert _stored(data_api.app) == [Path("other/2026-W50.csv"), Path("weekly/2026-W49.csv")]


def test_a_file_dropped_in_the_inbox_reads_back_as_from_the_inbox(data_api: DataApi) -> None:
    """GET of a file that arrived by other means gives its checksum and ``inbox`` as uploader;
    removing it keeps it aside and audits who did."""
    back = data_api.call("GET", "/api/data/weekly/2026-W49/items")
    assert back.status_code == 200 and back.json()["uploaded_by"] == "inbox"
    gone = data_api.call("DELETE", "/api/data/weekly/2026-W49/items")
    assert gone.status_code == 200
    assert data_api.call("GET", "/api/data/weekly/2026-W49/items").status_code == 404
    [kept] = gone.json()["kept"]
    assert (data_api.app.data_dir / kept).is_file()
    assert [(e.action, e.actor) for e in _audit(data_api.app)] == [("data.removed", "api:bureau")]


def test_xlsx_and_json_uploads_take_the_pattern_format(data_api: DataApi) -> None:
    """A table whose path fixes ``.csv`` refuses an XLSX (415) and stores nothing."""
    book = _xlsx([["项目", "数量"], ["苹果", 3]])
    answer = data_api.call("PUT", WEEK, book, content_type="application/vnd.openxmlformats-"
                           "officedocument.spreadsheetml.sheet")
    assert answer.status_code == 415 and answer.json()["error"] == "unsupported_format"
    assert _stored(data_api.app) == [Path("weekly/2026-W49.csv")]


def test_data_cannot_change_once_the_release_was_created(data_api: DataApi) -> None:
    """After the period's release is created from the inbox, a new put or a removal answers 409
    and the file the release read stays."""
    app = data_api.app
    outcome = release.create(app, "weekly", app.clock.now(), actor="scheduler", origin="scheduled")
    assert outcome.state == "active"
    answer = data_api.call("PUT", "/api/data/weekly/2026-W49/items", GOOD + "桃,1\n".encode())
    assert answer.status_code == 409 and answer.json()["error"] == "release_created"
    assert data_api.call("DELETE", "/api/data/weekly/2026-W49/items").status_code == 409
    assert (app.data_dir / "weekly" / "2026-W49.csv").read_text(encoding="utf-8") == \
        "项目,数量\n苹果,3\n梨,5\n"


def test_a_supplier_token_reaches_no_other_api_route(data_api: DataApi) -> None:
    """Every /api route other than the data ones answers a supplier token 403 (urgent posts,
    incidents): the supplier role of the access table reaches data only."""
    paths = [(m, p) for m, p in api_routes(data_api.api)
             if p.startswith("/api/") and not p.startswith("/api/data/") and m != "HEAD"]
    assert ("POST", "/api/urgent") in paths
    for method, path in paths:
        answer = data_api.call(method, path, b"{}", content_type="application/json")
        assert answer.status_code == 403, (method, path, answer.status_code)


def test_supplier_scope_rules_refuse_what_would_widen_it(data_api: DataApi) -> None:
    """A supplier token or account needs a configured definition; another role takes none; an
    account cannot hold supplier with another role. Nothing is stored on a refusal."""
    from publisher.web import account as accounts

    app = data_api.app
    before = len(tokens.list_tokens(app))
    for definitions, message in (((), "at least one definition"),
                                 (("nowhere",), "no such definition")):
        with pytest.raises(tokens.TokenError, match=message):
            tokens.create(app, "x", "supplier", actor="staff:li", definitions=definitions)
    with pytest.raises(tokens.TokenError, match="only the supplier role"):
        tokens.create(app, "y", "editor", actor="staff:li", definitions=["weekly"])
    assert len(tokens.list_tokens(app)) == before
    with pytest.raises(accounts.AccountError, match="together with another role"):
        accounts.create(app, "zhao", "a long enough passphrase", ["supplier", "editor"],
                        actor="staff:li", definitions=["weekly"])
    assert accounts.get(app, "zhao") is None
    made = accounts.create(app, "zhao", "a long enough passphrase", ["supplier"],
                           actor="staff:li", definitions=["weekly", "other"])
    assert made.definitions == ("other", "weekly") and made.covers("weekly")
    assert not made.covers("nowhere")


@pytest.mark.slow
def test_tokens_and_users_cli_name_a_suppliers_definitions(project: Path,
                                                           database_url: str) -> None:
    """`publisher tokens add --role supplier --definition weekly` makes a token that pushes data
    for weekly only, `list` shows its scope, and without --definition it is refused; `users add`
    does the same for an account."""
    import os
    import subprocess
    import sys

    publisher = str(Path(sys.executable).parent / "publisher")
    env = {**os.environ, "PUBLISHER_DATABASE_URL": database_url, "PUBLISHER_ACTOR": "staff:wang"}
    env.pop("PUBLISHER_CONFIG", None)
    config = str(project / "schedules.yaml")

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([publisher, *args, "--config", config], env=env, text=True,
                              capture_output=True, check=False, timeout=120, input=stdin)

    added = cli("tokens", "add", "bureau", "--role", "supplier", "--definition", "weekly")
    assert added.returncode == 0, added.stderr
    refused = cli("tokens", "add", "loose", "--role", "supplier")
    assert refused.returncode == 2 and "at least one definition" in refused.stderr
    (row,) = [line for line in cli("tokens", "list").stdout.splitlines()
              if line.startswith("bureau")]
    assert row.split()[1] == "supplier(weekly)"
    made = cli("users", "add", "zhao", "--role", "supplier", "--definition", "weekly",
               "--password-stdin", stdin="a long enough passphrase\n")
    assert made.returncode == 0, made.stderr
    (row,) = [line for line in cli("users", "list").stdout.splitlines() if line.startswith("zhao")]
    assert "supplier(weekly)" in row


def _fail_writes_to(app: App, table: str, when: str) -> None:
    """Make the database refuse every ``when`` (INSERT, UPDATE) on ``table``: a fault injected
    at the database, the transaction that stores a file then fails after the files moved."""
    from sqlalchemy import text

    with app.store.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text(f"CREATE TRIGGER injected BEFORE {when} ON {table} "
                                    "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"))
        else:
            connection.execute(text("CREATE OR REPLACE FUNCTION injected() RETURNS trigger AS "
                                    "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ "
                                    "LANGUAGE plpgsql"))
            connection.execute(text(f"CREATE TRIGGER injected BEFORE {when} ON {table} "
                                    "FOR EACH ROW EXECUTE FUNCTION injected()"))


def test_a_failed_record_leaves_the_inbox_as_it_was(data_api: DataApi) -> None:
    """When the database refuses to record a replacement or a removal, the earlier file is back
    in its place with its bytes, no new file is left there, and the API answers 500 without
    the fault's text."""
    app = data_api.app
    inbox_file = app.data_dir / "weekly" / "2026-W50.csv"
    assert data_api.call("PUT", WEEK, GOOD).status_code == 201
    _fail_writes_to(app, "data_files", "INSERT")
    answer = data_api.call("PUT", WEEK, "项目,数量\n苹果,9\n".encode())
    assert answer.status_code == 500 and "injected" not in answer.text
    assert inbox_file.read_bytes() == GOOD
    assert [p for p in (app.data_dir / ".intake").rglob("*") if p.is_file()
            and not p.name.startswith(".")] == []
    assert [e.action for e in _audit(app)] == ["data.created"]


def test_a_failed_removal_leaves_the_file_in_place(data_api: DataApi) -> None:
    """When the database refuses to record a removal, the file stays where it was."""
    app = data_api.app
    _fail_writes_to(app, "data_files", "INSERT")  # the dropped file's row is inserted first
    answer = data_api.call("DELETE", "/api/data/weekly/2026-W49/items")
    assert answer.status_code == 500
    assert (app.data_dir / "weekly" / "2026-W49.csv").read_text(encoding="utf-8") == \
        "项目,数量\n苹果,3\n梨,5\n"


def test_openapi_documents_the_data_routes(data_api: DataApi) -> None:
    """The OpenAPI schema lists PUT, GET and DELETE of /api/data/… with the file's media types
    and the 422 answer naming cells."""
    schema = requests.get(data_api.server.url + "openapi.json", timeout=TIMEOUT_SECONDS).json()
    route = schema["paths"]["/api/data/{definition}/{period}/{table}"]
    assert {"put", "get", "delete"} <= set(route)
    assert {"text/csv", "application/json"} <= set(route["put"]["requestBody"]["content"])
    assert "422" in route["put"]["responses"]
    problem = schema["components"]["schemas"]["Problem"]["properties"]
    assert {"row", "column", "value"} <= set(problem)


def test_a_period_says_whether_its_release_would_be_made(data_api: DataApi) -> None:
    """GET of a period lists each table's file and problems, and ``ready`` once the release
    would be made from the data as it is; a supplier of another definition is refused."""
    period = "/api/data/weekly/2026-W50"
    before = data_api.call("GET", period).json()
    assert before["ready"] is False and before["release"] == "weekly@2026-12-09T10:00+08:00"
    assert before["tables"][0]["stored"] is None and before["problems"]
    data_api.call("PUT", WEEK, GOOD)
    after = data_api.call("GET", period).json()
    assert after["ready"] is True and after["problems"] == []
    assert after["tables"][0]["stored"]["uploaded_by"] == "api:bureau"
    assert data_api.call("GET", period, who="other").status_code == 403


PAIR = """\
  pair:
    title: "{{ period.label }}两表"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "0 10 * * wed"
    templates: weekly
    source:
      period: week
      tables:
        items:
          path: "pair/{iso_year}-W{iso_week:02d}.xlsx"
          sheet: 甲
          schema: simple
        extra:
          path: "pair/{iso_year}-W{iso_week:02d}.xlsx"
          sheet: 乙
          schema: simple
    channels: [mem-a]
"""


def test_tables_sharing_one_workbook_are_checked_and_recorded_together(
        data_api: DataApi, project: Path) -> None:
    """Two tables read from one workbook (a sheet each): a workbook lacking one sheet is refused
    naming that table; a whole one is stored once and each table reads back who gave it."""
    from publisher import config as config_module

    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + PAIR, encoding="utf-8")
    data_api.app.loaded = config_module.load(config)
    rows: list[list[object]] = [["项目", "数量"], ["苹果", 3]]
    book = openpyxl.load_workbook(io.BytesIO(_xlsx(rows, "甲")))
    book.create_sheet("说明")  # two sheets, neither 乙 (one sheet alone serves every table)
    out = io.BytesIO()
    book.save(out)
    half = out.getvalue()
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = data_api.call("PUT", "/api/data/pair/2026-W50/items", half, who="editor",
                           content_type=xlsx)
    assert answer.status_code == 422
    assert any(p["message"].startswith("extra: ") and "乙" in p["message"]
               for p in answer.json()["problems"])
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "甲"
    for row in rows:
        first.append(row)
    second = book.create_sheet("乙")
    for extra in [["项目", "数量"], ["梨", 5], ["桃", 1]]:
        second.append(extra)
    out = io.BytesIO()
    book.save(out)
    stored = data_api.call("PUT", "/api/data/pair/2026-W50/items", out.getvalue(), who="editor",
                           content_type=xlsx)
    assert stored.status_code == 201, stored.text
    other = data_api.call("GET", "/api/data/pair/2026-W50/extra", who="editor").json()
    assert other["uploaded_by"] == "api:desk" and other["rows"] == 2
    assert other["path"] == "pair/2026-W50.xlsx"
