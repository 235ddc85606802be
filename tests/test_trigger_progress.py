"""`publisher trigger` shows each channel's progress and a summary, and leaves the sending to a
running daemon."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from channels.webhook.sandbox import Sink
from tests.support.cli import PUBLISHER, TIMEOUT_SECONDS, XLSX, db_rows, edit, publisher, with_webhook

pytestmark = pytest.mark.slow

STAMPED = re.compile(r"^\d{2}:\d{2}:\d{2}  (\S+)\s+(\S+)", re.MULTILINE)
RESULT = "结果 / result: food-safety-sampling@"


def _steps(out: str) -> list[tuple[str, str]]:
    """The (channel, state) of every progress line, in order."""
    return [(match.group(1), match.group(2)) for match in STAMPED.finditer(out)]


def _summary(out: str) -> list[str]:
    """The summary's lines, from its heading to the end."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(RESULT))
    return lines[start:]


def _fast_retries(config: Path) -> None:
    edit(config, "initial_wait_seconds: 2\n", "initial_wait_seconds: 0.2\n")


def test_progress_lines_and_summary_off_a_terminal(shipped: Path, env: dict[str, str]) -> None:
    """Off a terminal, trigger prints a time-stamped plain line each time a channel's delivery
    changes (no log lines, no terminal codes), then a summary with its state and URL."""
    result = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX)
    assert result.returncode == 0, result.stderr
    steps = _steps(result.stdout)
    assert steps[0] == ("portal-main", "pending") and steps[-1] == ("portal-main", "published")
    assert "\x1b[" not in result.stdout
    assert not [line for line in result.stderr.splitlines() if line.startswith("{")]
    heading, columns, row, total = _summary(result.stdout)
    assert heading.startswith(RESULT) and "channel" in columns and "URL or reason" in columns
    assert re.fullmatch(r"  portal-main +published +已发布  "
                        r"http://127\.0\.0\.1:8180/food-safety/food-safety-sampling-\S+\.html", row)
    assert total.startswith("1/1 个渠道已发布")


def test_a_refused_channel_is_named_with_its_reason_and_retry(
        shipped: Path, env: dict[str, str], sink: Sink, tmp_path: Path) -> None:
    """A channel that refused the post ends the summary as failed with the reason, trigger
    exits 1 and names the command that retries it."""
    with_webhook(shipped, sink.url)
    sink.state.faults.append(403)
    result = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX)
    assert result.returncode == 1
    rows = {line.split()[0]: line for line in _summary(result.stdout)[2:-1]}
    assert set(rows) == {"hook-main", "portal-main"}
    assert re.match(r"  hook-main +failed +失败  \S", rows["hook-main"])
    (hook_id,) = db_rows(tmp_path, "SELECT id FROM deliveries WHERE channel = 'hook-main'")[0]
    assert f"publisher retry {hook_id}" in result.stderr
    assert _summary(result.stdout)[-1].startswith("1/2 ")


def test_retries_still_waiting_are_left_to_the_daemon(shipped: Path, env: dict[str, str],
                                                      sink: Sink) -> None:
    """When the wait is over with a channel waiting to retry, the summary says when it tries
    again and trigger says the daemon is not running and `publisher run` retries it."""
    with_webhook(shipped, sink.url)
    _fast_retries(shipped)
    sink.state.faults.extend([503] * 10)
    result = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX,
                       "--wait-seconds", "0")
    assert result.returncode == 1
    (row,) = [line for line in _summary(result.stdout) if line.startswith("  hook-main")]
    assert re.match(r"  hook-main +retry_wait +等待重试 第3次 / try 3  \d{2}:\d{2}:\d{2} 再试 / "
                    r"tries again at \d{2}:\d{2}:\d{2}", row), row
    assert ("hook-main", "retry_wait") in _steps(result.stdout)
    assert "the daemon is not running: `publisher run` retries them" in result.stderr


def test_on_a_terminal_the_channel_lines_are_redrawn_in_place(shipped: Path, env: dict[str, str],
                                                             sink: Sink) -> None:
    """On a terminal the block of channel lines is drawn over as deliveries change (no
    time-stamped lines), and the summary follows it."""
    with_webhook(shipped, sink.url)
    _fast_retries(shipped)
    sink.state.faults.append(503)  # one try waits before the next: a change to draw
    main, child = pty.openpty()
    bot = subprocess.Popen(
        [PUBLISHER, "trigger", "food-safety-sampling", "--data", XLSX, "--config", str(shipped)],
        env={**env, "COLUMNS": "200"}, stdin=subprocess.DEVNULL, stdout=child,
        stderr=child, cwd=shipped.parent)
    os.close(child)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert bot.wait(TIMEOUT_SECONDS) == 0
    finally:
        os.close(main)
        if bot.poll() is None:
            bot.kill()
    out = b"".join(chunks).decode("utf-8")
    assert "\x1b[2K  hook-main" in out and "\x1b[2K  portal-main" in out
    assert re.search(r"\x1b\[2F\x1b\[2K  hook-main", out)  # back up over both lines
    assert not _steps(out.replace("\r", ""))
    summary = _summary(out.replace("\r", ""))
    assert summary[-1].startswith("2/2 ")


def test_a_running_daemon_sends_and_trigger_follows_it(shipped: Path, env: dict[str, str],
                                                       sink: Sink, tmp_path: Path) -> None:
    """With `publisher run` up, trigger says the daemon sends the release and sends nothing
    itself; with --wait it follows the daemon's progress from the database to the summary."""
    with_webhook(shipped, sink.url)
    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen(
        [PUBLISHER, "run", "--config", str(shipped), "--no-serve", "--no-web",
         "--poll-seconds", "0.1", "--json-logs"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=shipped.parent)
    try:
        deadline = time.monotonic() + 60
        while "run.started" not in log.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline and daemon.poll() is None, log.read_text()
            time.sleep(0.05)
        followed = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX,
                             "--wait")
        assert followed.returncode == 0, followed.stderr
        assert "the daemon (publisher run) is running: it sends this release" in followed.stdout
        rows = sorted(line.split()[:2] for line in _summary(followed.stdout)[2:-1])
        assert rows == [["hook-main", "published"], ["portal-main", "published"]]
        assert ("hook-main", "published") in _steps(followed.stdout)
        left = publisher(shipped, env, "trigger", "air-quality-forecast", "--data",
                         "samples/air-quality-forecast/forecast.json")
        assert left.returncode == 0, left.stderr
        assert "it sends this release" in left.stdout and "publisher log --release" in left.stdout
        assert RESULT not in left.stdout
        deadline = time.monotonic() + 60
        while {state for (state,) in db_rows(tmp_path, "SELECT state FROM deliveries")} \
                != {"published"}:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    claimed = [holder for (holder,) in db_rows(tmp_path, "SELECT claimed_by FROM deliveries")]
    assert len(claimed) == 3 and all(f":{daemon.pid}:" in holder for holder in claimed)
    assert all(sink.state.count(key) == 1 for key in sink.state.accepted)
