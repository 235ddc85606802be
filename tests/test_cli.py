"""The `publisher` command through its real entry point, on a copy of the shipped project."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.webhook.sandbox import Sink
from tests.support.cli import (
    PUBLISHER,
    TIMEOUT_SECONDS,
    XLSX,
    db_rows,
    edit,
    log_rows,
    publisher,
    with_webhook,
)

FORECAST = "samples/air-quality-forecast/forecast.json"
CJK = re.compile(r"[\u4e00-\u9fff]")
# a help description: Chinese, then " / ", then English words
BILINGUAL = re.compile(r"[\u4e00-\u9fff][^\n]* / [A-Za-z][a-z]+ [a-z]+")

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- helpers


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the only line of ``path`` holding ``needle``."""
    numbers = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if needle in line]
    assert len(numbers) == 1, (needle, numbers)
    return numbers[0]


def assert_reported(config: Path, out: str, expected: list[tuple[int, str, str]]) -> None:
    """Each (line, YAML path, words) is a problem line of ``out`` at ``config``'s line and path
    holding those words."""
    lines = out.splitlines()
    for line, path, words in expected:
        prefix = f"{config}:{line}: {path}: "
        found = [text for text in lines if text.startswith(prefix)]
        assert found, f"no problem reported at {prefix!r}:\n{out}"
        assert any(words in text for text in found), (words, found)


# --------------------------------------------------------------------------- check


def test_check_passes_on_the_shipped_config(shipped: Path, env: dict[str, str]) -> None:
    """`publisher check` exits 0 on the shipped config, templates and samples."""
    result = publisher(shipped, env, "check")
    assert result.returncode == 0, result.stderr
    assert "config OK" in result.stdout


def test_check_lists_every_problem_with_path_and_line(shipped: Path, env: dict[str, str]) -> None:
    """On a config with seven kinds of problem, `publisher check` exits non-zero and lists each,
    in one run, with the file, line and YAML path where it is."""
    config = shipped
    root = config.parent
    # minimum-living-allowance: a bad cron, an unknown channel, an unknown schema
    edit(config, 'schedule: "0 9 15 1,4,7,10 *"', 'schedule: "0 9 15 13 *"')
    edit(config, "channels: [portal-main, gazette-main]",
         "channels: [portal-main, gazette-main, nowhere-main]")
    edit(config, "schema: minimum-living-allowance\n", "schema: no-such-schema\n")
    # air-quality: a title over the portal's 200 characters and a memory channel's 8
    edit(config, 'title: "{{ period.label }}空气质量预报"',
         "title: \"{{ period.label }}空气质量预报{{ '（详）' * 70 }}\"")
    edit(config, "channels: [portal-main, weibo-main]",
         "channels: [portal-main, weibo-main, mem-short]")
    # channels: a literal secret
    edit(config, "  gazette-main:                # 政府公报",
         "  mem-short:\n    kind: memory\n    settings: {max_title_chars: 8}\n"
         "  hook-main:\n    kind: webhook\n    settings:\n      url: http://127.0.0.1:9/\n"
         "      token: literal-hunter2-secret\n"
         "  gazette-main:                # 政府公报")
    # food-safety: a sample file without the required column 食品名称
    sample = root / "samples/food-safety-sampling/qualified.csv"
    rows = list(csv.reader(io.StringIO(sample.read_bytes().decode("gb18030"), newline="")))
    drop = rows[0].index("食品名称")
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [r[:drop] + r[drop + 1:] for r in rows])
    sample.write_bytes(buffer.getvalue().encode("gb18030"))
    # notifiable-disease: a template syntax error on its last line
    template = root / "templates/notifiable-disease-monthly/portal.html.j2"
    template.write_text(template.read_text(encoding="utf-8") + "{% if %}\n", encoding="utf-8")
    bad_line = len(template.read_text(encoding="utf-8").splitlines())

    result = publisher(config, env, "check")

    assert result.returncode != 0
    out = result.stderr + result.stdout
    living = "releases.minimum-living-allowance-quarterly"
    expected = [
        (line_of(config, 'schedule: "0 9 15 13 *"'), f"{living}.schedule", "13"),
        (line_of(config, "nowhere-main"), f"{living}.channels.2", "nowhere-main"),
        (line_of(config, "schema: no-such-schema"), f"{living}.source.tables.districts.schema",
         "no-such-schema"),
        (line_of(config, "mem-short]"), "releases.air-quality-forecast.channels.0", "200"),
        (line_of(config, "mem-short]"), "releases.air-quality-forecast.channels.2", "> 8"),
        (line_of(config, "literal-hunter2-secret"), "channels.hook-main.settings.token",
         "${ENV_VAR}"),
        (line_of(config, "sample: samples/food-safety-sampling/qualified.csv"),
         "releases.food-safety-sampling.source.tables.qualified.sample", "食品名称"),
        (line_of(config, "  notifiable-disease-monthly:"),
         "releases.notifiable-disease-monthly.templates",
         f"notifiable-disease-monthly/portal.html.j2:{bad_line}"),
    ]
    assert_reported(config, out, expected)
    assert "literal-hunter2-secret" not in out  # the problem names the field, not its value


