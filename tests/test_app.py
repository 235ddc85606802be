"""Building channels: secrets from the environment, emulators in sandbox runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.base import ConfigurationError, Message
from channels.webhook.adapter import WebhookChannel
from publisher import config as config_module
from publisher.app import App
from publisher.store import Store

HOOK = """\
columns: {news: 新闻}
channels:
  hook:
    kind: webhook
    settings: {url: "http://127.0.0.1:9", token: "${HOOK_TOKEN}"}
releases: {}
"""


def _app(tmp_path: Path, **kw: object) -> App:
    path = tmp_path / "schedules.yaml"
    path.write_text(HOOK, encoding="utf-8")
    return App(loaded=config_module.load(path), store=Store("sqlite://", migrate=False), **kw)  # type: ignore[arg-type]


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    """A live channel whose secret variable is unset fails naming the variable."""
    app = _app(tmp_path, environ={})
    with pytest.raises(ConfigurationError, match="HOOK_TOKEN"):
        app.channel("hook")


def test_secret_comes_from_the_environment(tmp_path: Path) -> None:
    """The secret is read from the environment, never from the file."""
    app = _app(tmp_path, environ={"HOOK_TOKEN": "tok-from-env-42"})
    channel = app.channel("hook")
    assert isinstance(channel, WebhookChannel)
    assert channel.settings.token is not None
    assert channel.settings.token.get_secret_value() == "tok-from-env-42"


def test_sandbox_routes_to_the_emulator(tmp_path: Path) -> None:
    """In a sandbox run the webhook goes to its loopback sink, with no credentials set."""
    app = _app(tmp_path, sandbox=True, environ={})
    try:
        channel = app.channel("hook")
        assert isinstance(channel, WebhookChannel)
        assert channel.settings.url != "http://127.0.0.1:9"
        message = Message(release_key="r@2026-12-02T10:00+08:00", definition_id="r", title="标题",
                          body="正文", body_format="text")
        receipt = channel.send(channel.prepare(message), "k" * 32)
        assert channel.find("k" * 32, channel.prepare(message)) == receipt
    finally:
        app.close()


def test_offline_app_starts_no_emulator(tmp_path: Path) -> None:
    """check and preview build channels without secrets and without starting emulators."""
    app = _app(tmp_path, offline=True, environ={})
    channel = app.channel("hook")
    assert isinstance(channel, WebhookChannel)
    assert channel.settings.url == "http://127.0.0.1:9"
    assert app._stops == []


WECHAT = """\
columns: {news: 新闻}
channels:
  wx:
    kind: wechat
    settings: {app_id: wx0000000000000000, app_secret: "${WECHAT_APP_SECRET}",
               author: "${WECHAT_APP_SECRET}", cover_image: cover.jpg}
releases: {}
"""


def test_env_references_are_read_in_secret_fields_only(tmp_path: Path) -> None:
    """A ``${ENV}`` reference in a field that is published (a WeChat article's author) is a
    configuration problem naming that field, and the App leaves it as written there; the
    secret field beside it is read from the environment as before."""
    path = tmp_path / "schedules.yaml"
    path.write_text(WECHAT, encoding="utf-8")
    loaded, problems = config_module.load_with_problems(path)
    assert [p.path for p in problems] == ["channels.wx.settings.author"]
    assert "secret fields only" in problems[0].message and "app_secret" in problems[0].message
    assert loaded is not None
    app = App(loaded=loaded, store=Store("sqlite://", migrate=False),
              environ={"WECHAT_APP_SECRET": "s3cret-from-env"})
    settings = app.channel("wx").settings
    assert settings.author == "${WECHAT_APP_SECRET}"
    assert settings.app_secret.get_secret_value() == "s3cret-from-env"


def test_one_version_for_the_package_the_api_and_the_user_agent(tmp_path: Path) -> None:
    """The installed package's version is the one the API announces and the user agent sends."""
    from importlib.metadata import version

    from publisher.web.api import create_app

    app = _app(tmp_path)
    expected = version("gov-publisher")
    assert create_app(app).openapi()["info"]["version"] == expected
    assert app.session_factory().headers["User-Agent"] == f"gov-publisher/{expected}"
