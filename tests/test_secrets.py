"""Secrets from the environment never reach a log line, a database row or an audit event."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from channels.webhook.sandbox import Sink, serve
from tests.support.project import TEMPLATE

PUBLISHER = str(Path(sys.executable).parent / "publisher")
TIMEOUT_SECONDS = 120
# "!" is outside the characters a bearer-token pattern matches, so only masking the exact
# registered value hides the tail; "/" and "+" make the URL-encoded forms differ.
HOOK_TOKEN = "Zq7vR2kP9wX4!mN8/jL5+Hq3"
MEM_TOKEN = "Mx7Yt3!Qa9/Lx2+Wp4Kd"
SECRETS = (HOOK_TOKEN, MEM_TOKEN)
pytestmark = pytest.mark.slow

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
defaults:
  misfire_grace_minutes: 10
  retry_deadline_hours: 1
  workers: 2
  retry: {{attempts_per_claim: 2, initial_wait_seconds: 0.1, max_wait_seconds: 1,
          sweep_wait_seconds: 0.5, max_sweep_wait_seconds: 1}}
columns: {{news: 新闻}}
channels:
  hook:
    kind: webhook
    settings: {{url: "{url}", token: "${{HOOK_TOKEN}}", timeout_seconds: 10}}
  mem:
    kind: memory
    settings: {{token: "${{MEM_TOKEN}}", fail_script: [transient, "rate_limited:0.5"]}}
schemas:
  simple:
    columns:
      - {{id: item, header: 项目}}
      - {{id: amount, header: 数量, type: int}}
releases:
  notice:
    title: "{{{{ period.label }}}}测试通告"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: manual
    source:
      period: day
      tables:
        items: {{path: "items.csv", schema: simple}}
    channels: [hook, mem]
"""


def forms(secret: str) -> set[str]:
    """The secret as written and URL-encoded."""
    return {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}


def fragments(secret: str, size: int = 6) -> set[str]:
    """Every run of ``size`` characters of the secret: a partly masked secret still leaks."""
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def leaks(text: str) -> list[str]:
    """The secret forms and fragments found in ``text``."""
    return sorted(f for s in SECRETS for f in forms(s) | fragments(s) if f in text)


@pytest.fixture
def sink() -> Iterator[Sink]:
    running = serve()
    yield running
    running.stop()


def _project(root: Path, url: str) -> Path:
    (root / "templates" / "notice").mkdir(parents=True)
    for name in ("webhook.txt.j2", "memory.txt.j2"):
        (root / "templates" / "notice" / name).write_text(TEMPLATE, encoding="utf-8")
    (root / "inbox").mkdir()
    (root / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    config = root / "schedules.yaml"
    config.write_text(CONFIG.format(url=url), encoding="utf-8")
    return config


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        with sqlite3.connect(db, timeout=30) as connection:
            return list(connection.execute(sql))
    except sqlite3.OperationalError:  # not created or not migrated yet
        return []


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _states(db: Path) -> dict[str, str]:
    return {str(channel): str(state) for channel, state in
            _query(db, "SELECT channel, state FROM deliveries")}


def _every_cell(db: Path) -> str:
    """Every value of every row of every table, as text, one per line."""
    with sqlite3.connect(db) as connection:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"releases", "deliveries", "attempts", "audit_events"} <= set(tables)
        cells: list[str] = []
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                cells += [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                          for v in row]
    return "\n".join(cells)


def test_secrets_stay_out_of_logs_database_and_audit(tmp_path: Path, sink: Sink) -> None:
    """After a daemon run with 500, 429 and 403 answers, transient and rate-limited retries and
    a manual retry, neither token appears in any log line, database cell or audit event."""
    config = _project(tmp_path, sink.url)
    db = tmp_path / "bot.db"
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{db}",
           "HOOK_TOKEN": HOOK_TOKEN, "MEM_TOKEN": MEM_TOKEN}
    env.pop("PUBLISHER_CONFIG", None)
    # the sink echoes the Authorization header in each error body
    sink.state.faults.extend([500, 429, 403])
    log = tmp_path / "run.log"
    outputs: list[str] = []

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([PUBLISHER, *args, "--config", str(config)], env=env, text=True,
                                capture_output=True, check=False, timeout=TIMEOUT_SECONDS,
                                cwd=tmp_path)
        outputs.extend((result.stdout, result.stderr))
        return result

    with log.open("ab") as sink_log:
        daemon = subprocess.Popen(
            [PUBLISHER, "run", "--config", str(config), "--no-serve", "--no-web", "--poll-seconds",
             "0.1", "--json-logs", "--trigger", "notice"],
            env=env, stdout=sink_log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        _wait(lambda: _states(db) == {"hook": "failed", "mem": "published"}, 60,
              "the webhook to fail for good and the memory channel to publish")
        ((hook_id,),) = _query(db, "SELECT id FROM deliveries WHERE channel = 'hook'")
        retry = cli("retry", str(hook_id), "--no-send")  # the running daemon sends it
        assert retry.returncode == 0, retry.stderr
        _wait(lambda: _states(db) == {"hook": "published", "mem": "published"}, 60,
              "the retried webhook delivery to publish")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)

    audit = cli("audit", "export")
    assert audit.returncode == 0, audit.stderr
    assert cli("log", "--format", "json").returncode == 0

    # Failures and retries really happened, and the secret really travelled.
    outcomes = _query(db, "SELECT d.channel, a.outcome, a.error FROM attempts a "
                          "JOIN deliveries d ON d.id = a.delivery_id ORDER BY a.id")
    hook = [(outcome, json.loads(error) if error else None)
            for channel, outcome, error in outcomes if channel == "hook"]
    assert [o for o, _ in hook] == ["transient", "rate_limited", "permanent", "published"]
    for _, error in hook[:3]:
        assert error is not None
        # the sink echoed "auth=Bearer <token>": the header was sent, and it was masked
        assert "auth=Bearer ***" in error["remote_message"], error
    assert [o for c, o, _ in outcomes if c == "mem"] == ["transient", "rate_limited", "published"]
    assert len(sink.state.accepted) == 1 and len(sink.state.posts) == 4
    events = [json.loads(line) for line in audit.stdout.splitlines()]
    assert {"delivery.retry_wait", "delivery.failed", "delivery.retry", "delivery.published"} \
        <= {e["action"] for e in events}

    logged = log.read_text(encoding="utf-8")
    assert '"event": "attempt"' in logged and "delivery.retry_wait" in logged
    assert leaks(logged) == [], "daemon log"
    assert leaks("\n".join(outputs)) == [], "command output"
    assert leaks(audit.stdout) == [], "audit export"
    assert leaks(_every_cell(db)) == [], "database"


def test_registered_secret_is_masked_whole_inside_an_auth_echo() -> None:
    """A registered secret with a character a bearer-token pattern stops at is masked whole,
    not just up to that character."""
    from publisher.logs import Redactor

    redactor = Redactor([HOOK_TOKEN])
    for text in (f"fault for /deliveries auth=Bearer {HOOK_TOKEN}",
                 f"Authorization: Bearer {HOOK_TOKEN}", f"url?token={quote(HOOK_TOKEN, safe='')}"):
        masked = redactor.redact_text(text)
        assert "***" in masked and leaks(masked) == [], masked