def test_check_explains_schema_problems_in_chinese_first_with_suggestions(
        shipped: Path, env: dict[str, str]) -> None:
    """Problems the schema finds (a misspelt key, a missing one, a wrong type, a misspelt channel
    name, timezone and setting) are each reported at their file and line in zh-CN, then English,
    with the closest right word suggested and the known keys listed; pydantic's English-only
    words never appear. A misspelt definition id gets a suggestion too, not a traceback."""
    config = shipped
    wrong_definition = publisher(config, env, "preview", "food-saftey-sampling")
    assert wrong_definition.returncode == 2 and "Traceback" not in wrong_definition.stderr
    assert "did you mean 'food-safety-sampling'?" in wrong_definition.stderr
    edit(config, "timezone: Asia/Shanghai", "timezone: Asia/Shangai")
    edit(config, "  workers: 4 ", "  workers: four ")
    edit(config, '    title: "{{ period.label }}空气质量预报"',
         '    titel: "{{ period.label }}空气质量预报"')
    edit(config, "channels: [portal-main, wechat-main, weibo-main, gazette-main]",
         "channels: [portal-main, wechat-main, weibo-mian, gazette-main]")
    edit(config, "    kind: portal\n    settings:\n      site_name: 某市人民政府门户网站\n"
         "      site_dir: var/site\n      base_url:",
         "    kind: portal\n    settings:\n      site_name: 某市人民政府门户网站\n"
         "      site_dir: var/site\n      base_ulr:")

    result = publisher(config, env, "check")

    assert result.returncode != 0
    out = result.stderr
    assert "Field required" not in out and "Extra inputs are not permitted" not in out
    assert "Input should be" not in out
    air = "releases.air-quality-forecast"
    expected = [
        (line_of(config, "timezone: Asia/Shangai"), "timezone",
         "未知时区 'Asia/Shangai' / unknown timezone 'Asia/Shangai'；是否应为 'Asia/Shanghai'？"
         "/ did you mean 'Asia/Shanghai'?"),
        (line_of(config, "workers: four"), "defaults.workers",
         "应为整数 / must be a whole number（写的是 'four' / given: 'four'）"),
        (line_of(config, "titel:"), f"{air}.titel",
         "不认识的键 'titel' / unknown key 'titel'；是否应为 'title'？/ did you mean 'title'?"),
        (line_of(config, "titel:") - 1, f"{air}.title",  # the release's own line
         "缺少必填项 title / the required key title is missing"),
        (line_of(config, "weibo-mian"), "releases.food-safety-sampling.channels.2",
         "未定义的渠道 / unknown channel 'weibo-mian'；是否应为 'weibo-main'？"),
        (line_of(config, "base_ulr:"), "channels.portal-main.settings.base_ulr",
         "不认识的键 'base_ulr' / unknown key 'base_ulr'；是否应为 'base_url'？"),
    ]
    assert_reported(config, out, expected)
    unknown_key = next(text for text in out.splitlines() if "'titel'" in text)
    assert "known keys: title, issuing_organ" in unknown_key


