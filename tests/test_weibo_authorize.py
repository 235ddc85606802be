"""`publisher weibo authorize` through the real entry point, then a live post with the stored token."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import Emulator, serve
from tests.support.project import TEMPLATE

PUBLISHER = str(Path(sys.executable).parent / "publisher")
APP_SECRET = "weibo-app-secret-7c1d"
pytestmark = pytest.mark.slow

CONFIG = """\
data_dir: inbox
columns: {{news: 新闻}}
channels:
  weibo-test:
    kind: weibo
    settings:
      base_url: "{url}"
      app_key: "1234567890"
      app_secret: "${{WEIBO_APP_SECRET}}"
      redirect_uri: "http://127.0.0.1/weibo/callback"
      link_base_url: "http://127.0.0.1:8180/"
      rip: 127.0.0.1
schemas:
  simple: {{columns: [{{id: item, header: 项目}}, {{id: amount, header: 数量, type: int}}]}}
releases:
  daily:
    title: "测试发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: manual
    source: {{period: day, tables: {{items: {{path: "items.csv", schema: simple}}}}}}
    channels: [weibo-test]
"""


@pytest.fixture
def weibo() -> Iterator[Emulator]:
    running = serve(config=PlatformConfig(app_secret=APP_SECRET))
    yield running
    running.stop()


def test_authorize_stores_a_sealed_token_that_live_posts_use(tmp_path: Path, weibo: Emulator) -> None:
    """The code flow stores the token encrypted in the database (not in the config), and a live
    trigger then posts with it."""
    (tmp_path / "templates" / "daily").mkdir(parents=True)
    (tmp_path / "templates" / "daily" / "weibo.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    config = tmp_path / "schedules.yaml"
    config.write_text(CONFIG.format(url=weibo.url), encoding="utf-8")
    db = tmp_path / "db.sqlite"
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{db}",
           "WEIBO_APP_SECRET": APP_SECRET}
    # the staff member's browser: sign in and grant, landing on the callback with a code
    grant = requests.get(f"{weibo.url}/oauth2/authorize", params={
        "client_id": "1234567890", "redirect_uri": "http://127.0.0.1/weibo/callback",
        "response_type": "code", "state": "s"}, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(grant.headers["location"]).query)["code"][0]

    done = subprocess.run([PUBLISHER, "weibo", "authorize", "weibo-test", "--code", code,
                           "--config", str(config)], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "oauth2/authorize?" in done.stdout and "authorised" in done.stdout
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT key, sealed FROM token_cache")).all()
    engine.dispose()
    assert [r.key for r in rows] == ["weibo-test:weibo:weibo-test"]
    tokens = list(weibo.platform.tokens)
    assert tokens and all(t not in rows[0].sealed for t in tokens)
    assert code not in config.read_text(encoding="utf-8")

    posted = subprocess.run([PUBLISHER, "trigger", "daily", "--config", str(config)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert posted.returncode == 0, posted.stderr
    assert "weibo-test" in posted.stdout and "published" in posted.stdout
    with weibo.platform.lock:
        texts = [post["text"] for post in weibo.platform.posts]
    assert len(texts) == 1 and texts[0].startswith("苹果：3")
    assert "http://127.0.0.1:8180/news/daily-" in texts[0]
