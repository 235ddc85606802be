"""One sandbox service shared by every --sandbox process, its state kept across restarts."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from channels.base import Message
from publisher import config as config_module
from publisher import sandbox as service
from publisher.app import App, channel_values
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


PUBLISHER = str(Path(sys.executable).parent / "publisher")
PASSWORD = "duty-officer-password-1"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def _wait(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _daemon(project: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``publisher run --sandbox`` with its API on a free port; the process and the API's URL."""
    start = log.read_text(encoding="utf-8") if log.exists() else ""
    bot = subprocess.Popen([PUBLISHER, "run", "--sandbox", "--no-serve", "--web-port", "0",
                            "--poll-seconds", "0.1", "--json-logs"],
                           env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                           cwd=project.parent)

    def api() -> str | None:
        found = re.search(r"HTTP API at (http://127\.0\.0\.1:\d+/)",
                          log.read_text(encoding="utf-8")[len(start):])
        return found.group(1) if found else None
    _wait(lambda: api() and "run.started" in log.read_text(encoding="utf-8")[len(start):], 60,
          "the daemon")
    url = api()
    assert url is not None
    return bot, url


def _held(project: Path) -> dict[str, dict[str, int]]:
    running = service.running(config_module.load(project))
    assert running is not None, "the sandbox service is not running"
    return {name: service.counts(entry["kind"], entry["url"])
            for name, entry in running.channels.items()}


def _wechat_items(held: dict[str, dict[str, int]]) -> int:
    return held["wechat-main"]["articles"] + held["wechat-main"]["mass_sends"]


def test_a_drill_through_api_cli_and_console_survives_a_daemon_restart(
        project: Path, tmp_path: Path) -> None:
    """The daemon with --sandbox: an incident opened through the API, the daemon restarted, an
    update from the CLI in a second terminal and a withdrawal from the console each land on
    every emulator (counted there): one sandbox, remembered across the restart."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PUBLISHER_", "WECHAT_", "WEIBO_"))}
    env["PUBLISHER_ACTOR"] = "staff:test"
    log = tmp_path / "run.log"
    made = subprocess.run([PUBLISHER, "tokens", "add", "duty-bot", "--role", "urgent", "-c",
                           str(project)], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[0].strip()
    user = subprocess.run([PUBLISHER, "users", "add", "duty", "--role", "urgent",
                           "--password-stdin", "-c", str(project)], input=PASSWORD + "\n",
                          env=env, capture_output=True, text=True, timeout=60)
    assert user.returncode == 0, user.stderr

    bot, api = _daemon(project, env, log)
    try:
        opened = requests.post(f"{api}api/urgent", headers={"Authorization": f"Bearer {token}"},
                               json={"title": "某高架桥发生垮塌", "area": "某区某高架桥",
                                     "severity": "较大", "status": "Exercise",
                                     "facts": "今日9时40分，某高架桥一段桥面垮塌，现场已封闭。",
                                     "instruction": "请绕行。"}, timeout=30)
        assert opened.status_code == 201, opened.text
        key = opened.json()["incident"]
        _wait(lambda: _held(project)["weibo-main"]["live"] == 1
              and _wechat_items(_held(project)) == 1, 60, "the first report")
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(30) == 0
    assert service.running(config_module.load(project)) is None  # stopped with its daemon

    bot, api = _daemon(project, env, log)
    try:
        assert _held(project)["weibo-main"] == {"posts": 1, "live": 1, "comments": 0}
        update = subprocess.run([PUBLISHER, "urgent", "--update", key, "--facts",
                                 "截至10时，已有3人送医救治。", "--yes", "--sandbox", "-c",
                                 str(project)], env=env, capture_output=True, text=True,
                                timeout=120)
        assert update.returncode == 0, update.stdout + update.stderr
        # the update: a comment under the Weibo post, a new WeChat article (the first report
        # was the day's mass send)
        _wait(lambda: _held(project)["weibo-main"]["comments"] == 1
              and _wechat_items(_held(project)) == 2, 60, "the update")

        browser = requests.Session()
        form = browser.get(f"{api}login", timeout=30)
        signed = browser.post(f"{api}login", data={"csrf_token": CSRF.findall(form.text)[0],
                                                    "name": "duty", "password": PASSWORD},
                              allow_redirects=False, timeout=30)
        assert signed.status_code == 303, signed.text[-500:]
        page = browser.get(f"{api}incidents/{key}", timeout=30)
        preview = browser.post(f"{api}incidents/{key}/cancel/preview",
                               data={"reason": "经核实，信息有误",
                                     "csrf_token": CSRF.findall(page.text)[0]}, timeout=30)
        assert preview.status_code == 200 and "确认撤回" in preview.text, preview.text[-2000:]
        start = preview.text.index(f'action="/incidents/{key}/cancel"')
        fields = HIDDEN.findall(preview.text[start:preview.text.index("</form>", start)])
        done = browser.post(f"{api}incidents/{key}/cancel",
                            data=[(html.unescape(n), html.unescape(v)) for n, v in fields],
                            allow_redirects=False, timeout=30)
        assert done.status_code == 303, done.text[-2000:]
        try:
            _wait(lambda: _held(project)["weibo-main"]["live"] == 0
                  and _held(project)["wechat-main"]["live"] == 0, 60, "the withdrawal")
        except AssertionError:
            raise AssertionError((_held(project), log.read_text(encoding="utf-8")[-3000:])) \
                from None
        held = _held(project)
        assert held["weibo-main"] == {"posts": 1, "live": 0, "comments": 1}
        assert _wechat_items(held) == 2  # nothing sent twice
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(30) == 0


@pytest.mark.parametrize("shared", [True, False])
def test_no_real_secret_goes_to_the_sandbox_service(project: Path, shared: bool) -> None:
    """With the sandbox service every secret is its placeholder, even when the real one is in
    the environment; a private sandbox still reads the environment as before."""
    app = App(loaded=config_module.load(project), store=Store("sqlite://", migrate=False),
              sandbox=True, environ={"WECHAT_APP_SECRET": "real-secret-of-the-account",
                                     "PUBLISHER_SANDBOX": "service" if shared else "private"})
    assert app.shared_sandbox is shared
    values = channel_values(app.loaded, "wechat-main", app.environ, lenient=True,
                            placeholders=app.shared_sandbox)
    assert values["app_secret"] == ("sandbox-wechat_app_secret" if shared
                                    else "real-secret-of-the-account")