# --------------------------------------------------------------------------- preview


def test_preview_prints_the_portal_payload(shipped: Path, env: dict[str, str]) -> None:
    """`publisher preview food-safety-sampling` prints the portal title and metadata."""
    result = publisher(shipped, env, "preview", "food-safety-sampling")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"title: 某市市场监督管理局关于\d{4}年第\d+周食品安全监督抽检信息的通告", out)
    assert "===== portal-main (portal) =====" in out
    metadata = next(line for line in out.splitlines() if line.startswith("metadata: "))
    fields = json.loads(metadata.removeprefix("metadata: "))
    assert fields["issuing_organ"] == "某市市场监督管理局"
    assert re.fullmatch(r"MB0000123/\d{4}-00001", fields["index_number"])
    assert "桃酥" in out  # a row of the sample data reached the body
    assert not (shipped.parent / "var").exists()  # nothing recorded, nothing sent


def test_preview_one_channel_as_json(shipped: Path, env: dict[str, str]) -> None:
    """`preview --channel portal-main --format json` prints exactly that channel's payload as JSON."""
    result = publisher(shipped, env, "preview", "food-safety-sampling", "--channel",
                       "portal-main", "--format", "json")
    assert result.returncode == 0, result.stderr
    payloads = json.loads(result.stdout)
    assert set(payloads) == {"portal-main"}
    portal = payloads["portal-main"]
    assert portal["kind"] == "portal"
    data = portal["data"]
    assert data["title"].startswith("某市市场监督管理局关于")
    assert data["column"] == "food-safety" and data["path"].startswith("food-safety/")
    assert len(data["metadata"]["index_number"]) == 20
    assert "<table" in data["body_html"]


