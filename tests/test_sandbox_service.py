"""One sandbox service shared by every --sandbox process, its state kept across restarts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from channels.base import Message
from publisher import config as config_module
from publisher import sandbox as service
from publisher.app import App
from publisher.store import Store
from tests.test_channel_contract import KEY, _message

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # the service runs in a process of its own


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped schedules.yaml (its ``sandbox:`` on free ports) with templates, in tmp_path;
    any service the test leaves running is stopped."""
    monkeypatch.delenv("PUBLISHER_SANDBOX", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    text = (ROOT / "schedules.yaml").read_text(encoding="utf-8")
    assert "  base_port: 8700" in text
    (root / "schedules.yaml").write_text(text.replace("  base_port: 8700", "  base_port: 0"),
                                         encoding="utf-8")
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "samples", root / "samples")
    yield root / "schedules.yaml"
    try:
        left = service.running(config_module.load(root / "schedules.yaml"))
    except config_module.ConfigError:
        left = None
    if left is not None:
        os.kill(left.pid, signal.SIGTERM)


def _app(path: Path, *, own: bool = False) -> App:
    return App(loaded=config_module.load(path), store=Store(f"sqlite:///{path.parent / 'db'}"),
               sandbox=True, own_sandbox=own)


def _weibo_message(serial: int) -> Message:
    message = _message(serial)
    return replace(message, body="本周共抽检食品 120 批次，不合格 2 批次。", body_format="text")


def test_processes_share_one_sandbox_that_survives_a_restart(project: Path) -> None:
    """A post made by the daemon's App is commented on from a second process's App, and after
    the service restarts (the daemon stopped it) a third App deletes it and withdraws the
    WeChat article: one set of emulators, counted there."""
    daemon = _app(project, own=True)
    weibo = daemon.channel("weibo-main")
    wechat = daemon.channel("wechat-main")
    first = daemon.sandbox_service()
    post = weibo.send(weibo.prepare(_weibo_message(49)), KEY)
    article_payload = wechat.prepare(_message(49))
    article = wechat.status(wechat.send(article_payload, KEY))
    assert article.remote_id

    terminal = _app(project)  # `publisher urgent --sandbox` from a second terminal
    assert terminal.sandbox_service() == first
    comment = terminal.channel("weibo-main").follow_up(
        post, terminal.channel("weibo-main").prepare_follow_up(_weibo_message(50)))
    assert comment.details["comment_on"] == post.remote_id
    terminal.close()
    assert service.running(daemon.loaded) == first  # only its starter stops it

    daemon.close()  # the daemon stops: its child service with it
    assert service.running(daemon.loaded) is None

    later = _app(project)  # no service runs: this one starts it, and leaves it running
    again = later.sandbox_service()
    assert again.pid != first.pid
    later.channel("weibo-main").retract(post)
    later.channel("wechat-main").retract(article)
    held = {name: service.counts(entry["kind"], entry["url"])
            for name, entry in again.channels.items()}
    assert held["weibo-main"] == {"posts": 1, "live": 0, "comments": 1}
    assert held["wechat-main"]["articles"] == 1 and held["wechat-main"]["live"] == 0
    later.close()
    assert service.running(later.loaded) == again


def test_cli_status_reset_and_serve(project: Path, tmp_path: Path) -> None:
    """``publisher sandbox serve`` lists each emulator's URL, ``status`` its counts, ``reset``
    is refused while it runs and clears the state after ``stop``."""
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}
    env.pop("PUBLISHER_SANDBOX", None)
    cli = [str(Path(sys.executable).parent / "publisher")]
    serving = subprocess.Popen([*cli, "sandbox", "serve", "-c", str(project)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        loaded = config_module.load(project)
        deadline = time.monotonic() + 30
        while service.running(loaded) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        running = service.running(loaded)
        assert running is not None and running.pid == serving.pid
        weibo = running.url("weibo-main")
        assert requests.get(f"{weibo}/_sandbox/posts", timeout=5).json()["posts"] == []
        status = subprocess.run([*cli, "sandbox", "status", "-c", str(project)], env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert f"weibo-main (weibo): {weibo}  posts 0, live 0, comments 0" in status.stdout
        refused = subprocess.run([*cli, "sandbox", "reset", "-c", str(project)], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 3 and "stop it first" in refused.stderr
        stopped = subprocess.run([*cli, "sandbox", "stop", "-c", str(project)], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert stopped.returncode == 0
        assert serving.wait(timeout=20) == 0
        output = serving.stdout.read() if serving.stdout else ""
        assert f"weibo-main (weibo): {weibo}" in output
        state = project.parent / "var" / "sandbox"
        assert (state / "weibo-main.json").exists() and not (state / "service.json").exists()
        cleared = subprocess.run([*cli, "sandbox", "reset", "-c", str(project)], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert cleared.returncode == 0, cleared.stderr
        assert not (state / "weibo-main.json").exists()
    finally:
        if serving.poll() is None:
            serving.terminate()
            serving.wait(timeout=20)