def test_preview_reads_an_xlsx_given_with_data(shipped: Path, env: dict[str, str]) -> None:
    """`preview --data <xlsx>` renders from the workbook's sheets."""
    workbook = shipped.parent / XLSX
    result = publisher(shipped, env, "preview", "food-safety-sampling", "--data", str(workbook),
                       "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)["portal-main"]["data"]["body_html"]
    assert "桃酥" in body and "蛋黄酥" in body
    missing = publisher(shipped, env, "preview", "food-safety-sampling", "--data",
                        str(shipped.parent / "nowhere.xlsx"))
    assert missing.returncode != 0  # the option is really read: a missing file fails


def test_preview_of_one_table_uses_the_other_tables_sample(shipped: Path, env: dict[str, str]
                                                           ) -> None:
    """`preview --data unqualified=FILE` renders that file beside the qualified table's shipped
    sample (saying so on stderr) instead of failing on the empty inbox, as the README says;
    a table name that does not exist is refused with exit 2 naming the tables."""
    mine = shipped.parent / "unqualified-this-week.csv"
    mine.write_text(
        "序号,标称生产企业名称,标称生产企业地址,被抽样单位名称,被抽样单位地址,食品名称,规格型号,商标,"
        "生产日期/批号,不合格项目║检验结果║标准值,检验机构\n"
        "1,某市测试食品厂,某市东区一路1号,某市东区超市,某市东区二路2号,测试月饼,500g/盒,/,"
        "2026-11-20,菌落总数║9×10⁵CFU/g║≤10⁵CFU/g,某市食品检验所\n", encoding="utf-8")
    result = publisher(shipped, env, "preview", "food-safety-sampling", "--data",
                       f"unqualified={mine}", "--channel", "portal-main", "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)["portal-main"]["data"]["body_html"]
    assert "测试月饼" in body and "桃酥" not in body  # the given file, not the sample
    assert "蛋黄酥" in body  # the qualified table's sample
    assert "table qualified uses its sample: samples/food-safety-sampling/qualified.csv" \
        in result.stderr
    wrong = publisher(shipped, env, "preview", "food-safety-sampling", "--data", f"bad={mine}")
    assert wrong.returncode == 2 and "unqualified, qualified" in wrong.stderr


# --------------------------------------------------------------------------- trigger and log


def test_trigger_publishes_to_the_portal_and_log_shows_it(shipped: Path, env: dict[str, str]
                                                          ) -> None:
    """`publisher trigger --data <xlsx>` writes the portal page; `publisher log` shows the
    delivery as a table, as JSON lines and as CSV."""
    result = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX)
    assert result.returncode == 0, result.stderr
    assert re.search(r"food-safety-sampling@\S+: active", result.stdout)
    pages = list((shipped.parent / "var/site/food-safety").glob("food-safety-sampling-*.html"))
    assert len(pages) == 1
    html = pages[0].read_text(encoding="utf-8")
    assert "食品安全监督抽检信息的通告" in html and "桃酥" in html

    table = publisher(shipped, env, "log")
    assert table.returncode == 0, table.stderr
    header, *body = [line for line in table.stdout.splitlines() if line.strip()]
    assert "渠道/channel" in header and "状态/state" in header
    assert len(body) == 1
    assert "portal-main" in body[0] and "published" in body[0]
    assert body[0].rstrip().endswith(f"food-safety/{pages[0].name}")

    rows = log_rows(shipped, env)
    assert len(rows) == 1
    row = rows[0]
    assert row["channel"] == "portal-main" and row["state"] == "published"
    assert row["release"].startswith("food-safety-sampling@") and row["attempts"] == 1
    assert row["url"] == f"http://127.0.0.1:8180/food-safety/{pages[0].name}"

    as_csv = publisher(shipped, env, "log", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(parsed) == 1
    assert parsed[0]["delivery"] == str(row["delivery"])
    assert parsed[0]["state"] == "published" and parsed[0]["url"] == row["url"]


def test_log_filters_narrow_the_rows(shipped: Path, env: dict[str, str], sink: Sink,
                                     tmp_path: Path) -> None:
    """`publisher log` --release, --channel, --status and --since each leave out the rows
    that do not match."""
    with_webhook(shipped, sink.url)
    sink.state.faults.append(403)  # the webhook refuses once: a failed delivery
    food = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX)
    assert food.returncode == 1, food.stderr  # one delivery did not publish
    food_updated = [datetime.fromisoformat(at).replace(tzinfo=UTC)
                    for (at,) in db_rows(tmp_path, "SELECT updated_at FROM deliveries")]
    air = publisher(shipped, env, "trigger", "air-quality-forecast", "--data", FORECAST)
    assert air.returncode == 0, air.stderr

    every = log_rows(shipped, env)
    assert sorted((r["release"].partition("@")[0], r["channel"], r["state"]) for r in every) == [
        ("air-quality-forecast", "portal-main", "published"),
        ("food-safety-sampling", "hook-main", "failed"),
        ("food-safety-sampling", "portal-main", "published"),
    ]
    by_release = log_rows(shipped, env, "--release", "food-safety-sampling")
    assert {r["channel"] for r in by_release} == {"portal-main", "hook-main"}
    air_key = next(r["release"] for r in every if r["release"].startswith("air-quality"))
    assert [r["release"] for r in log_rows(shipped, env, "--release", air_key)] == [air_key]
    by_channel = log_rows(shipped, env, "--channel", "hook-main")
    assert [(r["channel"], r["state"]) for r in by_channel] == [("hook-main", "failed")]
    assert "[403]" in by_channel[0]["detail"]
    by_status = log_rows(shipped, env, "--status", "published")
    assert len(by_status) == 2 and {r["state"] for r in by_status} == {"published"}
    boundary = (max(food_updated) + timedelta(microseconds=1)).isoformat()
    since = log_rows(shipped, env, "--since", boundary)
    assert [r["release"] for r in since] == [air_key]
    combined = log_rows(shipped, env, "--release", "food-safety-sampling", "--status", "failed")
    assert [r["channel"] for r in combined] == ["hook-main"]
    unknown = publisher(shipped, env, "log", "--status", "lost")
    assert unknown.returncode == 2 and "unknown state" in unknown.stderr


def test_trigger_without_data_holds_the_release(shipped: Path, env: dict[str, str],
                                                tmp_path: Path) -> None:
    """`publisher trigger` with an empty inbox exits non-zero naming the missing file patterns,
    holds the release, and publishes nothing."""
    result = publisher(shipped, env, "trigger", "food-safety-sampling")
    assert result.returncode != 0
    assert re.search(r"food-safety-sampling@\S+: held", result.stdout)
    for table in ("unqualified", "qualified"):
        assert re.search(rf"food-safety-sampling/\d{{4}}-W\d{{2}}/{table}\.\*", result.stderr), \
            result.stderr
    assert "no data file matches this pattern" in result.stderr
    assert db_rows(tmp_path, "SELECT state FROM releases") == [("held",)]
    rows = log_rows(shipped, env)  # a held release has no deliveries, but the log shows it
    assert [(r["state"], r["delivery"], r["channel"]) for r in rows] == [("held", "", "")]
    assert "no data file matches this pattern" in rows[0]["detail"]
    assert log_rows(shipped, env, "--status", "held") == rows
    assert log_rows(shipped, env, "--channel", "portal-main") == []
    assert not list((shipped.parent / "var").rglob("*.html"))


# --------------------------------------------------------------------------- retry


def test_retry_sends_a_failed_delivery_again(shipped: Path, env: dict[str, str], sink: Sink,
                                             tmp_path: Path) -> None:
    """A delivery the webhook refused (403) is published by `publisher retry` under the same
    key once the fault is gone; retrying a published delivery is refused with exit 2."""
    with_webhook(shipped, sink.url)
    sink.state.faults.append(403)
    first = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX)
    assert first.returncode == 1
    failed = log_rows(shipped, env, "--status", "failed")
    assert [r["channel"] for r in failed] == ["hook-main"]
    hook_id = failed[0]["delivery"]
    (key,) = db_rows(tmp_path, f"SELECT idempotency_key FROM deliveries WHERE id = {hook_id}")[0]
    assert key not in sink.state.accepted and sink.state.faults == []

    retried = publisher(shipped, env, "retry", str(hook_id))
    assert retried.returncode == 0, retried.stderr
    (row,) = log_rows(shipped, env, "--channel", "hook-main")
    assert row["state"] == "published" and row["url"].startswith("http://sink.invalid/")
    assert key in sink.state.accepted
    assert sink.state.count(key) == 2  # the refused try and the retry, same key

    again = publisher(shipped, env, "retry", str(hook_id))
    assert again.returncode == 2
    assert "only failed, unknown or retry_wait can be retried" in again.stderr
    assert sink.state.count(key) == 2  # nothing sent
    audit = publisher(shipped, env, "audit", "export")
    events = [json.loads(line) for line in audit.stdout.splitlines()]
    retry_events = [e for e in events if e["action"] == "delivery.retry"]
    assert [(e["actor"], e["subject"]) for e in retry_events] == [
        ("staff:wang", f"delivery:{hook_id}")]

    history = publisher(shipped, env, "log", "--delivery", str(hook_id), "--format", "json")
    assert history.returncode == 0, history.stderr
    detail = json.loads(history.stdout)
    assert [(a["outcome"], a["code"]) for a in detail["attempts"]] == [
        ("permanent", "403"), ("published", None)]
    assert detail["attempts"][0]["explanation_zh"] and detail["attempts"][1]["url"]
    actions = [e["action"] for e in detail["audit"]]
    assert actions[:3] == ["delivery.pending", "delivery.sending", "delivery.failed"]
    assert "delivery.retry" in actions and actions[-1] == "delivery.published"
    shown = publisher(shipped, env, "log", "--delivery", str(hook_id))
    assert "#1" in shown.stdout and "403" in shown.stdout and "#2" in shown.stdout


# --------------------------------------------------------------------------- audit


def test_audit_verify_and_export(shipped: Path, env: dict[str, str], tmp_path: Path) -> None:
    """`audit verify` passes after a run and fails naming the row once a row is edited in the
    database (`--since-checkpoint` misses an edit before its checkpoint until a full verify has
    found it); `audit export` writes the chain as JSON lines."""
    assert publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX
                     ).returncode == 0
    ok = publisher(shipped, env, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "audit chain intact" in ok.stdout

    exported = publisher(shipped, env, "audit", "export")
    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {"release.created", "delivery.pending", "delivery.sending", "delivery.published"} \
        <= {e["action"] for e in events}
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(events))
    out_file = tmp_path / "audit.jsonl"
    to_file = publisher(shipped, env, "audit", "export", "--output", str(out_file))
    assert to_file.returncode == 0, to_file.stderr
    assert out_file.read_text(encoding="utf-8") == exported.stdout

    with sqlite3.connect(tmp_path / "db") as connection:
        connection.execute("UPDATE audit_events SET actor = 'staff:mallory' WHERE seq = 2")
    # the first verify left a checkpoint at the newest event: from it, nothing new to check
    unchecked = publisher(shipped, env, "audit", "verify", "--since-checkpoint")
    assert unchecked.returncode == 0 and "0 checked after event" in unchecked.stdout
    broken = publisher(shipped, env, "audit", "verify")
    assert broken.returncode == 1
    assert "broken at seq 2" in broken.stderr
    again = publisher(shipped, env, "audit", "verify", "--since-checkpoint")
    assert again.returncode == 1 and "broken at seq 2" in again.stderr


def test_log_refuses_an_outdated_schema_without_touching_it(
        shipped: Path, env: dict[str, str], tmp_path: Path) -> None:
    """`publisher log` does not migrate: on a database whose schema is a revision behind it
    exits 2 naming both revisions and leaves the schema as it was; at the newest revision it
    lists the log."""
    assert publisher(shipped, env, "review", "list").returncode == 0  # makes the schema
    with sqlite3.connect(tmp_path / "db") as connection:
        head = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        older = f"{int(head) - 1:04d}"
        connection.execute("UPDATE alembic_version SET version_num = ?", (older,))
    refused = publisher(shipped, env, "log")
    assert refused.returncode == 2
    assert f"at {older}, this version needs {head}" in refused.stderr
    assert db_rows(tmp_path, "SELECT version_num FROM alembic_version") == [(older,)]
    with sqlite3.connect(tmp_path / "db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (head,))
    listed = publisher(shipped, env, "log")
    assert listed.returncode == 0, listed.stderr


def test_help_loads_no_heavy_library() -> None:
    """`publisher --help` imports the command modules but none of SQLAlchemy, pydantic,
    alembic, the CAP schema libraries, Jinja, requests or the web stack: each command module
    imports them inside the command that uses them (bench/cli_startup.py times it)."""
    script = ("import sys\nsys.argv = ['publisher', '--help']\nfrom publisher.cli import main\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print('loaded:' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in {"
              "'sqlalchemy', 'pydantic', 'alembic', 'xmlschema', 'elementpath', 'jinja2', "
              "'requests', 'fastapi', 'starlette', 'openpyxl', 'weasyprint', 'structlog'})))")
    env = {k: v for k, v in os.environ.items() if k != "PUBLISHER_CONFIG"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True, timeout=TIMEOUT_SECONDS)
    assert "Commands:" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "loaded:", done.stdout.splitlines()[-1]


# --------------------------------------------------------------------------- help


def test_help_is_in_chinese_and_english() -> None:
    """`publisher --help` and every subcommand's --help describe it in Chinese and English."""
    commands = [[], ["check"], ["preview"], ["log"], ["run"], ["trigger"], ["retry"],
                ["audit"], ["audit", "verify"], ["audit", "export"]]
    env = {k: v for k, v in os.environ.items() if k != "PUBLISHER_CONFIG"}
    running = [(c, subprocess.Popen([PUBLISHER, *c, "--help"], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE))
               for c in commands]
    for command, process in running:
        out, err = process.communicate(timeout=TIMEOUT_SECONDS)
        assert process.returncode == 0, (command, err)
        assert BILINGUAL.search(out), (command, out)
        if command and command != ["audit"]:
            options = out.partition("Options:")[2]
            assert CJK.search(options), (command, out)  # the options are explained in Chinese too
